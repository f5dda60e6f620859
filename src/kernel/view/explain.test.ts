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
import { InvalidateHow } from "../../hw/mmu/TlbArray.ts";
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
