/**
 * ARM64 page-table images for `vmlab walk` (../shared/spec/walk-images.md,
 * `arch: "arm64"`; docs/walk-image.md): the registers an image may set
 * (TTBR0_EL1, TTBR1_EL1, TCR_EL1's T0SZ/T1SZ/EPD0/EPD1/HA/HD/IPS/TBI0/TBI1,
 * SCTLR_EL1.WXN, PSTATE.PAN), `--el 0|1`, the unprivileged accesses
 * (`read-unpriv`, `write-unpriv`: LDTR/STTR at EL1), and a probe's report
 * (`{"ok": false, "fault", "level", "esr", "far"}` with ESR_EL1 and FAR_EL1).
 */
import { fromBig, hex64, hexNum } from "../../../base/u64.ts";
import { Access, accessName, Mode } from "../../access.ts";
import { sizeName } from "../../mmu/PagingFormat.ts";
import {
  type CheckedImage,
  type ImageFields,
  imageRegister,
  type WalkImageDriver,
  type WalkSession,
} from "../../mmu/walkImage.ts";
import { WalkRecord } from "./Cpu.ts";
import { describeEsr, Esr, fscName } from "./fault.ts";
import { ARM_LEVEL_NAMES, CONT_PAGES, DescHi, descFlagNames } from "./format.ts";
import { Arm64Machine } from "./machine.ts";

const FLAGS = [
  "tcr_el1.epd0",
  "tcr_el1.epd1",
  "tcr_el1.ha",
  "tcr_el1.hd",
  "tcr_el1.tbi0",
  "tcr_el1.tbi1",
  "sctlr_el1.wxn",
  "pstate.pan",
] as const;

export const ARM64_REG_NAMES = [
  "ttbr0_el1",
  "ttbr1_el1",
  "tcr_el1.t0sz",
  "tcr_el1.t1sz",
  "tcr_el1.ips",
  ...FLAGS,
] as const;

/** The image's registers, checked. */
interface Arm64Image {
  ttbr0: bigint;
  ttbr1: bigint;
  t0sz: number;
  t1sz: number;
  ips: number;
  flags: Record<(typeof FLAGS)[number], boolean>;
}

/** `vmlab walk` levels and results in Arm's words. */
export interface Arm64WalkLevel {
  name: string;
  index: number;
  entryPa: string;
  raw: string;
  flags: string[];
}

export type Arm64WalkReport =
  | {
      ok: true;
      pa: string;
      pageSize: number;
      /**
       * an extension of walk-images.md: the leaf has the Contiguous bit (D8.6.1), one of 16
       * descriptors of a run this many bytes long (16 x pageSize: 64K, 32M, 16G), which a TLB
       * entry may cover whole; absent without the bit
       */
      contiguous?: number;
      levels: Arm64WalkLevel[];
    }
  | {
      ok: false;
      fault: "translation" | "access-flag" | "permission" | "address-size";
      level: number;
      esr: string;
      far: string;
      levels: Arm64WalkLevel[];
    };

const PAGE_SIZES = [4096, 2 * 1024 * 1024, 1024 * 1024 * 1024];

function check(f: ImageFields, bad: (path: string, msg: string) => never): CheckedImage {
  const regs = f.regs;
  const value = (name: string): bigint | null => imageRegister(regs, name, bad, "0x1000");
  const small = (name: string, lo: number, hi: number, dflt: number): number => {
    const n = value(name);
    if (n === null) return dflt;
    if (n < BigInt(lo) || n > BigInt(hi)) bad(`regs.${name}`, `must be ${lo}..${hi}, not ${n}`);
    return Number(n);
  };
  const flags = {} as Arm64Image["flags"];
  for (const k of FLAGS) flags[k] = small(k, 0, 1, 0) === 1;
  const img: Arm64Image = {
    ttbr0: value("ttbr0_el1") ?? 0n,
    ttbr1: value("ttbr1_el1") ?? 0n,
    t0sz: small("tcr_el1.t0sz", 16, 39, 16),
    t1sz: small("tcr_el1.t1sz", 16, 39, 16),
    ips: small("tcr_el1.ips", 0, 5, 5),
    flags,
  };
  return { physBits: 48, open: (memory) => load(img, memory) };
}

