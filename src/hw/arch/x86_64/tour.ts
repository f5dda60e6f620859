import { wrapLine } from "../../../base/text.ts";
/**
 * The tour's first part (`vmlab tour`, `npm start`): a narrated run of the
 * x86-64 machine: a page walk, a TLB hit, protection on a TLB hit, a stale
 * entry the coherence checker catches, PCIDs. Every number printed is read
 * back from the simulator, not written here.
 */
import { hexNum } from "../../../base/u64.ts";
import { toPfn } from "../../../base/units.ts";
import { Access, Mode } from "../../access.ts";
import { formatStaleUse } from "../../mmu/CoherenceChecker.ts";
import { type Cpu, WalkRecord } from "./Cpu.ts";
import { describeWalk, formatWalk } from "./describe.ts";
import { describeErrorCode, errorCodeNames, Outcome } from "./fault.ts";
import { bareMachine, va, vpnOf } from "./testkit.ts";

export function x86Tour(say: (line?: string) => void): void {
  const { m, cpu, mapper, root } = bareMachine({ checkCoherence: true, cpus: 2 });
  const show = (c: Cpu, addr: bigint, access: Access) => {
    const a = va(addr);
    const out = c.translate(a.hi, a.lo, access);
    if (out === Outcome.OK) return `pa ${hexNum(c.pa)}`;
    if (out === Outcome.GP) return "#GP(0)";
    return `#PF error_code(0x${c.errorCode.toString(16).padStart(4, "0")}) ${errorCodeNames(c.errorCode)} - ${describeErrorCode(c.errorCode)}`;
  };

  say("vmlab tour: the machine (x86-64, 4-level paging, Skylake-like TLBs)");
  say("=================================================================");
  say();
  say("1. A page walk. The CPU finds a physical address by reading one entry per");
  say("   level from page tables that live in (simulated) physical memory.");
  const user = 0x0000_5555_5555_4000n;
  mapper.map(root, vpnOf(user), toPfn(0x1234), 0, { writable: true, user: true });
  const rec = new WalkRecord();
  const a = va(user + 0x10n);
  const outcome = cpu.probe(a.hi, a.lo, Access.Read, Mode.User, rec);
  say(`   CR3 = ${hexNum(root * 4096)}; translating ${hexNum(Number(user + 0x10n))} for a user read:`);
  for (const line of formatWalk(describeWalk(outcome, rec, a.hi, a.lo, Number((user + 0x10n) & 0xfffn))))
    say(`   ${line}`);
  say();
  say("2. The TLB caches the translation: the next access does not walk.");
  cpu.cpl = 3;
  say(
    `   first access:  ${show(cpu, user, Access.Read)}   (walks so far: ${cpu.walks}, entries read: ${cpu.walkRefs})`,
  );
  say(
    `   second access: ${show(cpu, user + 8n, Access.Read)}   (walks so far: ${cpu.walks}, L1 hits: ${cpu.tlb.hits[0]})`,
  );
  say();
  say("3. A TLB hit still enforces protection. The TLB entry caches the rights");
  say("   (R/W, U/S, XD); every use checks them against the current access.");
  const kernel = 0xffff_8880_0010_0000n;
  mapper.map(root, vpnOf(kernel), toPfn(0x100), 0, { writable: true, user: false, nx: true });
  cpu.cpl = 0;
  say(`   kernel read of 0x${kernel.toString(16)} (CPL 0): ${show(cpu, kernel, Access.Read)}`);
  cpu.cpl = 3;
  const walks = cpu.walks;
  say(`   user read, same page (CPL 3):              ${show(cpu, kernel, Access.Read)}`);
  say(`   walks for the user read: ${cpu.walks - walks} (the fault came from the cached rights)`);
  say();
  say("4. The hardware does not keep the TLB coherent: software must flush.");
  const vpn = vpnOf(user);
  m.checker!.tag = "remap without INVLPG";
  mapper.unmap(root, vpn);
  mapper.map(root, vpn, toPfn(0x5678), 0, { writable: true, user: true });
  m.checker!.tag = "";
  say(`   the PTE now points at frame 0x5678, but without INVLPG: ${show(cpu, user, Access.Read)}`);
  for (const line of formatStaleUse(m.checker!.reports[0]).split("\n"))
    for (const part of wrapLine(line, 100, "   checker: ", "   checker:     ")) say(part);
  cpu.invlpg(a.hi, a.lo);
  say(`   after INVLPG: ${show(cpu, user, Access.Read)}`);
  const other = m.cpus[1];
  other.cpl = 3;
  say(`   CPU 1 never cached it: ${show(other, user, Access.Read)}; its TLB is its own (hence shootdowns).`);
  say();
  say("5. PCIDs let a context switch keep the TLB (MOV to CR3 with bit 63 set).");
  cpu.cpl = 0;
  cpu.movToCr4({ pcide: true });
  const root2 = toPfn(mapper.newRoot());
  mapper.map(root2, vpnOf(user), toPfn(0x9abc), 0, { writable: true, user: true });
  cpu.cpl = 3;
  for (const [label, r, pcid, noflush] of [
    ["switch to A (PCID 1)", root, 1, false],
    ["switch to B (PCID 2)", root2, 2, false],
    ["back to A, no flush", root, 1, true],
    ["back to B, no flush", root2, 2, true],
  ] as const) {
    cpu.movToCr3(noflush ? 0x80000000 : 0, r * 4096 + pcid);
    const w = cpu.walks;
    const res = show(cpu, user, Access.Read);
    say(
      `   ${label.padEnd(22)} -> ${res}  ${cpu.walks > w ? "(walked)" : "(TLB hit: kept across the switch)"}`,
    );
  }
  say();
  say(`Counters, CPU 0: ${cpu.translations} translations, ${cpu.walks} walks, ${cpu.walkRefs} entries read,`);
  say(
    `  ${cpu.adWrites} A/D writes, ${cpu.pageFaults} page faults, L1 hits ${cpu.tlb.hits[0]}, L2 hits ${cpu.tlb.hits[1]}.`,
  );
  say();
}
