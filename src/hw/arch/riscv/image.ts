/**
 * RISC-V page-table images for `vmlab walk` (../shared/spec/walk-images.md,
 * `arch: "riscv-sv39" | "riscv-sv48" | "riscv-sv57"`, and vmlab's extension
 * `"riscv-sv32"`; docs/walk-image.md):
 * the registers an image may set (satp, sstatus.SUM and MXR, and the
 * Svadu, Svnapot and Svpbmt switches), `--priv u|s`, and a probe's report
 * (`{"ok": false, "fault", "scause", "stval"}`).
 *
 * The image's RAM is 2^52 bytes (the most PhysMem holds); memory not given
 * reads as zero, and a table above 2^52 is outside RAM: an access fault.
 *
 * Sv32 (an RV32 hart, "Sv32: Page-Based 32-bit Virtual-Memory System"):
 * satp is 32 bits (MODE 31, ASID 30:22, PPN 21:0), RAM is the whole 34-bit
 * physical space (16 GiB: every PPN a PTE can hold), PTEs are 4 bytes
 * (`raw` of 8 hex digits), megapages 4 MiB, `--va` and stval 32 bits, and
 * `svnapot` or `svpbmt` = 1 is an error (both are RV64-only).
 */

import { InputError } from "../../../base/errors.ts";
import { fromBig, hex64, hexNum } from "../../../base/u64.ts";
import { type Access, accessName, Mode } from "../../access.ts";
import {
  type CheckedImage,
  type ImageFields,
  imageRegister,
  type WalkImageDriver,
  type WalkSession,
} from "../../mmu/walkImage.ts";
import { Priv, SatpMode, WalkRecord } from "./Cpu.ts";
import { describeScause, type RiscvFaultName, scauseName } from "./fault.ts";
import {
  PteHi,
  pteFlagNames,
  RISCV_LEVEL_NAMES,
  type RiscvExtensions,
  type RiscvVaBits,
  sv32ExtensionError,
} from "./format.ts";
import { RiscvMachine } from "./machine.ts";

const FLAGS = ["sstatus.sum", "sstatus.mxr", "svadu", "svnapot", "svpbmt"] as const;

export const RISCV_REG_NAMES = ["satp", ...FLAGS] as const;

/** The image's registers, checked. */
interface RiscvImage {
  vaBits: RiscvVaBits;
  satp: bigint;
  flags: Record<(typeof FLAGS)[number], boolean>;
}

/** `vmlab walk` levels and results in the spec's words. */
export interface RiscvWalkLevel {
  name: string;
  index: number;
  entryPa: string;
  raw: string;
  flags: string[];
}

export type RiscvWalkReport =
  | { ok: true; pa: string; pageSize: number; levels: RiscvWalkLevel[] }
  | { ok: false; fault: RiscvFaultName; scause: number; stval: string; levels: RiscvWalkLevel[] };

const MODE_NAMES: Record<number, string> = { 0: "Bare", 8: "Sv39", 9: "Sv48", 10: "Sv57" };
/** RV32's satp.MODE (one bit) */
const MODE_NAMES_32: Record<number, string> = { 0: "Bare", 1: "Sv32" };

function check(f: ImageFields, bad: (path: string, msg: string) => never): CheckedImage {
  const regs = f.regs;
  const vaBits = Number(f.arch.slice("riscv-sv".length)) as RiscvVaBits;
  const sv32 = vaBits === 32;
  const value = (name: string): bigint | null =>
    imageRegister(regs, name, bad, sv32 ? "0x80000001" : "0x8000000000001000");
  const flags = {} as RiscvImage["flags"];
  for (const k of FLAGS) {
    const n = value(k);
    if (n !== null && n > 1n) bad(`regs.${k}`, `must be 0..1, not ${n}`);
    flags[k] = n === 1n;
    if (sv32 && n === 1n && (k === "svnapot" || k === "svpbmt"))
      bad(`regs.${k}`, sv32ExtensionError({ [k]: true }) ?? "");
  }
  const satp = value("satp");
  if (sv32) return checkSv32(satp, flags, bad);
  if (satp === null) return bad("regs", "satp is missing (MODE in bits 63:60, ASID 59:44, PPN 43:0)");
  const mode = Number(satp >> 60n);
  const want = vaBits === 39 ? SatpMode.Sv39 : vaBits === 48 ? SatpMode.Sv48 : SatpMode.Sv57;
  if (mode !== want && mode !== SatpMode.Bare)
    bad(
      "regs.satp",
      `MODE ${mode} (${MODE_NAMES[mode] ?? "reserved"}) does not match arch ${f.arch}: MODE must be ${want} (Sv${vaBits}) or 0 (Bare)`,
    );
  const img: RiscvImage = { vaBits, satp, flags };
  return { physBits: 52, open: (memory) => load(img, memory) };
}

/** An Sv32 image's satp: one 32-bit word, MODE 1 (Sv32) or 0 (Bare). */
function checkSv32(
  satp: bigint | null,
  flags: RiscvImage["flags"],
  bad: (path: string, msg: string) => never,
): CheckedImage {
  if (satp === null) return bad("regs", "satp is missing (MODE in bit 31, ASID 30:22, PPN 21:0)");
  if (satp > 0xffffffffn)
    bad(
      "regs.satp",
      `must fit in 32 bits (RV32's satp: MODE 31, ASID 30:22, PPN 21:0), not 0x${satp.toString(16)}`,
    );
  const img: RiscvImage = { vaBits: 32, satp, flags };
  return { physBits: 34, open: (memory) => load(img, memory) };
}

