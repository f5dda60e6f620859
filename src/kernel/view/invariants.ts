import { vpnUnchecked } from "../../base/units.ts";
import type { KernelCore } from "../core/core.ts";
import { shmObjects } from "../ipc/shm.ts";
import { inWholeThp } from "../mm/folio_put.ts";
import { PageFlag, PageKind } from "../mm/PageDesc.ts";
import { FOLIO_BATCH_SIZE } from "../mm/swap.ts";
import { type ShmemObject, type Vma, VmFlag } from "../mm/vma.ts";

/**
 * The invariant checker (a debug switch, on in tests). Returns every broken
 * invariant as a sentence; empty when all hold:
 * - every frame is exactly one kind, and the counts add up to RAM;
 * - the buddy free lists and the slab books are consistent;
 * - every page-table frame reachable from the kernel's root is of kind
 *   page-table (or part of memblock/the image), and every page-table frame
 *   is reachable (no leaked tables);
 * - no present PTE outside the direct map and the kernel image mapping
 *   points to a free frame;
 * - every vmalloc area's frames are vmalloc frames mapped at its addresses;
 * - PageAnonExclusive: a writable PTE (or huge PMD) of a private mapping
 *   maps an exclusive anonymous page; an exclusive page is mapped once; an
 *   exclusive swap PTE is its slot's only reference, and no swap PTE names
 *   a swap-cache page that is exclusive (do_swap_page's sanity check);
 * - the per-CPU LRU add batches (lruAddBatchProblems): every user page is
 *   mapped, in the swap cache, owned, or waiting in a batch (whose
 *   reference every refcount check counts), and a batch page is on no list;
 * - the mlock state (mlockProblems): NR_MLOCK, the unevictable list and
 *   the mlock batches' references agree with the pages;
 * - the LRU lists' sizes (lruSizeProblems): the node's and each zone's count
 *   of each list are the pages on it.
 */
