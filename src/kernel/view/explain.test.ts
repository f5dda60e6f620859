/**
 * explain of an address inside a huge page: the physical address it prints
 * is the byte's (the leaf's first frame plus the offset inside the page, as
 * the walker computes it: SDM §4.5 Table 4-18 for a 2 MiB PDE, §4.3 Table
 * 4-4 for a 4 MiB PSE PDE; Arm ARM D8.3 block descriptors; RISC-V
 * privileged spec §12.3.2 superpages), checked by reading the byte the
 * process wrote back from that physical address.
 */

import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { walkStepEvent } from "../../hw/mmu/events.ts";
import { InvalidateHow } from "../../hw/mmu/TlbArray.ts";
import { formatEvent } from "../../workloads/scenario/runtime/format.ts";
import { runScenario } from "../../workloads/scenario/session.ts";
import { feedSession } from "../../workloads/scenario/testKit.ts";

const session = feedSession;

/** The pa and frames an explain's `-> pa` line names. */
function paLine(lines: string[]): { pa: number; frame: number; base: number | null } {
  const l = lines.find((x) => x.includes("-> pa "));
  const m = l?.match(
    /-> pa 0x([0-9a-f]+) \(frame 0x([0-9a-f]+)(?:, in the \w+ page at frame 0x([0-9a-f]+))?/,
  );
  if (!m) throw new Error(`no pa line in\n${lines.join("\n")}`);
  return {
    pa: Number.parseInt(m[1], 16),
    frame: Number.parseInt(m[2], 16),
    base: m[3] ? Number.parseInt(m[3], 16) : null,
  };
}

describe("explain of an address in a huge page prints the byte's physical address", () => {
  const cases: [string, number][] = [
    ["x86_64", 2 << 20],
    ["arm64", 2 << 20],
    ["riscv-sv39", 2 << 20],
    ["i386", 4 << 20],
    ["i386-pae", 2 << 20],
  ];
  for (const [arch, huge] of cases)
    it(`${arch}: a THP of ${huge >> 20} MiB`, () => {
      const off = 0x2345a7;
      const s = session(
        `machine arch=${arch} ram=256M thp=always\nspawn A\nA: b = mmap 8M\nA: write b+${off} value=0x5a\n`,
      );
      const k = s.kernel!;
      const A = s.processes.get("A")!;
      const va = s.variables.get("b")! + BigInt(off);
      const leafOffset = Number(va % BigInt(huge));
      expect(leafOffset).not.toBe(0);
      // from the TLB, then from a walk once the TLB is flushed
      for (const flush of [false, true]) {
        if (flush) for (const c of k.machine.cpus) c.tlb.invalidateAll(0, InvalidateHow.Everything);
        const lines = k.view.explain(A, va, Access.Read);
        const { pa, frame, base } = paLine(lines);
        expect(k.machine.phys.read8(pa)).toBe(0x5a);
        expect(pa % huge).toBe(leafOffset);
        expect(frame).toBe(Math.floor(pa / 4096));
        // the huge page's first frame, named beside the byte's
        expect(base).toBe(Math.floor((pa - leafOffset) / 4096));
        // the TLB's frame, on a hit, is the byte's frame too
        const hit = lines.find((l) => l.includes("hit in"))?.match(/frame 0x([0-9a-f]+)/);
        if (hit) expect(Number.parseInt(hit[1], 16)).toBe(frame);
        else expect(flush).toBe(true);
      }
    });

  it("x86_64: the direct map's 2M pages, in explain kernel", () => {
    const s = session("machine arch=x86_64 ram=512M\nkernel: write 0xffff888012345678 value=0x77\n");
    const k = s.kernel!;
    const { pa, frame } = paLine(k.view.explainKernel(0, 0xffff888012345678n, Access.Read));
    expect(pa).toBe(0x12345678);
    expect(k.machine.phys.read8(pa)).toBe(0x77);
    expect(frame).toBe(0x12345);
  });
});

describe("explain prints each entry as wide as its table holds it (two hex digits a byte)", () => {
  // i386's 2-level entries and Sv32's are 4 bytes (SDM §4.3, RISC-V privileged spec §12.3); PAE's,
  // x86-64's and Sv39's are 8 (SDM §4.4, §4.5; §12.4)
  const cases: [string, number][] = [
    ["i386", 4],
    ["riscv-sv32", 4],
    ["i386-pae", 8],
    ["x86_64", 8],
    ["riscv-sv39", 8],
  ];
  for (const [arch, bytes] of cases)
    it(`${arch}: ${bytes}-byte entries, each the word at its address`, () => {
      const s = session(`machine arch=${arch} ram=64M\nspawn A\nA: a = mmap 16K\nA: write a value=1\n`);
      const k = s.kernel!;
      const phys = k.machine.phys;
      const lines = k.view.explain(s.processes.get("A")!, s.variables.get("a")!, Access.Read);
      const entries = lines
        .map((l) => l.match(/entry @0x([0-9a-f]+) = 0x([0-9a-f]+)/))
        .filter((m) => m !== null);
      expect(entries.length).toBeGreaterThanOrEqual(2);
      for (const m of entries) {
        expect(m[2].length).toBe(bytes * 2);
        const pa = Number.parseInt(m[1], 16);
        const word =
          bytes === 4
            ? phys.read32(pa) >>> 0
            : (phys.read32(pa + 4) >>> 0) * 2 ** 32 + (phys.read32(pa) >>> 0);
        expect(Number.parseInt(m[2], 16)).toBe(word);
        expect(word).not.toBe(0);
      }
    });

  it("show P pagetable ADDR prints i386's entries and the frame's two raw values in 8 digits", () => {
    const r = runScenario(
      "machine arch=i386 ram=64M\nspawn A\nA: a = mmap 16K\nA: write a value=1\nshow A pagetable a\n",
    );
    const out = r.statements[4].output;
    const entries = out.filter((l) => / @0x[0-9a-f]+ = 0x/.test(l));
    expect(entries.length).toBe(2);
    for (const l of entries) expect(l).toMatch(/ = 0x[0-9a-f]{8} {2}P /);
    expect(out.find((l) => l.trim().startsWith("raw"))).toMatch(/^ *raw +0x[0-9a-f]{8} +0x[0-9a-f]{8}$/);
  });

  it("a traced walk step prints the entry as wide as the format's", () => {
    const step = (entryBytes: number) =>
      formatEvent(
        walkStepEvent(
          { id: 0, format: { levelNames: ["PT", "PD"], entryBytes } },
          1,
          735,
          0x1800b7c,
          0,
          0x1801067,
          false,
        ),
      );
    expect(step(4)).toBe("cpu0   walk PD [735] entry @0x1800b7c = 0x01801067");
    expect(step(8)).toBe("cpu0   walk PD [735] entry @0x1800b7c = 0x0000000001801067");
  });
});

describe("explain of a user access to a kernel address", () => {
  const run = (arch: string, va: string) =>
    runScenario(`machine arch=${arch} ram=64M\nspawn A\nexplain A ${va} read\nA: read ${va}\n`).statements;

  it.each([
    ["x86_64", "0xffff888000100000"],
    ["i386", "0xc0100000"],
  ])("%s: do_kern_addr_fault signals without a VMA lookup, and the read gets that signal", (arch, va) => {
    const [, , explain, read] = run(arch, va);
    const text = explain.output.join(" ");
    expect(text).toMatch(/do_kern_addr_fault: a kernel address .*from user mode: no VMA is\s+looked up/);
    expect(text).not.toMatch(/no VMA covers/);
    expect(read.output.join(" ")).toMatch(/SIGSEGV \(SEGV_MAPERR\)/);
  });

  it("arm64: a translation fault is do_bad_area's (no VMA lookup); a permission fault do_page_fault's, whose find_vma finds none", () => {
    const [, , unmapped, read] = run("arm64", "0xffff800090000000");
    expect(unmapped.output.join(" ")).toMatch(/do_translation_fault: a TTBR1 address, from EL0: do_bad_area/);
    expect(read.output.join(" ")).toMatch(/SIGSEGV \(SEGV_MAPERR\)/);
    // the linear map: present, EL0 may not read it (AP[1] = 0): a permission fault
    const [, , linear] = run("arm64", "0xffff000000100000");
    expect(linear.output.join(" ")).toMatch(
      /permission fault[\s\S]*no VMA covers the address: SIGSEGV, si_code SEGV_MAPERR/,
    );
  });

  it("riscv-sv39: handle_page_fault looks for a VMA for any user-mode address: the generic words", () => {
    const [, , explain] = run("riscv-sv39", "0xffffffd800000000");
    expect(explain.output.join(" ")).toMatch(/no VMA covers the address/);
  });
});
