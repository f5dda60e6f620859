/**
 * Boot, the generic part (init/main.c start_kernel, mm/mm_init.c
 * mm_core_init): the machine, struct page for every frame, memblock and the
 * architecture's page tables (arch/x86/init.ts), the rest of memory handed
 * to the buddy allocator with its watermarks, slab, vmalloc, the page-table
 * allocator of init_mm, then the user-memory subsystems (page cache, user
 * address spaces, reclaim, swap), TLB management and the user-access
 * routines, each given what it calls back into.
 *
 * The first 1 MiB is reserved; the kernel image is at 16 MiB; early page
 * tables and the memmap come from memblock right after the image; the rest
 * goes to the buddy allocator. Kernel memory is never reclaimed: nothing in
 * vmlab ever unmaps or moves a frame of a kernel kind.
 */

import { pfnUnchecked, vpnUnchecked } from "../../base/units.ts";
import type { FrameAllocator } from "../../hw/mmu/Mapper.ts";
import { TlbFlush } from "../mm/arch.ts";
import { BuddyAllocator } from "../mm/buddy.ts";
import { cacheFlushFor } from "../mm/cacheflush.ts";
import { DirectCompaction } from "../mm/compaction_direct.ts";
import { Gfp } from "../mm/gfp.ts";
import type { MmSettings } from "../mm/internal.ts";
import { Kcompactd } from "../mm/kcompactd.ts";
import { KsmState } from "../mm/ksm_state.ts";
import { MthpState } from "../mm/mthp_state.ts";
import { PageDescTable, PageKind } from "../mm/PageDesc.ts";
import { PageCache } from "../mm/pagecache.ts";
import { nrPagetableCounts } from "../mm/pgtable.ts";
import { shmemSplitFileFolio, shmemUnusedHugeFree } from "../mm/shmem_shrink.ts";
import { SlabAllocator } from "../mm/slab.ts";
import { DeferredSplitQueue } from "../mm/split_queue.ts";
import { SwapArea } from "../mm/swapfile.ts";
import { TlbUnmapBatch } from "../mm/tlbbatch.ts";
import { UserMm } from "../mm/userMm.ts";
import { vmEnoughMemory } from "../mm/util.ts";
import { Vmalloc } from "../mm/vmalloc.ts";
import { Vmscan } from "../mm/vmscan.ts";
import { nodesShift } from "../mm/workingset.ts";
import type { ResolvedKernelConfig } from "./config.ts";
import type { Arch, KernelCore, KernelParts } from "./core.ts";
import { Memblock } from "./memblock.ts";
import {
  chargeFolio,
  chargeHugePage,
  chargeKmem,
  chargePageTable,
  chargeUserPage,
  memcgKthread,
} from "./memcontrol.ts";
import { memfdPut } from "./memfd_evict.ts";
import { outOfMemory } from "./oom.ts";
import { directReclaim, wakeupKswapd, zoneReclaimablePages } from "./reclaim.ts";
import { contextTask, liveMms } from "./sched.ts";
import { Uaccess } from "./uaccess.ts";
import { newDirtyThrottle } from "./writeback.ts";

/**
 * Boots the kernel `k` on a new machine and returns its subsystems. `k` is
 * the kernel being constructed: the callbacks wired here (reclaim, the OOM
 * killer, TLB flushes, the task list) reach it once it is up.
 */