export function checkInvariants(k: KernelCore): string[] {
  const problems: string[] = [];
  const counts = k.pages.countByKind();
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== k.machine.phys.nrFrames)
    problems.push(`frame kinds add up to ${total}, RAM has ${k.machine.phys.nrFrames}`);
  problems.push(...k.buddy.check());
  problems.push(...k.slab.check());
  // pagetable=inverted: no IPT entry the radix tables do not back
  if (k.arch.hwTable !== undefined) problems.push(...k.arch.hwTable.check(k));

  // walk the kernel's page tables
  const phys = k.machine.phys;
  const pt = k.arch.pgtable;
  const ptrs = pt.ptrsPerTable;
  /** the first PGD index of the kernel half (USER_PGTABLES_CEILING); every index where a PGD holds the user half only */
  const kernelHalf = pt.kernelRootVpn > 0 ? ptrs : pt.userPgtablesCeiling / ptrs ** (k.levels - 1);
  // the direct map and the kernel image mapping (__START_KERNEL_map .. modules) map frames of every kind
  const directVpn = k.va.vpn(k.layout.directMap);
  const directEndVpn = directVpn + k.machine.phys.nrFrames;
  const kernelMapVpn = k.va.vpn(k.layout.kernelMap);
  const modulesVpn = k.va.vpn(k.layout.modulesStart);
  const reached = new Set<number>();
  const visit = (tablePfn: number, level: number, vpnBase: number) => {
    reached.add(tablePfn);
    const kind = k.pages.kind[tablePfn];
    if (kind !== PageKind.PageTable)
      problems.push(`page table at pfn ${tablePfn} (level ${level}) is of kind ${kind}`);
    for (let i = 0; i < ptrs; i++) {
      const { hi, lo } = pt.get(phys, tablePfn * 4096 + i * pt.entryBytes);
      if (!pt.accessible(hi, lo)) continue;
      const vpn = vpnBase + i * ptrs ** level;
      const addrPfn = pt.pfn(hi, lo, level);
      if (pt.table(hi, lo, level)) {
        visit(addrPfn, level - 1, vpn);
        continue;
      }
      if ((vpn >= directVpn && vpn < directEndVpn) || (vpn >= kernelMapVpn && vpn < modulesVpn)) continue;
      if (k.os?.kernelAlias(vpn)) continue; // profile=windows, x86 2G: system space at 0x80000000
      const span = ptrs ** level;
      for (let f = addrPfn; f < addrPfn + span && f < k.pages.nrFrames; f++) {
        if (k.pages.kind[f] === PageKind.Free)
          problems.push(`present PTE for vpn 0x${vpn.toString(16)} points to free frame ${f}`);
      }
    }
  };
  visit(k.rootPfn, k.levels - 1, pt.kernelRootVpn);
  // a PGD pair (x86 PTI): init_mm's user PGD and the tables under its kernel half (the entry-text clone)
  if (pt.pgdOrder > 0) visit(pt.userPgd(k.rootPfn), k.levels - 1, 0);
  // arm64 KPTI: tramp_pg_dir, the kernel half as EL0 sees it
  const trampPfn = k.tlbMgr.userKernelRootPfn?.() ?? -1;
  if (trampPfn >= 0) visit(trampPfn, k.levels - 1, pt.kernelRootVpn);

  // user address spaces: their tables, RSS, mapcounts, and the shared kernel half
  const mapcounts = new Map<number, number>();
  const shmemOwned = new Set<number>();
  const slotRefs = new Map<number, number>();
  const shmemObjs = new Set<ShmemObject>();
  /** slots named by a swap PTE with the exclusive marker */
  const exclusiveSlots: number[] = [];
  const anonExclusive = (pfn: number) => (k.pages.flags[pfn] & PageFlag.AnonExclusive) !== 0;
  // a SysV shm segment holds its pages and swap entries, attached or not
  for (const obj of shmObjects(k)) {
    shmemObjs.add(obj);
    for (const pfn of obj.pages.values()) shmemOwned.add(pfn);
    for (const slot of obj.swapped.values()) {
      slotRefs.set(slot, (slotRefs.get(slot) ?? 0) + 1);
      const cached = k.swap?.cache.get(slot);
      if (cached !== undefined) shmemOwned.add(cached);
    }
  }
  for (const f of k.pageCache.files.values()) {
    for (const [index, pfn] of f.cache) {
      shmemOwned.add(pfn);
      if (k.pages.kind[pfn] !== PageKind.PageCache)
        problems.push(`file ${f.name}: page ${index} in frame ${pfn} of kind ${k.pages.kind[pfn]}`);
    }
    for (const index of f.dirty)
      if (!f.cache.has(index)) problems.push(`file ${f.name}: dirty page ${index} is not in the page cache`);
    // a tmpfs file's swap entries hold their slots (swap_shmem_alloc); a page read ahead for one waits in the swap cache
    for (const [index, slot] of f.swapped) {
      if (f.cache.has(index))
        problems.push(`file ${f.name}: page ${index} is both cached and in swap slot ${slot}`);
      slotRefs.set(slot, (slotRefs.get(slot) ?? 0) + 1);
      const cached = k.swap?.cache.get(slot);
      if (cached !== undefined) shmemOwned.add(cached);
    }
  }
  // reclaim flushes its batch before it returns (try_to_unmap_flush at the end of shrink_folio_list)
  if (k.userMm.env.tlbUbc?.flushRequired)
    problems.push("reclaim's TLB batch still owes a flush (try_to_unmap_flush never came)");
  const seen = new Set<unknown>();
  /** shared HugeTLB PMD tables (mm/hugetlb_pmd_share.ts): the PUD entries that point at each */
  const sharedPmdRefs = new Map<number, number>();
  /** the user tables below the PGD every mm reaches: none twice, but a shared PMD table */
  const userTables = new Set<number>();
  for (const t of k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null || seen.has(mm)) continue;
    seen.add(mm);
    if (mm.tlbFlushPending !== 0)
      problems.push(
        `${t.comm}: ${mm.tlbFlushPending} TLB flush(es) still pending (an mmu_gather never finished)`,
      );
    let anon = 0;
    let shmem = 0;
    let file = 0;
    let swapEnts = 0;
    let tables = 0;
    /** huge PMDs by the PMD table that holds them: each holds one deposited table there */
    const hugeByTable = new Map<number, number>();
    for (const v of mm.vmas) if (v.shmem) for (const pfn of v.shmem.pages.values()) shmemOwned.add(pfn);
    // a shmem object's swap entries hold their slots (swap_shmem_alloc), once per object
    for (const v of mm.vmas)
      if (v.shmem && !shmemObjs.has(v.shmem)) {
        shmemObjs.add(v.shmem);
        for (const slot of v.shmem.swapped.values()) {
          slotRefs.set(slot, (slotRefs.get(slot) ?? 0) + 1);
          // a page read ahead for the slot (shmem_swapin_cluster) waits in the swap cache
          const cached = k.swap?.cache.get(slot);
          if (cached !== undefined) shmemOwned.add(cached);
        }
      }
    // a HugeTLB entry: its folio in use, no RSS, counted once on the folio's first frame (mm/hugetlb.ts),
    // at the first entry of a contiguous run (arm64 CONT_PTE / CONT_PMD, RISC-V NAPOT: mm/hugetlb_cont.ts)
    const hugetlbEntry = (vma: Vma, vpn: number, pfn: number, hi: number, lo: number) => {
      const h = vma.htlb?.h;
      const head = h === undefined ? pfn : pfn - (pfn % h.nrPages);
      if (k.pages.kind[head] !== PageKind.Hugetlb || h === undefined || !h.active.has(head))
        problems.push(`${t.comm}: HugeTLB entry at vpn 0x${vpn.toString(16)} maps no folio in use`);
      if (pt.write(hi, lo) && !(vma.vmFlags & VmFlag.SHARED) && !anonExclusive(head))
        problems.push(`${t.comm}: writable private HugeTLB entry maps folio ${head}, not PageAnonExclusive`);
      if (h === undefined || vpn % h.nrPages === 0) mapcounts.set(head, (mapcounts.get(head) ?? 0) + 1);
    };
    const visitUser = (tablePfn: number, level: number, vpnBase: number) => {
      reached.add(tablePfn);
      // (PAE's preallocated user PMDs count in pt_pages too: preallocate_pmds' mm_inc_nr_pmds)
      if (level < k.levels - 1) tables++;
      if (level < k.levels - 1) {
        // a shared PMD table: counted in every mm's page tables, its entries checked (and their
        // mappings counted: a folio's mapcount counts the table's entry once) at the first visit
        const sharers = level === pt.pmdLevel ? k.pages.priv[tablePfn] : 0;
        if (sharers > 0) {
          const refs = (sharedPmdRefs.get(tablePfn) ?? 0) + 1;
          sharedPmdRefs.set(tablePfn, refs);
          if (refs > 1) return;
        } else if (userTables.has(tablePfn))
          problems.push(
            `${t.comm}: page table at pfn ${tablePfn} is reached twice, and not a shared PMD table`,
          );
        userTables.add(tablePfn);
      }
      if (k.pages.kind[tablePfn] !== PageKind.PageTable)
        problems.push(`${t.comm}: page table at pfn ${tablePfn} is of kind ${k.pages.kind[tablePfn]}`);
      const top = level === k.levels - 1 ? kernelHalf : ptrs; // the kernel half of a PGD is shared, checked below
      for (let i = 0; i < top; i++) {
        const { hi, lo } = pt.get(phys, tablePfn * 4096 + i * pt.entryBytes);
        if (pt.none(hi, lo)) continue;
        const vpn = vpnBase + i * ptrs ** level;
        // the profile's system space (large pages copied into every process), below its tables
        if (k.os?.kernelAlias(vpn) && (level === 0 || pt.leaf(hi, lo, level))) continue;
        const pfn = pt.pfn(hi, lo, level);
        if (level === pt.pmdLevel && pt.leaf(hi, lo, level) && k.os?.ownsVpn(mm, vpn)) {
          // the OS profile's large page (profile=windows MEM_LARGE_PAGES), checked by its rules
          const f = k.os.checkPte(k, mm, vpn, hi, lo, problems);
          if (f >= 0)
            for (let p = f; p < f + pt.hpagePmdNr; p++) mapcounts.set(p, (mapcounts.get(p) ?? 0) + 1);
          continue;
        }
        if (level === pt.pmdLevel && pt.leaf(hi, lo, level)) {
          // a huge PMD: the frames of a transparent huge page, the huge zero page, or a PMD-size
          // page-cache folio (do_set_pmd: no table deposited on these architectures)
          const nr = pt.hpagePmdNr;
          const vma = mm.vmaAt(vpn);
          if (vma === null || vma.vmEnd < vpn + nr)
            problems.push(`${t.comm}: huge PMD at vpn 0x${vpn.toString(16)} not inside one VMA`);
          if (!pt.special(hi, lo) && k.pages.kind[pfn] === PageKind.PageCache) {
            // a file's, or a shared anonymous or SysV shmem object's (mm/shmem_anon_huge.ts)
            const f = vma?.file ?? vma?.shmem;
            const index = vma === null ? -1 : vma.vmPgoff + (vpn - vma.vmStart);
            const pages = f === undefined || f === null ? undefined : "cache" in f ? f.cache : f.pages;
            if (!f || f.folios.get(index) !== Math.log2(nr) || pages?.get(index) !== pfn)
              problems.push(
                `${t.comm}: huge PMD at vpn 0x${vpn.toString(16)} maps no PMD-size folio of its file`,
              );
            for (let p = pfn; p < pfn + nr; p++) mapcounts.set(p, (mapcounts.get(p) ?? 0) + 1);
            // a tmpfs folio (mm/shmem_huge.ts) or a shmem object's counts in MM_SHMEMPAGES
            if (vma?.shmem || vma?.file?.fs === "tmpfs") shmem += nr;
            else file += nr;
            continue;
          }
          if (vma !== null && vma.vmFlags & VmFlag.HUGETLB) {
            hugetlbEntry(vma, vpn, pfn, hi, lo);
            continue;
          }
          hugeByTable.set(tablePfn, (hugeByTable.get(tablePfn) ?? 0) + 1);
          if (pt.special(hi, lo)) {
            if (pfn !== k.userMm.hugeZeroPfn)
              problems.push(`${t.comm}: special huge PMD is not the huge zero page`);
            continue;
          }
          const privWrite = pt.write(hi, lo) && vma !== null && !(vma.vmFlags & VmFlag.SHARED);
          for (let f = pfn; f < pfn + nr; f++) {
            if (k.pages.kind[f] !== PageKind.UserAnon)
              problems.push(`${t.comm}: huge PMD maps frame ${f} of kind ${k.pages.kind[f]}`);
            if (privWrite && !anonExclusive(f))
              problems.push(`${t.comm}: writable private huge PMD maps frame ${f}, not PageAnonExclusive`);
            anon++;
            mapcounts.set(f, (mapcounts.get(f) ?? 0) + 1);
          }
          continue;
        }
        if (level > pt.pmdLevel && pt.leaf(hi, lo, level)) {
          // a PUD leaf: only a 1 GiB HugeTLB folio in use, inside a VMA of that size (mm/hugetlb.ts)
          const vma = mm.vmaAt(vpn);
          const h = vma?.htlb?.h;
          if (h === undefined || h.level !== level || vma!.vmEnd < vpn + h.nrPages)
            problems.push(
              `${t.comm}: PUD leaf at vpn 0x${vpn.toString(16)} not inside a HugeTLB VMA of its size`,
            );
          else if (pt.present(hi, lo) && (k.pages.kind[pfn] !== PageKind.Hugetlb || !h.active.has(pfn)))
            problems.push(`${t.comm}: HugeTLB PUD at vpn 0x${vpn.toString(16)} maps no folio in use`);
          if (pt.write(hi, lo) && vma !== null && !(vma.vmFlags & VmFlag.SHARED) && !anonExclusive(pfn))
            problems.push(`${t.comm}: writable private HugeTLB PUD maps folio ${pfn}, not PageAnonExclusive`);
          mapcounts.set(pfn, (mapcounts.get(pfn) ?? 0) + 1);
          continue;
        }
        if (level > 0) {
          visitUser(pfn, level - 1, vpn);
          continue;
        }
        const pteVma =
          pt.present(hi, lo) && !pt.special(hi, lo) && k.pages.kind[pfn] === PageKind.Hugetlb
            ? mm.vmaAt(vpn)
            : null;
        if (pteVma !== null && pteVma.vmFlags & VmFlag.HUGETLB) {
          hugetlbEntry(pteVma, vpn, pfn, hi, lo); // a contiguous run's PTE (arm64 CONT_PTE, RISC-V NAPOT)
          continue;
        }
        if (k.os?.ownsVpn(mm, vpn)) {
          // the OS profile's own PTE (profile=windows: inside a VAD), checked by its rules
          const f = k.os.checkPte(k, mm, vpn, hi, lo, problems);
          if (f >= 0) mapcounts.set(f, (mapcounts.get(f) ?? 0) + 1);
          continue;
        }
        if (mm.vmaAt(vpn) === null)
          problems.push(`${t.comm}: PTE for vpn 0x${vpn.toString(16)} outside every VMA`);
        if (pt.isSwap(hi, lo)) {
          swapEnts++;
          const slot = pt.swapOffset(hi, lo);
          slotRefs.set(slot, (slotRefs.get(slot) ?? 0) + 1);
          if (pt.swapExclusive(hi, lo)) exclusiveSlots.push(slot);
          const cached = k.swap?.cache.get(slot);
          if (cached !== undefined && anonExclusive(cached))
            problems.push(
              `${t.comm}: swap PTE at vpn 0x${vpn.toString(16)} names exclusive swap-cache page ${cached}`,
            );
          continue;
        }
        if (!pt.present(hi, lo) || pt.special(hi, lo)) {
          if (pt.special(hi, lo) && pfn !== k.zeroPfn && !((mm.vmaAt(vpn)?.vmFlags ?? 0) & VmFlag.PFNMAP))
            problems.push(`${t.comm}: special PTE at vpn 0x${vpn.toString(16)} is not the zero page`);
          continue;
        }
        const kind = k.pages.kind[pfn];
        if (kind === PageKind.Free)
          problems.push(`${t.comm}: present PTE for vpn 0x${vpn.toString(16)} points to free frame ${pfn}`);
        if (kind === PageKind.UserAnon) {
          anon++;
          const vma = mm.vmaAt(vpn);
          if (pt.write(hi, lo) && vma !== null && !(vma.vmFlags & VmFlag.SHARED) && !anonExclusive(pfn))
            problems.push(
              `${t.comm}: writable private PTE at vpn 0x${vpn.toString(16)} maps frame ${pfn}, not PageAnonExclusive`,
            );
        } else if (kind === PageKind.PageCache) {
          const f = mm.vmaAt(vpn)?.file;
          if (f && f.fs === "disk") file++;
          else shmem++;
        } else problems.push(`${t.comm}: PTE for vpn 0x${vpn.toString(16)} maps a frame of kind ${kind}`);
        mapcounts.set(pfn, (mapcounts.get(pfn) ?? 0) + 1);
      }
    };
    visitUser(mm.pgdPfn, k.levels - 1, 0);
    // the tables huge PMDs hold in deposit (pgtable_trans_huge_deposit): counted in pt_pages,
    // one per huge PMD, on the list of the PMD table that holds it
    for (const [pmdTable, list] of mm.pmdHugePte) {
      tables += list.length;
      if (list.length !== (hugeByTable.get(pmdTable) ?? 0))
        problems.push(
          `${t.comm}: PMD table ${pmdTable} holds ${hugeByTable.get(pmdTable) ?? 0} huge PMDs and ${list.length} deposited tables`,
        );
      for (const d of list) {
        if (reached.has(d)) problems.push(`${t.comm}: deposited table ${d} is also in use`);
        reached.add(d);
        if (k.pages.kind[d] !== PageKind.PageTable)
          problems.push(`${t.comm}: deposited table at pfn ${d} is of kind ${k.pages.kind[d]}`);
      }
    }
    for (const [pmdTable, n] of hugeByTable)
      if (!mm.pmdHugePte.has(pmdTable))
        problems.push(`${t.comm}: PMD table ${pmdTable} holds ${n} huge PMDs and no deposited table`);
    if (anon !== mm.rssAnon)
      problems.push(`${t.comm}: ${anon} anonymous pages mapped, rss anon ${mm.rssAnon}`);
    if (shmem !== mm.rssShmem)
      problems.push(`${t.comm}: ${shmem} shmem pages mapped, rss shmem ${mm.rssShmem}`);
    if (swapEnts !== mm.swapEnts)
      problems.push(`${t.comm}: ${swapEnts} swap entries in the page tables, MM_SWAPENTS ${mm.swapEnts}`);
    if (file !== mm.rssFile) problems.push(`${t.comm}: ${file} file pages mapped, rss file ${mm.rssFile}`);
    // the kernel-half tables the pair keeps of its own (x86 PAE with PTI), checked by pgdPairProblems;
    // preallocate_pmds counted them in pt_pages with the user PMDs
    const own = pt.pgdOrder > 0 ? (k.arch.view.pgdPairTables?.(phys, mm.pgdPfn) ?? []) : [];
    if (tables + own.length !== mm.ptPages)
      problems.push(
        `${t.comm}: ${tables + own.length} page-table pages below the PGD, pt_pages ${mm.ptPages}`,
      );
    for (const t of own) reached.add(t);
    for (let i = kernelHalf; i < ptrs; i++) {
      const a = pt.get(phys, mm.pgdPfn * 4096 + i * pt.entryBytes);
      const b = pt.get(phys, k.rootPfn * 4096 + i * pt.entryBytes);
      if (own.includes(pt.pfn(a.hi, a.lo, k.levels - 1))) continue;
      // vmalloc_sync=lazy (32-bit x86 before 5.8): a new kernel entry reaches a PGD at its first use (vmalloc_fault)
      // and always on RV32 (riscv-sv32: vmalloc_fault, nothing preallocated under the folded PMD)
      if (pt.none(a.hi, a.lo) && (k.config.vmallocSync === "lazy" || k.config.arch === "riscv-sv32"))
        continue;
      if (a.hi !== b.hi || a.lo !== b.lo)
        problems.push(`${t.comm}: PGD entry ${i} (kernel half) differs from the kernel's`);
    }
    if (pt.pgdOrder > 0) {
      // the other PGD of the pair (x86 PTI: the user PGD), as the architecture keeps it
      reached.add(pt.userPgd(mm.pgdPfn));
      for (const p of k.arch.view.pgdPairProblems(phys, mm.pgdPfn, k.rootPfn))
        problems.push(`${t.comm}: ${p}`);
    }
    for (let i = 1; i < mm.vmas.length; i++) {
      if (mm.vmas[i - 1].vmEnd > mm.vmas[i].vmStart)
        problems.push(`${t.comm}: VMAs overlap at vpn 0x${mm.vmas[i].vmStart.toString(16)}`);
    }
  }
  // each shmem object is referenced by exactly the VMAs that map it (and a SysV segment by itself)
  const vmaRefs = new Map<object, number>();
  for (const obj of shmObjects(k)) vmaRefs.set(obj, 1);
  const seenMm = new Set<unknown>();
  for (const t of k.tasks) {
    if (!t.alive || t.mm === null || seenMm.has(t.mm)) continue;
    seenMm.add(t.mm);
    for (const v of t.mm.vmas) if (v.shmem) vmaRefs.set(v.shmem, (vmaRefs.get(v.shmem) ?? 0) + 1);
  }
  for (const [obj, n] of vmaRefs) {
    const refs = (obj as { refs: number }).refs;
    if (refs !== n) problems.push(`shmem object with ${refs} references is mapped by ${n} VMAs`);
  }
  // a page waiting in an LRU add batch (mm/swap.c cpu_fbatches.lru_add) holds one reference more,
  // and one more for each entry of an mlock batch (mm/mlock.c mlock_fbatch) that names it
  const batch = k.vmscan.fbatches;
  // and one more while a move batch (lru_activate, lru_lazyfree...) holds it
  const inBatch = (pfn: number) =>
    (batch.has(pfn) ? 1 : 0) + (batch.queued[pfn] !== 0 ? 1 : 0) + batch.mlock.refs[pfn];
  // and the references GUP's pins hold (core/gup_remote.ts: GUP_PIN_COUNTING_BIAS a small folio's pin)
  const pins = (pfn: number) => k.userMm.pinnedRefs.get(pfn) ?? 0;
  problems.push(
    ...lruAddBatchProblems(k),
    ...lruMoveBatchProblems(k),
    ...mlockProblems(k),
    ...hugetlbProblems(k),
    ...lruSizeProblems(k),
  );
  for (const [pfn, n] of mapcounts) {
    if (k.pages.mapcount[pfn] !== n)
      problems.push(`frame ${pfn}: mapcount ${k.pages.mapcount[pfn]}, mapped by ${n} PTEs`);
    if (k.pages.refcount[pfn] < n + inBatch(pfn))
      problems.push(
        `frame ${pfn}: refcount ${k.pages.refcount[pfn]} below its ${n} mappings${inBatch(pfn) ? " and its LRU add batch's" : ""}`,
      );
    if (n > 1 && anonExclusive(pfn)) problems.push(`frame ${pfn}: PageAnonExclusive but mapped ${n} times`);
    // a page-cache page (shmem or file): one reference per mapping plus the cache's own
    if (
      k.pages.kind[pfn] === PageKind.PageCache &&
      k.pages.refcount[pfn] !== n + 1 + inBatch(pfn) + pins(pfn)
    )
      problems.push(
        `page-cache frame ${pfn}: refcount ${k.pages.refcount[pfn]}, expected ${n + 1 + inBatch(pfn) + pins(pfn)}`,
      );
  }
  for (let pfn = 0; pfn < k.pages.nrFrames; pfn++) {
    // a page whose mapping went while it waited in another CPU's batch is freed when that batch is emptied
    if (batch.has(pfn) || batch.mlock.refs[pfn] > 0) continue;
    // a page of a whole THP, let go, whose folio a batch's reference on the head still holds
    const head = pfn - (pfn % k.userMm.env.pgtable.hpagePmdNr);
    // (or by a FOLL_PIN: _pincount > 0 means the folio's refcount holds the pin's reference,
    // gup_put_folio frees it, however unmapped it is)
    const headHeld = batch.has(head) || batch.mlock.refs[head] > 0 || k.userMm.pincount.has(head);
    if (k.pages.refcount[pfn] === 0 && inWholeThp(k.userMm.env, pfn)) {
      // or a page unmapped from a partially mapped THP, held by its folio until the deferred split
      const ds = k.userMm.env.deferredSplit;
      if (!headHeld && ds !== undefined && ds.queue.get(head) !== true)
        problems.push(`frame ${pfn}: let go by a whole THP that is not queued partially mapped`);
      continue;
    }
    // or a page of an mTHP folio (mm/mthp.ts) in the same case
    const mthp = k.userMm.env.mthp;
    const mh = k.pages.refcount[pfn] === 0 && mthp !== undefined ? mthp.headOf(pfn) : -1;
    if (mh >= 0) {
      const ds = k.userMm.env.deferredSplit;
      const held = batch.has(mh) || batch.mlock.refs[mh] > 0 || k.userMm.pincount.has(mh);
      if (!held && ds !== undefined && ds.queue.get(mh) !== true)
        problems.push(`frame ${pfn}: let go by an mTHP folio that is not queued partially mapped`);
      continue;
    }
    // (a page GUP pinned outlives its mappings: the unpin frees it)
    if (
      k.pages.kind[pfn] === PageKind.UserAnon &&
      !mapcounts.has(pfn) &&
      !k.swap?.slotOf.has(pfn) &&
      !pins(pfn)
    )
      problems.push(`user frame ${pfn} is mapped by no process (leaked)`);
    if (k.pages.kind[pfn] === PageKind.PageCache && !shmemOwned.has(pfn) && !pins(pfn))
      problems.push(`page-cache frame ${pfn} belongs to no shmem object or file (leaked)`);
  }
  // swap: each slot's count is the swap PTEs that name it; every used slot holds a page
  const sw = k.swap;
  if (sw !== null) {
    let used = 0;
    for (let slot = 1; slot < sw.nrSlots; slot++) {
      const refs = slotRefs.get(slot) ?? 0;
      if (sw.map[slot] !== refs)
        problems.push(`swap slot ${slot}: swap_map ${sw.map[slot]}, ${refs} swap PTEs`);
      const inUse = refs > 0 || sw.cache.has(slot);
      if (inUse) used++;
      if (inUse && !sw.holds(slot)) problems.push(`swap slot ${slot} is in use but holds no page`);
      if (!inUse && sw.holds(slot))
        problems.push(`swap slot ${slot} is free but still holds a page (leaked)`);
    }
    if (used !== sw.used) problems.push(`swap: ${used} slots in use, counted ${sw.used}`);
    // each swap cluster's count (ci->count): its slots in use, the header and the slots past the end
    const per = sw.clusterPages;
    for (let c = 0; c < sw.clusterCount.length; c++) {
      let n = c === sw.clusterCount.length - 1 ? (c + 1) * per - sw.nrSlots : 0;
      for (let slot = Math.max(c * per, 1); slot < Math.min((c + 1) * per, sw.nrSlots); slot++)
        if ((slotRefs.get(slot) ?? 0) > 0 || sw.cache.has(slot)) n++;
      if (c === 0) n++;
      if (n !== sw.clusterCount[c])
        problems.push(`swap cluster ${c}: ${n} slots in use, counted ${sw.clusterCount[c]}`);
    }
    for (const slot of exclusiveSlots)
      if (sw.map[slot] !== 1)
        problems.push(`swap slot ${slot}: exclusive swap PTE, but swap_map ${sw.map[slot]}`);
    for (const [slot, pfn] of sw.cache) {
      if (sw.slotOf.get(pfn) !== slot)
        problems.push(`swap cache: slot ${slot} -> pfn ${pfn} has no way back`);
      if (k.pages.kind[pfn] !== PageKind.UserAnon && !shmemOwned.has(pfn))
        problems.push(`swap cache: pfn ${pfn} is neither an anonymous page nor a shmem object's`);
      if (k.pages.refcount[pfn] !== k.pages.mapcount[pfn] + 1 + inBatch(pfn) + pins(pfn))
        problems.push(
          `swap cache: pfn ${pfn} refcount ${k.pages.refcount[pfn]}, expected its ${k.pages.mapcount[pfn]} mappings + 1${inBatch(pfn) ? " + its LRU add batch's" : ""}${pins(pfn) ? " + its pins'" : ""}`,
        );
    }
  } else if (slotRefs.size) problems.push("swap PTEs without a swap area");
  for (const [table, refs] of sharedPmdRefs)
    if (refs !== k.pages.priv[table] + 1)
      problems.push(
        `shared PMD table ${table}: ${refs} PUD entries point at it, pt_share_count ${k.pages.priv[table]}`,
      );
  for (let pfn = 0; pfn < k.pages.nrFrames; pfn++) {
    if (k.pages.kind[pfn] === PageKind.PageTable && !reached.has(pfn))
      problems.push(`page-table frame ${pfn} is not reachable from any root (leaked)`);
  }

  // vmalloc areas
  let vmallocFrames = 0;
  for (const a of k.vm.busy) {
    a.pfns.forEach((pfn, i) => {
      if (k.pages.kind[pfn] !== PageKind.Vmalloc)
        problems.push(
          `vmalloc area at vpn 0x${a.startVpn.toString(16)}: frame ${pfn} is not a vmalloc frame`,
        );
      const e = k.mapper.lookup(k.rootPfn, vpnUnchecked(a.startVpn + i));
      const mapped = e === null ? -1 : pt.pfn(e.hi, e.lo, e.level);
      if (mapped !== pfn)
        problems.push(
          `vmalloc area at vpn 0x${a.startVpn.toString(16)}: page ${i} maps ${mapped}, not ${pfn}`,
        );
    });
    if (k.mapper.lookup(k.rootPfn, vpnUnchecked(a.startVpn + a.nrPages)) !== null)
      problems.push(`vmalloc area at vpn 0x${a.startVpn.toString(16)}: its guard page is mapped`);
    vmallocFrames += a.pfns.length;
  }
  if (vmallocFrames !== counts[PageKind.Vmalloc])
    problems.push(`${counts[PageKind.Vmalloc]} vmalloc frames, ${vmallocFrames} in areas`);
  return problems;
}

