import { type Vpn, vpnUnchecked } from "../../base/units.ts";

/**
 * Kernel-side virtual addresses of a sign-extended N-bit address space
 * (x86-64: 48 or 57 bits; RISC-V Sv39/48/57 alike): canonical 64-bit values
 * as unsigned bigints at the API surface (0xffff888000000000, as Linux
 * prints them), 4K page numbers of the truncated address (vpn: numbers,
 * exact) inside. See docs/decisions/0001-64-bit-words.md.
 */
export class Vaddr {
  private readonly bits: bigint;
  private readonly mask: bigint;
  /** vpns at or above this have bit N-1 set (sign-extended into the kernel half) */
  private readonly signVpn: number;
  /** vpns below this fit the N bits */
  private readonly vpnSpan: number;
  /** the high word's bits above N-1, set by the sign extension */
  private readonly hiExt: number;
  /** the high word's bits below N (vpnOf's mask) */
  private readonly hiKeep: number;

  constructor(readonly vaBits: number) {
    this.bits = BigInt(vaBits);
    this.mask = (1n << this.bits) - 1n;
    this.signVpn = 2 ** (vaBits - 13);
    this.vpnSpan = 2 ** (vaBits - 12);
    this.hiExt = vaBits > 32 ? ~(2 ** (vaBits - 32) - 1) >>> 0 : 0;
    this.hiKeep = vaBits > 32 ? 2 ** (vaBits - 32) - 1 : 0;
  }

  /**
   * The high 32 bits of canonical(vpn) (unsigned), without a bigint: for
   * the hot loops that hand an address to the CPU as halves (INVLPG per
   * page of a flush). canonicalLo gives the low 32 bits.
   */
  canonicalHi(vpn: number): number {
    if (!(vpn >= 0 && vpn < this.vpnSpan)) return Number(BigInt.asUintN(64, this.canonical(vpn)) >> 32n);
    const hi = Math.floor(vpn / 1048576);
    return vpn >= this.signVpn ? (hi | this.hiExt) >>> 0 : hi;
  }

  /** The low 32 bits of canonical(vpn) (unsigned). */
  canonicalLo(vpn: number): number {
    return ((vpn - Math.floor(vpn / 1048576) * 1048576) * 4096) >>> 0;
  }

  /** Is the 64-bit value canonical (bits 63..N-1 all equal)? */
  isCanonical(va: bigint): boolean {
    const top = BigInt.asUintN(64, va) >> (this.bits - 1n);
    return top === 0n || top === (1n << (65n - this.bits)) - 1n;
  }

  /** vpn of a canonical address (its low N bits >> 12). */
  vpn(va: bigint): Vpn {
    // below 2^(N-12): masked to N bits
    return vpnUnchecked(Number((BigInt.asUintN(64, va) & this.mask) >> 12n));
  }

  /** vpn(va) of an address given as halves, without a bigint (the user-access loop's). */
  vpnOf(vaHi: number, vaLo: number): Vpn {
    return vpnUnchecked((vaHi & this.hiKeep) * 1048576 + (vaLo >>> 12));
  }

  /** Offset in the 4K page. */
  offset(va: bigint): number {
    return Number(BigInt.asUintN(64, va) & 0xfffn);
  }

  /** The canonical address of a vpn (sign-extended from bit N-1) plus an offset, as an unsigned 64-bit value. */
  canonical(vpn: number, offset = 0): bigint {
    return BigInt.asUintN(64, BigInt.asIntN(Number(this.bits), (BigInt(vpn) << 12n) | BigInt(offset)));
  }

  /**
   * The address of a user-half vpn, or of the end of a user range, as is:
   * no sign extension, so the end of the user half (arm64: TASK_SIZE_64 =
   * 2^48, the end of the top VMA and STACK_TOP) stays a user value.
   */
  user(vpn: number, offset = 0): bigint {
    return (BigInt(vpn) << 12n) | BigInt(offset);
  }

  /** Is this a kernel-half address (bit 63 set)? */
  isKernel(va: bigint): boolean {
    return BigInt.asUintN(64, va) >> 63n === 1n;
  }

  /** isKernel(va) of an address given as halves, without a bigint (a user fault's). */
  isKernelOf(vaHi: number, _vaLo: number): boolean {
    return vaHi >>> 31 === 1;
  }

  /** The address ranges that translate at all, [start, end): the two canonical halves. */
  ranges(): [bigint, bigint][] {
    const half = 1n << (this.bits - 1n);
    const top = 1n << 64n;
    return [
      [0n, half],
      [top - half, top],
    ];
  }

  /** As an unsigned 64-bit value (how addresses are printed). */
  unsigned(va: bigint): bigint {
    return BigInt.asUintN(64, va);
  }
}

/** `%px`-style: 16 hex digits, unsigned. */
export function px(va: bigint): string {
  return BigInt.asUintN(64, va).toString(16).padStart(16, "0");
}

/**
 * A flat 32-bit address space split at PAGE_OFFSET (32-bit x86's 3G/1G:
 * user below 0xC0000000, the kernel above): no sign extension, every
 * address below 2^32 is valid, and one above cannot be formed (the CPU's
 * #GP), so it is not "canonical" here.
 */
export class Vaddr32 extends Vaddr {
  constructor(
    /** PAGE_OFFSET: the first kernel address */
    readonly pageOffset: bigint,
  ) {
    super(32);
    this.pageOffsetLo = Number(pageOffset);
  }

  /** pageOffset as a number (below 2^32) */
  private readonly pageOffsetLo: number;

  override isCanonical(va: bigint): boolean {
    return va >= 0n && va < 0x1_0000_0000n;
  }

  override vpn(va: bigint): Vpn {
    return vpnUnchecked(Number((BigInt.asUintN(64, va) & 0xffff_ffffn) >> 12n));
  }

  override canonical(vpn: number, offset = 0): bigint {
    return BigInt(vpn * 4096 + offset);
  }

  override canonicalHi(vpn: number): number {
    return Math.floor((vpn * 4096) / 2 ** 32);
  }

  override isKernel(va: bigint): boolean {
    return BigInt.asUintN(64, va) >= this.pageOffset && va < 0x1_0000_0000n;
  }

  override isKernelOf(vaHi: number, vaLo: number): boolean {
    return vaHi === 0 && vaLo >= this.pageOffsetLo;
  }

  override ranges(): [bigint, bigint][] {
    return [[0n, 0x1_0000_0000n]];
  }
}
