/**
 * 32-bit x86 page-table images for `vmlab walk` (../shared/spec/walk-images.md,
 * `arch: "i386"` and `"i386-pae"`; docs/walk-image.md): CR3, MAXPHYADDR, the
 * registers (CR0.WP, CR4.PSE, CR4.SMEP, CR4.SMAP, RFLAGS.AC, EFER.NXE,
 * CR4.PGE), `--cpl 0|3`, and a probe's report (`#PF` with the error code
 * and CR2, or `#GP` when loading CR3 faulted on a PDPTE, SDM Vol. 3A §4.4.1).
 */
import { InputError } from "../../../base/errors.ts";
import { hexNum, parseU64 } from "../../../base/u64.ts";
import { type Access, accessName, Mode } from "../../access.ts";
import type { CheckedImage, ImageFields, WalkImageDriver, WalkSession } from "../../mmu/walkImage.ts";
import { describeErrorCode, errorCodeNames } from "../x86_64/fault.ts";
import { type I386Cpu, Outcome, WalkRecord } from "./Cpu.ts";
import { I386Machine } from "./machine.ts";
import { flagNames, LEVEL_NAMES } from "./pte.ts";

export const I386_REG_NAMES = [
  "cr0.wp",
  "cr4.pse",
  "cr4.smep",
  "cr4.smap",
  "rflags.ac",
  "efer.nxe",
  "cr4.pge",
] as const;

type RegName = (typeof I386_REG_NAMES)[number];

interface I386Image {
  pae: boolean;
  cr3: number;
  maxPhyAddr: number;
  regs: Record<RegName, boolean>;
}

/** One level of a walk as `--json` reports it; PAE's PDPTE is the register (`entryPa`: where it was loaded from). */
export interface I386WalkLevel {
  name: string;
  index: number;
  entryPa: string;
  raw: string;
  flags: string[];
}

export type I386WalkReport =
  | { ok: true; pa: string; pageSize: number; levels: I386WalkLevel[]; pdptes?: string[] }
  | {
      ok: false;
      fault: "#PF";
      errorCode: number;
      cr2: string;
      levels: I386WalkLevel[];
      pdptes?: string[];
    }
  | { ok: false; fault: "#GP"; levels: I386WalkLevel[] };

function check(f: ImageFields, bad: (path: string, msg: string) => never): CheckedImage {
  const pae = f.arch === "i386-pae";
  let maxPhyAddr = 36;
  const m = f.top.maxphyaddr;
  if (m !== undefined) {
    const lo = pae ? 36 : 32;
    if (typeof m !== "number" || !Number.isInteger(m) || m < lo || m > 52)
      bad("maxphyaddr", `must be an integer from ${lo} to 52, not ${JSON.stringify(m)}`);
    maxPhyAddr = m as number;
  }
  const cr3 = f.u64("cr3");
  if (cr3 > 0xffffffffn)
    bad("cr3", `CR3 is a 32-bit register without IA-32e mode, not 0x${cr3.toString(16)}`);
  const regs = Object.fromEntries(I386_REG_NAMES.map((r) => [r, false])) as Record<RegName, boolean>;
  // each register is one bit: 0 or 1, as an integer, a hex or decimal string, or a boolean
  for (const [k, v] of Object.entries(f.regs)) {
    const n = typeof v === "string" ? parseU64(v) : typeof v === "boolean" ? BigInt(v) : v;
    if (n !== 0 && n !== 1 && n !== 0n && n !== 1n)
      bad(`regs.${k}`, `must be 0 or 1, not ${JSON.stringify(v)}`);
    regs[k as RegName] = n === 1 || n === 1n;
  }
  const img: I386Image = { pae, cr3: Number(cr3), maxPhyAddr, regs };
  return {
    // 32-bit paging reaches 2^min(MAXPHYADDR, 40) bytes through 4 MiB pages
    physBits: pae ? maxPhyAddr : Math.min(maxPhyAddr, 40),
    open: (memory) => load(img, memory),
  };
}

