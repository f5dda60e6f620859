/**
 * `khugepaged [scans=N] [pages_to_scan=N] [max_ptes_swap=N]
 * [max_ptes_shared=N]` (extension): N wake-ups of khugepaged (default 1;
 * 0: none), each one khugepaged_do_scan over `pages_to_scan`
 * (mm/khugepaged.ts), after writing the knobs given to their sysfs files
 * (/sys/kernel/mm/transparent_hugepage/khugepaged/*: they keep their values
 * for later wake-ups; max_ptes_none is the machine's thp_max_ptes_none). The
 * kthread wakes every scan_sleep_millisecs (10 s); the model has no wall
 * clock, so a statement stands for each wake-up, as `kswapd` does for
 * kswapd's. Prints the PMDs collapsed, the last PMD's scan result (SCAN_*)
 * and the sysfs counters after.
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";

const KNOBS = ["pages_to_scan", "max_ptes_swap", "max_ptes_shared"] as const;

export function khugepaged(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  const o = c.opts(s, ["scans", ...KNOBS]);
  c.args(
    s,
    0,
    0,
    "no positional arguments ([scans=N] [pages_to_scan=N] [max_ptes_swap=N] [max_ptes_shared=N])",
  );
  for (const w of o.values()) if (w.value) c.useVars(w.value);
  const sw = o.get("scans");
  return (rt) => {
    c.needThp(s, rt);
    for (const knob of KNOBS) {
      const w = o.get(knob);
      if (w === undefined) continue;
      const v = c.numOpt(w, rt)!;
      if (!rt.kernel.khugepagedSet(knob, v))
        c.fail(
          knob === "pages_to_scan"
            ? "pages_to_scan= must be a positive number (the sysfs store refuses 0: -EINVAL)"
            : `${knob}= must be 0 .. HPAGE_PMD_NR - 1 (the sysfs store's -EINVAL)`,
          w.valuePos,
        );
    }
    const scans = sw ? c.numOpt(sw, rt)! : 1;
    if (scans < 0 || scans > 1_000_000) c.fail("scans= is a number of wake-ups, 0 .. 1000000", sw!.valuePos);
    let n = 0;
    for (let i = 0; i < scans; i++) n += rt.kernel.khugepaged();
    const info = rt.view.thp();
    rt.out.push(
      `khugepaged: ${n} PMD${n === 1 ? "" : "s"} collapsed in ${scans} wake-up${scans === 1 ? "" : "s"}, the last PMD scanned ${info.khugepaged_last_scan} (pages_collapsed ${info["khugepaged/pages_collapsed"]}, full_scans ${info["khugepaged/full_scans"]})`,
    );
  };
}
