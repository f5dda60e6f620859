import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/base/errors.ts";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { exampleFiles } from "../exampleFiles.ts";

/**
 * pagetable=inverted (issue #14): the same scenarios give the same page
 * faults as on the radix table, by construction (Linux's tables and fault
 * handler are unchanged; an IPT miss is a reload, not a fault). Each
 * scenario runs on both machines and the fault counters are compared.
 */

const ROOT = resolve(import.meta.dirname, "../..");

/** The fault counters of a scenario's run on one machine, read by `let` lines appended to it. */
function faultCounts(src: string, pagetable: "radix" | "inverted", file: string): Record<string, string> {
  const names = new Set<string>();
  for (const m of src.matchAll(/^(?:spawn (\w+)|\w+: fork (\w+))/gm)) names.add(m[1] ?? m[2]);
  const lets = [
    "let _pf = page_faults",
    "let _majflt = vmstat.pgmajfault",
    "let _pswpin = vmstat.pswpin",
    "let _pswpout = vmstat.pswpout",
    ...[...names].flatMap((p) => [`let _min_${p} = ${p}.min_flt`, `let _maj_${p} = ${p}.maj_flt`]),
  ];
  const machine = /^machine\b.*$/m;
  const text = (
    machine.test(src)
      ? src.replace(machine, (m) => `${m.replace(/\s*pagetable=\w+/, "")} pagetable=${pagetable}`)
      : `machine pagetable=${pagetable}\n${src}`
  ).replace(/\n?$/, `\n${lets.join("\n")}\n`);
  const r = runScenario(text, { file, checkInvariants: true });
  const invariants = r.statements.flatMap((s) => s.output).filter((l) => /invariant|IPT entry/.test(l));
  expect(invariants, `${pagetable}: invariants`).toEqual([]);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.metrics)) if (k.startsWith("_")) out[k] = v;
  return out;
}

describe("examples/inverted: every expectation holds, and the faults are the radix twin's", () => {
  const files = exampleFiles(join(ROOT, "examples/inverted"));
  it("has the four scenarios of the issue, and one of hash chains", () => {
    expect(files.map((f) => relative(join(ROOT, "examples/inverted"), f))).toEqual([
      "cow-fork.vm",
      "demand-paging.vm",
      "hash-chains.vm",
      "munmap.vm",
      "swap.vm",
    ]);
  });
  for (const f of files) {
    const name = relative(ROOT, f);
    it(`${name}: the same page faults on pagetable=radix`, () => {
      const src = readFileSync(f, "utf8");
      const inv = faultCounts(src, "inverted", name);
      const radix = faultCounts(src, "radix", name);
      expect(Number(inv._pf)).toBeGreaterThan(0);
      expect(inv).toEqual(radix);
    });
  }
});

describe("the radix examples run on pagetable=inverted with the same faults", () => {
  // demand paging, fork and COW, swap, munmap/mremap/madvise, shared memory, THP
  for (const name of [
    "examples/process/demand-paging.vm",
    "examples/process/cow-fork.vm",
    "examples/process/shared-anon.vm",
    "examples/process/madvise-mlock-brk-mremap.vm",
    "examples/process/thp.vm",
    "examples/swap/pageout-swapin.vm",
    "examples/files/write-notify-msync.vm",
    "examples/tour/00-memory-pressure.vm",
  ]) {
    it(name, () => {
      const src = readFileSync(join(ROOT, name), "utf8");
      expect(faultCounts(src, "inverted", name)).toEqual(faultCounts(src, "radix", name));
    });
  }
});

