/**
 * VMMap's summary and RAMMap's Use Counts on the windows profile's state,
 * against what the tools document: VMMap's help ("Memory Types": Private
 * Data is VirtualAlloc's memory, charged against the commit limit;
 * Unusable the rest of a 64 KB allocation granule; Free the address space
 * no one reserved) and RAMMap's page lists (Windows Sysinternals
 * Administrator's Reference ch. 14, "RAMMap": Active, Standby, Modified,
 * ..., Zeroed, Free, each crossed with the page's use).
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../workloads/scenario/session.ts";
import type { VadInfo } from "../os/windows/index.ts";
import { RAMMAP_LISTS, type RammapCounts, type VmmapRow, vmmapType } from "./sysinternals.ts";

const SRC = (arch: string) => `machine arch=${arch} profile=windows ram=64M pagefile=16M
spawn A
A: a = VirtualAlloc 64K reserve+commit
A: write a 8K
A: b = VirtualAlloc 1M reserve
A: d = VirtualAlloc 16K commit at=b
A: c = VirtualAlloc 100K reserve+commit prot=r
A: read c 8K
show A vmmap
show rammap
trim A
kernel: p = pool_alloc paged 9000 tag=Test
trim kernel
show rammap
`;

for (const arch of ["x86_64", "i386-pae"]) {
  describe(`VMMap and RAMMap on ${arch}`, () => {
    const r = runScenario(SRC(arch), { checkInvariants: true });
    const at = (line: number) => r.statements.find((s) => s.line === line)!;
    const vm = at(9).view as VmmapRow[];
    const row = (type: string) => vm.find((x) => x.type === type)!;

    it("Private Data: the three reservations' size, what is committed (charged), what is resident", () => {
      // 64K + 1M + 100K reserved; 16 + 4 + 25 pages committed; 2 written and 2 read pages resident
      expect(row("Private Data")).toEqual({
        type: "Private Data",
        size: 16 + 256 + 25,
        committed: 16 + 4 + 25,
        private: 16 + 4 + 25,
        totalWs: 4,
        privateWs: 4,
        shareableWs: 0,
        blocks: 3,
        largest: 256,
      });
      if (arch === "x86_64")
        expect(at(9).output).toContain(
          "Private Data              1,188 K       180 K       180 K        16 K        16 K                         3            1,024 K",
        );
    });

    it("Unusable: the 28 K after the 100 K reservation up to its 64 K granule; Free is the rest of user space", () => {
      expect(row("Unusable")).toMatchObject({ size: 7, blocks: 1 });
      const total = row("Total");
      const userPages = arch === "x86_64" ? 0x7fff_ffff_0000 / 4096 : 0x7fff_0000 / 4096;
      // the address space: Free, and what Total counts less the page tables (which are not in it)
      expect(row("Free").size + total.size - row("Page Table").size).toBe(userPages);
      // below the first VAD (the first 64 KB) and after the last granule
      expect(row("Free").blocks).toBe(2);
      // Total: every type but Free
      const sum = (k: keyof VmmapRow) =>
        vm.filter((x) => x.type !== "Total" && x.type !== "Free").reduce((s, x) => s + (x[k] as number), 0);
      for (const k of ["size", "committed", "private", "totalWs", "blocks"] as const)
        expect(total[k]).toBe(sum(k));
      // nothing maps images, files or sections in this process: those rows are empty
      for (const t of ["Image", "Mapped File", "Shareable", "Heap", "Stack"]) expect(row(t).size).toBe(0);
    });

    it("Page Table: the process's page-table pages and its top-level table", () => {
      expect(row("Page Table").size).toBeGreaterThan(0);
      expect(row("Page Table").size).toBe(row("Page Table").totalWs);
    });

    it("RAMMap: the process's private pages active, then on the modified list after the trim; the paged pool too", () => {
      const before = at(10).view as RammapCounts;
      const after = at(14).view as RammapCounts;
      const cell = (c: RammapCounts, use: string, list: string) =>
        c.rows.find((x) => x.use === use)!.pages[RAMMAP_LISTS.indexOf(list as (typeof RAMMAP_LISTS)[number])];
      expect(cell(before, "Process Private", "Active")).toBe(4);
      expect(cell(after, "Process Private", "Active")).toBe(0);
      // new private pages have no copy in the paging file: modified
      expect(cell(after, "Process Private", "Modified")).toBe(4);
      // three pages of paged pool, trimmed: kernel PTEs are dirty, so modified
      expect(cell(after, "Paged Pool", "Modified")).toBe(3);
      expect(cell(after, "Paged Pool", "Active")).toBe(0);
      // every page the memory manager owns is counted once: the Total row's total is RAM less the firmware's
      const frames = (64 << 20) / 4096;
      const sum = (c: RammapCounts) => c.total.reduce((s, x) => s + x, 0);
      expect(sum(before)).toBe(sum(after));
      expect(sum(before)).toBeLessThanOrEqual(frames);
      for (const c of [before, after])
        for (const [i, t] of c.total.entries()) expect(t).toBe(c.rows.reduce((s, x) => s + x.pages[i], 0));
      // the text: RAMMap's columns, K
      expect(at(14).output[0]).toMatch(
        /^Usage +Active +Standby +Modified +Modified no write +Transition +Zeroed +Free +Bad +Total$/,
      );
      const head = at(14).output[0];
      const pool = at(14).output.find((l) => l.startsWith("Paged Pool"))!;
      expect(pool).toMatch(/^Paged Pool +12 K +12 K$/);
      // right-aligned under its column
      expect(pool.indexOf("12 K") + 4).toBe(head.indexOf("Modified ") + 8);
    });
  });
}

describe("VMMap's type of a VAD", () => {
  const vad = (v: Partial<VadInfo>): VadInfo => ({
    start: 0x10000n,
    end: 0x20000n,
    protect: 4,
    memCommit: true,
    commitCharge: 0,
    committedPages: 0,
    residentPages: 0,
    type: "private",
    section: null,
    ...v,
  });

  it("from the VAD's type and use: Image, Mapped File, Shareable (a paging-file section), Stack, Heap, Private Data", () => {
    expect(vmmapType(vad({ type: "image", detail: "\\Windows\\System32\\ntdll.dll" }))).toBe("Image");
    expect(vmmapType(vad({ type: "mapped", detail: "\\data.bin" }))).toBe("Mapped File");
    expect(vmmapType(vad({ type: "mapped", detail: "Pagefile section" }))).toBe("Shareable");
    expect(vmmapType(vad({ type: "mapped" }))).toBe("Shareable");
    expect(vmmapType(vad({ use: "stack" }))).toBe("Stack");
    expect(vmmapType(vad({ type: "private", use: "heap" }))).toBe("Heap");
    expect(vmmapType(vad({}))).toBe("Private Data");
  });
});

describe("VMMap of a process with a thread stack, a paging-file section's view and a mapped file", () => {
  it("puts each in its row: Stack, Shareable, Mapped File", () => {
    const src = [
      "machine arch=x86_64 profile=windows ram=64M",
      "file data size=32K",
      "spawn A",
      "A: top = CreateThread stack=64K",
      "A: s = CreateFileMapping 16K prot=rw",
      "A: v = MapViewOfFile s write",
      "A: f = CreateFileMapping 32K file=data",
      "A: w = MapViewOfFile f read",
      "A: write v value=1",
      "show A vmmap",
    ].join("\n");
    const r = runScenario(src, { checkInvariants: true });
    const out = r.statements.at(-1)!.output;
    const row = (name: string) => out.find((l) => l.startsWith(`${name} `)) ?? "";
    expect(row("Stack"), out.join("\n")).toMatch(/^Stack +64 K +8 K/); // a committed page and its guard page below;
    expect(row("Shareable")).toMatch(/^Shareable +16 K/);
    expect(row("Mapped File")).toMatch(/^Mapped File +32 K/);
  });
});
