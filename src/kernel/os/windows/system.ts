/**
 * System space at 0x80000000 on x86 with the 2G/2G split. The kernel's own
 * tables are built where the 32-bit kernel puts them (from 0xC0000000); in
 * the 2 GB split Windows' system space begins at 0x80000000, and its first
 * part is the large-page region where the boot loader put NTOSKRNL, the HAL
 * and the boot drivers, over the first physical memory (Windows Internals
 * 5th ed., ch. 9 "x86 System Address Space Layout": 0x80000000-0x9FFFFFFF,
 * system code and the initial nonpaged pool, mapped with large pages).
 *
 * The profile maps that region at boot in the kernel's page directory
 * (supervisor, global: U/S clear, so user mode is refused on a walk and on
 * a TLB hit alike) and copies its directory entries into every process's
 * page directory at creation (MmCreateProcessAddressSpace copies the system
 * PDEs), and takes them out again before the page tables are freed.
 */
import { assert } from "../../../base/assert.ts";
import { vpnUnchecked } from "../../../base/units.ts";
import type { KernelCore } from "../../core/core.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import type { WinLayout } from "./layout.ts";

/** The region's size: 512 MB, or less on a smaller machine (whole large pages). */
const SYSTEM_CODE_BYTES = 512 << 20;

export interface SystemAlias {
  readonly startVpn: number;
  readonly endVpn: number;
  /** pages per large page (1024 on 32-bit paging, 512 with PAE) */
  readonly large: number;
}

/** Maps the region in the kernel's tables; null where the kernel's mappings already start at system space. */
export function mapSystemSpace(k: KernelCore, layout: WinLayout): SystemAlias | null {
  const start = Number(layout.systemRangeStart / 4096n);
  const kernelStart = Number(k.layout.directMap / 4096n);
  if (k.arch.pgtable.entryBytes === 8 && k.arch.pgtable.levels === 4) return null; // x64: the kernel half is already the kernel's
  if (start >= kernelStart) return null;
  const large = k.arch.pgtable.hpagePmdNr;
  const pages = Math.min(SYSTEM_CODE_BYTES, k.machine.phys.sizeBytes) / 4096;
  const n = pages - (pages % large);
  for (let i = 0; i < n; i += large) {
    const r = k.mapper.map(k.rootPfn, vpnUnchecked(start + i), i as never, 1, {
      writable: true,
      nx: false,
      global: true,
      accessed: true,
      dirty: true,
    });
    assert(r.ok, "mapSystemSpace: the kernel's tables refused a large page");
  }
  return { startVpn: start, endVpn: start + n, large };
}

/** Copies the region's directory entries from the kernel's tables into a new process's. */
export function copySystemPdes(k: KernelCore, alias: SystemAlias, mm: MmStruct): void {
  const pt = k.arch.pgtable;
  const phys = k.machine.phys;
  for (let vpn = alias.startVpn; vpn < alias.endVpn; vpn += alias.large) {
    const from = k.mapper.entryAt(k.rootPfn, vpnUnchecked(vpn), 1)!;
    const to = k.userMm.mapper(mm).entryAt(mm.pgdPfn, vpnUnchecked(vpn), 1)!;
    pt.set(phys, to.entryPa, from.hi, from.lo);
  }
}

/** Clears them (process rundown: before the page tables below the page directory are freed). */
export function clearSystemPdes(k: KernelCore, alias: SystemAlias, mm: MmStruct): void {
  const pt = k.arch.pgtable;
  for (let vpn = alias.startVpn; vpn < alias.endVpn; vpn += alias.large) {
    const to = k.userMm.mapper(mm).entryAt(mm.pgdPfn, vpnUnchecked(vpn), 1);
    if (to !== null) pt.set(k.machine.phys, to.entryPa, 0, 0);
  }
}
