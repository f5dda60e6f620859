import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vmlab } from "./testkit.ts";

/**
 * `vmlab run --json`: a view statement's data beside its text (the
 * statement's `view`), for crash's vtop, pagemap and page-types on Linux
 * and WinDbg's !pte and VMMap on Windows (docs/scenarios.md, "--json").
 */
describe("vmlab run --json: the views as data", () => {
  const dir = mkdtempSync(join(tmpdir(), "vmlab-viewjson-"));
  const linux = join(dir, "linux.vm");
  const win = join(dir, "win.vm");
  writeFileSync(
    linux,
    "machine ram=64M\nspawn A\nA: m = mmap 8K\nA: write m\nshow A vtop m\nshow A pagemap m 8K\nshow kpageflags 0 16\nshow meminfo\n",
  );
  writeFileSync(
    win,
    "machine arch=x86_64 profile=windows ram=64M\nspawn A\nA: a = VirtualAlloc 64K reserve+commit\nA: write a\nshow A pte a\nshow A vmmap\n",
  );
  const r = vmlab(["run", "--json", linux, win]);
  type Doc = { statements: { line: number; output: string[]; view?: unknown }[] };
  const [l, w] = JSON.parse(r.stdout) as Doc[];
  const at = (d: Doc, line: number) => d.statements.find((s) => s.line === line)!;

  it("Linux: vtop's walk, pagemap's entries and page-types' rows, addresses and entries as hex strings", () => {
    expect(r.code).toBe(0);
    const walk = at(l, 5).view as { va: string; entries: { linuxLevel: string }[]; leaf: { pfn: number } };
    expect(walk.va).toBe(`0x${/^([0-9a-f]+) /.exec(at(l, 5).output[1])![1]}`);
    expect(walk.entries.map((e) => e.linuxLevel)).toEqual(["PGD", "PUD", "PMD", "PTE"]);
    const pm = at(l, 6).view as { present: boolean; pfn: number; entry: string }[];
    expect(pm.map((e) => e.present)).toEqual([true, false]);
    expect(pm[0].pfn).toBe(walk.leaf.pfn);
    // PM_PRESENT (bit 63) and the frame in bits 0-54
    expect(BigInt(pm[0].entry)).toBe((1n << 63n) | (1n << 56n) | (1n << 55n) | BigInt(pm[0].pfn));
    const rows = at(l, 7).view as { flags: string; pages: number }[];
    expect(rows.reduce((s, x) => s + x.pages, 0)).toBe(16);
    // other statements carry no view
    expect(at(l, 8).view).toBeUndefined();
  });

  it("Windows: !pte's columns and VMMap's rows", () => {
    const pte = at(w, 5).view as { paging: string; columns: { name: string; at: string; value: string }[] };
    expect(pte.paging).toBe("x64");
    expect(pte.columns.map((c) => `${c.name} ${c.at}`)).toEqual([
      "PXE 0xfffff6fb7dbed000",
      "PPE 0xfffff6fb7da00000",
      "PDE 0xfffff6fb40000000",
      "PTE 0xfffff68000000080",
    ]);
    expect(at(w, 5).output[3]).toContain(
      `contains ${BigInt(pte.columns[3].value).toString(16).toUpperCase().padStart(16, "0")}`,
    );
    const vm = at(w, 6).view as { type: string; committed: number; totalWs: number }[];
    expect(vm.find((x) => x.type === "Private Data")).toMatchObject({ committed: 16, totalWs: 1 });
  });
});
