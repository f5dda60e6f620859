/**
 * VMSAv8-64 stage 1 translation (EL1&0) with any of the three translation
 * granules, 4 KiB, 16 KiB and 64 KiB, as a probe: the walk `vmlab walk`
 * makes of an image whose TCR_EL1.TG0 or TG1 is not 4K (image.ts). Nothing
 * is written and no TLB is used. The CPU model (Cpu.ts, format.ts) keeps
 * the 4 KiB granule only: its TLB, page numbers and walk caches are 4K
 * shaped, and the kernel model's PAGE_SIZE is 4K.
 *
 * Spec: Arm ARM DDI 0487, D8.2 "Translation table walk" (pseudocode
 * AArch64.S1Walk, AArch64.S1StartLevel, AArch64.S1TTBaseAddress,
 * AArch64.BlockDescSupported, AArch64.OAOutOfRange, StageOA), D8.3
 * descriptors; QEMU target/arm/ptw.c get_phys_addr_lpae and
 * aa64_va_parameters follow the same rules:
 *
 * - granule bits g = 12, 14, 16; stride = g - 3 (9, 11, 13 index bits a level);
 * - the initial level from the input size (64 - TxSZ):
 *   `4 - floor((inputsize - 4) / stride)` (= 4 - RoundUp((inputsize - g) / stride));
 *   the initial table has the bits left over (maybe fewer than a full level)
 *   and is aligned to its own size;
 * - blocks (bits[1:0] = 01) where AArch64.BlockDescSupported allows them:
 *   4K at levels 1 and 2 (level 0 only with TCR_EL1.DS, FEAT_LPA2: not
 *   modelled), 16K at level 2 (level 1 only with DS: not modelled), 64K at
 *   level 2, and level 1 when the PA range is 52 bits (FEAT_LPA); anywhere
 *   else a block descriptor is a Translation fault of its level, as is 01 at
 *   level 3;
 * - the output address: descriptor bits 47:g; with the 64K granule and a
 *   52-bit output size (FEAT_LPA, TCR_EL1.IPS = 0b110) bits 51:48 come from
 *   descriptor bits 15:12 (and TTBR bits 5:2 for the base); otherwise an
 *   address at or above the output size (TCR_EL1.IPS capped by the PA
 *   range, and at 48 bits for 4K and 16K without DS) is an Address size
 *   fault of that level (of level 0 for the TTBR's base);
 * - the Contiguous bit (D8.6.1) spans 16 descriptors at every level of the
 *   4K granule, 128 at level 3 and 32 at level 2 of the 16K granule, 32 at
 *   levels 3 and 2 of the 64K granule.
 */
import { Access, Mode } from "../../access.ts";
import { HwFaultKind } from "../../mmu/PagingFormat.ts";
import { esrOf } from "./fault.ts";
import { Desc, DescHi, descFlagNames, leafRights } from "./format.ts";
import { armAllowed } from "./rights.ts";

/** TCR_EL1.TG0's encoding (D17.2.131): 00 4K, 01 64K, 10 16K; the granule's bits, or 0 for the reserved 11. */
export const TG0_BITS = [12, 16, 14, 0] as const;
/** TCR_EL1.TG1's encoding, not TG0's: 01 16K, 10 4K, 11 64K; 0 for the reserved 00. */
export const TG1_BITS = [0, 14, 12, 16] as const;

/** Output address bits for TCR_EL1.IPS and ID_AA64MMFR0_EL1.PARange (0..6; 6 = 52 bits, FEAT_LPA). */
export const PA_SIZE_BITS = [32, 36, 40, 42, 44, 48, 52] as const;

/**
 * Descriptors a contiguous run spans (D8.6.1, the Contiguous bit), by granule
 * bits and Arm level; 0 where the bit is not defined.
 */
export function contiguousSpan(g: number, armLevel: number): number {
  if (g === 12) return armLevel >= 1 ? 16 : 0;
  if (g === 14) return armLevel === 3 ? 128 : armLevel === 2 ? 32 : 0;
  return armLevel >= 2 ? 32 : 0;
}

