/**
 * Units in the type: page frame numbers, virtual page numbers and physical
 * addresses are numbers that say what they count (the x86_64 crate's
 * `PhysFrame`, `Page` and `PhysAddr`, style brief §1 and §10.1).
 *
 * A brand is a type-only tag (`number & { __brand }`): at run time a `Pfn`
 * is the plain number it was, so branded values cost nothing on the hot
 * path. A plain `number` is not a `Pfn`; a `Pfn` is still a number (it can
 * be printed, compared, used as an index). A value gets its unit only
 * through the converters below, named by policy as the x86_64 crate names
 * its constructors:
 *
 * - `toPfn(n)`, `toVpn(n)`, `toPhysAddr(n)`: checked; a value that is not an
 *   integer in range is a broken model invariant and throws `ModelBug`
 *   (the crate's `new`, which panics);
 * - `tryPfn(n)`, `tryVpn(n)`, `tryPhysAddr(n)`: checked, `null` when out of
 *   range (the crate's `try_new`): for values that come from input, whose
 *   caller reports an `InputError`;
 * - `pfnUnchecked(n)`, `vpnUnchecked(n)`, `physAddrUnchecked(n)`: a plain
 *   cast (the crate's `new_unchecked`), for values made by the model's own
 *   arithmetic on trusted values. Inside a hot loop (Mmu.translate, the
 *   walk, PhysMem's word access) the same cast is written inline as
 *   `x as Pfn`, with a comment: V8 inlines a small imported helper but
 *   still checks, on every call, that the function is the one it inlined
 *   (up to 15% of a per-record loop, measured in workloads/trace/record.ts).
 *   The checked, try and unchecked names are this policy; `toPfn` rather
 *   than `pfn` because `pfn` and `vpn` are everywhere as variable names.
 *
 * Arithmetic that keeps the unit (`pfnToPa`, `paToPfn`, `pfnAdd`, `vpnAdd`,
 * `paAdd`, `vaToVpn`) does not check: its caller keeps the result in range,
 * as it would with the plain numbers (wrap the result in `toPfn(...)` to
 * check).
 *
 * Ranges (docs/decisions/0001-64-bit-words.md): physical addresses are below
 * 2^52 (the architectural limit of x86-64, ARM64 with 52-bit PAs, RISC-V
 * Sv57), frames of 4 KiB below 2^40, and page numbers below 2^45 (57-bit
 * linear addresses with LA57, less the 12 offset bits). All are exact in a
 * double. A frame or page number counts the machine's base pages: 4 KiB on
 * every architecture vmlab models except the teaching machine's 32-byte
 * pages; the helpers that convert between frames and addresses are the
 * 4 KiB ones (PhysMem's frames).
 */
import { ModelBug } from "./assert.ts";

/** A physical frame number (PhysMem's 4 KiB frames; the teaching machine's 32-byte frames in its MMU): an integer 0 .. 2^40-1. */
export type Pfn = number & { readonly __brand: "Pfn" };
/** A virtual page number in base pages (a linear address's bits N-1..12, sign extension dropped): an integer 0 .. 2^45-1. */
export type Vpn = number & { readonly __brand: "Vpn" };
/** A physical address in bytes: an integer 0 .. 2^52-1. */
export type PhysAddr = number & { readonly __brand: "PhysAddr" };

/** Frames of 4 KiB below 2^52: every pfn is smaller. */
export const PFN_LIMIT = 2 ** 40;
/** Base pages below 2^57 (LA57): every vpn is smaller. */
export const VPN_LIMIT = 2 ** 45;
/** The 52-bit physical address space: every physical address is smaller. */
export const PHYS_ADDR_LIMIT = 2 ** 52;

/** Bytes per frame for the frame/address helpers (PhysMem's PAGE_SIZE; base cannot import hw). */
const FRAME_BYTES = 4096;

function inRange(n: number, limit: number): boolean {
  return Number.isInteger(n) && n >= 0 && n < limit;
}

// ---- Pfn ----

