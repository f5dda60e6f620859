/**
 * crash's vtop and /proc/PID/pagemap on the simulated state, against the
 * tools' own layouts: crash-utility's memory.c do_vtop and x86_64.c
 * x86_64_uvtop_level4 / x86_64_translate_pte (the example in its help page,
 * https://crash-utility.github.io/help_pages/vtop.html), and the kernel's
 * Documentation/admin-guide/mm/pagemap.rst for the bits.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";

const SRC = `machine ram=256M swap=64M thp=always fault_around=0
spawn A
A: m = mmap 16K
A: write m 8K value=0x5a
A: madvise m+4K 4K pageout
file f size=64K
A: fm = mmap 64K file=f
A: read fm+8K
A: h = mmap 4M
A: write h+2M 4K
A: fork B
show A vtop m
show A vtop m+4K
show A vtop fm
show A vtop h+2M+4K
show A vtop 0x1000
kernel: v = vmalloc 8K
show kernel vtop v
show A pagemap m 16K
show A pagemap fm+8K
show B pagemap h+2M
show A pagemap m 0
`;

const out = (r: ReturnType<typeof runScenario>, line: number) =>
  r.statements.find((s) => s.line === line)!.output;

describe("crash's vtop", () => {
  const r = (() => {
    try {
      return runScenario(SRC.replace("show A pagemap m 0\n", ""), { checkInvariants: true });
    } catch (e) {
      throw new Error(String(e));
    }
  })();

  it("a present anonymous page: VIRTUAL/PHYSICAL, the entry chain, PTE PHYSICAL FLAGS, the VMA, the struct page", () => {
    const o = out(r, 12);
    expect(o[0]).toBe("VIRTUAL     PHYSICAL        ");
    const [va, pa] = o[1].trim().split(/\s+/);
    expect(va).toBe("7ffff7ffb000");
    expect(o[2]).toBe("");
    // one line per level, Linux's names, `entry address => value`, as crash's verbose uvtop
    expect(o.slice(3, 7).map((l) => l.slice(0, 8))).toEqual(["   PGD: ", "   PUD: ", "   PMD: ", "   PTE: "]);
    const pte = /^ {3}PTE: [0-9a-f]+ => ([0-9a-f]+)$/.exec(o[6])![1];
    expect(o[7]).toBe(`  PAGE: ${pa}  `);
    expect(o[9]).toMatch(/^ {6}PTE {9}PHYSICAL {2}FLAGS$/);
    // after fork the private page is write-protected for copy-on-write: no RW
    expect(o[10]).toBe(`${pte}  ${pa.padStart(8)}  (PRESENT|USER|ACCESSED|DIRTY|NX)`);
    expect(o[12]).toBe("      VMA           START       END     FLAGS FILE");
    expect(o[13]).toMatch(/^ {7}- {9}7ffff7ffb000 7ffff7fff000 +[0-9a-f]+ $/);
    expect(o[15]).toBe("      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS");
    // vmemmap + pfn * sizeof(struct page); the page's index is its linear page offset; two mappings hold it
    const pfn = Number.parseInt(pa, 16) / 4096;
    const page = (0xffffea0000000000n + BigInt(pfn) * 64n).toString(16);
    expect(o[16]).toMatch(new RegExp(`^${page} ${pa.padStart(8)} {16}- 7ffff7ffb  2 [0-9a-f]+ `));
  });

  it("a swapped page: the swap entry's SWAP and OFFSET, then SWAP: after the VMA", () => {
    const o = out(r, 13);
    expect(o[1]).toMatch(/^7ffff7ffc000 {2}\(not mapped\)$/);
    expect(o[8]).toMatch(/^ +PTE +SWAP +OFFSET$/);
    const [pte, dev, offset] = o[9].trim().split(/\s+/);
    expect(dev).toBe("/swapfile");
    // x86's swap PTE keeps the offset inverted in bits 9-58 (pgtable_64.h __swp_entry, L1TF)
    expect(Number((~BigInt(`0x${pte}`) >> 9n) & ((1n << 50n) - 1n))).toBe(Number(offset));
    expect(o.at(-1)).toBe(`SWAP: /swapfile  OFFSET: ${offset}`);
  });

  it("a file page the process has not touched: FILE and its offset; a huge page: PAGE (2MB) and the PMD's PSE", () => {
    const f = out(r, 14);
    expect(f[1]).toMatch(/\(not mapped\)$/);
    expect(f.at(-1)).toBe("FILE: /f  OFFSET: 0");
    const h = out(r, 15);
    expect(h.slice(3, 6).map((l) => l.slice(0, 8))).toEqual(["   PGD: ", "   PUD: ", "   PMD: "]);
    expect(h[6]).toMatch(/^ {2}PAGE: [0-9a-f]+000 {2}\(2MB\)$/);
    expect(h[9]).toMatch(/\(PRESENT\|USER\|ACCESSED\|DIRTY\|PSE\|NX\)$/);
  });

  it("outside every VMA: (not accessible); a vmalloc address: PGD DIRECTORY, PAGE DIRECTORY and a global kernel PTE", () => {
    expect(out(r, 16)).toEqual(["VIRTUAL     PHYSICAL        ", "1000        (not accessible)", ""]);
    const k = out(r, 18);
    expect(k[0]).toBe("VIRTUAL           PHYSICAL        ");
    expect(k[1]).toMatch(/^ffffc90000000000 {2}[0-9a-f]+ +$/);
    expect(k[3]).toMatch(/^PGD DIRECTORY: ffff[0-9a-f]+$/);
    expect(k[4]).toMatch(/^PAGE DIRECTORY: [0-9a-f]+$/);
    expect(k[11]).toMatch(/\(PRESENT\|RW\|ACCESSED\|DIRTY\|GLOBAL\|NX\)$/);
    expect(k.at(-1)).toMatch(/^ffffea[0-9a-f]+ +[0-9a-f]+ +------- +----- +1 /);
  });
});

describe("/proc/PID/pagemap", () => {
  const r = runScenario(SRC.replace("show A pagemap m 0\n", ""));
  const rows = (line: number) =>
    out(r, line)
      .slice(1)
      .map((l) => {
        const [va, entry] = l.split(/\s+/);
        return { va: BigInt(va), entry: BigInt(entry), text: l };
      });

  it("present pages carry bit 63 and the PFN; shared after fork, not exclusive; a swap entry bit 62 with type and offset", () => {
    const [p0, sw, hole, hole2] = rows(19);
    expect(p0.entry >> 63n).toBe(1n);
    expect(p0.entry & ((1n << 55n) - 1n)).toBeGreaterThan(0n);
    expect((p0.entry >> 56n) & 1n, "mapped by A and B: not exclusive").toBe(0n);
    expect((p0.entry >> 55n) & 1n, "soft-dirty (VM_SOFTDIRTY)").toBe(1n);
    expect(sw.entry >> 62n).toBe(1n); // swapped, not present
    expect(sw.entry & 0x1fn).toBe(0n); // swap type 0
    expect(sw.text).toMatch(new RegExp(`swapped type 0 offset ${(sw.entry >> 5n) & ((1n << 50n) - 1n)}`));
    expect(hole.entry, "inside the VMA, never touched: soft-dirty only").toBe(1n << 55n);
    expect(hole2.entry).toBe(1n << 55n);
  });

  it("a file page is PM_FILE; a THP page after fork is present and shared", () => {
    const [file] = rows(20);
    expect((file.entry >> 61n) & 1n).toBe(1n);
    expect(file.text).toMatch(/file\/shared-anon/);
    const [thp] = rows(21);
    expect(thp.entry >> 63n).toBe(1n);
    expect((thp.entry >> 56n) & 1n).toBe(0n);
  });

  it("an empty range is an error at its word", () => {
    expect(() => runScenario(SRC)).toThrow(/show pagemap prints 1 to 65536 pages, not 0/);
  });
});

describe("/proc/kpageflags through page-types' summary", () => {
  const src =
    "machine ram=64M swap=16M thp=always\nspawn A\nA: m = mmap 64K\nA: write m 16K\nA: h = mmap 4M\nA: write h+2M 4K\nshow kpageflags\nlet p = pfn(A, m)\nshow kpageflags p 1\n";
  const r = runScenario(src);
  const table = (line: number) =>
    out(r, line).map((l) => {
      const [flags, pages, mb, sym, long] = l.split(/\t| +/).filter((x) => x !== "");
      return { flags, pages: Number(pages), mb, sym, long, line: l };
    });

  it("one row per set of flags in page-types' layout, the flag-less frames first, the total last", () => {
    const rows = table(7);
    expect(out(r, 7)[0]).toBe(
      "             flags\tpage-count       MB  symbolic-flags\t\t\tlong-symbolic-flags",
    );
    expect(rows[1].flags).toBe("0x0000000000000000");
    expect(rows.at(-1)!.line).toMatch(/^ {13}total\t {5}16384 {7}64$/);
    const sum = rows.slice(1, -1).reduce((n, x) => n + x.pages, 0);
    expect(sum).toBe(16384);
    for (const x of rows.slice(1, -1)) expect(x.sym, x.line).toHaveLength(43);
    // the 4 base pages A wrote: anonymous, mapped, on the LRU, swap-backed, up to date
    const anon = rows.find((x) => x.long === "uptodate,lru,mmap,anonymous,swapbacked");
    expect(anon?.pages).toBe(4);
    expect(anon?.sym).toBe("___U_l_____Ma_b____________________________");
    // the THP: 512 pages flagged t (compound bits hidden: not hugetlb)
    const thp = rows.find((x) => x.long?.includes("thp"));
    expect(thp?.pages).toBe(512);
    expect(thp?.long).toBe("uptodate,lru,mmap,anonymous,swapbacked,thp");
    // free frames: buddy
    const free = r.statements.length && rows.find((x) => x.long === "buddy");
    expect(free && free.pages).toBeGreaterThan(10_000);
  });

  it("a range: one frame", () => {
    const rows = table(9);
    expect(rows.slice(1, -1).map((x) => [x.pages, x.long])).toEqual([
      [1, "uptodate,lru,mmap,anonymous,swapbacked"],
    ]);
  });
});

describe("crash's vtop on arm64 (arm64.c arm64_vtop_4level_4k, arm64_translate_pte)", () => {
  const r = runScenario(
    "machine arch=arm64 ram=256M swap=64M\nspawn A\nA: m = mmap 16K\nA: write m 8K\nA: madvise m+4K 4K pageout\nshow A vtop m\nshow A vtop m+4K\nkernel: v = vmalloc 8K\nshow kernel vtop v\n",
  );
  it("PAGE DIRECTORY, then each level at its kernel virtual address; the descriptor's flags in crash's arm64 names", () => {
    const o = out(r, 6);
    expect(o[3]).toMatch(/^PAGE DIRECTORY: ffff0000[0-9a-f]+$/);
    for (const [i, name] of ["PGD", "PUD", "PMD", "PTE"].entries())
      expect(o[4 + i]).toMatch(new RegExp(`^ {3}${name}: ffff0000[0-9a-f]+ => [0-9a-f]+$`));
    expect(o[11]).toMatch(/ \(VALID\|USER\|SHARED\|AF\|NG\|PXN\|UXN\|DIRTY\)$/);
    const sw = out(r, 7);
    expect(sw.at(-1)).toMatch(/^SWAP: \/swapfile {2}OFFSET: \d+$/);
    const k = out(r, 9);
    expect(k[3]).toMatch(/^PAGE DIRECTORY: [0-9a-f]+$/);
    // a kernel page: global (no NG), no EL0 access, never executable from vmalloc
    expect(k.find((l) => l.includes("(VALID"))).toMatch(/\(VALID\|SHARED\|AF\|PXN\|UXN[|A-Z]*\)$/);
  });
});