/** AArch64.BlockDescSupported with TCR_EL1.DS = 0: may a block descriptor sit at this Arm level? */
export function blockSupported(g: number, armLevel: number, paBits: number): boolean {
  if (armLevel === 2) return true;
  if (armLevel !== 1) return false;
  return g === 12 || (g === 16 && paBits === 52);
}

/** The Arm level a walk starts at (AArch64.S1StartLevel), from the input size and the granule. */
export function startLevel(inputBits: number, g: number): number {
  return 4 - Math.floor((inputBits - 4) / (g - 3));
}

/** One range's registers: TTBRn_EL1 and TCR_EL1's fields for it. */
export interface GranuleRange {
  /** granule bits: 12, 14 or 16 */
  g: number;
  /** TxSZ, 16..39 */
  tsz: number;
  epd: boolean;
  tbi: boolean;
  ttbr: bigint;
}

export interface GranuleRegs {
  ranges: [GranuleRange, GranuleRange];
  /** TCR_EL1.IPS, 0..6 */
  ips: number;
  /** ID_AA64MMFR0_EL1.PARange, 0..6 */
  parange: number;
  ha: boolean;
  hd: boolean;
  pan: boolean;
  wxn: boolean;
}

/** One descriptor read. */
export interface GranuleStep {
  armLevel: number;
  index: number;
  entryPa: number;
  hi: number;
  lo: number;
}

export type GranuleWalk =
  | {
      ok: true;
      steps: GranuleStep[];
      pa: number;
      /** the leaf's size in bytes: the granule at level 3, a block's above */
      size: number;
      /** the leaf's Contiguous bit: the descriptors of its run, else 0 */
      contiguous: number;
    }
  | {
      ok: false;
      steps: GranuleStep[];
      kind: HwFaultKind;
      armLevel: number;
      /** ESR_EL1 of the abort */
      esr: number;
    };

const TWO32 = 4294967296;
const TWO48 = 2 ** 48;

/** The effective output size of a range (AArch64.PAMax, TCR_EL1.IPS; 48 bits at most but for 64K). */
export function outputBits(regs: GranuleRegs, g: number): number {
  const bits = PA_SIZE_BITS[Math.min(regs.ips, regs.parange)];
  return g === 16 ? bits : Math.min(bits, 48);
}

/**
 * A stage 1 walk of `va` for `access` by an access made at `el` (`mode`
 * User for EL0 and LDTR/STTR), reading descriptors with `read64`.
 */
