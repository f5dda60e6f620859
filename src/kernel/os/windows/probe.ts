/**
 * Kernel access to user buffers the Windows way: a driver or system
 * service wraps ProbeForRead / ProbeForWrite and the copy in
 * `__try { } __except (EXCEPTION_EXECUTE_HANDLER) { }` (learn.microsoft.com
 * "ProbeForRead function (wdm.h)", "ProbeForWrite function (wdm.h)";
 * Windows Internals 7th ed., Part 2, ch. 8 "Exception dispatching"),
 * where Linux checks access_ok and lets the exception table fix up a
 * faulting copy (copy_from_user).
 *
 * - Length 0: no check at all.
 * - The start not aligned to Alignment: STATUS_DATATYPE_MISALIGNMENT.
 * - The range not inside user space (its end above MmUserProbeAddress, or
 *   wrapping): STATUS_ACCESS_VIOLATION.
 * - ProbeForWrite also touches each page for writing (the WRK writes each
 *   page's first byte back), so a read-only page raises there.
 * - The copy then runs in kernel mode on the user pages (the user-access
 *   window open, as the copy routines do under SMAP): a fault MmAccessFault
 *   resolves (demand-zero, soft, hard) is retried; one it cannot raises
 *   the exception, which the __except catches: the status is its code.
 */
import { Access } from "../../../hw/access.ts";
import type { KernelCore } from "../../core/core.ts";
import { STATUS_ACCESS_VIOLATION } from "./fault.ts";

export const STATUS_SUCCESS = 0;
export const STATUS_DATATYPE_MISALIGNMENT = 0x80000002;

/** What the __try block reports. */
export interface ProbeResult {
  /** NTSTATUS: STATUS_SUCCESS or the exception code the __except caught */
  status: number;
  /** which raised it: "probe" (ProbeForRead/Write's own checks), "copy" (a fault during the copy), or "" */
  raisedBy: "probe" | "copy" | "";
  /** bytes copied before an exception (a page at a time) */
  copied: number;
}

/** The __try's state while it runs (WindowsOs.kernelFault consults it). */
export interface Seh {
  code: number;
}

/**
 * `__try { ProbeForRead|ProbeForWrite(va, len, align); copy } __except`
 * on `cpuId`, in the context of the task current there. `seh` is set for
 * its duration; `run` performs one kernel access (false: an exception was
 * caught, its code in seh.code).
 */
export function probeAndCopy(
  k: KernelCore,
  userProbeAddress: bigint,
  cpuId: number,
  va: bigint,
  len: number,
  write: boolean,
  align: number,
  value: number,
  setSeh: (s: Seh | null) => void,
): ProbeResult {
  if (len === 0) return { status: STATUS_SUCCESS, raisedBy: "", copied: 0 };
  if (va % BigInt(align) !== 0n)
    return { status: STATUS_DATATYPE_MISALIGNMENT, raisedBy: "probe", copied: 0 };
  const end = va + BigInt(len);
  if (end > userProbeAddress || end < va)
    return { status: STATUS_ACCESS_VIOLATION, raisedBy: "probe", copied: 0 };
  const seh: Seh = { code: 0 };
  setSeh(seh);
  const cpu = k.machine.cpus[cpuId];
  k.arch.userAccessWindow(cpu, true);
  const pages: bigint[] = [va];
  for (let p = (va / 4096n + 1n) * 4096n; p < end; p += 4096n) pages.push(p);
  let result: ProbeResult = { status: STATUS_SUCCESS, raisedBy: "", copied: len };
  // ProbeForWrite touches every page for writing first; then the copy (one access a page)
  const passes: ["probe" | "copy", Access][] = write
    ? [
        ["probe", Access.Write],
        ["copy", Access.Write],
      ]
    : [["copy", Access.Read]];
  outer: for (const [what, access] of passes) {
    for (const p of pages) {
      const r = k.arch.kernelAccess(k, cpuId, p, access, value);
      if (!r.ok) {
        const copied = what === "copy" ? Number(p - va) : 0;
        result = { status: seh.code || STATUS_ACCESS_VIOLATION, raisedBy: what, copied };
        break outer;
      }
    }
  }
  k.arch.userAccessWindow(cpu, false);
  setSeh(null);
  return result;
}
