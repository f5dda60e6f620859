/**
 * Tasks and their address spaces as data (view/types.ts): task_struct,
 * mm_struct, the VMAs, one page's state, and the per-VMA figures of
 * /proc/PID/smaps. Read without side effects: software walks only, no
 * accessed or dirty bit set, nothing allocated.
 */
import { vpnUnchecked } from "../../base/units.ts";
import type { KernelCore } from "../core/core.ts";
import { taskPkru } from "../core/pkeys.ts";
import { cpuOf } from "../core/sched.ts";
import type { Task } from "../core/task.ts";
import { frameHstate } from "../mm/hugetlb_vma.ts";
import type { MmStruct } from "../mm/MmStruct.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { shmemHugeGlobalEnabled, shmemObjHugeAllowed, shmemVmaSuitable } from "../mm/shmem_huge.ts";
import { permString, thpVmFlags, type Vma, VmFlag, vmaDroppable, vmaPkey } from "../mm/vma.ts";
import type { MmInfo, PageInfo, SmapsInfo, TaskInfo, VmaInfo } from "./types.ts";

/**
 * VM_* flags: Linux's names, and the mnemonics of smaps' VmFlags line in
 * its order, that of the bits (fs/proc/task_mmu.c show_smap_vma_flags).
 * VM_SOFTDIRTY (bit 27, "sd") is not here: see softDirtyVmas.
 */
const VM_FLAGS: [number, string, string][] = [
  [VmFlag.READ, "VM_READ", "rd"],
  [VmFlag.WRITE, "VM_WRITE", "wr"],
  [VmFlag.EXEC, "VM_EXEC", "ex"],
  [VmFlag.SHARED, "VM_SHARED", "sh"],
  [VmFlag.MAYREAD, "VM_MAYREAD", "mr"],
  [VmFlag.MAYWRITE, "VM_MAYWRITE", "mw"],
  [VmFlag.MAYEXEC, "VM_MAYEXEC", "me"],
  [VmFlag.MAYSHARE, "VM_MAYSHARE", "ms"],
  [VmFlag.GROWSDOWN, "VM_GROWSDOWN", "gd"],
  [VmFlag.PFNMAP, "VM_PFNMAP", "pf"],
  [VmFlag.MAYBE_GUARD, "VM_MAYBE_GUARD", "gu"],
  [VmFlag.LOCKED, "VM_LOCKED", "lo"],
  [VmFlag.IO, "VM_IO", "io"],
  [VmFlag.SEQ_READ, "VM_SEQ_READ", "sr"],
  [VmFlag.RAND_READ, "VM_RAND_READ", "rr"],
  [VmFlag.DONTCOPY, "VM_DONTCOPY", "dc"],
  [VmFlag.DONTEXPAND, "VM_DONTEXPAND", "de"],
  [VmFlag.LOCKONFAULT, "VM_LOCKONFAULT", "lf"],
  [VmFlag.ACCOUNT, "VM_ACCOUNT", "ac"],
  [VmFlag.NORESERVE, "VM_NORESERVE", "nr"],
  [VmFlag.HUGETLB, "VM_HUGETLB", "ht"],
  [VmFlag.WIPEONFORK, "VM_WIPEONFORK", "wf"],
  [VmFlag.DONTDUMP, "VM_DONTDUMP", "dd"],
  [VmFlag.HUGEPAGE, "VM_HUGEPAGE", "hg"],
  [VmFlag.NOHUGEPAGE, "VM_NOHUGEPAGE", "nh"],
  [VmFlag.MERGEABLE, "VM_MERGEABLE", "mg"],
];

/**
 * Whether every VMA carries VM_SOFTDIRTY: on x86 (HAVE_ARCH_SOFT_DIRTY,
 * with CONFIG_MEM_SOFT_DIRTY as distributions build it) mmap sets it on
 * every new or merged VMA (__mmap_complete) and only clear_refs' "4"
 * clears it, which vmlab does not have. /proc/PID/pagemap's bit 55
 * (view/crash.ts) and smaps' "sd" both follow from it.
 */
export function softDirtyVmas(k: KernelCore): boolean {
  return k.arch.name.startsWith("x86_64");
}

/**
 * smaps' VmFlags mnemonics of a VMA's flags, with "sd" after "dd" where VMAs are soft-dirty, and
 * "sl" last for VM_SEALED (bit 63; Vma.sealed).
 */
