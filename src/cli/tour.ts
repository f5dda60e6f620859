import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Access } from "../hw/access.ts";
import { hwArch } from "../hw/arch/index.ts";
import { Kernel } from "../kernel/Kernel.ts";
import { formatLayout } from "../kernel/view/proc.ts";
import { runScenario } from "../workloads/scenario/session.ts";
import { formatStatements } from "./run.ts";

/**
 * The seed tour (issue #2 part): a narrated run of the hardware model. Every
 * number printed is read back from the simulator, not written here.
 */
export function runTour(write: (line: string) => void): void {
  const say = (s = "") => write(s);
  hwArch("x86_64").tour?.(say);
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
  const m = k.view.meminfo();
  const counts = k.view.frames().byKind;
  say("vmlab tour: the kernel's own memory (Linux x86-64, 256 MiB)");
  say("===========================================================");
  say();
  say("6. Booting builds the kernel's page tables in simulated RAM, and the kernel's");
  say("   memory is allocated up front: it is resident from boot on.");
  say(
    `   kernel image ${(counts["kernel-image"] * 4) / 1024} MiB at 16 MiB, struct pages (memmap) ${(counts.memmap * 4) / 1024} MiB,`,
  );
  say(
    `   boot page tables ${counts["page-table"]} pages; MemTotal ${Math.round(m.MemTotal / 1024)} kB of ${256 * 1024} kB.`,
  );
  for (const line of formatLayout(k.view.layout()).slice(1, 5)) say(`   ${line}`);
  say();
  say("7. kmalloc gives physically contiguous memory from the direct map;");
  say("   vmalloc gives virtually contiguous pages that are physically scattered.");
  const kb = k.kmalloc(16384);
  const kp = [0, 1, 2, 3].map((i) => k.view.kernelPfn(kb + BigInt(i * 4096)));
  say(`   kmalloc(16K) = 0x${kb.toString(16)}: frames ${kp.map((p) => `0x${p.toString(16)}`).join(" ")}`);
  const spacers = [0, 1, 2, 3, 4, 5].map(() => k.allocPages(0));
  for (let i = 0; i < 6; i += 2) k.freePages(spacers[i], 0);
  const vb = k.vmalloc(16384);
  const vp = [0, 1, 2, 3].map((i) => k.view.kernelPfn(vb + BigInt(i * 4096)));
  say(`   vmalloc(16K) = 0x${vb.toString(16)}: frames ${vp.map((p) => `0x${p.toString(16)}`).join(" ")}`);
  say(
    `   the page after the vmalloc area is a guard page: mapped? ${k.view.kernelPfn(vb + 16384n) >= 0 ? "yes" : "no"}`,
  );
  say();
  say("8. A kernel bug: dereferencing NULL. No page maps address 0 and the access");
  say("   has no exception-table fixup, so the kernel oopses and kills the task:");
  const r = k.kernelAccess(0, 0n, Access.Read);
  if (!r.ok) for (const line of r.oops) say(`   ${line}`);
}
