/**
 * VmPTE, the OOM killer's pgtables: and oom_badness count what Linux's
 * mm_pgtables_bytes counts: PTE, PMD and PUD tables (mm_inc_nr_ptes / pmds /
 * puds), never a P4D table (__p4d_alloc charges nothing) nor the PGD. On a
 * 5-level machine (x86-64 LA57, RISC-V Sv57) the P4D tables actually
 * allocated are left out; on 4 levels nothing changes. The tables are
 * counted from the process's page-table tree, by Linux level name.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/userMm.ts";

const ARCHS = ["x86_64", "x86_64-la57", "riscv-sv48", "riscv-sv57"] as const;

describe("VmPTE: mm_pgtables_bytes, without P4D tables", () => {
  for (const arch of ARCHS)
    it(`${arch}: VmPTE is the PTE, PMD and PUD tables the tree holds`, () => {
      const k = new Kernel({ arch, ramBytes: 64 << 20 });
      const t = k.spawn("A")!;
      k.switchTo(0, t);
      // one page low, one in another PGD entry's range (2^48 up with 5 levels: a second P4D table;
      // 2^40 with 4, where an entry spans 2^39)
      for (const at of [0x10000000, 2 ** (arch.endsWith("57") ? 48 : 40) + 0x10000000]) {
        const a = k.mmap(t, { ...mmapArgs(4096), addr: at, fixed: true });
        expect(a).toBe(BigInt(at));
        expect(k.userAccess(0, t, a, Access.Write, 1).ok).toBe(true);
      }
      const byLevel = new Map<string, number>();
      for (const tb of k.view.pageTables(t).tables)
        byLevel.set(tb.linuxLevel, (byLevel.get(tb.linuxLevel) ?? 0) + 1);
      const counted = (byLevel.get("PTE") ?? 0) + (byLevel.get("PMD") ?? 0) + (byLevel.get("PUD") ?? 0);
      const p4d = byLevel.get("P4D") ?? 0;
      expect(p4d).toBe(arch.endsWith("57") ? 2 : 0);
      expect(counted).toBeGreaterThanOrEqual(6); // two of each at least
      expect(k.view.status(t).mem!.vmPte).toBe(counted * 4096);
      expect(k.view.mm(t)!.ptPages).toBe(counted + p4d); // vmlab's own count (PageTables) keeps them
    });
});