function mnemonics(k: KernelCore, flags: number, sealed = false): string[] {
  const out: string[] = [];
  for (const [f, , m] of VM_FLAGS) {
    if (m === "hg" && softDirtyVmas(k)) out.push("sd");
    if (flags & f) out.push(m);
  }
  if (vmaDroppable(flags)) out.push("dp"); // bit 40: after the bits above, before VM_SEALED's
  if (sealed) out.push("sl");
  return out;
}

// ---- tasks ----

/** active_mm: the task's own mm, else (a kernel thread current on a CPU) the mm that CPU has loaded. */
function activeMm(k: KernelCore, t: Task): number | null {
  if (t.mm !== null) return t.alive ? t.mm.ctxId : null;
  const cpu = cpuOf(k, t);
  if (cpu < 0) return null;
  return k.tlbMgr.states[cpu].loadedMm?.ctxId ?? null;
}

export function taskInfo(k: KernelCore, t: Task): TaskInfo {
  return {
    pid: t.pid,
    ppid: t.ppid,
    comm: t.comm,
    kthread: t.kthread,
    alive: t.alive,
    exitReason: t.exitReason,
    uid: t.uid,
    cpu: cpuOf(k, t),
    hasMm: t.mm !== null,
    mmId: t.mm === null ? null : t.mm.ctxId,
    activeMmId: activeMm(k, t),
    state: !t.alive ? "X" : t.comm.startsWith("swapper/") && t.pid === 0 ? "I" : cpuOf(k, t) >= 0 ? "R" : "S",
    minFlt: t.minFlt,
    majFlt: t.majFlt,
    signal: t.signal,
    siCode: t.siCode,
    siAddr: t.siAddr,
    siPkey: t.siPkey,
    pkru: taskPkru(k, t),
    caught: [...t.caught],
    rlimitStack: t.rlimitStack,
    oomKilled: t.oomKilled,
    pagefaultDisabled: t.pagefaultDisabled,
  };
}

// ---- mm_struct ----

/**
 * A task's address space, or null for a kernel thread. A dead task's is
 * what exit left of it (no VMAs, no page tables): read `TaskInfo.alive`.
 */
export function mmInfo(k: KernelCore, t: Task): MmInfo | null {
  const mm = t.mm;
  if (mm === null) return null;
  const page = (vpn: number) => k.va.user(vpn);
  return {
    id: mm.ctxId,
    pgdPfn: mm.pgdPfn,
    userPgdPfn: mm.pgdPfn < 0 ? -1 : k.arch.pgtable.userPgd(mm.pgdPfn),
    mapCount: mm.vmas.length,
    totalVm: mm.totalVm(),
    defFlags: mm.defFlags,
    rssAnon: mm.rssAnon,
    forkCopied: mm.forkCopied,
    rssFile: mm.rssFile,
    rssShmem: mm.rssShmem,
    rss: mm.rss,
    swapEntries: mm.swapEnts,
    ptPages: mm.ptPages,
    committed: mm.committed,
    users: mm.users,
    cpus: [...mm.cpumask].sort((a, b) => a - b),
    startBrk: page(mm.startBrk),
    brk: BigInt(mm.brkBytes),
    stackTop: page(mm.stackTop),
    mmapBase: page(mm.mmapBase),
  };
}

// ---- VMAs ----

export function vmaInfo(k: KernelCore, v: Vma): VmaInfo {
  const f = v.file;
  const pfnmap = (v.vmFlags & VmFlag.PFNMAP) !== 0;
  return {
    start: k.va.user(v.vmStart),
    end: k.va.user(v.vmEnd),
    startVpn: v.vmStart,
    endVpn: v.vmEnd,
    pages: v.pages,
    flags: v.vmFlags,
    flagNames: VM_FLAGS.filter(([flag]) => v.vmFlags & flag)
      .map(([, name]) => name)
      .concat(vmaDroppable(v.vmFlags) ? ["VM_DROPPABLE"] : []),
    perms: permString(v.vmFlags),
    name: v.name,
    file: f === null ? null : { name: f.name, path: f.path, fs: f.fs, ino: f.ino },
    pgoff: v.vmPgoff,
    anon: f === null && v.shmem === null && !pfnmap,
    shmem: v.shmem !== null,
    pfnmap,
    ...(v.htlb !== null ? { hugetlbIno: v.htlb.file.ino } : {}),
  };
}

