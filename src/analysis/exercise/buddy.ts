/**
 * `vmlab exercise buddy`: a small buddy allocator (2^k frames, all free at
 * the start) and a string of allocations and frees; for each allocation, the
 * block's first frame (or that it fails), and after each step the free
 * blocks of every order. The answers are vmlab's own page allocator
 * (kernel/mm/buddy.ts: __rmqueue_smallest's search from the requested order
 * up, expand's split with the upper halves on the free lists, and
 * __free_one_page's merge with a free buddy and its tail placement), on a
 * machine without per-CPU lists or migrate types, as a textbook's allocator.
 */
import { Rng } from "../../base/rng.ts";
import { BareBuddy } from "../../kernel/Kernel.ts";
import { counted } from "./tlb.ts";

export interface BuddyExerciseOptions {
  seed: number;
  /** operations in the string */
  count: number;
  /** log2 of the frames managed (4: 16 frames .. MAX_ORDER) */
  orderOfMemory: number;
}

/** One operation: an allocation of `pages` pages named `name`, or the free of one. */
export type BuddyOp = { kind: "alloc"; name: string; pages: number } | { kind: "free"; name: string };

export interface BuddyExercise {
  seed: number;
  frames: number;
  ops: BuddyOp[];
}

/** The order of an allocation of `pages` pages (get_order: the smallest power of two that holds them). */
export function orderOf(pages: number): number {
  return 32 - Math.clz32(pages - 1);
}

/**
 * Allocations of 1 to a quarter of memory's pages, mostly small, and frees of
 * live ones (about two in five operations once something is allocated); names
 * A, B, C... in order. The same options give the same string.
 */
export function generateBuddyExercise(o: BuddyExerciseOptions): BuddyExercise {
  const rng = new Rng(o.seed);
  const frames = 2 ** o.orderOfMemory;
  const live: string[] = [];
  const ops: BuddyOp[] = [];
  let next = 0;
  for (let i = 0; i < o.count; i++) {
    if (live.length > 0 && (rng.float() < 0.4 || live.length >= 6)) {
      const name = live.splice(rng.below(live.length), 1)[0];
      ops.push({ kind: "free", name });
      continue;
    }
    const maxOrder = Math.max(0, o.orderOfMemory - 2);
    const order = Math.min(rng.below(maxOrder + 1), rng.below(maxOrder + 1)); // small ones more often
    const pages = order === 0 ? 1 : 2 ** (order - 1) + 1 + rng.below(2 ** (order - 1));
    const name = nameOf(next++);
    live.push(name);
    ops.push({ kind: "alloc", name, pages });
  }
  return { seed: o.seed, frames, ops };
}

function nameOf(i: number): string {
  return i < 26 ? String.fromCharCode(65 + i) : `A${i - 26}`;
}

export function buddyProblem(ex: BuddyExercise): string[] {
  const order = Math.log2(ex.frames);
  return [
    `Buddy allocator exercise: seed ${ex.seed}`,
    "",
    `Memory: ${ex.frames} page frames (pfn 0 to ${ex.frames - 1}), all free at the start: one block of order ${order}.`,
    "An allocation of n pages takes a block of the smallest order 2^k >= n; a larger block is split in",
    "halves, the upper half of each split going back to the free lists; a freed block merges with its",
    "buddy while the buddy is free. A free list is used from its head: blocks split off go to the head,",
    "and so does a freed block (after merging), unless the buddy of the block one order larger is free:",
    "then to the tail (Linux's buddy_merge_likely).",
    "",
    "Operations:",
    ...ex.ops.map(
      (op, i) =>
        `  ${String(i + 1).padStart(2)}. ${op.kind === "alloc" ? `${op.name} = alloc ${counted(op.pages, "page")}` : `free ${op.name}`}`,
    ),
    "",
    "For each allocation, say which pfn its block starts at (or that it fails); after each operation,",
    "list the free blocks of each order (their first pfns, from each list's head).",
  ];
}

/** "pfn P" or "pfn P-Q" for a block of `order` at pfn. */
function span(pfn: number, order: number): string {
  return order === 0 ? `pfn ${pfn}` : `pfn ${pfn}-${pfn + 2 ** order - 1}`;
}

/** The answers: each operation's outcome and the free lists after it, from vmlab's buddy allocator. */
export function solveBuddy(ex: BuddyExercise): { answers: string[]; placed: Map<string, number> } {
  const b = new BareBuddy(ex.frames);
  const placed = new Map<string, number>();
  const answers: string[] = [];
  const top = Math.log2(ex.frames);
  ex.ops.forEach((op, i) => {
    let what: string;
    if (op.kind === "alloc") {
      const order = orderOf(op.pages);
      const pfn = order > top ? -1 : b.alloc(order);
      if (pfn >= 0) placed.set(op.name, pfn);
      what =
        pfn < 0
          ? `${op.name} = alloc ${counted(op.pages, "page")}: order ${order}, FAILS (no free block of order ${order} or more)`
          : `${op.name} = alloc ${counted(op.pages, "page")}: order ${order}, ${span(pfn, order)}`;
    } else {
      const pfn = placed.get(op.name);
      if (pfn === undefined) what = `free ${op.name}: nothing to free (its allocation failed)`;
      else {
        const order = b.free(pfn);
        placed.delete(op.name);
        what = `free ${op.name}: ${span(pfn, order)} (order ${order})`;
      }
    }
    const lists = b
      .freeLists()
      .map((blocks, o) => (blocks.length === 0 ? null : `order ${o}: ${blocks.join(" ")}`))
      .filter((s) => s !== null);
    answers.push(
      `${String(i + 1).padStart(2)}. ${what}`,
      `    free: ${lists.length === 0 ? "none" : lists.join("; ")}`,
    );
  });
  return { answers, placed };
}