describe("explain on pagetable=inverted", () => {
  it("tells the hash lookup: the hash, the HAT slot, each chain entry compared, the hit, and the TLB tag's role", () => {
    const r = runScenario(
      "machine ram=64M pagetable=inverted\nspawn A\nA: a = mmap 16K\nA: write a 16K value=1\nexplain A a+4K\n",
    );
    const out = r.statements[4].output.join("\n");
    expect(out).toMatch(/the entry's tag \(PCID \d+\) is what keeps A to its own pages/);
    expect(out).toMatch(/IPT lookup .*: space 1, vpn 0x7ffff7ffc/);
    expect(out).toMatch(
      /hash = \(vpn XOR space \* 0x9e5\) mod 16384 = 0x[0-9a-f]+: HAT slot @0x[0-9a-f]+ -> frame/,
    );
    expect(out).toMatch(/entry of frame 0x[0-9a-f]+ @0x[0-9a-f]+: space 1, vpn 0x7ffff7ffc -> match/);
    expect(out).toMatch(/hit after 2 memory references/);
    expect(out).toMatch(/hash_page's software walk of Linux's page tables/);
  });

  it("a miss names the alias holding the frame's entry", () => {
    const r = runScenario(
      "machine ram=64M pagetable=inverted\nspawn A\nA: a = mmap 4K\nA: write a value=1\nA: fork B\nB: read a\nA: read a\nexplain B a\n",
    );
    const out = r.statements[7].output.join("\n");
    expect(out).toMatch(/HAT slot @0x[0-9a-f]+ is empty\n.*miss after 1 memory references: a hash fault/);
    expect(out).toMatch(
      /frame 0x[0-9a-f]+'s one entry is held by space 1, vpn 0x[0-9a-f]+: inserting it for space 2 is an alias steal/,
    );
  });

  it("shows no IPT on a radix machine", () => {
    const r = runScenario(
      "machine ram=64M\nspawn A\nA: a = mmap 4K\nA: write a\nexplain A a\nexpect ipt.bytes == 0\n",
    );
    expect(r.statements[4].output.join("\n")).not.toMatch(/IPT|hash/);
    expect(r.failed).toBe(0);
  });
});

describe("--trace on pagetable=inverted", () => {
  it("a first touch: IPT miss, hash fault, #PF, then after the fault the reload", () => {
    const r = runScenario("machine ram=64M pagetable=inverted\nspawn A\nA: a = mmap 8K\nA: read a\n", {
      trace: true,
    });
    const t = r.statements[3].output.filter((l) => l.includes("trace:")).join("\n");
    expect(t).toMatch(
      /IPT lookup space 1 vpn 0x7ffff7ffd: HAT slot 0x[0-9a-f]+, 0 entries compared: miss\n.*hash fault: hash_page walks Linux's page tables\n(.*walk .*\n)+.*fault: #PF error_code 0x4/,
    );
    expect(t).toMatch(
      /hash fault[\s\S]*#PF[\s\S]*hash fault[\s\S]*IPT lookup space 1 vpn 0x7ffff7ffd: HAT slot 0x[0-9a-f]+, 1 entry compared: frame 0x[0-9a-f]+$/,
    );
  });
});

describe("the machine key", () => {
  const error = (src: string): string => {
    try {
      runScenario(src, { file: "t.vm" });
    } catch (e) {
      if (e instanceof InputError) return e.message;
      throw e;
    }
    return "no error";
  };

  it("pagetable=inverted is x86_64's only and refuses PTI, saying why", () => {
    expect(error("machine arch=arm64 pagetable=inverted\n")).toMatch(/machine pagetable: .*arch=x86_64 only/);
    expect(error("machine arch=x86_64-la57 pagetable=inverted\n")).toMatch(/arch=x86_64 only/);
    expect(error("machine pagetable=inverted pti=on\n")).toMatch(/machine pti: PTI swaps CR3/);
    expect(error("machine pagetable=hashed\n")).toMatch(/expected one of radix, inverted/);
  });

  it("show pagetables puts the radix tables' and the IPT's memory side by side", () => {
    const inv = runScenario(
      "machine ram=64M pagetable=inverted\nspawn A\nA: a = mmap 8K\nA: write a 8K\nshow pagetables\n",
    );
    const radix = runScenario("machine ram=64M\nspawn A\nA: a = mmap 8K\nA: write a 8K\nshow pagetables\n");
    expect(inv.statements[4].output.join("\n")).toMatch(
      /radix .*: 3 pages = 12 KiB .*\n.*inverted \(what the MMU reads; fixed by RAM, not by address space\): 16384 entries x 16 B = 256 KiB \+ HAT 16384 slots x 4 B = 64 KiB: 320 KiB, 0.49% of RAM; 2 entries valid, in 2 hash chains \(the longest: 1\)/,
    );
    expect(radix.statements[4].output.join("\n")).toMatch(
      /inverted: none on this machine; for this RAM one would take 16384 entries/,
    );
  });
});