export function startKernel(k: KernelCore, cfg: ResolvedKernelConfig, arch: Arch): KernelParts {
  const { layout, va, pgtable, image } = arch;
  const machine = arch.newMachine();
  const nrFrames = machine.phys.nrFrames;
  const swap = cfg.swapBytes > 0 ? new SwapArea(cfg.swapBytes / 4096, nrFrames, pgtable.hpagePmdNr) : null;
  if (swap !== null) swap.thpSwap = layout.taskSize > 0xffffffffn; // CONFIG_THP_SWAP: 64BIT only
  const pages = new PageDescTable(nrFrames);
  // pageblock_order: HUGETLB_PAGE_ORDER (the PMD's), at most MAX_PAGE_ORDER
  const buddy = new BuddyAllocator(pages, nrFrames, arch.zones, 31 - Math.clz32(pgtable.hpagePmdNr));

  // ---- setup_arch: memblock right after the image, the kernel's page tables ----
  const memblock = new Memblock(machine.phys, pages, image.endPfn);
  const archMap = arch.setupArch(machine, pages, memblock);
  const rootPfn = archMap.rootPfn;
  const memblockSummary = { start: image.endPfn, end: memblock.next, frames: memblock.frames };

  // ---- mm_core_init: the rest to the buddy allocator (memblock_free_all), watermarks, slab, vmalloc ----
  buddy.freeBootRange(image.lowReservedPfns, image.startPfn);
  memblock.freeAll(buddy);
  // build_all_zonelists: grouping by mobility (the Windows profile's lists have no migrate types)
  if (cfg.profile === "linux") buddy.buildAllZonelists();
  buddy.setupWatermarks();
  const slab = new SlabAllocator(buddy, pages, cfg.cpus);
  const tableAlloc: FrameAllocator = {
    allocFrame: (level: number) => {
      const t = buddy.alloc(0, Gfp.KERNEL, PageKind.PageTable);
      if (t >= 0 && nrPagetableCounts(pgtable.levels, level, true)) k.pageTablePages++;
      return t >= 0 ? pfnUnchecked(t) : -1;
    },
  };
  const mapper = pgtable.mapper(machine.phys, tableAlloc);
  const lazyMax = (32 - Math.clz32(cfg.cpus)) * 8192;
  const vm = new Vmalloc(
    buddy,
    {
      mapKernelPage: (vpn, p) => {
        const ok = mapper.map(rootPfn, vpnUnchecked(vpn), pfnUnchecked(p), 0, archMap.pageKernel).ok;
        if (ok) arch.syncKernelMappings?.(k, vpn); // vmap_pages_range: arch_sync_kernel_mappings
        return ok;
      },
      unmapKernelPage: (vpn) => {
        mapper.unmap(rootPfn, vpnUnchecked(vpn));
      },
      flushKernelRange: (vpn, n) => tlbMgr.flushTlbKernelRange(vpn, n, k.runningCpu),
    },
    archMap.vmallocStartVpn,
    archMap.vmallocEndVpn,
    lazyMax,
    cfg.vmallocLazy,
  );

  // ---- setup_per_cpu_pageset: the per-CPU page lists of each zone, for every CPU (Linux only) ----
  if (cfg.profile === "linux")
    buddy.setupPerCpuPageset(machine.cpus.length, 31 - Math.clz32(pgtable.hpagePmdNr), () => k.runningCpu);

  // ---- user address spaces, the page cache, reclaim ----
  const zeroPfn = image.zeroPfn;
  const taskSizeVpn = va.vpn(layout.taskSize); // TASK_SIZE (x86-64: TASK_SIZE_MAX = 2^47 - PAGE_SIZE)
  const mapWindowVpn = va.vpn(layout.defaultMapWindow ?? layout.taskSize); // DEFAULT_MAP_WINDOW
  const tlbMgr = arch.newTlb(machine);
  const pageCache = new PageCache(machine.phys, pages, buddy);
  // the L1 data caches (cache=), and the kernel's cacheflush calls for their kind
  const userTop = BigInt.asUintN(64, layout.taskSize);
  const cache = cacheFlushFor(
    cfg.cache,
    machine.phys,
    machine.cpus,
    { hi: Number(userTop >> 32n), lo: Number(userTop & 0xffffffffn) },
    () => k.runningCpu,
  );
  const fab = cfg.faultAroundBytes;
  let dataRlimitWarned = false; // may_expand_vm's pr_warn_once
  const userMm = new UserMm(
    {
      pageCache,
      swap,
      lru: null,
      cache,
      deferredSplit: new DeferredSplitQueue(), // pgdat->deferred_split_queue
      ksm: new KsmState(), // mm/ksm.c (CONFIG_KSM)
      mthp: new MthpState(31 - Math.clz32(pgtable.hpagePmdNr)), // hugepages-<size>kB knobs and stats
      phys: machine.phys,
      pages,
      buddy,
      pgtable,
      kernelRootPfn: rootPfn,
      zeroPfn,
      taskSizeVpn,
      mapWindowVpn,
      countPageTables: (d) => {
        k.pageTablePages += d;
      },
      fput: (mapping) => memfdPut(k, mapping),
      chargeUserPage: () => chargeUserPage(k),
      chargeHugePage: (nr: number, gfp: number) => chargeHugePage(k, nr, gfp),
      chargePageTable: (pfn: number, pagetable: boolean) => chargePageTable(k, pfn, pagetable),
      chargeKmem: (pfn: number, nr: number) => chargeKmem(k, pfn, nr),
      kthreadRun: (fn) => memcgKthread(k, fn),
      flushTlbMmRange: (mm, vpn, n, kind, stride) =>
        tlbMgr.flushTlbMmRange(mm, vpn, n, k.runningCpu, kind, stride),
      // current->tlb_ubc, where the architecture batches reclaim's flushes (its arch_tlbbatch_* hooks)
      ...(tlbMgr.tlbbatchFlush
        ? {
            tlbUbc: new TlbUnmapBatch({
              shouldDefer: (mm) => tlbMgr.tlbbatchShouldDefer!(mm, k.runningCpu),
              addPending: (mm, vpn) => tlbMgr.tlbbatchAddPending!(mm, vpn, k.runningCpu),
              flush: () => tlbMgr.tlbbatchFlush!(k.runningCpu),
              flushBatchedPending: (mm) => tlbMgr.flushTlbBatchedPending!(mm, k.runningCpu),
            }),
          }
        : {}),
      ...(arch.kmapLocalPage && arch.kunmapLocal
        ? {
            kmapLocal: (pfn: number) => arch.kmapLocalPage!(k, k.runningCpu, pfn),
            kunmapLocal: (va: bigint) => arch.kunmapLocal!(k, k.runningCpu, va),
          }
        : {}),
    },
    {
      thp: cfg.thp,
      thpZeroPage: cfg.thpZeroPage,
      thpShrinkUnderused: cfg.thpShrinkUnderused,
      thpMaxPtesNone: cfg.thpMaxPtesNone,
      // fault_around_bytes_set: max(rounddown_pow_of_two(val) >> PAGE_SHIFT, 1)
      faultAroundPages: fab < 4096 ? 1 : 2 ** Math.floor(Math.log2(fab / 4096)),
      pageCluster: cfg.pageCluster,
      readaheadPages: Math.max(1, cfg.readaheadKb / 4),
      mmapMinAddr: cfg.mmapMinAddr,
      overcommit: cfg.overcommit,
      overcommitRatio: 50,
      overcommitKbytes: 0,
      // set when boot is done (initReserves below)
      adminReserveKbytes: 0,
      userReserveKbytes: 0,
      shmemCommitted: 0,
      warnNotEnough: (bytes) => warnNotEnough(k, bytes),
      warnDataRlimit: (bytes, limit, ignored) => {
        // pr_warn_once: the first time since boot only
        if (dataRlimitWarned) return;
        dataRlimitWarned = true;
        warnDataRlimit(k, bytes, limit, ignored);
      },
      totalRamPages: () => buddy.managedPages(),
      totalSwapPages: () => swap?.totalPages ?? 0,
      // vm_committed_as: each mm once (threads share one), and the shmem inodes' charges
      committedPages: () => {
        let n = userMm.settings.shmemCommitted;
        for (const mm of new Set(k.tasks.filter((t) => t.alive && t.mm).map((t) => t.mm!))) n += mm.committed;
        return n;
      },
    },
  );
  const vmscan = new Vmscan(
    {
      phys: machine.phys,
      pages,
      userMm,
      pageCache,
      swap,
      mms: () => liveMms(k),
      flushPage: (mm, vpn) => userMm.env.flushTlbMmRange(mm, vpn, 1, TlbFlush.Page),
      swappiness: () => cfg.swappiness,
      policy: cfg.policy,
      // ext4 (Linux 6.12) has no ->writepage; the other policies and Windows' writer write from reclaim
      noWritepage: cfg.profile === "linux" && cfg.policy === "linux",
      seed: cfg.seed,
      nrCpus: machine.cpus.length,
      runningCpu: () => k.runningCpu,
      // BITS_PER_LONG: 32 on i386 and PAE
      longBits: cfg.arch === "i386" || cfg.arch === "i386-pae" ? 32 : 64,
      nodesShift: nodesShift(cfg.arch),
      totalRamPages: () => buddy.managedPages(),
      slabPages: () => slab.slabPages(),
      freeAndHighWmark: () => [buddy.freePages(), buddy.highWmarkPages()],
      zoneEndPfns: buddy.layout.endPfns,
    },
    pages.nrFrames,
  );
  // the shadow_nodes list over the swap cache and the page cache (mm/workingset.ts)
  if (swap !== null) swap.nodes = vmscan.workingset.nodes;
  vmscan.workingset.nodes.swap = swap;
  pageCache.shadowNodes = vmscan.workingset.nodes;
  // the LRU lists and the users of them need each other: wired once both exist
  userMm.env.lru = vmscan;
  pageCache.lru = vmscan;
  buddy.lru = vmscan.lru; // PageLRU, for steal_suitable_fallback
  // shmem_acct_blocks / shmem_unacct_blocks: a tmpfs page charged to vm_committed_as, checked
  // against the running task's mm (security_vm_enough_memory_mm(current->mm, ...))
  // mem_cgroup_charge of each new page-cache and shmem folio (filemap_add_folio,
  // shmem_alloc_and_add_folio): the memory limit's, when there is one
  pageCache.memcgCharge = (nr, gfp) => chargeFolio(k, nr, gfp);
  // shmem_alloc_and_add_folio: a refused charge first splits large folios past i_size
  pageCache.shmemUnusedHuge = (f, nr) => shmemUnusedHugeFree(vmscan, f, nr);
  // split_folio of a tmpfs folio outside reclaim: its pages past i_size dropped (__split_huge_page)
  pageCache.shmemSplit = (f, index) => shmemSplitFileFolio(vmscan, f, index);
  pageCache.shmemAcct = (nr) => {
    const t = k.current[k.runningCpu];
    const mm = t?.alive ? t.mm : null;
    if (nr > 0 && !vmEnoughMemory(userMm, mm, nr, (t?.uid ?? 0) === 0)) return false;
    userMm.settings.shmemCommitted += nr;
    return true;
  };
  const kcompactd = cfg.profile === "linux" ? new Kcompactd(vmscan, buddy, k.compactStats) : null;
  buddy.hooks = {
    wakeKswapd: (order, highest, gfp) => {
      wakeupKswapd(k, order, highest, gfp);
    },
    directReclaim: (order, _gfp, reclaimIdx) => directReclaim(k, order, reclaimIdx),
    outOfMemory: (order, gfp) => outOfMemory(k, order, null, gfp),
    inReclaim: () => k.reclaiming,
    zoneReclaimablePages: (z) => zoneReclaimablePages(k, z),
    // __alloc_pages_slowpath's direct compaction (mm/compaction_direct.ts): Linux's profile only
    directCompaction:
      cfg.profile === "linux"
        ? (order, gfp, mt, getPage) =>
            gfp & Gfp.IO ? new DirectCompaction(vmscan, buddy, k.compactStats, order, gfp, mt, getPage) : null
        : undefined,
  };
  tlbMgr.onMmUnloaded = (mm) => userMm.freePgd(mm);
  initReserves(userMm.settings, buddy.freePages());
  // page_writeback_init: the dirty limits of Linux's page cache (Windows' has its own writers)
  const dirtyThrottle =
    cfg.profile === "linux" ? newDirtyThrottle(buddy, pageCache, vmscan, userMm, machine.cpus.length) : null;

  // ---- CPUs: paging on, CR3 = init_mm's PGD; the user-access routines ----
  arch.cpuInit(machine, rootPfn);
  const uaccess = new Uaccess({
    cpus: machine.cpus,
    taskSizeMax: arch.taskSizeMax ?? layout.taskSize,
    longBytes: arch.longBytes ?? 8,
    efficientUnaligned: arch.efficientUnalignedAccess ?? true,
    reported: arch.usercopyReported,
    contextTask: (cpuId) => contextTask(k, cpuId),
    current: (cpuId) => k.current[cpuId],
    untaggedAddr: arch.untaggedAddr,
    enter: (cpuId) => {
      k.runningCpu = cpuId;
      tlbMgr.enterKernel(cpuId);
    },
    resolveUserFault: (task, cpu, addr) => arch.uaccessFault(k, task, cpu, addr),
    begin: (cpu) => arch.uaccessBegin(cpu),
    end: (cpu) => arch.uaccessEnd(cpu),
    unprivileged: arch.unprivilegedUaccess ?? false,
  });
  return {
    arch,
    machine,
    levels: pgtable.levels,
    layout,
    va,
    pages,
    buddy,
    slab,
    vm,
    mapper,
    rootPfn,
    memblock: memblockSummary,
    zeroPfn,
    userMm,
    pageCache,
    swap,
    vmscan,
    kcompactd,
    dirtyThrottle,
    tlbMgr,
    uaccess,
    exactLru: cfg.policy === "lru",
  };
}

