/**
 * TLB miss curves against TLB size, in one pass: a set-associative TLB of
 * the machine's own kind (hw/mmu/TlbArray: sets indexed by the low bits of
 * the page number, true LRU in a set) at each size, and a fully associative
 * LRU TLB at every size at once from the stack distances of the page
 * numbers. A TLB of E entries reaches E x 4 KiB.
 */
import { InputError } from "../base/errors.ts";
import { TlbArray } from "../hw/mmu/TlbArray.ts";
import { StackDistance } from "./mrc.ts";

export interface TlbCurveResult {
  ways: number;
  entries: number[];
  /** KiB each size maps */
  reachKiB: number[];
  setAssociative: number[];
  fullyAssociative: number[];
  references: number;
}

export class TlbCurve {
  private readonly arrays: TlbArray[];
  private readonly misses: Float64Array;
  private readonly sd = new StackDistance();
  private last = -1;
  private references = 0;

  constructor(
    readonly ways: number,
    readonly entries: number[] = [16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
  ) {
    if (!(Number.isInteger(ways) && ways >= 1 && ways <= 64))
      throw new InputError(`--tlb-curve: ways must be 1..64, not ${ways}`);
    this.entries = entries.filter((e) => e >= ways && Number.isInteger(Math.log2(e / ways)));
    this.arrays = this.entries.map((e) => new TlbArray(e, ways, 1, 3, `curve${e}`));
    this.misses = new Float64Array(this.entries.length);
  }

  access(vpn: number): void {
    this.references++;
    this.sd.access(vpn);
    // the page just looked up is at the front of its set in every array: a hit that changes nothing
    if (vpn === this.last) return;
    this.last = vpn;
    const arrays = this.arrays;
    for (let i = 0; i < arrays.length; i++) {
      if (arrays[i].lookup(vpn, 0) < 0) {
        this.misses[i]++;
        arrays[i].insert(vpn, 0, 0, 0);
      }
    }
  }

  result(): TlbCurveResult {
    const n = this.references;
    return {
      ways: this.ways,
      entries: this.entries,
      reachKiB: this.entries.map((e) => e * 4),
      setAssociative: this.entries.map((_, i) => (n > 0 ? this.misses[i] / n : 0)),
      fullyAssociative: this.sd.curve(this.entries).map((p) => p.missRatio),
      references: n,
    };
  }
}
