/**
 * The page-table trees of a step, built once: kernel.view.pageTables reads
 * every entry of every table (its raw value, its bits in words), and both
 * the tree panel and the legend draw from them, so a step reads each tree
 * once, not once per panel. Valid for one view at one tick (a step, a back
 * served by the spare, a new scenario: the view or the tick differs).
 */
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import type { PageTablesInfo } from "../../../kernel/view/types.ts";
import { tick } from "./state.ts";

let cache: { view: KernelView; tick: number; trees: Map<number, PageTablesInfo | null> } | null = null;

/** The tree of `pid`'s address space (null for a task with none), read once per view and step. */
export function pageTablesOf(view: KernelView, pid: number): PageTablesInfo | null {
  if (cache === null || cache.view !== view || cache.tick !== tick.peek())
    cache = { view, tick: tick.peek(), trees: new Map() };
  let tree = cache.trees.get(pid);
  if (tree === undefined) {
    const h = view.taskHandle(pid);
    tree = h === null ? null : view.pageTables(h);
    cache.trees.set(pid, tree);
  }
  return tree;
}
