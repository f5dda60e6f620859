import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { exampleFiles } from "../exampleFiles.ts";
import { expectationFailures, rewriteX86Scenario } from "../rerunKit.ts";

/**
 * Every x86-64 example rerun on 32-bit x86 (issue #14), with 2-level
 * paging (`arch=i386`) and with PAE (`arch=i386-pae`): `pcid=` is dropped (no PCIDs outside
 * IA-32e mode), and x86-64's level names become Linux's generic ones
 * (pml5, pml4 and pdpt fold into the PGD: `pgd`; pd is the PMD, folded into
 * the PGD on 2-level paging; pt the PTE), and x86-64's __va(0),
 * 0xffff888000000000, becomes PAGE_OFFSET 0xc0000000. Each example must then hold on
 * i386 unchanged, or be listed below with the reason it cannot.
 */
const ROOT = resolve(import.meta.dirname, "../..");

const X86_64_ADDR =
  "names x86-64 addresses (0xffff888000000000 and the like), which do not exist on 32-bit x86";
const NOT_PORTABLE: Record<string, string> = {
  "examples/kernel/memcg-pagecache.vm":
    "x86-64's 4-level page tables: the charged tables (GFP_PGTABLE_USER: A's PGD, PUD, PMD and 4 PTE tables, B's 4) set how much of A fills the limit (2-level i386: a PTE table maps 4 MiB, no PUD or PMD table)",
  "examples/kernel/fragmentation.vm":
    "x86-64's figures: the 32-bit kernel's boot leaves more of 32M free (no 2M vmemmap blocks)",
  "examples/kernel/unmapped-kernel-address.vm": X86_64_ADDR,
  "examples/kernel/vmalloc-scatter.vm": X86_64_ADDR,
  "examples/process/context-switch-pcid.vm":
    "PCIDs: 32-bit x86 has none, every switch flushes (context-switch-nopcid.vm holds on i386)",
  "examples/process/cow-fork.vm":
    "x86-64's addresses and 4-level pt_pages; examples/i386/cow-fork.vm is i386's",
  "examples/process/demand-paging.vm":
    "x86-64's addresses and 4-level pt_pages; examples/i386/demand-paging.vm is i386's",
  "examples/process/mmap-family.vm":
    "maps 1 TiB (overcommit=always), more than a 3 GiB user address space holds",
  "examples/process/shootdown.vm":
    "a PTE page spans 4 MiB on 2-level paging: munmap of b leaves keep's page table, so no freed-tables IPI",
  "examples/process/stack-growth.vm": X86_64_ADDR,
  "examples/process/thp.vm": "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024), not 2 MiB",
  "examples/process/hugetlb.vm": "a HugeTLB page is 4 MiB on 2-level paging (HPAGE_SHIFT 22), not 2 MiB",
  "examples/files/pmd-folio.vm":
    "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024): folio=4M is i386's PMD-size folio",
  "examples/process/thp-deferred-split.vm":
    "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024), not 2 MiB",
  "examples/files/tmpfs-huge.vm":
    "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024): huge tmpfs folios are 4M",
  "examples/files/shmem-collapse.vm":
    "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024): the collapsed shmem folios are 4M",
  "examples/files/shmem-huge-anon.vm":
    "a PMD maps 4 MiB on 2-level paging; and a 32-bit kernel has no CONFIG_THP_SWAP (64BIT only): its pageout splits the folio",
  "examples/process/thp-mremap.vm": "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024), not 2 MiB",
  "examples/process/khugepaged.vm": "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024), not 2 MiB",
  "examples/swap/thp-pageout.vm": "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024), not 2 MiB",
  "examples/tour/04-shared-kernel-half.vm":
    "its shared level is the PUD below x86-64's PGD; on 32-bit the PUD folds into the per-process PGD (2-level: the page tables are shared, PAE: the kernel PMD)",
  "examples/tour/05-pcid.vm": "PCIDs: 32-bit x86 has none (CR4.PCIDE needs IA-32e mode)",
  "examples/tour/09-real-program.vm": "replays a trace of an x86-64 program (its addresses are above 4 GiB)",
  "examples/uaccess/pti.vm":
    "pti=on: Linux's PTI on 32-bit x86 needs PAE (examples/i386/pti.vm is i386-pae's)",
  "examples/swap/mthp-pageout.vm":
    "a 32-bit kernel has no CONFIG_THP_SWAP (64BIT only): folio_alloc_swap gives a large folio no entry, so its pageout splits the folio (thp_swap_32.test.ts)",
  "examples/process/mremap-dontunmap-mseal.vm":
    "mseal(2) is 64-bit only (can_do_mseal: -EPERM without CONFIG_64BIT)",
  "examples/process/droppable.vm":
    "MAP_DROPPABLE is 64-bit only (VM_DROPPABLE is VM_NONE without CONFIG_64BIT: do_mmap's -ENOTSUPP)",
  "examples/pkeys/protection-keys.vm":
    "protection keys need IA-32e mode (CR4.PKE; Linux's pkeys are CONFIG_X86_64 only)",
};