/** A task's VMAs in address order (none for a kernel thread). */
export function vmaInfos(k: KernelCore, t: Task): VmaInfo[] {
  return t.mm === null ? [] : t.mm.vmas.map((v) => vmaInfo(k, v));
}

// ---- pages ----

/** One page's state in a process (the subset procfs and the kernel's tests read). */
export interface PageState {
  /** the PTE exists and is present, or is a PROT_NONE entry */
  present: boolean;
  /** mapped by a huge PMD (a transparent huge page, or the huge zero page) */
  huge: boolean;
  /** the frame, or -1 */
  pfn: number;
  zeroPage: boolean;
  anon: boolean;
  dirty: boolean;
  writable: boolean;
  /** the PTE is a swap entry: its slot, else -1 */
  swapSlot: number;
}

/** A page's full state (PageInfo): its leaf entry decoded, the frame's struct page, its VMA's lock. */
export function pageInfo(k: KernelCore, t: Task, vpn: number): PageInfo {
  const info: PageInfo = {
    vpn,
    present: false,
    huge: false,
    pfn: -1,
    zeroPage: false,
    anon: false,
    dirty: false,
    writable: false,
    young: false,
    protnone: false,
    swapSlot: -1,
    guard: false,
    inLockedVma: false,
    lazyfree: false,
    swapCache: false,
    mapcount: -1,
  };
  const mm = t.mm;
  if (mm === null || !t.alive) return info;
  info.inLockedVma = ((mm.vmaAt(vpn)?.vmFlags ?? 0) & VmFlag.LOCKED) !== 0;
  const pt = k.arch.pgtable;
  const pte = k.userMm.leafFor(mm, vpnUnchecked(vpn));
  if (pte === null) return info;
  const { hi, lo } = pte;
  if (!pt.present(hi, lo)) {
    if (pte.level === 0 && pt.isSwap(hi, lo)) {
      info.swapSlot = pt.swapOffset(hi, lo);
      info.swapCache = k.swap?.cache.has(info.swapSlot) ?? false;
    } else if (pte.level === 0) info.guard = pt.isGuard(hi, lo);
    return info;
  }
  const pfn = pte.pfn;
  const special = pt.special(hi, lo);
  info.present = true;
  info.huge = pte.level >= pt.pmdLevel;
  info.pfn = pfn;
  info.zeroPage = special;
  info.anon = !special && k.pages.kind[pfn] === PageKind.UserAnon;
  info.dirty = pt.dirty(hi, lo);
  info.writable = pt.write(hi, lo);
  info.young = pt.young(hi, lo);
  info.protnone = pt.protnone(hi, lo);
  info.lazyfree = !special && (k.pages.flags[pfn] & PageFlag.Lazyfree) !== 0;
  info.swapCache = !special && (k.swap?.slotOf.has(pfn) ?? false);
  info.mapcount = special ? 0 : k.pages.mapcount[pfn];
  if (!special && k.pages.kind[pfn] === PageKind.Hugetlb) {
    // a HugeTLB folio: its mappings are counted on its first frame (mm/hugetlb.ts)
    info.hugetlb = true;
    info.mapcount = k.pages.mapcount[pfn - (pfn % frameHstate(k.userMm.hstates, k.pages.order, pfn).nrPages)];
  }
  return info;
}

export function pageState(k: KernelCore, t: Task, vpn: number): PageState {
  const p = pageInfo(k, t, vpn);
  return {
    present: p.present,
    huge: p.huge,
    pfn: p.pfn,
    zeroPage: p.zeroPage,
    anon: p.anon,
    dirty: p.dirty,
    writable: p.writable,
    swapSlot: p.swapSlot,
  };
}

/** Counts pages of a range (vpn..vpn+n) matching a predicate. */
export function countPages(
  k: KernelCore,
  t: Task,
  vpn: number,
  n: number,
  pred: (s: PageInfo, vpn: number) => boolean,
): number {
  let c = 0;
  for (let v = vpn; v < vpn + n; v++) if (pred(pageInfo(k, t, v), v)) c++;
  return c;
}

// ---- smaps ----

