/** `reclaim [SIZE]` (try_to_free_pages) and `kswapd` (balance to the high watermark): page reclaim now. */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";

export function reclaim(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  c.opts(s, []);
  const [size] = c.args(
    s,
    0,
    s.verb === "reclaim" ? 1 : 0,
    s.verb === "reclaim" ? "an optional size" : "nothing",
  );
  if (size) c.useVars(size);
  return (rt) => {
    const k = rt.kernel;
    const before = rt.view.counters();
    let n: number;
    if (s.verb === "kswapd" || !size) n = k.kswapd();
    else {
      const bytes = c.value(size, rt, "the size");
      if (bytes > 1n << 46n) c.fail("reclaim: more than the machine could ever hold", size.pos);
      n = k.reclaim(Number((bytes + 4095n) / 4096n));
    }
    const after = rt.view.counters();
    const swapped = after.swapOuts - before.swapOuts;
    const lazy = after.lazyFreed - before.lazyFreed;
    const lazyText = lazy > 0 ? `${lazy} lazy-free dropped, ` : "";
    rt.out.push(
      `${n} page${n === 1 ? "" : "s"} reclaimed (${swapped} written to swap, ${lazyText}${after.pagesStolen - before.pagesStolen - swapped - lazy} from the page cache); free ${after.freePages} pages`,
    );
  };
}