/**
 * The HugeTLB pool (mm/hugetlb.ts): every folio is free (on the free list,
 * unreferenced) or in use (referenced at least once per mapping), and the
 * two add up to nr_huge_pages; reservations fit in the free folios,
 * surplus in the pool; the frames of kind hugetlb are the pool's.
 */
export function hugetlbProblems(k: KernelCore): string[] {
  const problems: string[] = [];
  let poolFrames = 0;
  for (const h of k.userMm.hstates) {
    if (h.freeList.length !== h.freeHugePages)
      problems.push(
        `hugetlb: ${h.freeList.length} folios on the free list, free_huge_pages ${h.freeHugePages}`,
      );
    if (h.freeList.length + h.active.size !== h.nrHugePages)
      problems.push(
        `hugetlb: ${h.freeList.length} free and ${h.active.size} active folios, nr_huge_pages ${h.nrHugePages}`,
      );
    if (h.resvHugePages < 0 || h.resvHugePages > h.freeHugePages)
      problems.push(`hugetlb: resv_huge_pages ${h.resvHugePages} with ${h.freeHugePages} free`);
    if (h.surplusHugePages < 0 || h.surplusHugePages > h.nrHugePages)
      problems.push(`hugetlb: surplus_huge_pages ${h.surplusHugePages} of ${h.nrHugePages}`);
    for (const head of h.freeList)
      if (k.pages.refcount[head] !== 0 || k.pages.mapcount[head] !== 0)
        problems.push(`hugetlb: free folio ${head} is referenced or mapped`);
    for (const head of h.active)
      if (k.pages.refcount[head] < Math.max(1, k.pages.mapcount[head]))
        problems.push(
          `hugetlb: folio ${head} in use: refcount ${k.pages.refcount[head]}, mapcount ${k.pages.mapcount[head]}`,
        );
    poolFrames += h.nrHugePages * h.nrPages;
  }
  const frames = k.pages.countByKind()[PageKind.Hugetlb];
  if (frames !== poolFrames)
    problems.push(`hugetlb: ${frames} frames of kind hugetlb, the pool holds ${poolFrames}`);
  return problems;
}

