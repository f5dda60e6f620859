import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hexNum } from "../base/u64.ts";
import { Access, Mode } from "../hw/access.ts";
import { formatStaleUse } from "../hw/mmu/CoherenceChecker.ts";
import { type Cpu, WalkRecord } from "../hw/arch/x86_64/Cpu.ts";
import { describeWalk, formatWalk } from "../hw/arch/x86_64/describe.ts";
import { describeErrorCode, errorCodeNames, Outcome } from "../hw/arch/x86_64/fault.ts";
import { bareMachine, va, vpnOf } from "../hw/arch/x86_64/testkit.ts";
import { Kernel } from "../kernel/Kernel.ts";
import { formatLayout } from "../kernel/layout.ts";
import { PageKind } from "../kernel/mm/PageDesc.ts";
import { meminfo } from "../kernel/proc.ts";
import { runScenario } from "../workloads/scenario/session.ts";
import { formatStatements } from "./run.ts";

/**
 * The seed tour (issue #2 part): a narrated run of the hardware model. Every
 * number printed is read back from the simulator, not written here.
 */
export function runTour(write: (line: string) => void): void {
  const say = (s = "") => write(s);
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
  mapper.map(root, vpnOf(user), 0x1234, 0, { writable: true, user: true });
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
  mapper.map(root, vpnOf(kernel), 0x100, 0, { writable: true, user: false, nx: true });
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
  mapper.map(root, vpn, 0x5678, 0, { writable: true, user: true });
  m.checker!.tag = "";
  say(`   the PTE now points at frame 0x5678, but without INVLPG: ${show(cpu, user, Access.Read)}`);
  for (const line of formatStaleUse(m.checker!.reports[0]).split("\n")) say(`   checker: ${line}`);
  cpu.invlpg(a.hi, a.lo);
  say(`   after INVLPG: ${show(cpu, user, Access.Read)}`);
  const other = m.cpus[1];
  other.cpl = 3;
  say(`   CPU 1 never cached it: ${show(other, user, Access.Read)}; its TLB is its own (hence shootdowns).`);
  say();
  say("5. PCIDs let a context switch keep the TLB (MOV to CR3 with bit 63 set).");
  cpu.cpl = 0;
  cpu.movToCr4({ pcide: true });
  const root2 = mapper.newRoot();
  mapper.map(root2, vpnOf(user), 0x9abc, 0, { writable: true, user: true });
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
  kernelTour(say);
  say();
  const ok = scenarioTour(say);
  say();
  say(
    "Next: vmlab run examples/*/*.vm; vmlab trace ../shared/traces/gzip-10M.u64.zst --mrc; vmlab walk --image FILE.json --va ADDR; docs/.",
  );
  if (!ok) throw new Error("tour: an expectation of the tour failed");
}

/**
 * Part three: processes. Each scenario of examples/tour/ answers one
 * question; its comment header is the narration, its `expect` lines the
 * evidence, checked as it runs.
 */
function scenarioTour(say: (s?: string) => void): boolean {
  const dir = fileURLToPath(new URL("../../examples/tour/", import.meta.url));
  say("vmlab tour: processes and their address spaces");
  say("==============================================");
  let allOk = true;
  let n = 9;
  for (const name of readdirSync(dir)
    .filter((f) => f.endsWith(".vm"))
    .sort()) {
    const source = readFileSync(join(dir, name), "utf8");
    const header = source
      .split("\n")
      .filter((l) => l.startsWith("#"))
      .map((l) => l.replace(/^# ?/, ""));
    say();
    say(`${n++}. ${header[0].replace(/^Q: /, "")}   (examples/tour/${name})`);
    for (const line of header.slice(1)) say(`   ${line}`);
    // the absolute path: a scenario's relative paths (replay "...") are taken from its directory
    const r = runScenario(source, { file: join(dir, name) });
    for (const line of formatStatements(r)) say(`   ${line}`);
    say(`   -> ${r.passed} of ${r.expectations.length} expectations hold`);
    if (r.failed > 0) allOk = false;
  }
  return allOk;
}

/** Part two: the kernel's own memory, on a booted Linux-shaped kernel. */
function kernelTour(say: (s?: string) => void): void {
  const k = new Kernel({ ramBytes: 256 << 20 });
  const m = meminfo(k);
  const counts = k.pages.countByKind();
  say("vmlab tour: the kernel's own memory (Linux x86-64, 256 MiB)");
  say("===========================================================");
  say();
  say("6. Booting builds the kernel's page tables in simulated RAM, and the kernel's");
  say("   memory is allocated up front: it is resident from boot on.");
  say(
    `   kernel image ${(counts[PageKind.KernelImage] * 4) / 1024} MiB at 16 MiB, struct pages (memmap) ${(counts[PageKind.Memmap] * 4) / 1024} MiB,`,
  );
  say(
    `   boot page tables ${counts[PageKind.PageTable]} pages; MemTotal ${Math.round(m.MemTotal / 1024)} kB of ${256 * 1024} kB.`,
  );
  for (const line of formatLayout(k.layout).slice(1, 5)) say(`   ${line}`);
  say();
  say("7. kmalloc gives physically contiguous memory from the direct map;");
  say("   vmalloc gives virtually contiguous pages that are physically scattered.");
  const kb = k.kmalloc(16384);
  const kp = [0, 1, 2, 3].map((i) => k.kernelPfn(kb + BigInt(i * 4096)));
  say(`   kmalloc(16K) = 0x${kb.toString(16)}: frames ${kp.map((p) => `0x${p.toString(16)}`).join(" ")}`);
  const spacers = [0, 1, 2, 3, 4, 5].map(() => k.allocPages(0));
  for (let i = 0; i < 6; i += 2) k.freePages(spacers[i], 0);
  const vb = k.vmalloc(16384);
  const vp = [0, 1, 2, 3].map((i) => k.kernelPfn(vb + BigInt(i * 4096)));
  say(`   vmalloc(16K) = 0x${vb.toString(16)}: frames ${vp.map((p) => `0x${p.toString(16)}`).join(" ")}`);
  say(
    `   the page after the vmalloc area is a guard page: mapped? ${k.kernelPfn(vb + 16384n) >= 0 ? "yes" : "no"}`,
  );
  say();
  say("8. A kernel bug: dereferencing NULL. No page maps address 0 and the access");
  say("   has no exception-table fixup, so the kernel oopses and kills the task:");
  const r = k.kernelAccess(0, 0n, Access.Read);
  if (!r.ok) for (const line of r.oops) say(`   ${line}`);
}
