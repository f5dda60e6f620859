/**
 * `khugepaged [scans=N]` (extension): N wake-ups of khugepaged (default 1),
 * each one khugepaged_do_scan over `pages_to_scan` (mm/khugepaged.ts). The
 * kthread wakes every scan_sleep_millisecs (10 s); the model has no wall
 * clock, so a statement stands for each wake-up, as `kswapd` does for
 * kswapd's. Prints the PMDs collapsed, the last PMD's scan result (SCAN_*)
 * and the sysfs counters after.
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";

export function khugepaged(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  const o = c.opts(s, ["scans"]);
  c.args(s, 0, 0, "no positional arguments ([scans=N])");
  const sw = o.get("scans");
  if (sw?.value) c.useVars(sw.value);
  return (rt) => {
    const scans = sw ? c.numOpt(sw, rt)! : 1;
    if (scans < 1 || scans > 1_000_000) c.fail("scans= is a number of wake-ups, 1 .. 1000000", sw!.valuePos);
    let n = 0;
    for (let i = 0; i < scans; i++) n += rt.kernel.khugepaged();
    const info = rt.view.thp();
    rt.out.push(
      `khugepaged: ${n} PMD${n === 1 ? "" : "s"} collapsed in ${scans} wake-up${scans === 1 ? "" : "s"}, the last PMD scanned ${info.khugepaged_last_scan} (pages_collapsed ${info["khugepaged/pages_collapsed"]}, full_scans ${info["khugepaged/full_scans"]})`,
    );
  };
}
