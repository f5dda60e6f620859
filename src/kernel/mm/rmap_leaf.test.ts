/**
 * rmapFind's kept leaf table (rmap_leaf.ts): the next page of the last PTE table the reverse
 * map went through is read without the walk from the PMD while the table's key holds. A host
 * shortcut, which must change nothing: random runs under memory pressure on the architectures
 * with 8-byte entries (writes, reads, forks sharing anonymous pages, mremap moving a region's
 * tables, munmap freeing them, MADV_DONTNEED and MADV_PAGEOUT, THP collapsing and splitting,
 * exits; one CPU and two) give the same counters, TLB figures, values read and every byte of
 * RAM with tables kept and without; under vitest every hit is checked against the walk
 * (leafTableCheck: pmdPa's PMD entry and the frames' own words), and the runs hit.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { PageStore } from "../../hw/PageStore.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import {
  forkTask,
  mremapRegion,
  munmapLast,
  pageoutRegion,
  RandomRun,
  ramHash,
  runSummary,
  touchRegion,
} from "../rmapRuns.testkit.ts";
import type { MmStruct } from "./MmStruct.ts";
import { upperTablesChanged, upperTablesGen } from "./pgtable.ts";
import {
  leafTable,
  leafTableForget,
  leafTableKeep,
  leafTableStats,
  leafTableWords,
  setLeafTableKept,
} from "./rmap_leaf.ts";

const PAGE = 4096n;

function run(arch: "x86_64" | "arm64" | "riscv-sv39" | "i386-pae", seed: number, cpus: 1 | 2, kept: boolean) {
  setLeafTableKept(kept);
  const rng = new Rng(seed);
  const k = new Kernel({
    arch,
    ramBytes: 34 << 20,
    cpus,
    swapBytes: 32 << 20,
    overcommit: "always",
    thp: seed % 2 === 0 ? "always" : "never",
  });
  const run = new RandomRun(k, rng, cpus);
  const { log, tasks, regions } = run;
  for (let step = 0; step < 45; step++) {
    const s = run.pick();
    if (s === null) break;
    const { t, cpu, mine } = s;
    const op = rng.below(13);
    if (op === 0 || mine.length === 0) log.push(run.mmapAnon(t, 1024, 3072));
    else if (op === 1 && tasks.length < 4) log.push(forkTask(k, t, tasks, mine, regions));
    else if (op === 2) log.push(pageoutRegion(k, rng, t, mine));
    else if (op === 3) {
      // MADV_DONTNEED of a part: its PTEs cleared, the tables left (zap_pte_range)
      const r = rng.pick(mine);
      const from = rng.below(r.pages);
      const n = 1 + rng.below(r.pages - from);
      log.push(`dontneed ${k.madvise(t, r.va + BigInt(from) * PAGE, BigInt(n) * PAGE, "dontneed")}`);
    } else if (op === 4) log.push(mremapRegion(k, t, rng.pick(mine), regions, step));
    else if (op === 5 && mine.length > 1) log.push(munmapLast(k, t, mine, regions));
    else if (op === 6 && t !== tasks[0]) {
      k.exit(t, "test");
      log.push("exit");
    } else log.push(touchRegion(k, rng, cpu, t, rng.pick(mine), op < 10, step, 2));
  }
  log.push(...runSummary(k, tasks));
  log.push(`ram ${ramHash(k)}`);
  return log;
}

describe("rmapFind's kept leaf table changes nothing", () => {
  afterEach(() => setLeafTableKept(true));
  for (const arch of ["x86_64", "arm64", "riscv-sv39", "i386-pae"] as const)
    it(arch, () => {
      let checked = 0;
      let stolen = 0;
      for (const [cpus, seed] of [
        [1, 3],
        [2, 4],
      ] as const) {
        const before = leafTableStats.checked;
        const a = run(arch, seed, cpus, true);
        checked += leafTableStats.checked - before;
        const mid = leafTableStats.checked;
        const b = run(arch, seed, cpus, false);
        expect(leafTableStats.checked).toBe(mid); // nothing kept: every look-up walked
        expect(a).toEqual(b);
        stolen += JSON.parse(a.find((l) => l.startsWith("{"))!).pgsteal_anon;
      }
      // the runs reclaimed, and most of their look-ups were the kept table's
      expect(stolen).toBeGreaterThan(1000);
      expect(checked).toBeGreaterThan(stolen / 2);
    });
});

describe("the kept leaf table's key", () => {
  afterEach(() => leafTableForget());
  it("holds while the mm, span, root, upper tables, store generation and PMD entry are the same; any change drops it", () => {
    const store = new PageStore(64);
    const pmdWords = store.wordsForWrite(3);
    const words = store.wordsForWrite(5);
    const mkMm = () =>
      ({
        pgdPfn: 1,
        pmdTablePa: 3 * 4096,
        pmdTableRoot: 1,
        pmdTableEpoch: upperTablesGen(),
      }) as unknown as MmStruct;
    const mm = mkMm();
    // the PMD entry at word 8 of frame 3 (0x3020) holds table 5
    pmdWords[8] = (5 << 12) | 0x67;
    pmdWords[9] = 0;
    const keep = (m: MmStruct) =>
      leafTableKeep(m, 512, store, 3 * 4096 + 32, pmdWords, 8, 0, pmdWords[8], 5, words);
    keep(mm);
    expect(leafTableWords(mm, 512, store)).toBe(words);
    expect(leafTable.table).toBe(5);
    // another span, another mm, another store: not this table
    expect(leafTableWords(mm, 1024, store)).toBe(null);
    expect(leafTableWords(mkMm(), 512, store)).toBe(null);
    expect(leafTableWords(mm, 512, new PageStore(64))).toBe(null);
    // the PMD entry rewritten (a pmd_clear, another table), then as it was
    pmdWords[8] = (6 << 12) | 0x67;
    expect(leafTableWords(mm, 512, store)).toBe(null);
    pmdWords[8] = (5 << 12) | 0x67;
    expect(leafTableWords(mm, 512, store)).toBe(words);
    pmdWords[9] = 1;
    expect(leafTableWords(mm, 512, store)).toBe(null);
    pmdWords[9] = 0;
    // the mm's root changed (its PGD freed at exit)
    (mm as { pgdPfn: number }).pgdPfn = 2;
    expect(leafTableWords(mm, 512, store)).toBe(null);
    (mm as { pgdPfn: number }).pgdPfn = 1;
    expect(leafTableWords(mm, 512, store)).toBe(words);
    // a page changed its slot (PageStore.gen)
    store.wordsForWrite(9);
    expect(leafTableWords(mm, 512, store)).toBe(null);
    keep(mm);
    expect(leafTableWords(mm, 512, store)).toBe(words);
    // an upper table unlinked (pmdPa walks from the top again)
    upperTablesChanged();
    expect(leafTableWords(mm, 512, store)).toBe(null);
    // nothing kept from a PMD entry outside the table pmdPa remembers for the mm (its epoch is old now)
    keep(mm);
    expect(leafTableWords(mm, 512, store)).toBe(null);
    (mm as { pmdTableEpoch: number }).pmdTableEpoch = upperTablesGen();
    keep(mm);
    expect(leafTableWords(mm, 512, store)).toBe(words);
    (mm as { pmdTablePa: number }).pmdTablePa = 4 * 4096;
    leafTableForget();
    keep(mm);
    expect(leafTableWords(mm, 512, store)).toBe(null);
  });
});