function load(img: I386Image, memory: { pa: number; bytes: Uint8Array }[]): WalkSession {
  const physBits = img.pae ? img.maxPhyAddr : Math.min(img.maxPhyAddr, 40);
  const m = new I386Machine({
    ramBytes: 2 ** physBits,
    pae: img.pae,
    maxPhyAddr: img.maxPhyAddr,
    tlb: "none",
  });
  for (const chunk of memory) m.phys.writeBytes(chunk.pa, chunk.bytes);
  const cpu = m.cpus[0];
  const r = img.regs;
  cpu.setWp(r["cr0.wp"]);
  cpu.setNxe(r["efer.nxe"]);
  if (r["rflags.ac"]) cpu.stac();
  cpu.movToCr4({ pse: r["cr4.pse"], pge: r["cr4.pge"], smep: r["cr4.smep"], smap: r["cr4.smap"] });
  // MOV to CR3 last: in PAE it loads the PDPTE registers, and may #GP (then every query answers #GP)
  const gp = cpu.movToCr3(img.cr3) === Outcome.GP;
  const rec = new WalkRecord();
  const mode = img.pae ? "PAE paging" : "32-bit paging";
  return {
    walk(va: bigint, access: Access, privilege: string) {
      if (va > 0xffffffffn)
        throw new InputError(`--va 0x${va.toString(16)} is not a 32-bit linear address (${mode})`);
      cpu.cpl = Number(privilege);
      const vaLo = Number(va);
      const header = `va 0x${vaLo.toString(16).padStart(8, "0")}: ${accessName(access)} at CPL ${cpu.cpl}, ${mode}, CR3 0x${img.cr3.toString(16)}`;
      if (gp) {
        const report: I386WalkReport = { ok: false, fault: "#GP", levels: [] };
        return { report, lines: [header, ...formatI386Walk(report)] };
      }
      const outcome = cpu.probe(0, vaLo, access, cpu.cpl === 3 ? Mode.User : Mode.Supervisor, rec);
      const report = describeI386Walk(cpu, outcome, rec, vaLo);
      return { report, lines: [header, ...formatI386Walk(report)] };
    },
  };
}

const hex8 = (n: number) => `0x${(n >>> 0).toString(16).padStart(8, "0")}`;
const hex16 = (hi: number, lo: number) =>
  `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;

/** A probe's record as `vmlab walk --json` reports it (PAE: the PDPTE register first). */
export function describeI386Walk(cpu: I386Cpu, outcome: number, rec: WalkRecord, va: number): I386WalkReport {
  const levels: I386WalkLevel[] = [];
  const pae = cpu.pae;
  const raw = (hi: number, lo: number) => (pae ? hex16(hi, lo) : hex8(lo));
  let pdptes: string[] | undefined;
  if (pae) {
    const i = va >>> 30;
    levels.push({
      name: "PDPTE",
      index: i,
      entryPa: hexNum(cpu.rootPa + 8 * i),
      raw: raw(cpu.pdpteHi[i], cpu.pdpteLo[i]),
      flags: [...flagNames(cpu.pdpteHi[i], cpu.pdpteLo[i], 2, true, false), "register"],
    });
    pdptes = [0, 1, 2, 3].map((n) => raw(cpu.pdpteHi[n], cpu.pdpteLo[n]));
  }
  for (let n = 0; n < rec.count; n++) {
    levels.push({
      name: LEVEL_NAMES[rec.level[n]],
      index: rec.index[n],
      entryPa: hexNum(rec.entryPa[n]),
      raw: raw(rec.hi[n], rec.lo[n]),
      flags: flagNames(rec.hi[n], rec.lo[n], rec.level[n], pae, cpu.cr4Pse),
    });
  }
  const extra = pdptes === undefined ? {} : { pdptes };
  if (outcome === Outcome.GP) return { ok: false, fault: "#GP", levels: [] };
  if (outcome !== Outcome.OK)
    return { ok: false, fault: "#PF", errorCode: rec.errorCode, cr2: hex8(va), levels, ...extra };
  const pageSize = rec.size === 0 ? 4096 : pae ? 2 * 1024 * 1024 : 4 * 1024 * 1024;
  return { ok: true, pa: hexNum(rec.pagePfn * 4096 + (va % pageSize)), pageSize, levels, ...extra };
}

/** Text form of a report, one line per level. */
export function formatI386Walk(r: I386WalkReport): string[] {
  const lines = r.levels.map(
    (l) =>
      `  ${l.name.padEnd(5)}[${String(l.index).padStart(4)}]  entry @${l.entryPa.padEnd(12)} = ${l.raw}  ${l.flags.join(" ")}`,
  );
  if (r.ok)
    lines.push(`  -> pa ${r.pa} (${r.pageSize === 4096 ? "4K" : r.pageSize === 2097152 ? "2M" : "4M"} page)`);
  else if (r.fault === "#GP")
    lines.push("  -> #GP(0): MOV to CR3 faulted: a present PDPTE has a reserved bit set (SDM §4.4.1)");
  else
    lines.push(
      `  -> #PF: error_code(0x${r.errorCode.toString(16).padStart(4, "0")}) ${errorCodeNames(r.errorCode)} - ${describeErrorCode(r.errorCode)}, CR2 ${r.cr2}`,
    );
  return lines;
}

/** `arch: "i386"` and `"i386-pae"` images. */
export const I386_WALK_IMAGE: WalkImageDriver = {
  arches: ["i386", "i386-pae"],
  keys: ["cr3", "maxphyaddr"],
  regs: I386_REG_NAMES,
  privilege: { flag: "cpl", values: ["0", "3"], default: "3" },
  check,
};