/**
 * The overcommit reserves from the free memory at boot: user_reserve_kbytes
 * min(free / 32, 128 MiB), admin_reserve_kbytes min(free / 32, 8 MiB), in kB.
 * Linux: mm/util.c init_user_reserve, init_admin_reserve (subsys_initcall)
 */
function initReserves(s: MmSettings, freePages: number): void {
  const freeKbytes = freePages * 4;
  s.userReserveKbytes = Math.min(Math.floor(freeKbytes / 32), 1 << 17);
  s.adminReserveKbytes = Math.min(Math.floor(freeKbytes / 32), 1 << 13);
}

/**
 * __vm_enough_memory's warning in the kernel log, for the task running on
 * the CPU the request came from, rate-limited as pr_warn_ratelimited is
 * (DEFAULT_RATELIMIT_BURST: 10 in an interval of 5 s; vmlab's clock does not
 * advance, so after ten the rest are suppressed).
 * Linux: mm/util.c __vm_enough_memory, include/linux/ratelimit_types.h
 */
function warnNotEnough(k: KernelCore, bytes: number): void {
  if (k.vmEnoughWarnings >= 10) return;
  k.vmEnoughWarnings++;
  const t = k.current[k.runningCpu];
  k.log.push(
    `__vm_enough_memory: pid: ${t?.pid ?? 0}, comm: ${t?.comm ?? "swapper/0"}, bytes: ${bytes} not enough memory for the allocation`,
  );
}

/**
 * may_expand_vm's warning for a data mapping past RLIMIT_DATA, for the task
 * on the CPU making the request (pr_fmt of mm/mmap.c: "mmap: "); the caller
 * prints it once per boot, as pr_warn_once does.
 * Linux 6.12: mm/mmap.c may_expand_vm
 */
function warnDataRlimit(k: KernelCore, bytes: number, limit: number, ignored: boolean): void {
  const t = k.current[k.runningCpu];
  k.log.push(
    `mmap: ${t?.comm ?? "swapper/0"} (${t?.pid ?? 0}): VmData ${bytes} exceed data ulimit ${limit}. Update limits${ignored ? "" : " or use boot option ignore_rlimit_data"}.`,
  );
}

/** mem_init_print_info: the boot's memory line in dmesg. */
export function memInitInfo(k: KernelCore): string {
  const nrFrames = k.machine.phys.nrFrames;
  const image = k.arch.image;
  return `Memory: ${(k.buddy.freePages() * 4) | 0}K/${(nrFrames * 4) | 0}K available (${(image.bytes / 1024) | 0}K kernel image, ${(k.memblock.frames * 4) | 0}K memblock, ${(image.lowReservedPfns * 4) | 0}K reserved)`;
}
