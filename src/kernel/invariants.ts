import { Pte } from "../hw/arch/x86_64/pte.ts";
import type { Kernel } from "./Kernel.ts";
import { PageKind } from "./mm/PageDesc.ts";
import { isSwapPte, swapSlot } from "./mm/swapfile.ts";
import { PTE_PROTNONE, PTE_SPECIAL } from "./mm/userMm.ts";
import { VmFlag } from "./mm/vma.ts";

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
 * - every vmalloc area's frames are vmalloc frames mapped at its addresses.
 */
export function checkInvariants(k: Kernel): string[] {
  const problems: string[] = [];
  const counts = k.pages.countByKind();
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== k.machine.phys.nrFrames)
    problems.push(`frame kinds add up to ${total}, RAM has ${k.machine.phys.nrFrames}`);
  problems.push(...k.buddy.check());
  problems.push(...k.slab.check());

  // walk the kernel's page tables
  const phys = k.machine.phys;
  const reached = new Set<number>();
  const visit = (tablePfn: number, level: number, vpnBase: number) => {
    reached.add(tablePfn);
    const kind = k.pages.kind[tablePfn];
    if (kind !== PageKind.PageTable)
      problems.push(`page table at pfn ${tablePfn} (level ${level}) is of kind ${kind}`);
    for (let i = 0; i < 512; i++) {
      const lo = phys.read32(tablePfn * 4096 + i * 8);
      const hi = phys.read32(tablePfn * 4096 + i * 8 + 4);
      if (!(lo & Pte.P)) continue;
      const vpn = vpnBase + i * 512 ** level;
      const addrPfn = ((hi & 0x3fff) * 4294967296 + ((lo & 0xfffff000) >>> 0)) / 4096;
      const leaf = level === 0 || (level <= 2 && (lo & Pte.PS) !== 0);
      if (!leaf) {
        visit(addrPfn, level - 1, vpn);
        continue;
      }
      if (k.inDirectMap(vpn) || k.inKernelMap(vpn)) continue;
      const span = level === 0 ? 1 : 512 ** level;
      for (let f = addrPfn; f < addrPfn + span && f < k.pages.nrFrames; f++) {
        if (k.pages.kind[f] === PageKind.Free)
          problems.push(`present PTE for vpn 0x${vpn.toString(16)} points to free frame ${f}`);
      }
    }
  };
  visit(k.rootPfn, k.levels - 1, 0);
  // PTI: init_mm's user PGD and the tables under its kernel half (the entry-text clone)
  if (k.config.pti) visit(k.rootPfn + 1, k.levels - 1, 0);

  // user address spaces: their tables, RSS, mapcounts, and the shared kernel half
  const mapcounts = new Map<number, number>();
  const shmemOwned = new Set<number>();
  const slotRefs = new Map<number, number>();
  for (const f of k.pageCache.files.values()) {
    for (const [index, pfn] of f.cache) {
      shmemOwned.add(pfn);
      if (k.pages.kind[pfn] !== PageKind.PageCache)
        problems.push(`file ${f.name}: page ${index} in frame ${pfn} of kind ${k.pages.kind[pfn]}`);
    }
    for (const index of f.dirty)
      if (!f.cache.has(index)) problems.push(`file ${f.name}: dirty page ${index} is not in the page cache`);
  }
  const seen = new Set<unknown>();
  for (const t of k.tasks) {
    const mm = t.mm;
    if (!t.alive || mm === null || seen.has(mm)) continue;
    seen.add(mm);
    let anon = 0;
    let shmem = 0;
    let file = 0;
    let swapEnts = 0;
    let pt = 0;
    for (const v of mm.vmas) if (v.shmem) for (const pfn of v.shmem.pages.values()) shmemOwned.add(pfn);
    const visitUser = (tablePfn: number, level: number, vpnBase: number) => {
      reached.add(tablePfn);
      if (level < k.levels - 1) pt++;
      if (k.pages.kind[tablePfn] !== PageKind.PageTable)
        problems.push(`${t.comm}: page table at pfn ${tablePfn} is of kind ${k.pages.kind[tablePfn]}`);
      const top = level === k.levels - 1 ? 256 : 512; // the kernel half of a PGD is shared, checked below
      for (let i = 0; i < top; i++) {
        const lo = phys.read32(tablePfn * 4096 + i * 8);
        const hi = phys.read32(tablePfn * 4096 + i * 8 + 4);
        if (lo === 0 && hi === 0) continue;
        const vpn = vpnBase + i * 512 ** level;
        const pfn = ((hi & 0x3fff) * 4294967296 + ((lo & 0xfffff000) >>> 0)) / 4096;
        if (level === 1 && lo & Pte.PS) {
          // a huge PMD: 512 frames of a transparent huge page, or the huge zero page
          const vma = mm.vmaAt(vpn);
          if (vma === null || vma.vmEnd < vpn + 512)
            problems.push(`${t.comm}: huge PMD at vpn 0x${vpn.toString(16)} not inside one VMA`);
          const base = ((hi & 0x3fff) * 4294967296 + ((lo & 0xffe00000) >>> 0)) / 4096;
          if (lo & PTE_SPECIAL) {
            if (base !== k.userMm.hugeZeroPfn)
              problems.push(`${t.comm}: special huge PMD is not the huge zero page`);
            continue;
          }
          for (let f = base; f < base + 512; f++) {
            if (k.pages.kind[f] !== PageKind.UserAnon)
              problems.push(`${t.comm}: huge PMD maps frame ${f} of kind ${k.pages.kind[f]}`);
            anon++;
            mapcounts.set(f, (mapcounts.get(f) ?? 0) + 1);
          }
          continue;
        }
        if (level > 0) {
          visitUser(pfn, level - 1, vpn);
          continue;
        }
        if (mm.vmaAt(vpn) === null)
          problems.push(`${t.comm}: PTE for vpn 0x${vpn.toString(16)} outside every VMA`);
        if (isSwapPte(hi, lo)) {
          swapEnts++;
          const slot = swapSlot(hi, lo);
          slotRefs.set(slot, (slotRefs.get(slot) ?? 0) + 1);
          continue;
        }
        if (!(lo & (Pte.P | PTE_PROTNONE)) || lo & PTE_SPECIAL) {
          if (lo & PTE_SPECIAL && pfn !== k.zeroPfn && !((mm.vmaAt(vpn)?.vmFlags ?? 0) & VmFlag.PFNMAP))
            problems.push(`${t.comm}: special PTE at vpn 0x${vpn.toString(16)} is not the zero page`);
          continue;
        }
        const kind = k.pages.kind[pfn];
        if (kind === PageKind.Free)
          problems.push(`${t.comm}: present PTE for vpn 0x${vpn.toString(16)} points to free frame ${pfn}`);
        if (kind === PageKind.UserAnon) anon++;
        else if (kind === PageKind.PageCache) {
          const f = mm.vmaAt(vpn)?.file;
          if (f && f.fs === "disk") file++;
          else shmem++;
        } else problems.push(`${t.comm}: PTE for vpn 0x${vpn.toString(16)} maps a frame of kind ${kind}`);
        mapcounts.set(pfn, (mapcounts.get(pfn) ?? 0) + 1);
      }
    };
    visitUser(mm.pgdPfn, k.levels - 1, 0);
    if (anon !== mm.rssAnon)
      problems.push(`${t.comm}: ${anon} anonymous pages mapped, rss anon ${mm.rssAnon}`);
    if (shmem !== mm.rssShmem)
      problems.push(`${t.comm}: ${shmem} shmem pages mapped, rss shmem ${mm.rssShmem}`);
    if (swapEnts !== mm.swapEnts)
      problems.push(`${t.comm}: ${swapEnts} swap entries in the page tables, MM_SWAPENTS ${mm.swapEnts}`);
    if (file !== mm.rssFile) problems.push(`${t.comm}: ${file} file pages mapped, rss file ${mm.rssFile}`);
    if (pt !== mm.ptPages)
      problems.push(`${t.comm}: ${pt} page-table pages below the PGD, pt_pages ${mm.ptPages}`);
    for (let i = 256; i < 512; i++) {
      const a = phys.read64Big(mm.pgdPfn * 4096 + i * 8);
      const b = phys.read64Big(k.rootPfn * 4096 + i * 8);
      if (a !== b) problems.push(`${t.comm}: PGD entry ${i} (kernel half) differs from the kernel's`);
    }
    if (k.config.pti) {
      // the user PGD: the same user half (the kernel copy adds NX to user entries), init's user kernel half
      reached.add(mm.pgdPfn + 1);
      const user = (mm.pgdPfn + 1) * 4096;
      for (let i = 0; i < 512; i++) {
        const u = phys.read64Big(user + i * 8);
        const want =
          i < 256
            ? phys.read64Big(mm.pgdPfn * 4096 + i * 8) & ~(1n << 63n)
            : phys.read64Big((k.rootPfn + 1) * 4096 + i * 8);
        const kernelCopy = phys.read64Big(mm.pgdPfn * 4096 + i * 8);
        if (u !== want && !(i < 256 && u === kernelCopy))
          problems.push(`${t.comm}: user PGD entry ${i} does not mirror the kernel PGD's (PTI)`);
        if (i < 256 && (kernelCopy & 5n) === 5n && !(kernelCopy >> 63n))
          problems.push(`${t.comm}: kernel PGD entry ${i} maps user memory without NX (PTI)`);
      }
    }
    for (let i = 1; i < mm.vmas.length; i++) {
      if (mm.vmas[i - 1].vmEnd > mm.vmas[i].vmStart)
        problems.push(`${t.comm}: VMAs overlap at vpn 0x${mm.vmas[i].vmStart.toString(16)}`);
    }
  }
  // each shmem object is referenced by exactly the VMAs that map it
  const vmaRefs = new Map<object, number>();
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
  for (const [pfn, n] of mapcounts) {
    if (k.pages.mapcount[pfn] !== n)
      problems.push(`frame ${pfn}: mapcount ${k.pages.mapcount[pfn]}, mapped by ${n} PTEs`);
    if (k.pages.refcount[pfn] < n)
      problems.push(`frame ${pfn}: refcount ${k.pages.refcount[pfn]} below its ${n} mappings`);
    // a page-cache page (shmem or file): one reference per mapping plus the cache's own
    if (k.pages.kind[pfn] === PageKind.PageCache && k.pages.refcount[pfn] !== n + 1)
      problems.push(`page-cache frame ${pfn}: refcount ${k.pages.refcount[pfn]}, expected ${n + 1}`);
  }
  for (let pfn = 0; pfn < k.pages.nrFrames; pfn++) {
    if (k.pages.kind[pfn] === PageKind.UserAnon && !mapcounts.has(pfn) && !k.swap?.slotOf.has(pfn))
      problems.push(`user frame ${pfn} is mapped by no process (leaked)`);
    if (k.pages.kind[pfn] === PageKind.PageCache && !shmemOwned.has(pfn))
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
      if (inUse && !sw.data.has(slot)) problems.push(`swap slot ${slot} is in use but holds no page`);
      if (!inUse && sw.data.has(slot))
        problems.push(`swap slot ${slot} is free but still holds a page (leaked)`);
    }
    if (used !== sw.used) problems.push(`swap: ${used} slots in use, counted ${sw.used}`);
    for (const [slot, pfn] of sw.cache) {
      if (sw.slotOf.get(pfn) !== slot)
        problems.push(`swap cache: slot ${slot} -> pfn ${pfn} has no way back`);
      if (k.pages.kind[pfn] !== PageKind.UserAnon)
        problems.push(`swap cache: pfn ${pfn} is not an anonymous page`);
      if (k.pages.refcount[pfn] !== k.pages.mapcount[pfn] + 1)
        problems.push(
          `swap cache: pfn ${pfn} refcount ${k.pages.refcount[pfn]}, expected its ${k.pages.mapcount[pfn]} mappings + 1`,
        );
    }
  } else if (slotRefs.size) problems.push("swap PTEs without a swap area");
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
      const e = k.mapper.lookup(k.rootPfn, a.startVpn + i);
      const mapped = e === null ? -1 : ((e.hi & 0x3fff) * 4294967296 + ((e.lo & 0xfffff000) >>> 0)) / 4096;
      if (mapped !== pfn)
        problems.push(
          `vmalloc area at vpn 0x${a.startVpn.toString(16)}: page ${i} maps ${mapped}, not ${pfn}`,
        );
    });
    if (k.mapper.lookup(k.rootPfn, a.startVpn + a.nrPages) !== null)
      problems.push(`vmalloc area at vpn 0x${a.startVpn.toString(16)}: its guard page is mapped`);
    vmallocFrames += a.pfns.length;
  }
  if (vmallocFrames !== counts[PageKind.Vmalloc])
    problems.push(`${counts[PageKind.Vmalloc]} vmalloc frames, ${vmallocFrames} in areas`);
  return problems;
}
