/**
 * The Windows user address space on each machine: where user space starts
 * and ends, where system space starts, and the ranges no VAD may cover.
 *
 * Windows Internals 7th ed., Part 1, ch. 5 "Virtual address space layouts":
 * x86 gives user space the low 2 GB (0x00010000-0x7FFEFFFF) and system space
 * the high 2 GB from 0x80000000; with increaseuserva (/3GB in boot.ini) and
 * a large-address-aware image user space grows to 3 GB and system space
 * starts at 0xC0000000. x64 gives user space the low 128 TB, below
 * 0x00007FFF'FFFF0000, and the kernel the high half from 0xFFFF8000'00000000.
 * The first 64 KB and the last 64 KB below the top of user space are never
 * mapped (a no-access region that catches bad pointers). WRK mm/mi.h:
 * MM_LOWEST_USER_ADDRESS (0x10000), MM_HIGHEST_USER_ADDRESS,
 * MM_USER_PROBE_ADDRESS (the top of user space minus 64 KB: ProbeForRead and
 * ProbeForWrite refuse addresses at or above it), MM_HIGHEST_VAD_ADDRESS
 * (MM_HIGHEST_USER_ADDRESS - 64 KB: the page above holds KUSER_SHARED_DATA,
 * 0x7FFE0000 on x86, mapped by the system, never by VirtualAlloc).
 */

/** The allocation granularity (SYSTEM_INFO.dwAllocationGranularity): reservations start on 64 KB. */
export const X64K = 0x10000;
/** Pages in the allocation granularity. */
export const GRANULARITY_PAGES = 16;

export interface WinLayout {
  /** a description for `show layout` and the docs */
  readonly profile: string;
  /** MM_LOWEST_USER_ADDRESS as a vpn: below it nothing is ever mapped (0x10) */
  readonly lowestUserVpn: number;
  /** MM_HIGHEST_VAD_ADDRESS + 1, as a vpn: no VAD reaches it */
  readonly vadEndVpn: number;
  /** MM_HIGHEST_USER_ADDRESS (inclusive, bytes) */
  readonly highestUserAddress: bigint;
  /** MM_USER_PROBE_ADDRESS: the first byte of the no-access 64 KB at the top of user space */
  readonly userProbeAddress: bigint;
  /** MmSystemRangeStart: the kernel's first address */
  readonly systemRangeStart: bigint;
  /** a 64-bit Windows (x64): the WRK's `_WIN64` code paths */
  readonly win64: boolean;
}

/** The layout for `arch` (x86_64, i386, i386-pae) and `split` (32-bit only). */
export function winLayout(arch: string, split: "2G" | "3G"): WinLayout {
  if (arch === "x86_64") {
    const highest = 0x7fff_fffe_ffffn;
    return {
      profile: "windows x64 (128 TB user, kernel half from 0xFFFF800000000000)",
      lowestUserVpn: X64K / 4096,
      vadEndVpn: Number((highest + 1n - BigInt(X64K)) / 4096n),
      highestUserAddress: highest,
      userProbeAddress: highest + 1n,
      systemRangeStart: 0xffff_8000_0000_0000n,
      win64: true,
    };
  }
  const top = split === "3G" ? 0xc000_0000n : 0x8000_0000n;
  const highest = top - BigInt(X64K) - 1n;
  return {
    profile: `windows x86 ${arch === "i386-pae" ? "PAE " : ""}(${split === "3G" ? "3G/1G: /3GB, increaseuserva" : "2G/2G"}, system space from 0x${top.toString(16)})`,
    lowestUserVpn: X64K / 4096,
    vadEndVpn: Number((highest + 1n - BigInt(X64K)) / 4096n),
    highestUserAddress: highest,
    userProbeAddress: highest + 1n,
    systemRangeStart: top,
    win64: false,
  };
}