export function granuleWalk(
  regs: GranuleRegs,
  read64: (pa: number) => { hi: number; lo: number },
  va: bigint,
  access: Access,
  el: number,
  mode: Mode,
): GranuleWalk {
  const steps: GranuleStep[] = [];
  const fault = (kind: HwFaultKind, armLevel: number): GranuleWalk => ({
    ok: false,
    steps,
    kind,
    armLevel,
    esr: esrOf(kind, armLevel, access, el),
  });
  const r = Number((va >> 55n) & 1n);
  const range = regs.ranges[r];
  const inputBits = 64 - range.tsz;
  // AArch64.S1Translate's range check: VA bits from the top (63, or 55 under TBI for data) down to
  // the input size all equal bit 55; else a Translation fault at level 0
  const top = range.tbi && access !== Access.Exec ? 55 : 63;
  const upper = (va >> BigInt(inputBits)) & ((1n << BigInt(top + 1 - inputBits)) - 1n);
  if (upper !== (r === 1 ? (1n << BigInt(top + 1 - inputBits)) - 1n : 0n))
    return fault(HwFaultKind.Translation, 0);
  if (range.epd) return fault(HwFaultKind.Translation, 0);
  const g = range.g;
  const stride = g - 3;
  const oa = outputBits(regs, g);
  let level = startLevel(inputBits, g);
  // the TTBR's base: BADDR in bits 47:1 (CnP, bit 0, below the alignment), with a 52-bit output
  // BADDR[51:48] in bits 5:2; an address beyond the output size is an Address size fault at level 0
  const ttbrLo = Number(range.ttbr & 0xffffffffn);
  const ttbrHi = Number((range.ttbr >> 32n) & 0xffffn);
  let base = ttbrHi * TWO32 + ttbrLo;
  if (oa <= 48 && base >= 2 ** oa) return fault(HwFaultKind.AddressSize, 0);
  // the initial table holds the input bits above the levels below it, 8 bytes an entry, aligned to its size
  const firstBits = inputBits - g - stride * (3 - level);
  // (at least 64 bytes with a 52-bit output, whose BADDR[51:48] sit in bits 5:2)
  const tableBytes = 2 ** (firstBits + 3);
  base -= base % (oa > 48 ? Math.max(tableBytes, 64) : tableBytes);
  if (oa > 48) base += ((ttbrLo >>> 2) & 15) * TWO48;
  let acc = 0;
  for (;;) {
    const shift = g + stride * (3 - level);
    const bits = level === startLevel(inputBits, g) ? firstBits : stride;
    const index = Number((va >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n));
    const entryPa = base + index * 8;
    const { hi, lo } = read64(entryPa);
    steps.push({ armLevel: level, index, entryPa, hi, lo });
    // invalid, 01 at level 3, or a block where this granule has none: a Translation fault
    if ((lo & Desc.VALID) === 0) return fault(HwFaultKind.Translation, level);
    const tableOrPage = (lo & Desc.TABLE_OR_PAGE) !== 0;
    if (!tableOrPage && (level === 3 || !blockSupported(g, level, PA_SIZE_BITS[regs.parange])))
      return fault(HwFaultKind.Translation, level);
    // the output address: bits 47:g (bits below the granule are not part of it), and bits 51:48
    // from 15:12 with the 64K granule's 52-bit output
    const lowMask = 2 ** g;
    let addr = (hi & DescHi.ADDR_HI_MASK) * TWO32 + (lo >>> 0);
    addr -= addr % lowMask;
    if (oa > 48) addr += ((lo >>> 12) & 15) * TWO48;
    else if (addr >= 2 ** oa) return fault(HwFaultKind.AddressSize, level);
    if (tableOrPage && level < 3) {
      acc |= (hi >>> DescHi.TABLE_CTRL_SHIFT) & 15;
      base = addr;
      level++;
      continue;
    }
    if ((lo & Desc.AF) === 0 && !regs.ha) return fault(HwFaultKind.AccessFlag, level);
    const rights = leafRights(lo, hi, regs.ha && regs.hd, acc);
    if (!armAllowed(rights, mode, access, { pan: regs.pan, wxn: regs.wxn }))
      return fault(HwFaultKind.Permission, level);
    const size = 2 ** (g + stride * (3 - level));
    const cont = (hi & DescHi.CONT) !== 0 ? contiguousSpan(g, level) : 0;
    // a contiguous page is its run's translation (StageOA with the contiguous size): the run's first
    // page's frame plus the VA's offset in the run; a block keeps its own address (image.ts, docs)
    const span = level === 3 && cont !== 0 ? size * cont : size;
    const offset = Number(va % BigInt(span));
    return { ok: true, steps, pa: addr - (addr % span) + offset, size, contiguous: cont };
  }
}

/** A descriptor's flags in Arm's words (format.ts descFlagNames), a block where this granule has none `reserved`. */
export function granuleFlagNames(
  hi: number,
  lo: number,
  armLevel: number,
  g: number,
  paBits: number,
): string[] {
  const block = (lo & Desc.VALID) !== 0 && (lo & Desc.TABLE_OR_PAGE) === 0 && armLevel < 3;
  if (block && !blockSupported(g, armLevel, paBits)) return ["reserved"];
  return descFlagNames(hi, lo, 3 - armLevel);
}

/** Mode of an access as `vmlab walk` gives it: EL0, or LDTR/STTR at EL1, are checked as EL0. */
export function walkMode(el: number, unpriv: boolean): Mode {
  return el === 0 || unpriv ? Mode.User : Mode.Supervisor;
}
