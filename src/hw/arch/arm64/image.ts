/**
 * ARM64 page-table images for `vmlab walk` (../shared/spec/walk-images.md,
 * `arch: "arm64"`; docs/walk-image.md): the registers an image may set
 * (TTBR0_EL1, TTBR1_EL1, TCR_EL1's T0SZ/T1SZ/EPD0/EPD1/HA/HD/IPS/TBI0/TBI1,
 * and, extensions, TG0/TG1 and ID_AA64MMFR0_EL1.PARange; SCTLR_EL1.WXN,
 * PSTATE.PAN), `--el 0|1`, the unprivileged accesses
 * (`read-unpriv`, `write-unpriv`: LDTR/STTR at EL1), and a probe's report
 * (`{"ok": false, "fault", "level", "esr", "far"}` with ESR_EL1 and FAR_EL1).
 * A range with the 4 KiB granule is walked by the CPU model (Cpu.probe);
 * one with the 16K or 64K granule by granule.ts's walk, which the CPU's
 * TLB and walker (4K only) do not have.
 */
import { jsonExcerpt } from "../../../base/json.ts";
import { fromBig, hex64, hexNum, parseU64 } from "../../../base/u64.ts";
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
import {
  type GranuleRegs,
  granuleFlagNames,
  granuleWalk,
  PA_SIZE_BITS,
  TG0_BITS,
  TG1_BITS,
  walkMode,
} from "./granule.ts";
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
  "tcr_el1.tg0",
  "tcr_el1.tg1",
  "id_aa64mmfr0_el1.parange",
  ...FLAGS,
] as const;

/** The image's registers, checked. */
interface Arm64Image {
  ttbr0: bigint;
  ttbr1: bigint;
  t0sz: number;
  t1sz: number;
  ips: number;
  /** the granule of TTBR0's and TTBR1's range, in bits (12, 14, 16), from TCR_EL1.TG0 and TG1 */
  granule: [number, number];
  /** ID_AA64MMFR0_EL1.PARange (0..6; 6: 52 bits, FEAT_LPA) */
  parange: number;
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
       * an extension of walk-images.md: the leaf has the Contiguous bit (D8.6.1), one of the
       * descriptors of a run this many bytes long (4K granule: 16 x pageSize, 64K, 32M, 16G; 16K:
       * 128 pages, 2M, or 32 level-2 blocks, 1G; 64K: 32 pages, 2M, or 32 blocks, 16G), which a
       * TLB entry may cover whole; absent without the bit
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

/**
 * TCR_EL1.TG0 or TG1 (an extension of walk-images.md): the field's raw value (TG0: 0 4K, 1 64K,
 * 2 16K; TG1: 1 16K, 2 4K, 3 64K) or the size, "4K", "16K", "64K"; the reserved encoding (TG0 3,
 * TG1 0: the Arm ARM leaves the granule IMPLEMENTATION DEFINED) is an error. Default 4K.
 */
function granuleReg(
  regs: Record<string, unknown>,
  name: "tcr_el1.tg0" | "tcr_el1.tg1",
  bad: (path: string, msg: string) => never,
): number {
  const v = regs[name];
  if (v === undefined) return 12;
  const sizes: Record<string, number> = { "4K": 12, "16K": 14, "64K": 16 };
  if (typeof v === "string" && Object.hasOwn(sizes, v.toUpperCase())) return sizes[v.toUpperCase()];
  const table = name === "tcr_el1.tg0" ? TG0_BITS : TG1_BITS;
  const enc = name === "tcr_el1.tg0" ? "0 (4K), 1 (64K), 2 (16K)" : "1 (16K), 2 (4K), 3 (64K)";
  const n =
    typeof v === "string"
      ? parseU64(v)
      : Number.isSafeInteger(v) && (v as number) >= 0
        ? BigInt(v as number)
        : null;
  if (n === null || n > 3n || table[Number(n)] === 0) {
    const reserved = n !== null && n <= 3n ? " (reserved)" : "";
    bad(`regs.${name}`, `must be ${enc} or "4K", "16K", "64K", not ${jsonExcerpt(v)}${reserved}`);
  }
  return table[Number(n)];
}

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
  const parange = small("id_aa64mmfr0_el1.parange", 0, 6, 5);
  if (regs["tcr_el1.ips"] !== undefined && parange < 6 && value("tcr_el1.ips") === 6n)
    bad("regs.tcr_el1.ips", "must be 0..5, not 6 (52 bits needs FEAT_LPA: id_aa64mmfr0_el1.parange 6)");
  const img: Arm64Image = {
    ttbr0: value("ttbr0_el1") ?? 0n,
    ttbr1: value("ttbr1_el1") ?? 0n,
    t0sz: small("tcr_el1.t0sz", 16, 39, 16),
    t1sz: small("tcr_el1.t1sz", 16, 39, 16),
    ips: small("tcr_el1.ips", 0, parange === 6 ? 6 : 5, 5),
    granule: [granuleReg(regs, "tcr_el1.tg0", bad), granuleReg(regs, "tcr_el1.tg1", bad)],
    parange,
    flags,
  };
  return { physBits: PA_SIZE_BITS[parange] > 48 ? 52 : 48, open: (memory) => load(img, memory) };
}