/** Per-VMA page statistics, as smaps_pte_entry gathers them (bytes). */
export interface SmapsStats {
  rss: number;
  pss: number;
  pssDirty: number;
  /** smaps_page_accumulate's split of the PSS: anonymous, swap-backed (shmem), else file */
  pssAnon: number;
  pssFile: number;
  pssShmem: number;
  sharedClean: number;
  sharedDirty: number;
  privateClean: number;
  privateDirty: number;
  referenced: number;
  anonymous: number;
  /** KSM: pages of KSM folios (smaps_account: folio_test_ksm) */
  ksm: number;
  lazyFree: number;
  locked: number;
  anonHuge: number;
  /** FilePmdMapped: page-cache pages mapped by a PMD */
  filePmd: number;
  /** ShmemPmdMapped: swap-backed (tmpfs) page-cache pages mapped by a PMD */
  shmemPmd: number;
}

/** folio_test_dirty of the page at pfn: PG_dirty, or for a disk file's page its place in the file's dirty set. */
function folioDirty(k: KernelCore, pfn: number): boolean {
  if (k.pages.flags[pfn] & PageFlag.Dirty) return true;
  if (k.pages.kind[pfn] !== PageKind.PageCache) return false;
  const owner = k.vmscan.owner[pfn];
  if (owner === undefined || !("dirty" in owner)) return false;
  const index = k.vmscan.index[pfn];
  return owner.cache.get(index) === pfn && owner.dirty.has(index);
}

export function smapsStats(k: KernelCore, t: Task, start: number, end: number, locked: boolean): SmapsStats {
  const s: SmapsStats = {
    rss: 0,
    pss: 0,
    pssDirty: 0,
    pssAnon: 0,
    pssFile: 0,
    pssShmem: 0,
    sharedClean: 0,
    sharedDirty: 0,
    privateClean: 0,
    privateDirty: 0,
    referenced: 0,
    anonymous: 0,
    ksm: 0,
    lazyFree: 0,
    locked: 0,
    anonHuge: 0,
    filePmd: 0,
    shmemPmd: 0,
  };
  if (!t.mm) return s;
  const pt = k.arch.pgtable;
  for (let vpn = start; vpn < end; vpn++) {
    const pte = k.userMm.leafFor(t.mm, vpnUnchecked(vpn));
    if (pte === null || !pt.present(pte.hi, pte.lo) || pt.special(pte.hi, pte.lo)) continue; // the zero page has no struct page here
    const pfn = pte.pfn;
    if (pte.level === pt.pmdLevel) {
      // smaps_pmd_entry: anonymous, else swap-backed (shmem_thp), else file_thp
      if (k.pages.kind[pfn] !== PageKind.PageCache) s.anonHuge += 4096;
      else if (k.pages.flags[pfn] & PageFlag.SwapBacked) s.shmemPmd += 4096;
      else s.filePmd += 4096;
    }
    const mapcount = Math.max(1, k.pages.mapcount[pfn]);
    // smaps_page_accumulate: "dirty || folio_test_dirty(folio)" (a disk file's page is dirty in its set)
    const dirty = pt.dirty(pte.hi, pte.lo) || folioDirty(k, pfn);
    s.rss += 4096;
    s.pss += 4096 / mapcount;
    if (dirty) s.pssDirty += 4096 / mapcount;
    // smaps_page_accumulate: folio_test_anon, else folio_test_swapbacked (shmem), else file
    if (k.pages.kind[pfn] === PageKind.UserAnon) s.pssAnon += 4096 / mapcount;
    else if (k.pages.flags[pfn] & PageFlag.SwapBacked) s.pssShmem += 4096 / mapcount;
    else s.pssFile += 4096 / mapcount;
    if (mapcount > 1) {
      if (dirty) s.sharedDirty += 4096;
      else s.sharedClean += 4096;
    } else if (dirty) s.privateDirty += 4096;
    else s.privateClean += 4096;
    if (pt.young(pte.hi, pte.lo)) s.referenced += 4096;
    if (k.pages.kind[pfn] === PageKind.UserAnon) {
      s.anonymous += 4096;
      if (!dirty && k.pages.flags[pfn] & PageFlag.Lazyfree) s.lazyFree += 4096;
      if (k.userMm.env.ksm?.isKsm(pfn)) s.ksm += 4096; // smaps_account: folio_test_ksm
    }
  }
  if (locked) s.locked = s.pss;
  return s;
}