/**
 * The mlock state (mm/mlock_fbatch.ts): NR_MLOCK is the pages with
 * PG_mlocked (a huge page's head counting for its pages); every page on the
 * unevictable list is PG_mlocked; each CPU's mlock batch holds fewer than
 * its 31 folios, and the entries naming a page are its `refs`.
 */
export function mlockProblems(k: KernelCore): string[] {
  const problems: string[] = [];
  const { lru, large } = k.vmscan;
  const m = k.vmscan.fbatches.mlock;
  const hpage = k.arch.pgtable.hpagePmdNr;
  let flagged = 0;
  for (let pfn = 0; pfn < k.pages.nrFrames; pfn++) {
    const mlocked = (k.pages.flags[pfn] & PageFlag.Mlocked) !== 0;
    if (mlocked) flagged += large[pfn] ? hpage : 1;
    if (lru[pfn] === 5 && !mlocked && !(k.vmscan.owner[pfn] as ShmemObject | undefined)?.unevictable)
      problems.push(
        `frame ${pfn} is on the unevictable list without PG_mlocked nor a mapping marked unevictable`,
      );
  }
  if (flagged !== m.nrMlock) problems.push(`NR_MLOCK ${m.nrMlock}, ${flagged} pages PG_mlocked`);
  const refs = new Map<number, number>();
  for (let cpu = 0; cpu < m.nrCpus; cpu++) {
    const n = m.count[cpu];
    if (n < 0 || n >= 31) problems.push(`CPU ${cpu}: mlock batch holds ${n} folios`);
    for (let i = 0; i < n && i < 31; i++) {
      const pfn = m.folios[cpu * 31 + i];
      refs.set(pfn, (refs.get(pfn) ?? 0) + 1);
    }
  }
  for (let pfn = 0; pfn < k.pages.nrFrames; pfn++)
    if (m.refs[pfn] !== (refs.get(pfn) ?? 0))
      problems.push(`frame ${pfn}: ${m.refs[pfn]} mlock batch references, ${refs.get(pfn) ?? 0} entries`);
  return problems;
}

