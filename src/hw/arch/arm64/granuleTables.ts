/**
 * Translation tables built with arm64's 16K or 64K granule (Arm ARM D8.2,
 * "Translation granule"), descriptor by descriptor, for a 48-bit input range
 * (TxSZ 16): what `vmlab exercise walk --granule` hands out. The 4K CPU model
 * and its mapper (Mapper.ts) do not build them; the descriptors are the 4K
 * mapper's (leafDesc, tableDesc: the output address sits in the same bits
 * 47:g), placed at the granule's indices: the walk starts at level
 * 4 - floor((48 - 4) / (g - 3)) (AArch64.S1StartLevel), every level indexes
 * g - 3 bits, the first what is left. Tables are granule-sized and aligned.
 */
import { assert } from "../../../base/assert.ts";
import type { MapFlags } from "../../mmu/Mapper.ts";
import { leafDesc, tableDesc } from "./Mapper.ts";

/** A 48-bit range's walk with granule bits g: its start level, the start table's index bits, a level's. */
export function granuleGeometry(g: number): { start: number; firstBits: number; stride: number } {
  const stride = g - 3;
  const start = 4 - Math.floor((48 - 4) / stride);
  return { start, firstBits: 48 - g - stride * (3 - start), stride };
}

export class GranuleTables {
  /** every descriptor written, by its physical address */
  private readonly memory = new Map<number, { hi: number; lo: number }>();
  private next: number;
  private readonly geo: { start: number; firstBits: number; stride: number };

  /** `g`: 14 (16K) or 16 (64K); tables from `firstTablePa` (granule-aligned) up. */
  constructor(
    readonly g: number,
    firstTablePa: number,
  ) {
    assert(g === 14 || g === 16, "GranuleTables: 16K or 64K");
    assert(firstTablePa % 2 ** g === 0, "GranuleTables: tables granule-aligned");
    this.next = firstTablePa;
    this.geo = granuleGeometry(g);
  }

  /** A new, empty table's physical address. */
  newTable(): number {
    const pa = this.next;
    this.next += 2 ** this.g;
    return pa;
  }

  /** A page (level 3) or a block (level 2) mapping `va` to `pa`, the tables above it made as needed. */
  map(root: number, va: bigint, pa: number, level: 2 | 3, flags: MapFlags): void {
    const { start, firstBits, stride } = this.geo;
    const g = this.g;
    assert(pa % 2 ** (level === 3 ? g : g + stride) === 0, "GranuleTables.map: misaligned output");
    let table = root;
    for (let l = start; ; l++) {
      const shift = g + stride * (3 - l);
      const bits = l === start ? firstBits : stride;
      const at = table + Number((va >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n)) * 8;
      if (l === level) {
        assert(!this.memory.has(at), "GranuleTables.map: a leaf mapped twice");
        this.memory.set(at, leafDesc(pa / 4096, level === 3 ? 0 : 1, flags));
        return;
      }
      let d = this.memory.get(at);
      if (d === undefined) {
        d = tableDesc(this.newTable() / 4096);
        this.memory.set(at, d);
      }
      const lo = d.lo >>> 0;
      table = d.hi * 2 ** 32 + lo - (lo % 2 ** g);
    }
  }

  /** Every descriptor written, by address: the image's memory. */
  entries(): { pa: number; value: bigint }[] {
    return [...this.memory.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([pa, d]) => ({ pa, value: (BigInt(d.hi >>> 0) << 32n) | BigInt(d.lo >>> 0) }));
  }
}