function load(img: Arm64Image, memory: { pa: number; bytes: Uint8Array }[]): WalkSession {
  const m = new Arm64Machine({ ramBytes: 2 ** 48, tlb: "none" });
  for (const chunk of memory) m.phys.writeBytes(chunk.pa, chunk.bytes);
  const cpu = m.cpus[0];
  const f = img.flags;
  cpu.setTcr({
    t0sz: img.t0sz,
    t1sz: img.t1sz,
    ips: img.ips,
    epd0: f["tcr_el1.epd0"],
    epd1: f["tcr_el1.epd1"],
    ha: f["tcr_el1.ha"],
    hd: f["tcr_el1.hd"],
    tbi0: f["tcr_el1.tbi0"],
    tbi1: f["tcr_el1.tbi1"],
  });
  cpu.setWxn(f["sctlr_el1.wxn"]);
  cpu.setPan(f["pstate.pan"]);
  const t0 = fromBig(img.ttbr0);
  const t1 = fromBig(img.ttbr1);
  cpu.setTtbr0(t0.hi, t0.lo);
  cpu.setTtbr1(t1.hi, t1.lo);
  const rec = new WalkRecord();
  return {
    walk(va: bigint, access: Access, privilege: string, kind = accessName(access)) {
      cpu.el = Number(privilege);
      const unpriv = kind.endsWith("-unpriv");
      const { hi, lo } = fromBig(va);
      const outcome = cpu.probe(hi, lo, access, cpu.el === 0 || unpriv ? Mode.User : Mode.Supervisor, rec);
      const report = describeArm64Walk(outcome, rec, va);
      const range = (va >> 55n) & 1n ? "TTBR1" : "TTBR0";
      const header = `va 0x${va.toString(16).padStart(16, "0")}: ${kind} at EL${cpu.el}, ${range}_EL1 (${cpu.vaSize(range === "TTBR1" ? 1 : 0)}-bit range), PAN ${cpu.pan ? 1 : 0}, WXN ${cpu.wxn ? 1 : 0}`;
      return { report, lines: [header, ...formatArm64Walk(report)] };
    },
  };
}

/** A probe's record as `vmlab walk --json` reports it. */
export function describeArm64Walk(outcome: number, rec: WalkRecord, va: bigint): Arm64WalkReport {
  const levels: Arm64WalkLevel[] = [];
  for (let i = 0; i < rec.count; i++) {
    levels.push({
      name: ARM_LEVEL_NAMES[rec.level[i]],
      index: rec.index[i],
      entryPa: hexNum(rec.entryPa[i]),
      raw: hex64(rec.hi[i], rec.lo[i]),
      flags: descFlagNames(rec.hi[i], rec.lo[i], rec.level[i]),
    });
  }
  const { hi, lo } = fromBig(va);
  if (outcome !== 0) {
    const fsc = rec.errorCode & Esr.FSC_MASK;
    return {
      ok: false,
      fault: fscName(fsc),
      level: fsc & 3,
      esr: `0x${rec.errorCode.toString(16)}`,
      far: hex64(hi, lo),
      levels,
    };
  }
  // a contiguous page (bit 52, D8.6.1) is still a 4K page here (walk-images.md's pageSize is the
  // descriptor's); its frame is the 64K block's first, the offset within it. Any leaf with the bit
  // (a 2M or 1G block too: their TLB entries stay the block's own) reports its run's size as the
  // extension field `contiguous`
  const cont = rec.size === ARM_LEVEL_NAMES.length; // Geometry.contSize: the size code after the levels
  const pageSize = cont ? PAGE_SIZES[0] : PAGE_SIZES[rec.size];
  const offset = Number(va % BigInt(cont ? pageSize * CONT_PAGES : pageSize));
  const pa = hexNum(rec.pagePfn * 4096 + offset);
  if ((rec.hi[rec.count - 1] & DescHi.CONT) === 0) return { ok: true, pa, pageSize, levels };
  return { ok: true, pa, pageSize, contiguous: pageSize * CONT_PAGES, levels };
}

/** Text form of a report, one line per level. */
export function formatArm64Walk(r: Arm64WalkReport): string[] {
  const lines = r.levels.map(
    (l) =>
      `  ${l.name}[${String(l.index).padStart(3)}]  entry @${l.entryPa.padEnd(14)} = ${l.raw}  ${l.flags.join(" ")}`,
  );
  if (r.ok) {
    const run =
      r.contiguous === undefined ? "" : `, one of a contiguous ${sizeName(Math.log2(r.contiguous))} run`;
    lines.push(
      `  -> pa ${r.pa} (${r.pageSize === 4096 ? "4K page" : r.pageSize === 2097152 ? "2M block" : "1G block"}${run})`,
    );
  } else {
    lines.push(
      `  -> ${r.fault} fault, level ${r.level}: ESR_EL1 ${r.esr} (${describeEsr(Number(r.esr))}), FAR_EL1 ${r.far}`,
    );
  }
  return lines;
}

/** `arch: "arm64"` images. */
export const ARM64_WALK_IMAGE: WalkImageDriver = {
  arches: ["arm64"],
  keys: [],
  regs: ARM64_REG_NAMES,
  privilege: { flag: "el", values: ["0", "1"], default: "1" },
  accesses: { "read-unpriv": Access.Read, "write-unpriv": Access.Write },
  check,
};
