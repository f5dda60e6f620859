/**
 * The replacement policies of OSTEP's paging-policy.py (vm-beyondphys-policy,
 * remzi-arpacidusseau/ostep-homework) where they differ from policy mode's
 * own: the homework keeps its resident pages in one Python list, in the
 * order they were loaded, and its OPT, UNOPT, RAND and CLOCK choose by
 * position in that list. `vmlab ostep paging-policy` runs them in PolicySim
 * beside policy mode's FIFO, LRU and MRU, which already choose as the
 * homework does (docs/ostep.md).
 */
import type { Policy } from "./Policy.ts";

/** The homework's memory list: resident pages in load order (hits do not move them). */
class LoadOrder {
  readonly pages: number[] = [];
  add(page: number): void {
    this.pages.push(page);
  }
  drop(page: number): void {
    this.pages.splice(this.pages.indexOf(page), 1);
  }
}

/** For each reference, the index of the next reference to the same page (refs.length: none). */
function nextUses(refs: ArrayLike<number>): Int32Array {
  const next = new Int32Array(refs.length);
  const seen = new Map<number, number>();
  for (let t = refs.length - 1; t >= 0; t--) {
    next[t] = seen.get(refs[t]) ?? refs.length;
    seen.set(refs[t], t);
  }
  return next;
}

/**
 * OPT and UNOPT as the homework scans: every resident page in load order,
 * its next reference (the end of the string if none); OPT evicts the
 * farthest, the later page in the list on a tie (`>=`), UNOPT the nearest,
 * the earlier page on a tie (`<`).
 */
export class OstepOpt implements Policy {
  readonly name: string;
  private readonly order = new LoadOrder();
  private readonly next: Int32Array;
  /** each resident page's next reference */
  private readonly nextOf = new Map<number, number>();

  constructor(
    refs: ArrayLike<number>,
    private readonly worst = false,
  ) {
    this.name = worst ? "ostep-unopt" : "ostep-opt";
    this.next = nextUses(refs);
  }
  hit(page: number, t: number): void {
    this.nextOf.set(page, this.next[t]);
  }
  victim(): number {
    let best = -1;
    let bestWhen = this.worst ? Number.POSITIVE_INFINITY : -1;
    for (const page of this.order.pages) {
      const when = this.nextOf.get(page)!;
      if (this.worst ? when < bestWhen : when >= bestWhen) {
        best = page;
        bestWhen = when;
      }
    }
    return best;
  }
  insert(page: number, _slot: number, t: number): void {
    this.order.add(page);
    this.nextOf.set(page, this.next[t]);
  }
  remove(page: number): void {
    this.order.drop(page);
    this.nextOf.delete(page);
  }
}

/** RAND: `memory.pop(int(random.random() * count))`, a uniform position in the list. */
export class OstepRandom implements Policy {
  readonly name = "ostep-rand";
  private readonly order = new LoadOrder();
  constructor(private readonly random: () => number) {}
  hit(): void {}
  victim(): number {
    const pages = this.order.pages;
    return pages[Math.floor(this.random() * pages.length)];
  }
  insert(page: number): void {
    this.order.add(page);
  }
  remove(page: number): void {
    this.order.drop(page);
  }
}

/**
 * CLOCK as the homework writes it: each page has a counter, set to 1 when it
 * is loaded and raised by one on every hit up to `clockBits`; the "hand"
 * looks at a random position in the list each time, takes the page if its
 * counter is 0 and otherwise counts it down.
 */
export class OstepClock implements Policy {
  readonly name = "ostep-clock";
  private readonly order = new LoadOrder();
  private readonly ref = new Map<number, number>();
  constructor(
    private readonly random: () => number,
    private readonly clockBits: number,
  ) {}
  /** the script's reference-bit update after every access */
  private touch(page: number): void {
    const r = this.ref.get(page);
    if (r === undefined) this.ref.set(page, 1);
    else this.ref.set(page, Math.min(r + 1, this.clockBits));
  }
  hit(page: number): void {
    this.touch(page);
  }
  victim(): number {
    const pages = this.order.pages;
    for (;;) {
      const page = pages[Math.floor(this.random() * pages.length)];
      const r = this.ref.get(page)!;
      if (r >= 1) this.ref.set(page, r - 1);
      else return page;
    }
  }
  insert(page: number): void {
    this.order.add(page);
    this.touch(page);
  }
  remove(page: number): void {
    this.order.drop(page);
    this.ref.delete(page);
  }
}
