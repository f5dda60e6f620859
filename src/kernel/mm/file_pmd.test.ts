/**
 * PMD-size page-cache folios (`folio=2M`) mapped by one PMD (do_set_pmd,
 * from filemap_map_pmd or finish_fault) where the mapping is suitably
 * aligned, and what becomes of that PMD: zap, split (for a file: cleared),
 * write faults, msync, truncate, fork, and the smaps/meminfo counters.
 * Linux: mm/memory.c do_set_pmd, mm/filemap.c filemap_map_pmd, mm/huge_memory.c __split_huge_pmd_locked
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";

function run(src: string): { v: (name: string) => number; out: (line: number) => string[] } {
  const r = runScenario(src, { checkInvariants: true });
  expect(
    r.expectations.filter((e) => !e.ok).map((e) => `line ${e.line}: ${e.text} (got ${e.actual})`),
  ).toEqual([]);
  return {
    v: (name) => Number(BigInt(r.metrics[name])),
    out: (line) => r.statements.find((s) => s.line === line)?.output ?? [],
  };
}

const field = (lines: string[], name: string) =>
  Number(lines.find((l) => l.trim().startsWith(`${name}:`))?.match(/(\d+) kB/)?.[1] ?? Number.NaN);

describe("PMD-mapped page-cache folios", () => {
  it("a read of an aligned mapping maps the 2M folio by one PMD; no PTE table; FilePmdMapped", () => {
    const { v, out } = run(`machine ram=64M
file f size=4M cached folio=2M
spawn A
let pt0 = A.pt_pages
A: a = mmap 4M prot=r shared file=f at=0x40000000
A: read a+200p
let first = A.min_flt
let p1 = present(A, a 4M)
let pt1 = A.pt_pages
A: read a 4M
let all = A.min_flt
let rss = A.rss
show A smaps
let fpm = meminfo.FilePmdMapped
let fhp = meminfo.FileHugePages
let ahp = meminfo.AnonHugePages
A: munmap a 4M
let rss_end = A.rss
let fpm_end = meminfo.FilePmdMapped
expect cached(f) == 1024
`);
    expect([v("first"), v("p1"), v("all"), v("rss")]).toEqual([1, 512, 2, 1024]);
    // the fault's PTE table was freed again: only the tables above the PMD were added
    expect(v("pt1") - v("pt0")).toBeLessThanOrEqual(2);
    const smaps = out(13);
    expect([field(smaps, "FilePmdMapped"), field(smaps, "AnonHugePages"), field(smaps, "Rss")]).toEqual([
      4096, 0, 4096,
    ]);
    expect([v("fpm"), v("fhp"), v("ahp")]).toEqual([4 << 20, 4 << 20, 0]);
    expect([v("rss_end"), v("fpm_end")]).toEqual([0, 0]);
  });

  it("falls back to PTEs when the mapping is not PMD-aligned to the file, under MADV_NOHUGEPAGE, and for smaller folios", () => {
    const { v } = run(`machine ram=64M
file f size=4M cached folio=2M
file g size=4M cached folio=1M
spawn A
A: a = mmap 2M prot=r shared file=f offset=4K at=0x40000000
A: read a+200p
let off = present(A, a 2M)
A: b = mmap 4M prot=r shared file=f at=0x40400000
A: madvise b 4M nohugepage
A: read b+200p
let nohuge = present(A, b 4M)
A: c = mmap 4M prot=r shared file=g at=0x40800000
A: read c+200p
let small = present(A, c 4M)
let fpm = meminfo.FilePmdMapped
`);
    // by PTEs: fault-around maps the 16 pages of the window when the folio spans two page tables,
    // or the whole folio when it lies in one (filemap_map_folio_range)
    expect([v("off"), v("nohuge"), v("small"), v("fpm")]).toEqual([16, 512, 256, 0]);
  });

  it("a partial munmap or mprotect splits the PMD, which for a file clears it: the rest refaults", () => {
    const { v } = run(`machine ram=64M
file f size=4M cached folio=2M
spawn A
A: a = mmap 4M prot=r shared file=f at=0x40000000
A: read a 4M
A: munmap a+100p 1p
let after_unmap = present(A, a 2M)
let rss = A.rss
A: read a+50p
let refault = present(A, a 2M)
A: mprotect a+2M 4K prot=none
let after_mprotect = present(A, a+2M 2M)
`);
    // the 2M around the hole is unmapped (its 511 other pages refault by PTEs, 16 at a time)
    expect([v("after_unmap"), v("rss"), v("refault"), v("after_mprotect")]).toEqual([0, 512, 16, 0]);
  });

  it("shared writes: the PMD becomes writable and dirty in one fault; msync cleans it, the next write faults again", () => {
    const { v } = run(`machine ram=64M
file f size=4M cached folio=2M
spawn A
A: a = mmap 4M prot=rw shared file=f at=0x40000000
A: read a
let m0 = A.min_flt
A: write a+5p value=7
let wp = A.min_flt - m0
let dirty = meminfo.Dirty
let present = present(A, a 2M)
A: msync a 4M
let clean = meminfo.Dirty
A: write a+9p value=8
let wp2 = A.min_flt - m0
A: b = mmap 4M prot=rw shared file=f at=0x40400000
A: write b+2M+3p value=9
let direct = meminfo.Dirty
let bpresent = present(A, b+2M 2M)
expect byte(A, a+5p) == 7
expect file_byte(f, 20480) == 7
`);
    expect([v("wp"), v("dirty"), v("present")]).toEqual([1, 2 << 20, 512]);
    expect([v("clean"), v("wp2")]).toEqual([0, 2]);
    // a first write maps the folio writable and dirty by a PMD (do_shared_fault -> do_set_pmd)
    expect([v("direct"), v("bpresent")]).toEqual([4 << 20, 512]);
  });

  it("munmap of a dirty shared PMD (zap_huge_pmd, no folio_mark_dirty): the folio is dirty from its write fault, after msync too; reclaim writes it back", () => {
    const { v } = run(`machine ram=64M
file f size=2M cached folio=2M
spawn A
A: a = mmap 2M prot=rw shared file=f at=0x40000000
A: write a+5p value=7
A: msync a 2M
let clean = meminfo.Dirty
A: write a+6p value=8
let dirty0 = meminfo.Dirty
let fpm = meminfo.FilePmdMapped
A: munmap a 2M
let dirty1 = meminfo.Dirty
drop_caches 1
let c = cached(f)
reclaim 2M
let dirty2 = meminfo.Dirty
let c2 = cached(f)
expect file_byte(f, 24576) == 8
expect file_byte(f, 20480) == 7
`);
    // msync cleaned the folio and write-protected its PMD (folio_mkclean): the next write faulted and dirtied it
    expect([v("clean"), v("dirty0"), v("fpm")]).toEqual([0, 2 << 20, 2 << 20]);
    // the zap kept it dirty: drop_caches leaves it, reclaim writes it back (the bytes expected above)
    expect([v("dirty1"), v("c"), v("dirty2"), v("c2")]).toEqual([2 << 20, 512, 0, 0]);
  });

  it("a private write splits (clears) the PMD and copies the page; fork does not copy the PMD", () => {
    const { v } = run(`machine ram=64M
file f size=4M cached folio=2M
spawn A
A: a = mmap 4M prot=rw private file=f at=0x40000000
A: read a
A: read a+2M
A: write a+3p value=7
let present = present(A, a 2M)
let anon = anon(A, a 4M)
A: fork B
let child = present(B, a 4M)
let m0 = B.min_flt
B: read a+2M+1p
let child_fault = B.min_flt - m0
let child2 = present(B, a+2M 2M)
expect byte(B, a+3p) == 7
`);
    expect([v("present"), v("anon")]).toEqual([1, 1]);
    // the child has the anonymous page (copied with the VMA's anon_vma), not the file PMD
    expect([v("child"), v("child_fault"), v("child2")]).toEqual([1, 1, 512]);
  });

  it("ftruncate into a PMD-mapped folio unmaps it and splits it", () => {
    const { v } = run(`machine ram=64M
file f size=4M cached folio=2M
spawn A
A: a = mmap 4M prot=r shared file=f at=0x40000000
A: read a 4M
A: ret = ftruncate f 1M
let p = present(A, a 4M)
let c = cached(f)
let fhp = meminfo.FileHugePages
A: read a+10p
let p2 = present(A, a 1M)
`);
    expect([v("ret"), v("p"), v("c"), v("fhp"), v("p2")]).toEqual([0, 0, 256, 0, 16]);
  });
});

describe("PMD-mapped page-cache folios and reclaim", () => {
  it("reclaim reads and clears a PMD's accessed bit (pmdp_clear_flush_young): the PMD stays; an old one is unmapped and dropped", () => {
    const { v } = run(`machine ram=64M
file f size=4M cached folio=2M
file g size=256K cached
spawn A
A: a = mmap 4M prot=r shared file=f at=0x40000000
A: read a 4M
let fpm0 = meminfo.FilePmdMapped
reclaim 4K
let p1 = present(A, a 4M)
let fpm1 = meminfo.FilePmdMapped
let cf1 = cached(f)
let cg1 = cached(g)
reclaim 3M
let p2 = present(A, a 4M)
let rss2 = A.rss
let cf2 = cached(f)
`);
    // the first reclaim found both PMDs young: it kept the folios mapped and took g's pages instead
    expect([v("fpm0"), v("p1"), v("fpm1"), v("cf1")]).toEqual([4 << 20, 1024, 4 << 20, 1024]);
    expect(v("cg1")).toBeLessThan(64);
    // not used since, they are unmapped (try_to_unmap: TTU_SPLIT_HUGE_PMD clears a file PMD) and dropped whole
    expect(v("p2")).toBe(v("cf2"));
    expect(v("rss2")).toBe(v("cf2"));
    expect(v("cf2") % 512).toBe(0);
    expect(v("cf2")).toBeLessThan(1024);
  });

  it("reclaim of a dirty shared PMD: try_to_unmap clears it (TTU_SPLIT_HUGE_PMD), the folio is written back and dropped", () => {
    const { v } = run(`machine ram=64M
file f size=2M cached folio=2M
spawn A
A: a = mmap 2M prot=rw shared file=f at=0x40000000
A: write a+5p value=7
let dirty0 = meminfo.Dirty
reclaim 2M
let dirty1 = meminfo.Dirty
let p = present(A, a 2M)
let rss = A.rss
let c = cached(f)
let fpm = meminfo.FilePmdMapped
expect file_byte(f, 20480) == 7
A: read a+5p
let back = present(A, a 2M)
expect byte(A, a+5p) == 7
`);
    // the write dirtied the whole folio by its PMD; reclaim wrote it back (the cache is empty: the byte is the disk's)
    expect([v("dirty0"), v("dirty1")]).toEqual([2 << 20, 0]);
    expect([v("p"), v("rss"), v("c"), v("fpm")]).toEqual([0, 0, 0, 0]);
    expect(v("back")).toBeGreaterThan(0); // read in again from the disk (the byte expected above)
  });

  it("MADV_PAGEOUT of a whole PMD-mapped clean folio unmaps and drops it; one mapped twice stays", () => {
    const { v } = run(`machine ram=64M
file f size=4M cached folio=2M
spawn A
spawn B
A: a = mmap 4M prot=r shared file=f at=0x40000000
A: read a 4M
B: b = mmap 2M prot=r shared file=f offset=2M at=0x40000000
B: read b 2M
A: ret = madvise a 4M pageout
let pa = present(A, a 4M)
let pb = present(B, b 2M)
let c = cached(f)
`);
    expect([v("ret"), v("pa"), v("pb"), v("c")]).toEqual([0, 512, 512, 512]);
  });
});

describe("MADV_PAGEOUT over part of a PMD-mapped page-cache folio (madvise_cold_or_pageout_pte_range)", () => {
  for (const swap of ["0", "16M"])
    it(`swap=${swap}: mapped once, the folio is split (split_folio unmaps it) and nothing is paged out; mapped twice, it is left`, () => {
      const { v } = run(`machine ram=64M swap=${swap}
file f size=4M cached folio=2M
spawn A
spawn B
A: a = mmap 4M prot=r shared file=f at=0x40000000
A: read a 4M
B: b = mmap 2M prot=r shared file=f offset=2M at=0x40000000
B: read b 2M
let fhp0 = meminfo.FileHugePages
A: ret = madvise a+1M 2M pageout
let pa1 = present(A, a 2M)
let pa2 = present(A, a+2M 2M)
let pb = present(B, b 2M)
let c = cached(f)
let fhp = meminfo.FileHugePages
let fpm = meminfo.FilePmdMapped
B: ret2 = madvise b 2M pageout
let pb2 = present(B, b 2M)
let c2 = cached(f)
`);
      // the first folio (A's alone) is split to order 0 and unmapped, its pages stay cached;
      // the second (mapped by A and B: folio_likely_mapped_shared) keeps both PMDs
      expect([v("ret"), v("pa1"), v("pa2"), v("pb"), v("c")]).toEqual([0, 0, 512, 512, 1024]);
      expect([v("fhp0"), v("fhp"), v("fpm")]).toEqual([4 << 20, 2 << 20, 2 << 20]);
      // over the whole 2M too, a folio mapped elsewhere is left
      expect([v("ret2"), v("pb2"), v("c2")]).toEqual([0, 512, 1024]);
    });
});

describe("PMD-size page-cache folios on other architectures", () => {
  for (const [arch, size] of [
    ["arm64", "2M"],
    ["riscv-sv39", "2M"],
    ["i386", "4M"],
  ] as const)
    it(`${arch}: folio=${size} is mapped by one PMD`, () => {
      const { v } = run(`machine arch=${arch} ram=64M
file f size=${size} cached folio=${size}
spawn A
A: a = mmap ${size} prot=r shared file=f at=0x40000000
A: read a+3p
let first = A.min_flt
let fpm = meminfo.FilePmdMapped
`);
      expect([v("first"), v("fpm")]).toEqual([1, size === "4M" ? 4 << 20 : 2 << 20]);
    });
});