/**
 * The per-CPU LRU add batches (mm/swap.c cpu_fbatches.lru_add, mm/swap.ts):
 * each CPU's batch holds fewer than FOLIO_BATCH_SIZE folios (a full one is
 * moved at once), each a user or page-cache page on no list, holding the
 * batch's reference, named once and marked with its CPU; no page is marked
 * that no batch holds.
 */
export function lruAddBatchProblems(k: KernelCore): string[] {
  const problems: string[] = [];
  const b = k.vmscan.fbatches;
  const seen = new Set<number>();
  for (let cpu = 0; cpu < b.nrCpus; cpu++) {
    const n = b.count[cpu];
    if (n < 0 || n >= FOLIO_BATCH_SIZE) problems.push(`CPU ${cpu}: LRU add batch holds ${n} folios`);
    for (let i = 0; i < n && i < FOLIO_BATCH_SIZE; i++) {
      const pfn = b.folios[cpu * FOLIO_BATCH_SIZE + i];
      const kind = k.pages.kind[pfn];
      if (seen.has(pfn)) problems.push(`frame ${pfn} is in an LRU add batch twice`);
      seen.add(pfn);
      if (b.cpuOf[pfn] !== cpu + 1)
        problems.push(`frame ${pfn} in CPU ${cpu}'s LRU add batch is marked ${b.cpuOf[pfn] - 1}`);
      if (kind !== PageKind.UserAnon && kind !== PageKind.PageCache)
        problems.push(`frame ${pfn} in CPU ${cpu}'s LRU add batch is not a user or page-cache page`);
      if (k.pages.refcount[pfn] < 1)
        problems.push(
          `frame ${pfn} in CPU ${cpu}'s LRU add batch has refcount ${k.pages.refcount[pfn]}, not the batch's`,
        );
      if (k.vmscan.lru[pfn] !== 0)
        problems.push(`frame ${pfn} in CPU ${cpu}'s LRU add batch is on a list too`);
    }
  }
  for (let pfn = 0; pfn < b.cpuOf.length; pfn++)
    if (b.cpuOf[pfn] !== 0 && !seen.has(pfn))
      problems.push(`frame ${pfn} is marked in an LRU add batch that does not hold it`);
  return problems;
}