function load(img: Arm64Image, memory: { pa: number; bytes: Uint8Array }[]): WalkSession {
  const m = new Arm64Machine({ ramBytes: 2 ** 48, tlb: "none" });
  // bytes above 2^48 (a 52-bit PA range) only the 64K granule's walk reaches (granule.ts)
  for (const chunk of memory)
    if (chunk.pa + chunk.bytes.length <= 2 ** 48) m.phys.writeBytes(chunk.pa, chunk.bytes);
  const cpu = m.cpus[0];
  const f = img.flags;
  cpu.setTcr({
    t0sz: img.t0sz,
    t1sz: img.t1sz,
    // a 4K range's output size is 48 bits at most (no TCR_EL1.DS): IPS 6 is 5 there, capped by PARange
    ips: Math.min(img.ips, img.parange, 5),
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
  // built only for an image with a 16K or 64K range
  const other = img.granule[0] !== 12 || img.granule[1] !== 12 ? granuleSession(img, memory) : null;
  return {
    walk(va: bigint, access: Access, privilege: string, kind = accessName(access)) {
      if (other !== null && img.granule[Number((va >> 55n) & 1n)] !== 12)
        return other.walk(va, access, privilege, kind);
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

/** The walks of a range with the 16K or 64K granule (granule.ts), over the image's bytes. */
function granuleSession(img: Arm64Image, memory: { pa: number; bytes: Uint8Array }[]): WalkSession {
  const f = img.flags;
  const regs: GranuleRegs = {
    ranges: [
      { g: img.granule[0], tsz: img.t0sz, epd: f["tcr_el1.epd0"], tbi: f["tcr_el1.tbi0"], ttbr: img.ttbr0 },
      { g: img.granule[1], tsz: img.t1sz, epd: f["tcr_el1.epd1"], tbi: f["tcr_el1.tbi1"], ttbr: img.ttbr1 },
    ],
    ips: img.ips,
    parange: img.parange,
    ha: f["tcr_el1.ha"],
    hd: f["tcr_el1.hd"],
    pan: f["pstate.pan"],
    wxn: f["sctlr_el1.wxn"],
  };
  // the image's bytes by 4 KiB frame (everything else reads as zero)
  const frames = new Map<number, Uint8Array>();
  for (const { pa, bytes } of memory)
    for (let i = 0; i < bytes.length; i++) {
      const a = pa + i;
      const fr = Math.floor(a / 4096);
      let page = frames.get(fr);
      if (page === undefined) {
        page = new Uint8Array(4096);
        frames.set(fr, page);
      }
      page[a - fr * 4096] = bytes[i];
    }
  const word = (pa: number): number => {
    const page = frames.get(Math.floor(pa / 4096));
    const o = pa % 4096;
    return page === undefined
      ? 0
      : (page[o] | (page[o + 1] << 8) | (page[o + 2] << 16) | (page[o + 3] << 24)) >>> 0;
  };
  const read64 = (pa: number) => ({ lo: word(pa), hi: word(pa + 4) });
  const paBits = PA_SIZE_BITS[img.parange];
  return {
    walk(va: bigint, access: Access, privilege: string, kind = accessName(access)) {
      const el = Number(privilege);
      const r = Number((va >> 55n) & 1n);
      const range = regs.ranges[r];
      const w = granuleWalk(regs, read64, va, access, el, walkMode(el, kind.endsWith("-unpriv")));
      const levels = w.steps.map((s) => ({
        name: `L${s.armLevel}`,
        index: s.index,
        entryPa: hexNum(s.entryPa),
        raw: hex64(s.hi, s.lo),
        flags: granuleFlagNames(s.hi, s.lo, s.armLevel, range.g, paBits),
      }));
      const { hi, lo } = fromBig(va);
      const report: Arm64WalkReport = w.ok
        ? w.contiguous === 0
          ? { ok: true, pa: hexNum(w.pa), pageSize: w.size, levels }
          : { ok: true, pa: hexNum(w.pa), pageSize: w.size, contiguous: w.size * w.contiguous, levels }
        : {
            ok: false,
            fault: fscName(w.esr & Esr.FSC_MASK),
            level: w.armLevel,
            esr: `0x${w.esr.toString(16)}`,
            far: hex64(hi, lo),
            levels,
          };
      const name = r === 1 ? "TTBR1" : "TTBR0";
      const header = `va 0x${va.toString(16).padStart(16, "0")}: ${kind} at EL${el}, ${name}_EL1 (${64 - range.tsz}-bit range, ${sizeName(range.g)} granule), PAN ${f["pstate.pan"] ? 1 : 0}, WXN ${f["sctlr_el1.wxn"] ? 1 : 0}`;
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
  // 3 digits for the 4K granule's 512 entries, 4 for the 16K's 2048 and the 64K's 8192
  const width = Math.max(3, ...r.levels.map((l) => String(l.index).length));
  const lines = r.levels.map(
    (l) =>
      `  ${l.name}[${String(l.index).padStart(width)}]  entry @${l.entryPa.padEnd(14)} = ${l.raw}  ${l.flags.join(" ")}`,
  );
  if (r.ok) {
    const run =
      r.contiguous === undefined ? "" : `, one of a contiguous ${sizeName(Math.log2(r.contiguous))} run`;
    // a page at L3, a block above (4K: "4K page", "2M block", "1G block"; 64K: "64K page", "512M block")
    const leaf = r.levels.length > 0 && r.levels[r.levels.length - 1].name === "L3" ? "page" : "block";
    lines.push(`  -> pa ${r.pa} (${sizeName(Math.log2(r.pageSize))} ${leaf}${run})`);
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
