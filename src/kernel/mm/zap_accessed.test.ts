/**
 * munmap of a file mapping marks the folios of its young PTEs accessed
 * (zap_present_folio_ptes: folio_mark_accessed when pte_young and
 * vma_has_recency), a large folio once for its run of PTEs (folio_pte_batch);
 * a VMA under MADV_RANDOM or MADV_SEQUENTIAL does not (vma_has_recency).
 * The host agrees for 4K folios: test/differential/readahead.test.ts "zap".
 * Linux: mm/memory.c zap_present_folio_ptes; include/linux/mm_inline.h vma_has_recency
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "./userMm.ts";
import { Lru } from "./vmscan.ts";

const PG = 4096;
const RO = { r: true, w: false, x: false };

/** A 64-page disk file (folios of `folioBytes`), mapped at an aligned address, pages `touch` read, unmapped `times` times. */
function zapped(folioBytes: number, touch: number[], times: number, advice?: string) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
  const f = k.createFile("data", 64 * PG, "disk", true, folioBytes);
  const other = k.createFile("other", PG, "disk", true);
  const t = k.spawn("probe")!;
  k.switchTo(0, t);
  for (let i = 0; i < times; i++) {
    const m = k.mmap(
      t,
      mmapArgs(64 * PG, { file: f, shared: true, prot: RO, addr: 0x40000000, fixed: true }),
    );
    if (advice !== undefined) expect(k.madvise(t, m, BigInt(64 * PG), advice)).toBe(0n);
    for (const p of touch) expect(k.userAccess(0, t, m + BigInt(p * PG), Access.Read).ok).toBe(true);
    expect(k.munmap(t, m, BigInt(64 * PG))).toBe(0n);
  }
  expect(k.fadvise(t, other, 0n, 0n, "dontneed")).toBe(0n); // lru_add_drain
  const v = k.vmscan;
  return Array.from({ length: 64 }, (_, i) => {
    const pfn = f.cache.get(i)!;
    const act = v.lru[pfn] === Lru.ActiveFile;
    const ref = v.referenced[pfn] === 1;
    return act ? (ref ? "B" : "A") : ref ? "R" : "-";
  }).join("");
}

describe("zap_pte_range marks file folios of young PTEs accessed", () => {
  it("4K folios: the pages fault-around mapped (young) are referenced after one munmap, active after two", () => {
    // fault-around maps the aligned 16 pages around each fault, young
    const once = zapped(PG, [0, 40], 1);
    expect(once).toBe(`${"R".repeat(16)}${"-".repeat(16)}${"R".repeat(16)}${"-".repeat(16)}`);
    expect(zapped(PG, [0, 40], 2)).toBe(once.replaceAll("R", "A"));
  });

  it("a large folio is marked once for its run of young PTEs", () => {
    // 64K folios: the 16 PTEs of a folio are one batch, one folio_mark_accessed (referenced, not active)
    expect(zapped(64 << 10, [0], 1)).toBe(`${"R".repeat(16)}${"-".repeat(48)}`);
  });

  it("no recency under MADV_RANDOM or MADV_SEQUENTIAL: nothing marked", () => {
    for (const advice of ["random", "sequential"])
      expect(zapped(PG, [0, 40], 2, advice)).toBe("-".repeat(64));
  });
});
