/**
 * crash's vtop and /proc/PID/pagemap on the simulated state, against the
 * tools' own layouts: crash-utility's memory.c do_vtop and x86_64.c
 * x86_64_uvtop_level4 / x86_64_translate_pte (the example in its help page,
 * https://crash-utility.github.io/help_pages/vtop.html), and the kernel's
 * Documentation/admin-guide/mm/pagemap.rst for the bits.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { runScenario } from "../../workloads/scenario/session.ts";
import { Kernel, mmapArgs } from "../Kernel.ts";

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
    const free = r.statements.length ? rows.find((x) => x.long === "buddy") : undefined;
    expect(free?.pages).toBeGreaterThan(10_000);
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

/**
 * RISC-V and 32-bit x86: the expected text is built from the machine's own
 * bytes (a walk of the tables in physical memory written here, from the
 * PGD's frame and the address's index bits) and its layout; the columns,
 * titles and spacing are crash's printf formats (riscv64.c
 * riscv64_vtop_*level_4k and riscv64_translate_pte; x86.c x86_uvtop,
 * x86_kvtop, their _PAE variants and x86_translate_pte; memory.c do_vtop,
 * vm_area_dump, dump_mem_map), written out literally.
 */
describe("crash's vtop on RISC-V and 32-bit x86", () => {
  const PAGE = 4096n;
  const h = (n: bigint | number) => n.toString(16);
  const pad16 = (n: bigint) => h(n).padStart(16, "0");
  /** mkstring(s, w, CENTER|LJUST) and CENTER|RJUST: the odd space on the right, or on the left */
  const center = (s: string, w: number, right: boolean) => {
    const extra = Math.max(w - s.length, 0);
    const left = (extra >> 1) + (right ? extra % 2 : 0);
    return " ".repeat(left) + s + " ".repeat(extra - left);
  };
  const table = (a: string, b: string, c: string) => {
    const [l1, l2] = [Math.max(a.length, 3), Math.max(b.length, 8)];
    return [
      `${center("PTE", l1, false)}  ${center("PHYSICAL", l2, false)}  FLAGS`,
      `${center(a, l1, true)}  ${center(b, l2, true)}  ${c}`,
    ];
  };

  function boot(arch: string) {
    const k = new Kernel({ arch: arch as never, ramBytes: 256 << 20, swapBytes: 64 << 20 });
    const a = k.spawn("A")!;
    k.switchTo(0, a);
    const m = k.mmap(a, mmapArgs(4 * 4096));
    k.userAccess(0, a, m, Access.Write, 0x5a);
    k.userAccess(0, a, m + PAGE, Access.Write, 0x5a);
    expect(k.madvise(a, m + PAGE, PAGE, "pageout")).toBe(0n);
    const v = k.vmalloc(8192);
    const p = k.kmalloc(100);
    const read = (pa: bigint, bytes: number) => {
      let x = 0n;
      for (let i = bytes - 1; i >= 0; i--) x = (x << 8n) | BigInt(k.view.physByte(Number(pa) + i));
      return x;
    };
    return { k, a, m, v, p, read, vma: k.view.vmas(a).find((x) => x.start === m)! };
  }

  for (const [arch, levels] of [
    ["riscv-sv39", 3],
    ["riscv-sv48", 4],
    ["riscv-sv57", 5],
  ] as const) {
    describe(arch, () => {
      const { k, a, m, v, p, read, vma } = boot(arch);
      const dm = k.view.layout().directMap;
      const MASK54 = (1n << 54n) - 1n;
      const names = ["PTE", "PMD", ...(levels === 3 ? [] : levels === 4 ? ["PUD"] : ["PUD", "P4D"]), "PGD"];
      /** The chain as riscv64_vtop_Nlevel_4k prints it, read from RAM: its lines and the last entry. */
      const chain = (rootPfn: number, va: bigint) => {
        const lines = [`PAGE DIRECTORY: ${h(dm + BigInt(rootPfn) * PAGE)}`];
        let table = BigInt(rootPfn) * PAGE;
        for (let level = levels - 1; level >= 0; level--) {
          const at = table + ((va >> BigInt(12 + 9 * level)) & 511n) * 8n;
          const e = read(at, 8);
          if (level === levels - 1) lines.push(`  PGD: ${h(dm + at)} => ${h(e)}`);
          else if (level > 0) lines.push(`  ${names[level]}: ${pad16(at)} => ${pad16(e)}`);
          // the 5-level walk prints the PTE table's base (riscv64_vtop_5level_4k's pte_base)
          else lines.push(`  PTE: ${h(levels === 5 ? table : at)} => ${h(e)}`);
          if (level === 0 || e === 0n || (e & 0xen) !== 0n) return { lines, e, level };
          table = ((e & MASK54) >> 10n) << 12n;
        }
        throw new Error("walked past the PTE");
      };
      const vmaLines = [
        "      VMA              START             END        FLAGS FILE",
        `       -         ${h(vma.start).padStart(16)} ${h(vma.end).padStart(16)} ${h(vma.flags).padStart(6)} `,
      ];
      const pageHdr = "      PAGE       PHYSICAL      MAPPING       INDEX CNT FLAGS";
      const pgd = k.view.mm(a)!.pgdPfn;

      it("a present page: PAGE DIRECTORY, PGD at its kernel address, PMD/PUD/P4D as %016lx, PAGE, the PTE's table, the VMA, the struct page in the vmemmap", () => {
        const va = m + 0x123n;
        const { lines, e, level } = chain(pgd, va);
        expect(level).toBe(0);
        const pa = (e >> 10n) << 12n;
        const pfn = pa / PAGE;
        const o = k.view.vtop(a, va);
        const page = h(k.view.layout().vmemmap + pfn * 64n);
        expect(o.slice(0, -1)).toEqual([
          "VIRTUAL           PHYSICAL        ",
          `${h(va).padEnd(16)}  ${h(pa + 0x123n).padEnd(16)}`,
          "",
          ...lines,
          ` PAGE: ${pad16(pa)}`,
          "",
          ...table(h(e), h(pa), "(PRESENT|READ|WRITE|USER|ACCESSED|DIRTY)"),
          "",
          ...vmaLines,
          "",
          pageHdr,
        ]);
        const flags = /^(\S+) +(\S+) +- +(\S+) +1 ([0-9a-f]+) uptodate,lru,owner_2,swapbacked$/.exec(
          o.at(-1)!,
        )!;
        expect([flags[1], flags[2], flags[3]]).toEqual([page, h(pa), h(m / PAGE)]);
        // %-16lx, %8llx (PADDR_PRLEN of 256M), MAPPING `-` in 16, INDEX %8lx, CNT %2d
        const row = `${page.padEnd(16)} ${h(pa).padStart(8)} ${"-".padStart(16)} ${h(m / PAGE).padStart(8)}  1`;
        expect(o.at(-1)!.slice(0, row.length)).toBe(row);
        // PG_uptodate, PG_lru, PG_anon_exclusive (PG_owner_2), PG_swapbacked; the zone from bit 62
        // (ZONES_PGSHIFT without NUMA)
        expect(BigInt(`0x${flags[4]}`) & ((1n << 62n) - 1n)).toBe(0x20828n);
      });

      it("a swapped page: the PTE title and `PAGE: 0000000000000000 not present` on one line, then SWAP: with the entry's offset", () => {
        const { lines, e } = chain(pgd, m + PAGE);
        const offset = e >> 12n; // __swp_offset: bits 12-63
        expect(Number(offset)).toBe(k.view.page(a, Number((m + PAGE) / PAGE)).swapSlot);
        expect(k.view.vtop(a, m + PAGE)).toEqual([
          "VIRTUAL           PHYSICAL        ",
          `${h(m + PAGE).padEnd(16)}  (not mapped)`,
          "",
          ...lines,
          "",
          `${center("PTE", Math.max(h(e & MASK54).length, 3), false)}   PAGE: 0000000000000000 not present`,
          "",
          "",
          ...vmaLines,
          "",
          `SWAP: /swapfile  OFFSET: ${offset}`,
        ]);
      });

      it("a page never touched: the zero PTE and `invalid for ADDR address`; outside every VMA: (not accessible)", () => {
        const { lines, e } = chain(pgd, m + 2n * PAGE);
        expect(e).toBe(0n);
        expect(k.view.vtop(a, m + 2n * PAGE)).toEqual([
          "VIRTUAL           PHYSICAL        ",
          `${h(m + 2n * PAGE).padEnd(16)}  (not mapped)`,
          "",
          ...lines,
          `invalid for ${h(m + 2n * PAGE)} address`,
          "",
          ...vmaLines,
        ]);
        expect(k.view.vtop(a, 0x1000n)).toEqual([
          "VIRTUAL           PHYSICAL        ",
          "1000              (not accessible)",
          "",
        ]);
      });

      it("vmalloc: the walk of swapper_pg_dir to a global PTE; the linear map: VTOP, and the walk ends at its 2MB leaf (vmlab's choice)", () => {
        const root = k.view.machine().kernelPgdPfn;
        const w = chain(root, v);
        const pa = (w.e >> 10n) << 12n;
        const o = k.view.vtop("kernel", v);
        expect(o.slice(0, -1)).toEqual([
          "VIRTUAL           PHYSICAL        ",
          `${h(v).padEnd(16)}  ${h(pa).padEnd(16)}`,
          "",
          ...w.lines,
          ` PAGE: ${pad16(pa)}`,
          "",
          ...table(h(w.e), h(pa), "(PRESENT|READ|WRITE|GLOBAL|ACCESSED|DIRTY)"),
          "",
          pageHdr,
        ]);
        expect(o.at(-1)).toMatch(
          new RegExp(
            `^${h(k.view.layout().vmemmap + (pa / PAGE) * 64n)} +${h(pa)} {6}------- {7}----- {2} 1 `,
          ),
        );
        const d = chain(root, p);
        expect(d.level).toBe(1);
        const base = (d.e >> 10n) << 12n;
        const dk = k.view.vtop("kernel", p);
        expect(dk.slice(0, 3 + d.lines.length + 4)).toEqual([
          "VIRTUAL           PHYSICAL        ",
          `${h(p).padEnd(16)}  ${h(p - dm).padEnd(16)}`,
          "",
          ...d.lines,
          ` PAGE: ${pad16(base)}  (2MB)`,
          "",
          ...table(h(d.e), h(base), "(PRESENT|READ|WRITE|GLOBAL|ACCESSED|DIRTY)"),
        ]);
        expect(dk.at(-1)).toMatch(new RegExp(`^${h(k.view.layout().vmemmap + ((p - dm) / PAGE) * 64n)} `));
      });
    });
  }

  for (const pae of [false, true]) {
    describe(pae ? "i386-pae" : "i386", () => {
      const { k, a, m, v, p, read, vma } = boot(pae ? "i386-pae" : "i386");
      const PAGE_OFFSET = 0xc0000000n;
      const bytes = pae ? 8 : 4;
      const base = (e: bigint) => (pae ? e & 0x7ffffffffffff000n : e & 0xfffff000n);
      const col = (n: bigint) => h(n).padStart(8);
      /** The chain as x86_uvtop / x86_kvtop (or _PAE) print it, read from RAM: its lines and the last entry. */
      const chain = (rootPfn: number, va: bigint) => {
        const root = BigInt(rootPfn) * PAGE;
        const lines = [`PAGE DIRECTORY: ${h(PAGE_OFFSET + root)}`];
        const gAt = root + (pae ? (va >> 30n) * 8n : (va >> 22n) * 4n);
        const g = read(gAt, bytes);
        lines.push(`  PGD: ${col(PAGE_OFFSET + gAt)} => ${h(g)}`);
        let pmd = g;
        if (!pae && g & 0x80n) return { lines, e: g, large: true };
        if (pae) {
          const at = base(g) + ((va >> 21n) & 511n) * 8n;
          pmd = read(at, 8);
          lines.push(`  PMD: ${col(at)} => ${h(pmd)}`);
        } else lines.push(`  PMD: ${col(PAGE_OFFSET + gAt)} => ${h(g)}`); // the folded PMD: the PGD entry again
        if (pmd & 0x80n) return { lines, e: pmd, large: true };
        const at = base(pmd) + ((va >> 12n) & (pae ? 511n : 1023n)) * BigInt(bytes);
        const e = read(at, bytes);
        lines.push(`  PTE: ${col(at)} => ${h(e)}`);
        return { lines, e, large: false };
      };
      const vmaLines = [
        "  VMA      START     END    FLAGS FILE",
        `   -     ${h(vma.start).padStart(8)} ${h(vma.end).padStart(8)} ${h(vma.flags).padStart(6)} `,
      ];
      const pageHdr = "  PAGE   PHYSICAL  MAPPING   INDEX CNT FLAGS";
      // FLATMEM: mem_map is the frames memblock gave the memmap, in lowmem
      let memMapPfn = 0;
      while (k.view.frame(memMapPfn)?.kind !== "memmap") memMapPfn++;
      const memMap = PAGE_OFFSET + BigInt(memMapPfn) * PAGE;
      const pgd = k.view.mm(a)!.pgdPfn;
      const nx = pae ? "|NX" : "";

      it("a present page: PGD at its kernel address (and the folded PMD), PTE at its physical address, right-justified in 8 columns; struct page in mem_map", () => {
        const va = m + 0x123n;
        const { lines, e } = chain(pgd, va);
        const pa = base(e);
        const o = k.view.vtop(a, va);
        expect(o.slice(0, -1)).toEqual([
          "VIRTUAL   PHYSICAL",
          `${h(va).padEnd(8)}  ${h(pa + 0x123n).padEnd(8)}`,
          "",
          ...lines,
          ` PAGE: ${col(pa)}`,
          "",
          ...table(h(e), h(pa), `(PRESENT|RW|USER|ACCESSED|DIRTY${nx})`),
          "",
          ...vmaLines,
          "",
          pageHdr,
        ]);
        const page = h(memMap + (pa / PAGE) * 32n);
        const m1 = /^(\S+) +(\S+) +- +(\S+) +1 ([0-9a-f]+) uptodate,lru,owner_2,swapbacked$/.exec(o.at(-1)!)!;
        expect([m1[1], m1[2], m1[3]]).toEqual([page, h(pa), h(m / PAGE)]);
        expect(o.at(-1)!.slice(0, 18)).toBe(`${page.padEnd(8)} ${h(pa).padStart(8)} `);
        // 32-bit page->flags: the zone in bits 30-31
        expect(Number.parseInt(m1[4], 16) & 0x3fffffff).toBe(0x20828); // with PG_owner_2 (anon_exclusive)
      });

      it("a swapped page: PTE SWAP OFFSET, then SWAP: after the VMA", () => {
        const { lines, e } = chain(pgd, m + PAGE);
        // __swp_offset: 2-level bits 9-31; PAE stored inverted in bits 9-58 (pgtable-3level.h)
        const offset = pae ? (~e & ((1n << 59n) - 1n)) >> 9n : e >> 9n;
        expect(Number(offset)).toBe(k.view.page(a, Number((m + PAGE) / PAGE)).swapSlot);
        const [l1, l3] = [Math.max(h(e).length, 3), Math.max(String(offset).length, 6)];
        expect(k.view.vtop(a, m + PAGE)).toEqual([
          "VIRTUAL   PHYSICAL",
          `${h(m + PAGE).padEnd(8)}  (not mapped)`,
          "",
          ...lines,
          "",
          `${center("PTE", l1, false)}    SWAP     ${center("OFFSET", l3, false)}`,
          `${center(h(e), l1, true)}  /swapfile  ${center(String(offset), l3, true)}`,
          "",
          ...vmaLines,
          "",
          `SWAP: /swapfile  OFFSET: ${offset}`,
        ]);
      });

      it("a page never touched: the chain to its zero PTE, nothing more; outside every VMA: (not accessible)", () => {
        const { lines, e } = chain(pgd, m + 2n * PAGE);
        expect(e).toBe(0n);
        expect(k.view.vtop(a, m + 2n * PAGE)).toEqual([
          "VIRTUAL   PHYSICAL",
          `${h(m + 2n * PAGE).padEnd(8)}  (not mapped)`,
          "",
          ...lines,
          "",
          ...vmaLines,
        ]);
        expect(k.view.vtop(a, 0x1000n)).toEqual(["VIRTUAL   PHYSICAL", "1000      (not accessible)", ""]);
      });

      it("vmalloc: the walk of swapper_pg_dir; lowmem: VTOP, and the walk ends at its large page", () => {
        const root = k.view.machine().kernelPgdPfn;
        const w = chain(root, v);
        const pa = base(w.e);
        const o = k.view.vtop("kernel", v);
        expect(o.slice(0, -1)).toEqual([
          "VIRTUAL   PHYSICAL",
          `${h(v).padEnd(8)}  ${h(pa).padEnd(8)}`,
          "",
          ...w.lines,
          ` PAGE: ${col(pa)}`,
          "",
          ...table(h(w.e), h(pa), `(PRESENT|RW|ACCESSED|DIRTY|GLOBAL${nx})`),
          "",
          pageHdr,
        ]);
        expect(o.at(-1)).toMatch(
          new RegExp(`^${h(memMap + (pa / PAGE) * 32n)} +${h(pa)}  ------- {3}----- {2} 1 `),
        );
        const d = chain(root, p);
        expect(d.large).toBe(true);
        const dk = k.view.vtop("kernel", p);
        const big = base(d.e);
        expect(dk.slice(0, 3 + d.lines.length + 4)).toEqual([
          "VIRTUAL   PHYSICAL",
          `${h(p).padEnd(8)}  ${h(p - PAGE_OFFSET).padEnd(8)}`,
          "",
          ...d.lines,
          ` PAGE: ${col(big)}  (${pae ? "2MB" : "4MB"})`,
          "",
          ...table(h(d.e), h(big), `(PRESENT|RW|ACCESSED|DIRTY|PSE|GLOBAL${nx})`),
        ]);
        expect(dk.at(-1)).toMatch(new RegExp(`^${h(memMap + ((p - PAGE_OFFSET) / PAGE) * 32n)} `));
      });
    });
  }

  it("i386 with highmem: a user page above max_low_pfn has no direct-map address, and its struct page is still in mem_map, its zone HighMem", () => {
    const k = new Kernel({ arch: "i386", ramBytes: 1 << 30 });
    const a = k.spawn("A")!;
    k.switchTo(0, a);
    const m = k.mmap(a, mmapArgs(4096));
    k.userAccess(0, a, m, Access.Write, 1);
    const pfn = k.view.page(a, Number(m / PAGE)).pfn;
    expect(k.directVa(pfn * 4096)).toBe(-1n);
    let memMapPfn = 0;
    while (k.view.frame(memMapPfn)?.kind !== "memmap") memMapPfn++;
    const page = (0xc0000000n + BigInt(memMapPfn) * PAGE + BigInt(pfn) * 32n).toString(16);
    const last = k.view.vtop(a, m).at(-1)!;
    expect(last.slice(0, 18)).toBe(`${page} ${(pfn * 4096).toString(16).padStart(8)} `);
    // CNT 2: the mapping's reference and the LRU add batch's (folio_add_lru); ZONE_HIGHMEM (2) in
    // bits 30-31 of the 32-bit page->flags
    expect(Number.parseInt(/ 2 ([0-9a-f]+) /.exec(last)![1], 16) >>> 30).toBe(2);
  });
});