/**
 * The per-CPU move batches (mm/swap.c cpu_fbatches.lru_activate,
 * lru_lazyfree..., mm/swap.ts): each holds fewer than FOLIO_BATCH_SIZE
 * folios, each on a list (PG_lru cleared, not unlinked), holding the
 * batch's reference, marked with its batch and in no other; no page is
 * marked that no batch holds.
 */
export function lruMoveBatchProblems(k: KernelCore): string[] {
  const problems: string[] = [];
  const b = k.vmscan.fbatches;
  const ops = b.moveCount.length / b.nrCpus;
  const seen = new Set<number>();
  for (let i = 0; i < b.moveCount.length; i++) {
    const n = b.moveCount[i];
    const cpu = Math.floor(i / ops);
    const op = i % ops;
    if (n < 0 || n >= FOLIO_BATCH_SIZE) problems.push(`CPU ${cpu}: move batch ${op} holds ${n} folios`);
    for (let j = 0; j < n && j < FOLIO_BATCH_SIZE; j++) {
      const pfn = b.moveFolios[i * FOLIO_BATCH_SIZE + j];
      if (seen.has(pfn)) problems.push(`frame ${pfn} is in the move batches twice`);
      seen.add(pfn);
      if (b.queued[pfn] !== op + 1)
        problems.push(`frame ${pfn} in CPU ${cpu}'s move batch ${op} is marked ${b.queued[pfn] - 1}`);
      if (b.has(pfn)) problems.push(`frame ${pfn} is in an LRU add batch and a move batch`);
      if (k.pages.refcount[pfn] < 1)
        problems.push(`frame ${pfn} in CPU ${cpu}'s move batch has refcount ${k.pages.refcount[pfn]}`);
    }
  }
  for (let pfn = 0; pfn < b.queued.length; pfn++)
    if (b.queued[pfn] !== 0 && !seen.has(pfn))
      problems.push(`frame ${pfn} is marked in a move batch that does not hold it`);
  return problems;
}

/**
 * The LRU lists' sizes (mm/mm_inline.ts, update_lru_size): each list's node count and its count
 * in each zone are the pages whose frames are on it (a large folio's head counting its pages).
 */
export function lruSizeProblems(k: KernelCore): string[] {
  const v = k.vmscan;
  const zone = new Float64Array(v.zoneSize.length);
  for (let pfn = 0; pfn < v.lru.length; pfn++) {
    const list = v.lru[pfn];
    if (list !== 0) zone[list * 3 + v.zoneOf(pfn)] += v.large[pfn] ? v.hpageNr : 1;
  }
  const problems: string[] = [];
  for (let list = 1; list < 6; list++) {
    const node = zone[list * 3] + zone[list * 3 + 1] + zone[list * 3 + 2];
    if (v.size[list] !== node) problems.push(`LRU list ${list}: size ${v.size[list]}, ${node} pages on it`);
    for (let z = 0; z < 3; z++)
      if (v.zoneSize[list * 3 + z] !== zone[list * 3 + z])
        problems.push(
          `LRU list ${list}, zone ${z}: ${v.zoneSize[list * 3 + z]} counted, ${zone[list * 3 + z]} pages`,
        );
  }
  return problems;
}