/** An x86-64 scenario as i386 words it. */
function onI386(source: string, arch = "i386"): string {
  return rewriteX86Scenario(source, arch, (w) => (w.startsWith("pcid=") ? null : w)).replaceAll(
    "0xffff888000000000",
    "0xc0000000",
  ); // __va(0): the direct map's first address
}

/** PAE: 2 MiB huge pages and page tables, as on x86-64, so the 4 MiB reasons do not hold there */
const PAE_PORTABLE = [
  // PAE's 3 preallocated PMDs a process (charged) and no PGD charge (its PDPT is a slab object)
  // make the same 2048 pages as x86-64's PUD, PMD and charged PGD page
  "examples/kernel/memcg-pagecache.vm",
  "examples/process/hugetlb.vm",
  "examples/process/shootdown.vm",
  "examples/files/pmd-folio.vm",
  "examples/process/thp-deferred-split.vm",
  "examples/process/khugepaged.vm",
  "examples/files/tmpfs-huge.vm",
  "examples/files/shmem-collapse.vm",
];
const NOT_PORTABLE_PAE: Record<string, string> = {
  ...Object.fromEntries(Object.entries(NOT_PORTABLE).filter(([f]) => !PAE_PORTABLE.includes(f))),
  "examples/process/thp.vm":
    "x86-64's mmap address (0x7ffff7a00000); the huge pages themselves behave the same",
  "examples/uaccess/pti.vm":
    "x86-64's direct-map address, and PCIDs keeping the user's TLB entries across a system call (examples/i386/pti.vm is i386-pae's)",
  "examples/process/thp-mremap.vm":
    "x86-64's 4-level pt_pages: PAE has no PUD, and its three preallocated PMD tables count from the start (preallocate_pmds' mm_inc_nr_pmds)",
  "examples/swap/thp-pageout.vm":
    "a 32-bit kernel has no CONFIG_THP_SWAP (64BIT only): the THP is split before it goes to swap; and its swap_ra: on 32-bit a readahead window's start at or above 2 GiB is (long)left < 0 in swap_vma_ra_win, so the window reaches back to the VMA's start (260 pages read ahead, not 7)",
};

for (const arch of ["i386", "i386-pae"]) {
  const list = arch === "i386" ? NOT_PORTABLE : NOT_PORTABLE_PAE;
  describe(`the x86 examples rerun on ${arch} (invariant checker on)`, () => {
    const files = exampleFiles(join(ROOT, "examples"))
      .map((f) => relative(ROOT, f))
      // the examples of other architectures, and the tour's questions that name their machine's arch
      .filter((f) => !/^machine\b.*\barch=/m.test(readFileSync(join(ROOT, f), "utf8")));
    it("are many, and every listed one exists", () => {
      expect(files.length).toBeGreaterThan(30);
      for (const f of Object.keys(list)) expect(files).toContain(f);
    });
    for (const f of files) {
      const source = readFileSync(join(ROOT, f), "utf8");
      const reason = list[f];
      if (reason === undefined)
        it(`${f}: every expectation holds on ${arch}`, () => {
          const src = onI386(source, arch);
          expect(src).toMatch(new RegExp(`^machine arch=${arch} `, "m"));
          expect(expectationFailures(src, f)).toEqual([]);
        });
      else
        it(`${f}: x86-64's own (${reason})`, () => {
          expect(expectationFailures(onI386(source, arch), f)).not.toEqual([]);
        });
    }
  });
}

describe("onI386", () => {
  it("puts arch=i386 on the machine line, drops pcid= and words x86-64's levels as Linux's", () => {
    const src = "machine ram=64M smap=on pcid=on\nexpect table(A, a, pml4) != table(B, b+4K, pt)\n";
    expect(onI386(src)).toBe(
      "machine arch=i386 ram=64M smap=on\nexpect table(A, a, pgd) != table(B, b+4K, pte)\n",
    );
  });
});

describe("i386's COW example on i386-pae with pti=on (invariant checker on)", () => {
  // PTI changes the tables' layout (the PGD pair, per-process kernel PMDs) and the TLB's contents,
  // never what a process reads, writes or shares: COW and its counts hold unchanged (and
  // lowmem-reclaim.vm's swap too, left out for its run time)
  for (const f of ["examples/i386/cow-fork.vm"])
    it(`${f}: every expectation holds`, () => {
      const src = readFileSync(join(ROOT, f), "utf8")
        .replace(/^machine arch=i386 (.*)$/m, "machine arch=i386-pae $1 pti=on")
        // preallocate_pmds' five PMDs count in pt_pages (mm_inc_nr_pmds), beside the one PTE table
        .replace(/^expect A\.pt_pages == 1$/m, "expect A.pt_pages == 6");
      expect(src).toMatch(/^machine arch=i386-pae .*pti=on$/m);
      expect(expectationFailures(src, f)).toEqual([]);
    });
});