/** `n` as a frame number; throws ModelBug unless it is an integer 0 .. 2^40-1. */
export function toPfn(n: number): Pfn {
  if (!inRange(n, PFN_LIMIT))
    throw new ModelBug(`toPfn: ${n} is not a frame number (an integer 0 .. 2^40-1)`);
  return n as Pfn;
}

/** `n` as a frame number, or null unless it is an integer 0 .. 2^40-1. */
export function tryPfn(n: number): Pfn | null {
  return inRange(n, PFN_LIMIT) ? (n as Pfn) : null;
}

/** `n` as a frame number, unchecked: the caller's arithmetic guarantees the range. */
export function pfnUnchecked(n: number): Pfn {
  return n as Pfn;
}

// ---- Vpn ----

/** `n` as a virtual page number; throws ModelBug unless it is an integer 0 .. 2^45-1. */
export function toVpn(n: number): Vpn {
  if (!inRange(n, VPN_LIMIT)) throw new ModelBug(`toVpn: ${n} is not a page number (an integer 0 .. 2^45-1)`);
  return n as Vpn;
}

/** `n` as a virtual page number, or null unless it is an integer 0 .. 2^45-1. */
export function tryVpn(n: number): Vpn | null {
  return inRange(n, VPN_LIMIT) ? (n as Vpn) : null;
}

/** `n` as a virtual page number, unchecked: the caller's arithmetic guarantees the range. */
export function vpnUnchecked(n: number): Vpn {
  return n as Vpn;
}

// ---- PhysAddr ----

/** `n` as a physical address; throws ModelBug unless it is an integer 0 .. 2^52-1. */
export function toPhysAddr(n: number): PhysAddr {
  if (!inRange(n, PHYS_ADDR_LIMIT))
    throw new ModelBug(`toPhysAddr: ${n} is not a physical address (an integer 0 .. 2^52-1)`);
  return n as PhysAddr;
}

/** `n` as a physical address, or null unless it is an integer 0 .. 2^52-1. */
export function tryPhysAddr(n: number): PhysAddr | null {
  return inRange(n, PHYS_ADDR_LIMIT) ? (n as PhysAddr) : null;
}

/** `n` as a physical address, unchecked: the caller's arithmetic guarantees the range. */
export function physAddrUnchecked(n: number): PhysAddr {
  return n as PhysAddr;
}

// ---- arithmetic that keeps the unit (unchecked: see the file comment) ----

/** The physical address of a 4 KiB frame (`pfn * 4096`, never `pfn << 12`: pfn may exceed 32 bits). */
export function pfnToPa(p: Pfn): PhysAddr {
  return (p * FRAME_BYTES) as PhysAddr;
}

/** The 4 KiB frame holding a physical address. */
export function paToPfn(pa: PhysAddr): Pfn {
  return Math.floor(pa / FRAME_BYTES) as Pfn;
}

/** The offset of a physical address in its 4 KiB frame, 0 .. 4095. */
export function paOffset(pa: PhysAddr): number {
  return pa - Math.floor(pa / FRAME_BYTES) * FRAME_BYTES;
}

/** The frame `n` frames after `p` (n may be negative). */
export function pfnAdd(p: Pfn, n: number): Pfn {
  return (p + n) as Pfn;
}

/** The page `n` pages after `v` (n may be negative). */
export function vpnAdd(v: Vpn, n: number): Vpn {
  return (v + n) as Vpn;
}

/** The physical address `bytes` after `pa` (bytes may be negative). */
export function paAdd(pa: PhysAddr, bytes: number): PhysAddr {
  return (pa + bytes) as PhysAddr;
}

/**
 * The 4 KiB page number of a linear address given as halves: its bits
 * vaBits-1..12, the sign extension above dropped (vaBits 48, or 57 with
 * LA57; docs/decisions/0001-64-bit-words.md §2). No canonical check: the
 * MMU makes that one.
 */
export function vaToVpn(vaHi: number, vaLo: number, vaBits: 48 | 57 = 48): Vpn {
  return ((vaHi & (vaBits === 57 ? 0x1ffffff : 0xffff)) * 1048576 + (vaLo >>> 12)) as Vpn;
}
