/**
 * Tlb.invalidatePage visits only the arrays whose bit of the Tlb's occupancy mask is set
 * (TlbArray.attachOccupied): against a twin whose invalidations call every array's own
 * invalidatePage, through random fills of every size (data and instruction paths, global
 * entries), runs of fills (fillMissedRun), lookups, page invalidations of every kind and full
 * flushes, on the presets, a small skylake and a spec of more arrays than the mask holds; after
 * each step the entries, their way order and the counters equal, and each array's bit set exactly
 * while it holds an entry.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import type { Vpn } from "../../base/units.ts";
import { makeTlb, type Tlb, type TlbSpec } from "./Tlb.ts";
import { type InvalidateHow, Meta } from "./TlbArray.ts";
import { smallSkylake } from "./tlbSpecs.testkit.ts";

/** skylake's seven arrays, smaller (sets fill and empty often) */
const SMALL_SKYLAKE = smallSkylake(32);

/** 34 levels of one small array each: more arrays than the mask's 31 bits (every array visited) */
const MANY: TlbSpec = Array.from({ length: 34 }, (_, i) => ({
  name: `L${i + 1}`,
  arrays: [{ entries: 4, ways: 2, sizes: i % 3 === 0 ? ["4K", "2M"] : ["4K"] }],
}));

interface Internals {
  occupied: Int32Array;
  occupiedAll: boolean;
}

function state(t: Tlb) {
  return {
    hits: [...t.hits],
    misses: [...t.misses],
    arrays: t.levels.flatMap((l) =>
      l.arrays.map((a) => [[...a.keys], [...a.pfns], [...a.metas], [...a.attrs], a.valid, a.evictions]),
    ),
  };
}

/** The reference: every array's own invalidatePage, in order. */
function invalidateEvery(t: Tlb, vpn: Vpn, asid: number, how: InvalidateHow): number {
  let n = 0;
  for (const l of t.levels) for (const a of l.arrays) n += a.invalidatePage(vpn, asid, how);
  return n;
}

/** An array whose occupancy bit disagrees with its entries, or "". */
function maskWrong(t: Tlb): string {
  const m = (t as unknown as Internals).occupied[0];
  const arrays = t.levels.flatMap((l) => l.arrays);
  for (let i = 0; i < arrays.length && i < 31; i++) {
    const bit = (m >>> i) & 1;
    if (bit !== (arrays[i].valid > 0 ? 1 : 0) || arrays[i].valid !== arrays[i].occupancy())
      return `${arrays[i].name}: bit ${bit}, ${arrays[i].valid} valid`;
  }
  return "";
}

describe("Tlb.invalidatePage by the occupancy mask", () => {
  for (const [name, spec] of [
    ["skylake", "skylake"],
    ["small skylake", SMALL_SKYLAKE],
    ["vmref", "vmref"],
    ["tiny", "tiny"],
    ["34 arrays", MANY],
  ] as const) {
    it(`drops what invalidating every array drops, the mask exact after each step (${name})`, () => {
      const rng = new Rng(23);
      const fast = makeTlb(spec);
      const plain = makeTlb(spec);
      expect((fast as unknown as Internals).occupiedAll).toBe(name === "34 arrays");
      const region = () => rng.below(2) * 262144 + rng.below(2048); // two 1G regions
      let dropped = 0;
      let emptied = 0;
      let skippedArrays = 0;
      for (let step = 0; step < 12000; step++) {
        const op = rng.below(40);
        const vpn = region() as Vpn;
        const asid = rng.below(3);
        const instr = rng.below(4) === 0;
        if (op < 14) {
          const r = rng.below(30);
          const size = r === 0 ? 2 : r < 5 ? 1 : 0;
          const first = vpn - (vpn % [1, 512, 262144][size]);
          const meta = asid | Meta.D | (rng.below(6) === 0 ? Meta.G : 0);
          const attr = rng.below(12) === 0 ? 3 : 0;
          for (const t of [fast, plain]) t.fill(vpn, size, (first + 1000) as never, meta, instr, attr);
        } else if (op < 16) {
          // a run of fills of pages no entry covers (fillMissedRun's precondition)
          const count = 1 + rng.below(20);
          const marks = new Uint8Array(count);
          fast.markCovered(vpn, count, marks, false);
          if (marks.every((x) => x === 0)) {
            const pfns = new Float64Array(count).map((_, j) => vpn + j + 5);
            const metas = new Int32Array(count).fill(asid | Meta.D);
            const attrs = new Int32Array(count);
            for (const t of [fast, plain]) t.fillMissedRun(vpn, 1, count, pfns, metas, attrs, false, false);
          }
        } else if (op < 22) {
          expect(fast.lookup(vpn, asid, instr)).toBe(plain.lookup(vpn, asid, instr));
        } else if (op < 39) {
          const how = rng.below(4) as InvalidateHow;
          skippedArrays += fast.levels.flatMap((l) => l.arrays).filter((a) => a.valid === 0).length;
          const a = fast.invalidatePage(vpn, asid, how);
          const b = invalidateEvery(plain, vpn, asid, how);
          expect(a).toBe(b);
          dropped += a;
        } else {
          // a full flush now and then (INVPCID 2, a CR3 write without PCIDs): arrays empty
          const how = rng.below(4) as InvalidateHow;
          expect(fast.invalidateAll(asid, how)).toBe(plain.invalidateAll(asid, how));
          emptied++;
        }
        const wrong = maskWrong(fast);
        if (wrong !== "") expect(`${wrong} at step ${step}`).toBe("");
        if (step % 500 === 0) expect(state(fast)).toEqual(state(plain));
      }
      expect(state(fast)).toEqual(state(plain));
      expect(dropped).toBeGreaterThan(name === "tiny" ? 100 : 300);
      expect(emptied).toBeGreaterThan(100);
      if (name !== "vmref" && name !== "tiny") expect(skippedArrays).toBeGreaterThan(1000);
    });
  }

  it("sets an array's bit on the fills counted outside (countFills: the WebAssembly hit loop)", () => {
    const t = makeTlb("vmref");
    const l1 = t.levels[0].arrays[0];
    l1.relocate(new ArrayBuffer(24 * l1.entries), 0);
    const vpn = 77;
    const base = (vpn & (l1.sets - 1)) * l1.ways;
    l1.keys[base] = vpn * 8; // a way filled as wasm/hits.ts fills it
    l1.metas[base] = 1;
    l1.countFills(1, 0);
    expect((t as unknown as Internals).occupied[0] & 1).toBe(1);
    expect(t.invalidatePage(vpn as Vpn, 1, 0)).toBe(1);
    expect((t as unknown as Internals).occupied[0] & 1).toBe(0);
  });
});
