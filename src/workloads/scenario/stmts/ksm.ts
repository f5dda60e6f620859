/**
 * `ksm [scans=N] [run=0|1|2] [pages_to_scan=N] [use_zero_pages=0|1]
 * [smart_scan=0|1]` (extension): the knobs given written to their
 * /sys/kernel/mm/ksm files (they keep their values; run=2 unmerges every
 * KSM page at once), then N wake-ups of ksmd (default 1; 0: none), each one
 * ksm_do_scan over pages_to_scan when run is 1 (mm/ksm.ts). ksmd sleeps
 * sleep_millisecs (20 ms) between wake-ups; the model has no wall clock, so
 * a statement stands for each, as `khugepaged` does. Prints the pages
 * scanned and the sysfs counters after.
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";

const KNOBS = ["run", "pages_to_scan", "use_zero_pages", "smart_scan"] as const;

export function ksm(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  const o = c.opts(s, ["scans", ...KNOBS]);
  c.args(
    s,
    0,
    0,
    "no positional arguments ([scans=N] [run=0|1|2] [pages_to_scan=N] [use_zero_pages=0|1] [smart_scan=0|1])",
  );
  for (const w of o.values()) if (w.value) c.useVars(w.value);
  const sw = o.get("scans");
  return (rt) => {
    for (const knob of KNOBS) {
      const w = o.get(knob);
      if (w === undefined) continue;
      const v = c.numOpt(w, rt)!;
      if (!rt.kernel.ksmSet(knob, v))
        c.fail(
          knob === "run"
            ? "run= must be 0 (stop), 1 (merge) or 2 (unmerge): the sysfs store's -EINVAL"
            : knob === "pages_to_scan"
              ? "pages_to_scan= must be 0 .. 4294967295 (the sysfs store's -EINVAL)"
              : `${knob}= must be 0 or 1 (the sysfs store's -EINVAL)`,
          w.valuePos,
        );
    }
    const scans = sw ? c.numOpt(sw, rt)! : 1;
    if (scans < 0 || scans > 1_000_000) c.fail("scans= is a number of wake-ups, 0 .. 1000000", sw!.valuePos);
    let n = 0;
    for (let i = 0; i < scans; i++) n += rt.kernel.ksmScan();
    const i = rt.view.ksm();
    rt.out.push(
      `ksmd: ${n} page${n === 1 ? "" : "s"} scanned in ${scans} wake-up${scans === 1 ? "" : "s"} (run ${i.run}): pages_shared ${i.pages_shared}, pages_sharing ${i.pages_sharing}, pages_unshared ${i.pages_unshared}, pages_volatile ${i.pages_volatile}, full_scans ${i.full_scans}`,
    );
  };
}