function load(img: RiscvImage, memory: { pa: number; bytes: Uint8Array }[]): WalkSession {
  const f = img.flags;
  const ext: RiscvExtensions = { svadu: f.svadu, svnapot: f.svnapot, svpbmt: f.svpbmt };
  const sv32 = img.vaBits === 32;
  const m = new RiscvMachine({ ramBytes: sv32 ? 2 ** 34 : 2 ** 52, tlb: "none", vaBits: img.vaBits, ...ext });
  for (const chunk of memory) m.phys.writeBytes(chunk.pa, chunk.bytes);
  const cpu = m.cpus[0];
  cpu.setSum(f["sstatus.sum"]);
  cpu.setMxr(f["sstatus.mxr"]);
  const s = fromBig(img.satp);
  cpu.setSatp(s.hi, s.lo); // the MODE was checked: the write takes effect
  const rec = new WalkRecord();
  return {
    walk(va: bigint, access: Access, privilege: string, kind = accessName(access)) {
      if (sv32 && va > 0xffffffffn)
        throw new InputError(`--va 0x${va.toString(16)} is not a 32-bit virtual address (Sv32, RV32)`);
      cpu.priv = privilege === "u" ? Priv.U : Priv.S;
      const { hi, lo } = fromBig(va);
      const outcome = cpu.probe(hi, lo, access, cpu.priv === Priv.U ? Mode.User : Mode.Supervisor, rec);
      const report = describeRiscvWalk(outcome, rec, va, ext, sv32);
      const mode = cpu.satpMode;
      const header = `va 0x${va.toString(16).padStart(sv32 ? 8 : 16, "0")}: ${kind} in ${privilege.toUpperCase()}-mode, satp ${(sv32 ? MODE_NAMES_32 : MODE_NAMES)[mode]}${mode === SatpMode.Bare ? "" : ` ASID ${cpu.asid} root ${hexNum(cpu.rootPa)}`}, SUM ${cpu.sum ? 1 : 0}, MXR ${cpu.mxr ? 1 : 0}, ${ext.svadu ? "Svadu" : "Svade"}`;
      return { report, lines: [header, ...formatRiscvWalk(report)] };
    },
  };
}

/** A probe's record as `vmlab walk --json` reports it. */
export function describeRiscvWalk(
  outcome: number,
  rec: WalkRecord,
  va: bigint,
  ext: RiscvExtensions,
  sv32 = false,
): RiscvWalkReport {
  const levels: RiscvWalkLevel[] = [];
  // Sv32: 4-byte PTEs and a 32-bit stval (an RV32 CSR)
  const hex = (hi: number, lo: number) =>
    sv32 ? `0x${(lo >>> 0).toString(16).padStart(8, "0")}` : hex64(hi, lo);
  for (let i = 0; i < rec.count; i++) {
    levels.push({
      name: RISCV_LEVEL_NAMES[rec.level[i]],
      index: rec.index[i],
      entryPa: hexNum(rec.entryPa[i]),
      raw: hex(rec.hi[i], rec.lo[i]),
      flags: pteFlagNames(rec.hi[i], rec.lo[i], rec.level[i], ext, sv32 ? 10 : 9),
    });
  }
  if (outcome !== 0) {
    const { hi, lo } = fromBig(va);
    return {
      ok: false,
      fault: scauseName(rec.errorCode),
      scause: rec.errorCode,
      stval: hex(hi, lo),
      levels,
    };
  }
  // a Svnapot leaf maps 64 KiB (the walk's frame is already the 4K one of this address)
  const napot = !sv32 && rec.count > 0 && (rec.hi[rec.count - 1] & PteHi.N) !== 0;
  const pageSize = napot ? 65536 : 4096 * (sv32 ? 1024 : 512) ** rec.size;
  const offset = Number(va % BigInt(napot ? 4096 : pageSize));
  return { ok: true, pa: hexNum(rec.pagePfn * 4096 + offset), pageSize, levels };
}

const PAGE_NAMES: Record<number, string> = {
  4096: "4K page",
  65536: "64K NAPOT page",
  2097152: "2M megapage",
  4194304: "4M megapage",
  1073741824: "1G gigapage",
  549755813888: "512G terapage",
  281474976710656: "256T petapage",
};

/** Text form of a report, one line per level. */
export function formatRiscvWalk(r: RiscvWalkReport): string[] {
  const lines = r.levels.map(
    (l) =>
      `  ${l.name}[${String(l.index).padStart(3)}]  pte @${l.entryPa.padEnd(14)} = ${l.raw}  ${l.flags.join(" ")}`,
  );
  if (r.ok) lines.push(`  -> pa ${r.pa} (${PAGE_NAMES[r.pageSize]})`);
  else lines.push(`  -> ${r.fault}: ${describeScause(r.scause)}, stval ${r.stval}`);
  return lines;
}

/** `arch: "riscv-sv39" | "riscv-sv48" | "riscv-sv57"` images, and (an extension) `"riscv-sv32"`. */
export const RISCV_WALK_IMAGE: WalkImageDriver = {
  arches: ["riscv-sv32", "riscv-sv39", "riscv-sv48", "riscv-sv57"],
  keys: [],
  regs: RISCV_REG_NAMES,
  privilege: { flag: "priv", values: ["u", "s"], default: "s" },
  check,
};
