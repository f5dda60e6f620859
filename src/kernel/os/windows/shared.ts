/**
 * KUSER_SHARED_DATA: one page the kernel writes (the tick count, the system
 * time, the processor features, the NT version) and every process reads
 * without a system call (Windows Internals 7th ed., Part 1, ch. 5 "x86
 * address space layouts", "x64 address space layouts"; WRK
 * public/sdk/inc/ntxxx.h KI_USER_SHARED_DATA, MM_SHARED_USER_DATA_VA).
 *
 * One frame, mapped twice: at 0x7FFE0000 in every process, read-only and
 * user (MM_SHARED_USER_DATA_VA, the same address on x86 and x64), and in
 * system space at KI_USER_SHARED_DATA, writable and supervisor-only:
 * 0xFFDF0000 on x86, 0xFFFFF780'00000000 on x64. The user page has no VAD
 * here (Windows 8 and later give it one, MiInsertSharedUserPageVad); on
 * x64, where 0x7FFE0000 lies inside the range VADs may cover, VirtualAlloc
 * refuses a range that includes it, as that VAD would (virtual.ts).
 */
import { assert } from "../../../base/assert.ts";
import { pfnUnchecked, vpnUnchecked } from "../../../base/units.ts";
import type { KernelCore } from "../../core/core.ts";
import { Gfp } from "../../mm/gfp.ts";
import type { MmStruct } from "../../mm/MmStruct.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { getPte, setPte } from "./process.ts";

/** MM_SHARED_USER_DATA_VA (x86 and x64). */
export const SHARED_USER_DATA_VA = 0x7ffe_0000n;
export const SHARED_USER_DATA_VPN = 0x7ffe0;
/** KI_USER_SHARED_DATA: the kernel's writable alias. */
export const KI_USER_SHARED_DATA_X86 = 0xffdf_0000n;
export const KI_USER_SHARED_DATA_X64 = 0xffff_f780_0000_0000n;

/** The page and where the kernel maps it. */
export interface SharedUserData {
  readonly pfn: number;
  /** KI_USER_SHARED_DATA */
  readonly kernelVa: bigint;
}

/**
 * At boot (MmInitSystem): a zeroed frame, mapped writable in system space
 * (supervisor, global, no execute). The kernel writes NtMajorVersion
 * (offset 0x26C) and NtMinorVersion (0x270) there: 10 and 0, as Windows 10 does.
 */
export function createSharedUserData(k: KernelCore): SharedUserData {
  const pt = k.arch.pgtable;
  const x64 = pt.levels >= 4;
  const kernelVa = x64 ? KI_USER_SHARED_DATA_X64 : KI_USER_SHARED_DATA_X86;
  const pfn = k.buddy.alloc(0, Gfp.KERNEL, PageKind.KernelPages);
  assert(pfn >= 0, "KUSER_SHARED_DATA: no frame at boot");
  k.machine.phys.zeroFrame(pfnUnchecked(pfn));
  k.pages.refcount[pfn] = 1;
  const vpn = x64 ? (k.va.vpn(kernelVa) as unknown as number) : Number(kernelVa / 4096n);
  assert(
    k.mapper.lookup(k.rootPfn, vpnUnchecked(vpn)) === null,
    "KUSER_SHARED_DATA: the kernel already maps its address",
  );
  const r = k.mapper.map(k.rootPfn, vpnUnchecked(vpn), pfnUnchecked(pfn), 0, {
    writable: true,
    nx: pt.entryBytes === 8,
    global: true,
    accessed: true,
    dirty: true,
  });
  assert(r.ok, "KUSER_SHARED_DATA: the kernel's tables refused the page");
  const phys = k.machine.phys;
  phys.write32(pfn * 4096 + 0x26c, 10);
  phys.write32(pfn * 4096 + 0x270, 0);
  return { pfn, kernelVa };
}

/** A new process gets the page at 0x7FFE0000, read-only and user (MmCreateProcessAddressSpace). */
export function mapSharedUserData(k: KernelCore, sud: SharedUserData, mm: MmStruct): boolean {
  const e = k.arch.pgtable.mkUser(sud.pfn, 0, 1 /* VM_READ */, false, false, false);
  if (!setPte(k, mm, SHARED_USER_DATA_VPN, e.hi, e.lo)) return false;
  k.pages.mapcount[sud.pfn]++;
  k.pages.refcount[sud.pfn]++;
  return true;
}

/** Process rundown: the page's user mapping goes (the frame stays: the kernel's). */
export function unmapSharedUserData(k: KernelCore, sud: SharedUserData, mm: MmStruct): void {
  const pte = getPte(k, mm, SHARED_USER_DATA_VPN);
  if (pte.pa < 0 || !k.arch.pgtable.accessible(pte.hi, pte.lo)) return;
  k.arch.pgtable.set(k.machine.phys, pte.pa, 0, 0);
  k.pages.mapcount[sud.pfn]--;
  k.pages.refcount[sud.pfn]--;
  k.tlbMgr.flushTlbMmRange(mm, SHARED_USER_DATA_VPN, 1, k.runningCpu);
}
