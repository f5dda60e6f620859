/**
 * HeldWords (rmapFind's and do_swap_page's kept frame words): what it answers for a frame is
 * PageStore.heldWords's answer at that moment, through random stores, fills and frame copies
 * that materialise frames, give their slots back and reuse them (PageStore.gen), asked again and
 * again for the same few frames as reclaim asks.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { pfnUnchecked } from "../../base/units.ts";
import { PhysMem } from "../../hw/PhysMem.ts";
import { HeldWords } from "./heldwords.ts";

describe("HeldWords", () => {
  for (const seed of [1, 2, 3]) {
    it(`answers what PageStore.heldWords answers (random changes, seed ${seed})`, () => {
      const rng = new Rng(seed);
      const frames = 8;
      const phys = new PhysMem(frames * 4096);
      const other = new PhysMem(frames * 4096); // a second machine: its store is not this one's
      const cache = new HeldWords();
      let kept = 0;
      for (let step = 0; step < 20_000; step++) {
        const f = rng.below(frames);
        const op = rng.below(6);
        if (op === 0) phys.write64(f * 4096 + 8 * rng.below(512), rng.nextU32(), rng.nextU32());
        else if (op === 1)
          phys.fillFrame(pfnUnchecked(f), 0, 0); // back to compact: its slot freed
        else if (op === 2) phys.copyFrame(pfnUnchecked(f), pfnUnchecked(rng.below(frames)));
        else if (op === 3) other.write64(f * 4096 + 8 * rng.below(512), rng.nextU32(), rng.nextU32());
        // asked several times in a row, as reclaim asks for one table's words page after page
        for (let k = 0; k < 3; k++) {
          const q = k === 2 ? rng.below(frames) : f;
          const m = rng.below(4) === 0 ? other : phys;
          const got = cache.get(m, q);
          expect(got).toBe(m.store.heldWords(q));
          if (got !== null) kept++;
        }
      }
      expect(kept).toBeGreaterThan(1000); // frames were materialised and kept
    });
  }
});