/**
 * smaps_hugetlb_range: each huge page a HugeTLB VMA maps counts whole in
 * Shared_Hugetlb when its folio may be mapped by more than one process
 * (folio_maybe_mapped_shared, 6.18; folio_likely_mapped_shared, 6.12),
 * else in Private_Hugetlb (bytes).
 * Linux: fs/proc/task_mmu.c smaps_hugetlb_range
 */
function hugetlbSmaps(
  k: KernelCore,
  mm: MmStruct,
  start: number,
  end: number,
  nr: number,
): { shared: number; private: number } {
  const pt = k.arch.pgtable;
  const r = { shared: 0, private: 0 };
  for (let vpn = start; vpn < end; vpn += nr) {
    // huge_pte_offset at the hstate's level (a PMD, a 1 GiB PUD, or a contiguous run's first entry)
    const leaf = k.userMm.leafFor(mm, vpn);
    if (leaf === null || !pt.present(leaf.hi, leaf.lo)) continue;
    const head = pt.pfn(leaf.hi, leaf.lo, leaf.level);
    if (k.pages.mapcount[head] > 1) r.shared += nr * 4096;
    else r.private += nr * 4096;
  }
  return r;
}

/** What /proc/PID/smaps shows of each VMA (none for a kernel thread). */
export function smapsInfos(k: KernelCore, t: Task): SmapsInfo[] {
  const mm: MmStruct | null = t.mm;
  if (!mm) return [];
  const hpage = k.arch.pgtable.hpagePmdNr;
  return mm.vmas.map((v) => {
    const htlb = (v.vmFlags & VmFlag.HUGETLB) !== 0;
    // a HugeTLB VMA: smaps_hugetlb_range counts its huge pages apart, nothing in Rss
    const s = smapsStats(k, t, v.vmStart, htlb ? v.vmStart : v.vmEnd, (v.vmFlags & VmFlag.LOCKED) !== 0);
    // vma_kernel_pagesize: huge_page_size(hstate_vma(vma))
    const hpageVma = v.htlb?.h.nrPages ?? hpage;
    const hs = htlb ? hugetlbSmaps(k, mm, v.vmStart, v.vmEnd, hpageVma) : { shared: 0, private: 0 };
    let swapped = countPages(k, t, v.vmStart, v.pages, (st) => st.swapSlot >= 0);
    // a shared shmem mapping (anonymous or tmpfs): the object's pages in swap within the VMA (shmem_swap_usage)
    const shmemSwapped = v.shmem?.swapped ?? (v.file?.fs === "tmpfs" ? v.file.swapped : undefined);
    if (shmemSwapped && v.vmFlags & VmFlag.SHARED)
      for (const pgoff of shmemSwapped.keys())
        if (pgoff >= v.vmPgoff && pgoff < v.vmPgoff + v.pages) swapped++;
    // a tmpfs or memfd mapping: __thp_vma_allowable_orders (TVA_SMAPS): thp_vma_suitable_order at
    // the last 2M of the VMA, then shmem_allowable_huge_orders at the VMA's offset (mm/shmem_huge.ts)
    // a shared anonymous or SysV mapping: shmem_allowable_huge_orders likewise (mm/shmem_anon_huge.ts)
    const eligible =
      v.file?.fs === "tmpfs"
        ? shmemVmaSuitable(hpage, v.vmEnd - hpage, v) &&
          shmemHugeGlobalEnabled(k.pageCache, v.file, v.vmPgoff, 0, thpVmFlags(mm, v.vmFlags))
        : v.shmem !== null
          ? shmemVmaSuitable(hpage, v.vmEnd - hpage, v) &&
            shmemObjHugeAllowed(k.pageCache, v.shmem, v.vmPgoff, thpVmFlags(mm, v.vmFlags))
          : v.pages >= hpage &&
            k.userMm.hugeEligible(mm, v, v.vmStart + ((hpage - (v.vmStart % hpage)) % hpage));
    return {
      vma: vmaInfo(k, v),
      ...s,
      swap: swapped * 4096,
      sharedHugetlb: hs.shared,
      privateHugetlb: hs.private,
      kernelPageSize: htlb ? hpageVma * 4096 : 4096,
      thpEligible: eligible,
      mnemonics: mnemonics(k, v.vmFlags, v.sealed),
      // arch_show_smap (fs/proc/task_mmu.c show_smap): the key bits have no VmFlags mnemonic
      protectionKey: k.arch.pkeys?.enabled ? vmaPkey(v.vmFlags) : null,
    };
  });
}
