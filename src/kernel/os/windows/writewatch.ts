/**
 * MEM_WRITE_WATCH, GetWriteWatch and ResetWriteWatch (NtGetWriteWatch,
 * NtResetWriteWatch: WRK mm/wrtwatch.c; the Win32 VirtualAlloc,
 * GetWriteWatch and ResetWriteWatch pages).
 *
 * VirtualAlloc with MEM_WRITE_WATCH "causes the system to track pages
 * that are written to in the allocated region"; "if you specify this
 * value, you must also specify MEM_RESERVE" (allocvm.c: else
 * STATUS_INVALID_PARAMETER_5, 87). The VAD gets a bitmap, a bit a page
 * (MI_PHYSICAL_VIEW.u.BitMap of a VadWriteWatch VAD: Vad.writeWatch).
 * A write is recorded by the hardware's dirty bit in the valid PTE; the
 * bit goes into the bitmap whenever that PTE stops being valid or is
 * remade (MiCaptureWriteWatchDirtyBit: a trim, VirtualProtect; vmlab also
 * on MEM_RESET). GetWriteWatch reports a page written when its bit is set
 * or its valid PTE is dirty, in address order, at most as many as the
 * caller's array holds ("User array isn't big enough to take any more. The
 * API (inherited from Win9x) is defined to return at this point"), and the
 * granularity, the page size. With WRITE_WATCH_FLAG_RESET each reported
 * page's bit is cleared and its valid PTE made clean (the dirty bit first
 * captured into the PFN's Modified, MI_CAPTURE_DIRTY_BIT_TO_PFN), so only
 * later writes are reported; ResetWriteWatch does that to every page of
 * the range.
 *
 * Failures (STATUS_INVALID_PARAMETER_n: 87 ERROR_INVALID_PARAMETER): the
 * address above MM_HIGHEST_VAD_ADDRESS, the range past it, an empty range,
 * an array of 0 entries, and a range not inside one write-watch
 * reservation. The functions return 0 on success and a nonzero UINT on
 * failure (vmlab: 0xFFFFFFFF).
 */
import type { MmStruct } from "../../mm/MmStruct.ts";
import { WinError } from "./commit.ts";
import { markModified, validPte } from "./pages.ts";
import { getPte, pteValid, setPte, type WinProcess } from "./process.ts";
import type { Vad } from "./vad.ts";
import type { WinMm } from "./virtual.ts";

const PAGE = 4096n;

/** The write-watch VAD holding [addr, addr + size), or null with GetLastError 87. */
function watchedRange(
  w: WinMm,
  p: WinProcess,
  addr: bigint,
  size: bigint,
): { vad: Vad; startVpn: number; endVpn: number } | null {
  const vadEnd = BigInt(w.layout.vadEndVpn) * PAGE;
  if (addr >= vadEnd || vadEnd - addr < size || size === 0n) {
    p.lastError = WinError.INVALID_PARAMETER;
    return null;
  }
  const startVpn = Number(addr / PAGE);
  const endVpn = Number((addr + size - 1n) / PAGE);
  const vad = p.vads.locate(startVpn);
  if (vad === null || vad.writeWatch === null || endVpn > vad.endVpn) {
    p.lastError = WinError.INVALID_PARAMETER;
    return null;
  }
  return { vad, startVpn, endVpn };
}

/** Was page vpn written since the last reset? With `reset`, it is not any more. */
function written(w: WinMm, mm: MmStruct, vad: Vad, vpn: number, reset: boolean): boolean {
  const k = w.k;
  const i = vpn - vad.startVpn;
  const bit = vad.writeWatch!.has(i);
  if (bit && reset) vad.writeWatch!.delete(i);
  if (bit && !reset) return true;
  const pte = getPte(k, mm, vpn);
  const dirty = pteValid(k, pte.hi, pte.lo) && k.arch.pgtable.dirty(pte.hi, pte.lo);
  if (dirty && reset) {
    // a clean PTE again, so that the next write sets the dirty bit; the write is the PFN's now
    const pfn = k.arch.pgtable.pfn(pte.hi, pte.lo, 0);
    markModified(w.db, pfn);
    const e = validPte(k, pfn, w.db.originalProtection[pfn], false);
    setPte(k, mm, vpn, e.hi, e.lo);
    k.tlbMgr.flushTlbMmRange(mm, vpn, 1, k.runningCpu);
  }
  return bit || dirty;
}

/**
 * GetWriteWatch(flags, addr, size, array of `max` entries, ...): the
 * addresses of the pages written, or null (failure, GetLastError 87).
 */
export function getWriteWatch(
  w: WinMm,
  p: WinProcess,
  mm: MmStruct,
  addr: bigint,
  size: bigint,
  reset: boolean,
  max: number,
): bigint[] | null {
  if (max <= 0) {
    p.lastError = WinError.INVALID_PARAMETER;
    return null;
  }
  const r = watchedRange(w, p, addr, size);
  if (r === null) return null;
  const out: bigint[] = [];
  for (let vpn = r.startVpn; vpn <= r.endVpn && out.length < max; vpn++)
    if (written(w, mm, r.vad, vpn, reset)) out.push(BigInt(vpn) * PAGE);
  return out;
}

/** ResetWriteWatch: true, or false with GetLastError 87. */
export function resetWriteWatch(w: WinMm, p: WinProcess, mm: MmStruct, addr: bigint, size: bigint): boolean {
  const r = watchedRange(w, p, addr, size);
  if (r === null) return false;
  for (let vpn = r.startVpn; vpn <= r.endVpn; vpn++) written(w, mm, r.vad, vpn, true);
  return true;
}
