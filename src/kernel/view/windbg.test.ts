/**
 * WinDbg's !pte, !pfn, !vad and !poolused on the windows profile's state,
 * against the layouts of the Debugging Tools for Windows reference
 * (learn.microsoft.com/windows-hardware/drivers/debuggercmds/-pte: the
 * example `!pte 801544f4` -> `PDE at C0300800  PTE at C0200550`, the status
 * letters' table; -pfn: `PFN ... at address`, `flink`, `blink / share
 * count`, `pteaddress`, `reference count`, `restore pte`, `containing
 * page`, the location and `M` / `Modified`; -vad: `VAD level start end
 * commit`, Private/Mapped, the protection, `Total VADs`; -poolused: `Sorting
 * by Tag`, `Tag Allocs Used Allocs Used` for NonPaged and Paged).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import { pteFlags, selfMapAddresses } from "./windbg.ts";

const out = (r: ReturnType<typeof runScenario>, line: number) =>
  r.statements.find((s) => s.line === line)!.output;
const hex = (v: bigint | number, n: number) => v.toString(16).toUpperCase().padStart(n, "0");

describe("!pte's self-map addresses and status letters", () => {
  it("x86: the !pte page's example, PDE at C0300800 and PTE at C0200550 for 801544f4", () => {
    expect(selfMapAddresses("x86", 0x801544f4n)).toEqual([
      { name: "PDE", at: 0xc0300800n },
      { name: "PTE", at: 0xc0200550n },
    ]);
  });

  it("PAE: 8-byte entries, the page directories at C0600000 (0x80000000: PDE C0602000, PTE C0400000)", () => {
    expect(selfMapAddresses("pae", 0x8000_0000n).map((e) => e.at)).toEqual([0xc060_2000n, 0xc040_0000n]);
  });

  it("x64: PXE, PPE, PDE, PTE under the fixed PTE_BASE of Windows before 1607", () => {
    expect(selfMapAddresses("x64", 0x1cf_0000n).map((e) => `${e.name} ${hex(e.at, 16)}`)).toEqual([
      "PXE FFFFF6FB7DBED000",
      "PPE FFFFF6FB7DA00000",
      "PDE FFFFF6FB40000070",
      "PTE FFFFF6800000E780",
    ]);
    // the kernel half: the upper 16 bits are dropped before indexing
    expect(selfMapAddresses("x64", 0xffff_f800_0000_0000n)[0].at).toBe(0xffff_f6fb_7dbe_df80n);
  });

  it("the letters in the page's order C G L D A N T U/K W/R E V, E always where there is no NX bit", () => {
    // the page's x86 examples: PDE 0003B163 (G-DA--KWV) and PTE 00154121 (G--A--KRV), with C and E added
    expect(pteFlags("x86", 0, 0x0003b163, 1)).toBe("-G-DA--KWEV");
    expect(pteFlags("x86", 0, 0x00154121, 0)).toBe("-G--A--KREV");
    // 64-bit entries: bit 63 set is no execute; a large PDE shows L, a PTE's bit 7 (PAT) does not
    expect(pteFlags("x64", 0x8000_0000, 0x0000_0867, 0)).toBe("---DA--UW-V");
    expect(pteFlags("x64", 0, 0x0000_0025, 0)).toBe("----A--UREV");
    expect(pteFlags("pae", 0, 0x1e3, 1)).toBe("-GLDA--KWEV");
    expect(pteFlags("pae", 0, 0x2e5, 0)).toBe("C--DA--UREV");
  });
});

const X64 = `machine arch=x86_64 profile=windows ram=64M pagefile=16M
spawn A
A: a = VirtualAlloc 64K reserve+commit
A: write a 8K value=1
A: b = VirtualAlloc 1M reserve
A: c = VirtualAlloc 100K reserve+commit prot=rx
A: read c
A: VirtualProtect a+4K 4K prot=rw+guard
show A pte a
show A pte a+4K
show A pte a+8K
let fa = pfn(A, a)
let fc = pfn(A, c)
show pfn fa
trim A
show A pte a
show pfn fa
show pfn fc
modified_writer
show pfn fa
trim A pageout
show A pte a
show A vad
kernel: p = pool_alloc paged 100 tag=Abcd
kernel: q = pool_alloc nonpaged 5000 tag=Irp
kernel: r = pool_alloc nonpaged 20
kernel: s = pool_alloc nonpaged 20
kernel: pool_free r
show poolused
`;

describe("!pte, !pfn, !vad, !poolused on x64", () => {
  const r = runScenario(X64, { checkInvariants: true });
  const view = (line: number) => r.statements.find((s) => s.line === line)!.view as Record<string, unknown>;

  it("a valid page: VA, the four entries at their self-map addresses, contains, pfn and letters", () => {
    const o = out(r, 9);
    expect(o[0]).toBe(`${" ".repeat(43)}VA 0000000000010000`);
    expect(o[1]).toBe("");
    expect(o[2]).toBe(
      "PXE at FFFFF6FB7DBED000    PPE at FFFFF6FB7DA00000    PDE at FFFFF6FB40000000    PTE at FFFFF68000000080",
    );
    // each column 27 wide: `contains` the entry, then its frame and letters (the data page: NX, dirty)
    const cols = (l: string) => [0, 27, 54, 81].map((i) => l.slice(i, i + 27).trimEnd());
    const contains = cols(o[3]).map((c) => /^contains ([0-9A-F]{16})$/.exec(c)![1]);
    const pfns = cols(o[4]).map((c) => /^pfn ([0-9a-f]+) +([-A-Z]{11})$/.exec(c)!);
    contains.forEach((v, i) => {
      expect((BigInt(`0x${v}`) >> 12n) & 0xff_ffff_ffffn).toBe(BigInt(`0x${pfns[i][1]}`));
    });
    expect(pfns.map((p) => p[2])).toEqual(["---DA--UWEV", "---DA--UWEV", "---DA--UWEV", "---DA--UW-V"]);
    // the JSON form carries the same walk
    const v = view(9) as { columns: { name: string; at: string; value: string; pfn: number }[] };
    expect(v.columns.map((c) => c.name)).toEqual(["PXE", "PPE", "PDE", "PTE"]);
    expect(v.columns[3].at).toBe("0xfffff68000000080");
    expect(v.columns[3].pfn).toBe(Number.parseInt(pfns[3][1], 16));
  });

  it("invalid PTEs decoded under their column: transition with its protection, demand zero", () => {
    const guard = out(r, 10);
    expect(guard[4].slice(81)).toBe("not valid");
    const t = /^contains ([0-9A-F]{16})$/.exec(guard[3].slice(81))![1];
    const pfn = Number(BigInt(`0x${t}`) >> 12n);
    expect(guard.slice(5)).toEqual([
      `${" ".repeat(81)} Transition: ${pfn.toString(16)}`,
      `${" ".repeat(81)} Protect: 14 - ReadWrite Guard`,
    ]);
    // an untouched page of a MemCommit VAD: all zero, the VAD decides
    expect(out(r, 11)[3].slice(81)).toBe("contains 0000000000000000");
    expect(out(r, 11)[4].slice(81)).toBe("not valid");
    expect(out(r, 11)).toHaveLength(5);
    // after the trim: a transition PTE, same frame; after pageout: the paging file
    const trimmed = out(r, 16);
    expect(trimmed.slice(5)).toEqual([
      `${" ".repeat(81)} Transition: ${(view(14) as { pfn: number }).pfn.toString(16)}`,
      `${" ".repeat(81)} Protect: 4 - ReadWrite`,
    ]);
    const paged = out(r, 22);
    expect(paged.slice(5).map((l) => l.trim())).toEqual([
      "PageFile:  0",
      "Offset: 1",
      "Protect: 4 - ReadWrite",
    ]);
    expect(paged[3].slice(81)).toBe("contains 0000000100000080");
  });

  it("!pfn of an active page: its MMPFN's address, share count 1, the PTE's self-map address, the OriginalPte, Modified", () => {
    const v = view(14) as { pfn: number; containingPage: number };
    const p = v.pfn;
    expect(out(r, 14)).toEqual([
      `    PFN ${hex(p, 8)}      at address ${hex(0xffff_fa80_0000_0000n + BigInt(p) * 0x30n, 16)}`,
      "    flink       00000000  blink / share count 00000001  pteaddress FFFFF68000000080",
      `    reference count 0001    used entry count  0000      Cached    color ${p % 64}   Priority 5`,
      // OriginalPte: MM_READWRITE (4) in the Protection field, bits 5..9; the page table holding the PTE
      `    restore pte 00000080  containing page        ${hex(v.containingPage, 6)}  Active     M`,
      "    Modified",
    ]);
    // the containing page is the PDE's frame: the page table of the walk
    const pte = view(9) as { columns: { pfn: number }[] };
    expect(v.containingPage).toBe(pte.columns[2].pfn);
  });

  it("!pfn on the lists: Modified, then Standby once written, with flink/blink, reference count 0 and the copy's offset", () => {
    type Pfn = {
      pfn: number;
      location: string;
      flink: number;
      blinkOrShareCount: number;
      referenceCount: number;
    };
    const a = view(17) as Pfn;
    const c = view(18) as Pfn;
    // a new private page has no copy in the paging file: trimmed, it goes to the modified list
    expect([a.location, c.location]).toEqual(["Modified", "Modified"]);
    expect(a.referenceCount).toBe(0);
    expect(out(r, 17)[3]).toMatch(/ {2}Modified {3}M$/);
    // the list in trim order (a, then c: the guard page's frame is not in the working set)
    expect([a.flink, c.blinkOrShareCount]).toEqual([c.pfn, a.pfn]);
    // written by the modified page writer: standby, clean, the OriginalPte holds its paging-file offset
    const sb = view(20) as Pfn;
    expect(sb.location).toBe("Standby");
    expect(out(r, 20)[3]).toMatch(
      /^ {4}restore pte [1-9]00000080 {2}containing page {8}[0-9A-F]{6} {2}Standby$/,
    );
    expect(out(r, 20)).toHaveLength(4);
  });

  it("!vad: one line per VAD in address order with its level, VPNs, commit, Private and the protection", () => {
    expect(out(r, 23)).toEqual([
      // the VAD's pool address: not modelled (a dash in the 16 columns of an x64 address)
      "VAD               Level     Start       End Commit",
      "-                     1        10        1f     16 Private      READWRITE",
      "-                     0        20       11f      0 Private      READWRITE",
      "-                     1       120       138     25 Private      EXECUTE_READ",
      "",
      "Total VADs: 3, average level: 1, maximum depth: 2",
    ]);
  });

  it("!poolused: per tag the allocations outstanding and their bytes, nonpaged and paged, headers included", () => {
    expect(out(r, 29)).toEqual([
      "   Sorting by  Tag",
      "",
      "  Pool Used:",
      "            NonPaged            Paged",
      " Tag    Allocs     Used    Allocs     Used",
      // 100 bytes and the 16-byte header in 16-byte blocks: 128
      " Abcd        0        0         1      128UNKNOWN pooltag 'Abcd', please update pooltag.txt",
      // more than a page less the header: whole pages
      " Irp         1     8192         0        0UNKNOWN pooltag 'Irp ', please update pooltag.txt",
      // two untagged allocations of 48 bytes, one freed
      " None        1       48         0        0<unknown>  - call to ExAllocatePool",
      " TOTAL       2     8240         1      128",
    ]);
    expect(view(29)).toContainEqual({
      tag: "None",
      nonpaged: { allocs: 2, frees: 1, bytes: 48 },
      paged: { allocs: 0, frees: 0, bytes: 0 },
    });
  });
});

describe("!pfn of a page-table page: the self-map's PTE that maps it and the table above", () => {
  const src = (arch: string, levels: string[]) =>
    `machine arch=${arch} profile=windows ram=64M\nspawn A\nA: a = VirtualAlloc 64K reserve+commit\nA: write a\n${levels
      .map((l) => `let t${l} = table(A, a, ${l})\nshow pfn t${l}\n`)
      .join("")}`;
  type Pfn = { pfn: number; pteAddress: string; containingPage: number; blinkOrShareCount: number };
  const pfns = (arch: string, levels: string[]) => {
    const r = runScenario(src(arch, levels), { checkInvariants: true });
    return levels.map((_, i) => r.statements.find((x) => x.line === 6 + 2 * i)!.view as Pfn);
  };

  it("x64: a page table's PTE is the PDE of its range, a PD's the PPE, the PML4's its own self-referencing PXE", () => {
    const [pt, pd, pml4] = pfns("x86_64", ["pt", "pd", "pml4"]);
    expect([pt.pteAddress, pd.pteAddress, pml4.pteAddress]).toEqual([
      "0xfffff6fb40000000",
      "0xfffff6fb7da00000",
      "0xfffff6fb7dbedf68",
    ]);
    expect(pt.containingPage).toBe(pd.pfn);
    expect(pml4.containingPage).toBe(pml4.pfn);
    // a page table's share count: its valid entries (the one page written)
    expect(pt.blinkOrShareCount).toBe(1);
  });

  it("x86: the page directory maps itself at C0300C00; PAE: the page directories at C0603000 + 8i", () => {
    const [pt, pd] = pfns("i386", ["pt", "pd"]);
    expect([pt.pteAddress, pd.pteAddress]).toEqual(["0xc0300000", "0xc0300c00"]);
    expect([pt.containingPage, pd.containingPage]).toEqual([pd.pfn, pd.pfn]);
    const [, paePd] = pfns("i386-pae", ["pt", "pd"]);
    expect(paePd.pteAddress).toBe("0xc0603000");
  });
});

describe("!pte and !pfn on 32-bit Windows", () => {
  const src = (arch: string) => `machine arch=${arch} profile=windows ram=64M
spawn A
A: a = VirtualAlloc 64K reserve+commit
A: write a 4K
show A pte a
let f = pfn(A, a)
show pfn f
show kernel pte 0x80000000
`;

  it("x86: PDE and PTE, 8-digit entries, E on every entry (no NX), the PFN database's 24-byte MMPFNs", () => {
    const r = runScenario(src("i386"), { checkInvariants: true });
    const o = out(r, 5);
    expect(o[0]).toBe(`${" ".repeat(20)}VA 00010000`);
    expect(o[2]).toBe("PDE at C0300000            PTE at C0000040");
    expect(o[3]).toMatch(/^contains [0-9A-F]{8} {10}contains [0-9A-F]{8}$/);
    expect(o[4]).toMatch(/^pfn [0-9a-f]+ +---DA--UWEV {2}pfn [0-9a-f]+ +---DA--UWEV$/);
    const p = (r.statements.find((x) => x.line === 7)!.view as { pfn: number }).pfn;
    expect(out(r, 7)[0]).toBe(`    PFN ${hex(p, 8)}      at address ${hex(0x8235_0000 + p * 0x18, 8)}`);
    expect(out(r, 7)[1]).toBe("    flink       00000000  blink / share count 00000001  pteaddress C0000040");
    // 2G: system space's large pages at 0x80000000 (global, kernel): the PTE column names the frame
    expect(out(r, 8).slice(2)).toEqual([
      "PDE at C0300800            PTE at C0200000",
      "contains 000001E3",
      "pfn 0         -GLDA--KWEV  LARGE PAGE pfn 0",
    ]);
  });

  it("PAE: PDE and PTE (the PDPTEs are not in the self-map), 16-digit entries, NX on the data page", () => {
    const r = runScenario(src("i386-pae"), { checkInvariants: true });
    const o = out(r, 5);
    expect(o[2]).toBe("PDE at C0600000            PTE at C0000080");
    expect(o[3]).toMatch(/^contains 00000000[0-9A-F]{8} {2}contains 80000000[0-9A-F]{8}$/);
    expect(o[4]).toMatch(/^pfn [0-9a-f]+ +---DA--UWEV {2}pfn [0-9a-f]+ +---DA--UW-V$/);
    const p = (r.statements.find((x) => x.line === 7)!.view as { pfn: number }).pfn;
    expect(out(r, 7)[0]).toBe(`    PFN ${hex(p, 8)}      at address ${hex(0x8235_0000 + p * 0x1c, 8)}`);
    expect(out(r, 8)[2]).toBe("PDE at C0602000            PTE at C0400000");
  });
});

describe("!vad and !poolused on x86", () => {
  it("8-column VAD addresses; the x86 pool's 8-byte blocks and header (100 bytes -> 112)", () => {
    const r = runScenario(
      "machine arch=i386 profile=windows ram=64M\nspawn A\nA: a = VirtualAlloc 64K reserve+commit prot=rx\nshow A vad\nkernel: p = pool_alloc paged 100 tag=Abcd\nshow poolused\n",
      { checkInvariants: true },
    );
    expect(out(r, 4)).toEqual([
      "VAD       Level     Start       End Commit",
      "-             0        10        1f     16 Private      EXECUTE_READ",
      "",
      "Total VADs: 1, average level: 1, maximum depth: 1",
    ]);
    expect(out(r, 6)[5]).toBe(
      " Abcd        0        0         1      112UNKNOWN pooltag 'Abcd', please update pooltag.txt",
    );
  });
});

describe("bad input", () => {
  const run = (body: string, machine = "machine arch=x86_64 profile=windows ram=64M") =>
    runScenario(`${machine}\n${body}`, { file: "t.vm" });

  it("show pfn beyond RAM is an error at its argument", () => {
    expect(() => run("show pfn 0x4000\n")).toThrow(/^frame 0x4000 is not in RAM \(0\.\.0x3fff\)/);
    try {
      run("show pfn 0x4000\n");
    } catch (e) {
      expect((e as { format(): string }).format()).toBe("t.vm:2:10: frame 0x4000 is not in RAM (0..0x3fff)");
    }
  });

  it("the Windows views on a Linux machine are refused at their line", () => {
    for (const [body, verb] of [
      ["spawn A\nshow A pte 0x10000\n", "show P pte"],
      ["show kernel pte 0x10000\n", "show kernel pte"],
      ["spawn A\nshow A vmmap\n", "show P vmmap"],
      ["show pfn 1\n", "show pfn"],
      ["show poolused\n", "show poolused"],
      ["show rammap\n", "show rammap"],
    ])
      expect(() => run(body, "machine ram=64M")).toThrow(
        new RegExp(`^'${verb}' is the windows profile's \\(machine profile=windows\\)`),
      );
  });

  it("a malformed statement fails when compiled", () => {
    expect(() => run("spawn A\nshow A pte\n")).toThrow(/^show A pte ADDR/);
    expect(() => run("show pfn 1 2\n")).toThrow(/too many arguments to 'show pfn N'/);
    expect(() => run("kernel: p = pool_alloc paged 8 tag=Toolong\n")).toThrow(/tag= is one to four/);
  });
});
