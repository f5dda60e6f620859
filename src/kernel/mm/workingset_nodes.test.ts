/**
 * The shadow_nodes list (workingset.ts ShadowNodes): the swap cache's nodes in typed-array links
 * and the files' nodes in a Map, merged by the order they joined, against the one Map of keys in
 * insertion order the list was before (RefNodes below, that code as it was): after random
 * sequences of swap-cache nodes joining and leaving, files' nodes gaining and losing shadows and
 * folios, and shrinker scans, the same keys in the same order, the same count, the same nodes
 * freed in the same order (dropNode calls, the files' shadows left) and the same counters.
 */
import { describe, expect, it } from "vitest";
import {
  fileNodeKey,
  type ShadowFile,
  ShadowNodes,
  shadowsOnly,
  type WorkingsetStats,
  XA_CHUNK,
} from "./workingset.ts";

/** The list as it was: one Map, node key -> its file (null: the swap cache), oldest first. */
class RefNodes {
  readonly list = new Map<number, ShadowFile | null>();
  dropped: number[] = [];
  nodereclaim = 0;

  listSwap(chunk: number, listed: boolean): void {
    if (listed) this.list.set(chunk, null);
    else this.list.delete(chunk);
  }

  updateFile(f: ShadowFile, index: number): void {
    // the node's key and test are the list's own (what changed is how the list holds its nodes)
    const c = Math.floor(index / XA_CHUNK);
    const key = fileNodeKey(f, c);
    if (shadowsOnly(f, c)) {
      if (!this.list.has(key)) this.list.set(key, f);
    } else this.list.delete(key);
  }

  scan(nr: number): number {
    let freed = 0;
    for (const [key, f] of this.list) {
      if (freed >= nr) break;
      this.list.delete(key);
      if (f === null) this.dropped.push(key);
      else {
        const c = -key - 1 - f.ino * 2 ** 23;
        for (let i = c * XA_CHUNK; i < (c + 1) * XA_CHUNK; i++) f.shadows.delete(i);
      }
      this.nodereclaim++;
      freed++;
    }
    return freed;
  }
}

/** xorshift32: the same sequence for a seed on every run */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function stats(): WorkingsetStats {
  return { workingset_nodereclaim: 0 } as unknown as WorkingsetStats;
}

const newFile = (ino: number): ShadowFile => ({ ino, cache: new Map(), shadows: new Map() });

function run(seed: number, steps: number, swapNodes: number): void {
  const r = rng(seed);
  const st = stats();
  const nodes = new ShadowNodes(st);
  const dropped: number[] = [];
  nodes.swap = { dropNode: (chunk) => dropped.push(chunk) };
  const ref = new RefNodes();
  // twin files: the list under test and the reference each change their own
  const files = [1, 2, 7].map((ino) => [newFile(ino), newFile(ino)] as const);
  for (let step = 0; step < steps; step++) {
    const op = r();
    if (op < 0.55) {
      // a swap-cache node joins or leaves (as SwapArea.updateNode calls it; sometimes unchanged)
      const chunk = Math.floor(r() * swapNodes);
      const listed = r() < 0.55;
      nodes.listSwap(chunk, listed);
      ref.listSwap(chunk, listed);
    } else if (op < 0.9) {
      // a file page's shadow or folio comes or goes, then workingset_update_node of its node
      const [a, b] = files[Math.floor(r() * files.length)];
      const index = Math.floor(r() * 4 * XA_CHUNK);
      const what = r();
      for (const f of [a, b]) {
        if (what < 0.45) f.shadows.set(index, 1);
        else if (what < 0.7) f.cache.set(index, 1);
        else if (what < 0.85) f.shadows.delete(index);
        else f.cache.delete(index);
      }
      nodes.updateFile(a, index);
      ref.updateFile(b, index);
    } else {
      const nr = Math.floor(r() * 6);
      expect(nodes.scan(nr)).toBe(ref.scan(nr));
    }
    expect(nodes.size).toBe(ref.list.size);
    if (step % 16 === 0 || step === steps - 1) {
      expect(nodes.keys()).toEqual([...ref.list.keys()]);
      expect(dropped).toEqual(ref.dropped);
      expect(st.workingset_nodereclaim).toBe(ref.nodereclaim);
      for (const [a, b] of files) expect([...a.shadows.keys()].sort()).toEqual([...b.shadows.keys()].sort());
    }
  }
}

describe("ShadowNodes: the swap cache's nodes by typed-array links, the files' by a Map", () => {
  it("keeps the one list's order, count and scans (random joins, leaves and scans)", () => {
    for (let seed = 1; seed <= 40; seed++) run(seed, 600, seed % 2 === 0 ? 40 : 300);
  });

  it("grows for a swap area's nodes far from the first, and scans an empty list to nothing", () => {
    const st = stats();
    const nodes = new ShadowNodes(st);
    const dropped: number[] = [];
    nodes.swap = { dropNode: (chunk) => dropped.push(chunk) };
    expect(nodes.scan(4)).toBe(0);
    nodes.listSwap(5000, true);
    nodes.listSwap(3, true);
    nodes.listSwap(5000, true); // listed already: its place kept
    nodes.listSwap(70_000, false); // never listed, beyond the arrays: nothing
    expect(nodes.keys()).toEqual([5000, 3]);
    expect(nodes.scan(1)).toBe(1);
    expect(dropped).toEqual([5000]);
    expect(nodes.size).toBe(1);
  });
});
