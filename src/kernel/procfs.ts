import { Pte } from "../hw/x86_64/pte.ts";
import type { Kernel } from "./Kernel.ts";
import { PageKind } from "./mm/PageDesc.ts";
import { PTE_PROTNONE, PTE_SPECIAL, UserMm } from "./mm/userMm.ts";
import { permString, VmFlag } from "./mm/vma.ts";
import type { Task } from "./task.ts";

/**
 * /proc/PID/maps (fs/proc/task_mmu.c show_map_vma): start-end, perms,
 * offset (0 for anonymous memory), device, inode, then the name padded
 * to column 73; an unnamed line ends with a space, as Linux's does.
 */
export function procMaps(k: Kernel, t: Task): string[] {
  const mm = t.mm;
  if (!mm) return [];
  return mm.vmas.map((v) => {
    const start = k.va.canonical(v.vmStart).toString(16).padStart(8, "0");
    const end = k.va.canonical(v.vmEnd).toString(16).padStart(8, "0");
    const head = `${start}-${end} ${permString(v.vmFlags)} 00000000 00:00 0 `;
    return v.name ? head.padEnd(73) + v.name : head;
  });
}

/** One page's state in a process, read without side effects. */
export interface PageState {
  /** the PTE exists and is present, or is a PROT_NONE entry */
  present: boolean;
  /** the frame, or -1 */
  pfn: number;
  zeroPage: boolean;
  anon: boolean;
  dirty: boolean;
  writable: boolean;
}

export function pageState(k: Kernel, t: Task, vpn: number): PageState {
  const none = { present: false, pfn: -1, zeroPage: false, anon: false, dirty: false, writable: false };
  if (!t.mm || !t.alive) return none;
  const pte = k.userMm.readPte(t.mm, vpn);
  if (pte === null || !(pte.lo & (Pte.P | PTE_PROTNONE))) return none;
  const pfn = UserMm.ptePfn(pte.hi, pte.lo);
  const zeroPage = (pte.lo & PTE_SPECIAL) !== 0;
  return {
    present: true,
    pfn,
    zeroPage,
    anon: !zeroPage && k.pages.kind[pfn] === PageKind.UserAnon,
    dirty: (pte.lo & Pte.D) !== 0,
    writable: (pte.lo & Pte.RW) !== 0,
  };
}

/** Counts pages of a range (vpn..vpn+n) matching a predicate. */
export function countPages(
  k: Kernel,
  t: Task,
  vpn: number,
  n: number,
  pred: (s: PageState, vpn: number) => boolean,
): number {
  let c = 0;
  for (let v = vpn; v < vpn + n; v++) if (pred(pageState(k, t, v), v)) c++;
  return c;
}

/** Pages of the range inside VM_LOCKED VMAs that are present. */
export function lockedPages(k: Kernel, t: Task, vpn: number, n: number): number {
  return countPages(
    k,
    t,
    vpn,
    n,
    (s, v) => s.present && !!t.mm && ((t.mm.vmaAt(v)?.vmFlags ?? 0) & VmFlag.LOCKED) !== 0,
  );
}
