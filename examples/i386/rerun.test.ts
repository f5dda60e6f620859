import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { exampleFiles } from "../exampleFiles.ts";

/**
 * Every x86-64 example rerun on 32-bit x86 (issue #14): the machine line
 * gets `arch=i386` (2-level paging), `pcid=` is dropped (no PCIDs outside
 * IA-32e mode), and x86-64's level names become Linux's generic ones
 * (pml5, pml4 and pdpt fold into the PGD: `pgd`; pd is the PMD, folded into
 * the PGD on 2-level paging; pt the PTE). Each example must then hold on
 * i386 unchanged, or be listed below with the reason it cannot.
 */
const ROOT = resolve(import.meta.dirname, "../..");

const X86_64_ADDR =
  "names x86-64 addresses (0xffff888000000000 and the like), which do not exist on 32-bit x86";
const NOT_PORTABLE: Record<string, string> = {
  "examples/kernel/fragmentation.vm":
    "x86-64's figures: the 32-bit kernel's boot leaves more of 32M free (no 2M vmemmap blocks)",
  "examples/kernel/kmalloc-contiguous.vm": X86_64_ADDR,
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
  "examples/process/signals.vm": X86_64_ADDR,
  "examples/process/stack-growth.vm": X86_64_ADDR,
  "examples/process/thp.vm": "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024), not 2 MiB",
  "examples/swap/thp-pageout.vm": "a PMD maps 4 MiB on 2-level paging (HPAGE_PMD_NR 1024), not 2 MiB",
  "examples/tour/05-pcid.vm": "PCIDs: 32-bit x86 has none (CR4.PCIDE needs IA-32e mode)",
  "examples/tour/09-real-program.vm": "replays a trace of an x86-64 program (its addresses are above 4 GiB)",
  "examples/uaccess/copy-user.vm": X86_64_ADDR,
  "examples/uaccess/get-put-user.vm": X86_64_ADDR,
  "examples/uaccess/pti.vm": "pti=on: page-table isolation on 32-bit x86 is not modelled",
};

const X86_LEVELS: Record<string, string> = { pml5: "pgd", pml4: "pgd", pdpt: "pud", pd: "pmd", pt: "pte" };

/** An x86-64 scenario as i386 words it. */
function onI386(source: string, arch = "i386"): string {
  return source
    .replace(/^machine\b(.*)$/m, (_line, rest: string) => {
      const words = rest.split(/\s+/).filter((w) => w !== "" && !w.startsWith("pcid="));
      return ["machine", `arch=${arch}`, ...words].join(" ");
    })
    .replace(/\btable\(([^,()]+),\s*([^()]+?),\s*(pml5|pml4|pdpt|pd|pt)\)/g, (_m, who, addr, level) => {
      return `table(${who}, ${addr}, ${X86_LEVELS[level]})`;
    });
}

function failures(source: string, file: string): string[] {
  try {
    const r = runScenario(source, { file, checkInvariants: true });
    const failed = r.expectations.filter((e) => !e.ok).map((e) => `${e.line}: ${e.text}: got ${e.actual}`);
    if (r.expectations.length === 0) failed.push("no expectation ran");
    return failed;
  } catch (e) {
    return [(e as Error).message];
  }
}

describe("the x86 examples rerun on i386 (invariant checker on)", () => {
  const files = exampleFiles(join(ROOT, "examples"))
    .map((f) => relative(ROOT, f))
    // the examples of other architectures, and the tour's questions that name their machine's arch
    .filter((f) => !/^machine\b.*\barch=/m.test(readFileSync(join(ROOT, f), "utf8")));
  it("are many, and every listed one exists", () => {
    expect(files.length).toBeGreaterThan(30);
    for (const f of Object.keys(NOT_PORTABLE)) expect(files).toContain(f);
  });
  for (const f of files) {
    const source = readFileSync(join(ROOT, f), "utf8");
    const reason = NOT_PORTABLE[f];
    if (reason === undefined)
      it(`${f}: every expectation holds on i386`, () => {
        const src = onI386(source);
        expect(src).toMatch(/^machine arch=i386/m);
        expect(failures(src, f)).toEqual([]);
      });
    else
      it(`${f}: x86-64's own (${reason})`, () => {
        expect(failures(onI386(source), f)).not.toEqual([]);
      });
  }
});

describe("onI386", () => {
  it("puts arch=i386 on the machine line, drops pcid= and words x86-64's levels as Linux's", () => {
    const src = "machine ram=64M smap=on pcid=on\nexpect table(A, a, pml4) != table(B, b+4K, pt)\n";
    expect(onI386(src)).toBe(
      "machine arch=i386 ram=64M smap=on\nexpect table(A, a, pgd) != table(B, b+4K, pte)\n",
    );
  });
});
