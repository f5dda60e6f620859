import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..", "..");

/** examples/library/drgn.ts run as docs/library.md says: its output lines. */
function run(arch: string): string[] {
  const r = spawnSync(process.execPath, ["--import", "tsx", "examples/library/drgn.ts", arch], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout.trimEnd().split("\n");
}

describe.each(["x86_64", "arm64"])("examples/library/drgn.ts on %s", (arch) => {
  const lines = run(arch);

  if (arch === "x86_64")
    it("prints what docs/library.md says it prints", () => {
      const doc = readFileSync(join(ROOT, "docs/library.md"), "utf8");
      const block = doc.slice(doc.indexOf("On x86_64 it prints")).split("```\n")[1];
      expect(block.trimEnd().split("\n")).toEqual(lines);
    });

  const find = (re: RegExp) => {
    const m = lines.map((l) => re.exec(l)).find((x) => x !== null);
    expect(m, `no line matching ${re} in\n${lines.join("\n")}`).toBeDefined();
    return m!;
  };

  it("walks task -> mm -> VMAs: the process's three VMAs, the kernel threads without an mm", () => {
    expect(find(/^task \d+ A: (\d+) VMAs$/)[1]).toBe("3");
    expect(lines.filter((l) => l.startsWith("vma ")).length).toBe(3);
    expect(find(/^task 2 kthreadd: (.*)$/)[1]).toBe("kernel thread");
    // VMAs in address order, none overlapping
    const ranges = lines
      .filter((l) => l.startsWith("vma "))
      .map((l) => /^vma (0x[0-9a-f]+)-(0x[0-9a-f]+)/.exec(l)!.slice(1, 3).map(BigInt));
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThanOrEqual(ranges[i - 1][1]);
  });

  it("the heap: a present anonymous page with its flags, a swapped one with its swap entry, an untouched one", () => {
    const [, pfn, pte, flags] = find(/^0x[0-9a-f]+: pfn (0x[0-9a-f]+) pte (0x[0-9a-f]+) (\S+)$/);
    expect(flags.split("|")).toEqual(expect.arrayContaining(["PG_uptodate", "PG_lru", "PG_swapbacked"]));
    // the leaf entry holds the frame's number (every architecture here keeps it at bit 10 or 12 and up)
    const value = BigInt(pte);
    expect([(value >> 12n) & 0xfffffn, (value >> 10n) & 0xfffffn]).toContain(BigInt(pfn));
    const swap = find(/^0x[0-9a-f]+: swap type (\d+) offset (\d+)$/);
    expect(swap[1]).toBe("0");
    expect(Number(swap[2])).toBeGreaterThan(0); // slot 0 is the swap header
    find(/^0x[0-9a-f]+: not mapped$/);
  });

  it("remap_pfn_range: the user mapping and the driver's direct-map address reach one frame", () => {
    const [, userPfn, kva, kernelPfn] = find(/^device: user \S+ -> pfn (\S+); kernel (\S+) -> pfn (\S+)$/);
    expect(userPfn).toBe(kernelPfn);
    expect(find(/^same frame: (\w+)$/)[1]).toBe("true");
    const [, , flags, virt] = find(/^struct page (\S+): (\S+), page_to_virt (\S+)$/);
    expect(virt).toBe(kva);
    // the kernel's own allocation (alloc_pages), on no LRU list
    expect(flags.split("|")).not.toContain("PG_lru");
  });
});

describe("the package's entry points", () => {
  it("vmlab/drgn and vmlab/kernel (package.json exports) are the helpers' module and the facade that re-exports them", async () => {
    const drgn = await import("vmlab/drgn");
    const kernel = await import("vmlab/kernel");
    const direct = await import("../../src/kernel/view/drgn.ts");
    expect(drgn.follow_page).toBe(direct.follow_page);
    expect(kernel.follow_page).toBe(direct.follow_page);
    const k = new kernel.Kernel({ ramBytes: 64 << 20 });
    expect([...drgn.for_each_task(k.view)].map((t) => t.comm)).toContain("kthreadd");
  });
});
