import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import { Vad, VadTree } from "./vad.ts";

describe("the VAD tree", () => {
  it("stays an ordered, balanced AVL tree through inserts and removes (seed 7)", () => {
    const tree = new VadTree();
    const rng = new Rng(7);
    const live: Vad[] = [];
    for (let step = 0; step < 2000; step++) {
      if (live.length && rng.below(3) === 0) {
        const v = live.splice(rng.below(live.length), 1)[0];
        tree.remove(v);
      } else {
        const start = rng.below(1 << 20) * 16;
        if (tree.conflicting(start, start + 15) !== null) continue;
        const v = new Vad(start, start + 15, 4, false);
        tree.insert(v);
        live.push(v);
      }
      const list = tree.list();
      expect(list.length).toBe(live.length);
      for (let i = 1; i < list.length; i++) expect(list[i - 1].endVpn).toBeLessThan(list[i].startVpn);
      expect(tree.height).toBeLessThanOrEqual(Math.ceil(1.45 * Math.log2(live.length + 2)));
    }
    for (const v of live) expect(tree.locate(v.startVpn + 3)).toBe(v);
  });

  it("finds the lowest free 64 KB-aligned range, and none when the range is full", () => {
    const tree = new VadTree();
    tree.insert(new Vad(0x10, 0x1f, 4, false));
    tree.insert(new Vad(0x22, 0x22, 4, false));
    // 16 pages do not fit below 0x22; one page does, at the 64 KB boundary 0x20
    expect(tree.findEmpty(16, 16, 0x10, 0x100)).toBe(0x30);
    expect(tree.findEmpty(1, 16, 0x10, 0x100)).toBe(0x20);
    tree.insert(new Vad(0x20, 0x21, 4, false));
    tree.insert(new Vad(0x30, 0xff, 4, false));
    expect(tree.findEmpty(1, 16, 0x10, 0x100)).toBe(-1);
    expect(() => tree.insert(new Vad(0x20, 0x40, 4, false))).toThrow(/overlapping/);
  });
});
