/**
 * RISC-V page-table images for `vmlab walk` (../shared/spec/walk-images.md,
 * `arch: "riscv-sv39" | "riscv-sv48" | "riscv-sv57"`; docs/walk-image.md):
 * the registers an image may set (satp, sstatus.SUM and MXR, and the
 * Svadu, Svnapot and Svpbmt switches), `--priv u|s`, and a probe's report
 * (`{"ok": false, "fault", "scause", "stval"}`).
 *
 * The image's RAM is 2^52 bytes (the most PhysMem holds); memory not given
 * reads as zero, and a table above 2^52 is outside RAM: an access fault.
 */
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
import { PteHi, pteFlagNames, RISCV_LEVEL_NAMES, type RiscvExtensions } from "./format.ts";
import { RiscvMachine } from "./machine.ts";

const FLAGS = ["sstatus.sum", "sstatus.mxr", "svadu", "svnapot", "svpbmt"] as const;

export const RISCV_REG_NAMES = ["satp", ...FLAGS] as const;

/** The image's registers, checked. */
interface RiscvImage {
  vaBits: 39 | 48 | 57;
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

function check(f: ImageFields, bad: (path: string, msg: string) => never): CheckedImage {
  const regs = f.regs;
  const vaBits = Number(f.arch.slice("riscv-sv".length)) as 39 | 48 | 57;
  const value = (name: string): bigint | null => imageRegister(regs, name, bad, "0x8000000000001000");
  const flags = {} as RiscvImage["flags"];
  for (const k of FLAGS) {
    const n = value(k);
    if (n !== null && n > 1n) bad(`regs.${k}`, `must be 0..1, not ${n}`);
    flags[k] = n === 1n;
  }
  const satp = value("satp");
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

function load(img: RiscvImage, memory: { pa: number; bytes: Uint8Array }[]): WalkSession {
  const f = img.flags;
  const ext: RiscvExtensions = { svadu: f.svadu, svnapot: f.svnapot, svpbmt: f.svpbmt };
  const m = new RiscvMachine({ ramBytes: 2 ** 52, tlb: "none", vaBits: img.vaBits, ...ext });
  for (const chunk of memory) m.phys.writeBytes(chunk.pa, chunk.bytes);
  const cpu = m.cpus[0];
  cpu.setSum(f["sstatus.sum"]);
  cpu.setMxr(f["sstatus.mxr"]);
  const s = fromBig(img.satp);
  cpu.setSatp(s.hi, s.lo); // the MODE was checked: the write takes effect
  const rec = new WalkRecord();
  return {
    walk(va: bigint, access: Access, privilege: string, kind = accessName(access)) {
      cpu.priv = privilege === "u" ? Priv.U : Priv.S;
      const { hi, lo } = fromBig(va);
      const outcome = cpu.probe(hi, lo, access, cpu.priv === Priv.U ? Mode.User : Mode.Supervisor, rec);
      const report = describeRiscvWalk(outcome, rec, va, ext);
      const mode = cpu.satpMode;
      const header = `va 0x${va.toString(16).padStart(16, "0")}: ${kind} in ${privilege.toUpperCase()}-mode, satp ${MODE_NAMES[mode]}${mode === SatpMode.Bare ? "" : ` ASID ${cpu.asid} root ${hexNum(cpu.rootPa)}`}, SUM ${cpu.sum ? 1 : 0}, MXR ${cpu.mxr ? 1 : 0}, ${ext.svadu ? "Svadu" : "Svade"}`;
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
): RiscvWalkReport {
  const levels: RiscvWalkLevel[] = [];
  for (let i = 0; i < rec.count; i++) {
    levels.push({
      name: RISCV_LEVEL_NAMES[rec.level[i]],
      index: rec.index[i],
      entryPa: hexNum(rec.entryPa[i]),
      raw: hex64(rec.hi[i], rec.lo[i]),
      flags: pteFlagNames(rec.hi[i], rec.lo[i], rec.level[i], ext),
    });
  }
  if (outcome !== 0) {
    const { hi, lo } = fromBig(va);
    return {
      ok: false,
      fault: scauseName(rec.errorCode),
      scause: rec.errorCode,
      stval: hex64(hi, lo),
      levels,
    };
  }
  // a Svnapot leaf maps 64 KiB (the walk's frame is already the 4K one of this address)
  const napot = rec.count > 0 && (rec.hi[rec.count - 1] & PteHi.N) !== 0;
  const pageSize = napot ? 65536 : 4096 * 512 ** rec.size;
  const offset = Number(va % BigInt(napot ? 4096 : pageSize));
  return { ok: true, pa: hexNum(rec.pagePfn * 4096 + offset), pageSize, levels };
}

const PAGE_NAMES: Record<number, string> = {
  4096: "4K page",
  65536: "64K NAPOT page",
  2097152: "2M megapage",
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

/** `arch: "riscv-sv39" | "riscv-sv48" | "riscv-sv57"` images. */
export const RISCV_WALK_IMAGE: WalkImageDriver = {
  arches: ["riscv-sv39", "riscv-sv48", "riscv-sv57"],
  keys: [],
  regs: RISCV_REG_NAMES,
  privilege: { flag: "priv", values: ["u", "s"], default: "s" },
  check,
};
