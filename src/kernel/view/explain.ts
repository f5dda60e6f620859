import { Access, accessName, Mode } from "../../hw/access.ts";
import { type Mmu, WalkRecord } from "../../hw/mmu/Mmu.ts";
import { entryHex, HW_FAULT_NAMES, HwFaultKind, Perm, permText } from "../../hw/mmu/PagingFormat.ts";
import { Meta } from "../../hw/mmu/TlbArray.ts";
import type { KernelCore } from "../core/core.ts";
import { taskPkru } from "../core/pkeys.ts";
import { cpuOf } from "../core/sched.ts";
import type { Task } from "../core/task.ts";
import { PageKind } from "../mm/PageDesc.ts";
import { permString, VmFlag, vmaPkey } from "../mm/vma.ts";
import { explainCache } from "./cacheExplain.ts";

/**
 * Mmu.probe's walk on the task's own tables (it may not be running, or PTI
 * may have the kernel PGD loaded), as user code would make it, without a
 * trace: the walk and the verdict of a user-mode access, read-only.
 * `rights` gets the entries and, at a leaf, the rights they grant whatever
 * the access (no rights check); `verdict` gets the hardware's answer: 0, or
 * the fault with the architecture's code (ARM64: an abort from EL0).
 */
function probeOn(
  cpu: Mmu,
  rootPfn: number,
  va: bigint,
  vpn: number,
  access: Access,
  rights: WalkRecord,
  verdict: WalkRecord,
  kernelRootPfn = -1,
): void {
  const u = BigInt.asUintN(64, va);
  cpu.probeAsUser(
    rootPfn * cpu.pageSize,
    () => {
      cpu.walk(vpn, access, Mode.User, false, rights, false);
      cpu.probe(Number(u >> 32n), Number(u & 0xffffffffn), access, Mode.User, verdict);
    },
    kernelRootPfn < 0 ? -1 : kernelRootPfn * cpu.pageSize,
  );
}

/**
 * The whole story of one user access, told without changing anything: the
 * TLB lookup, each level's entry, the rights check, and, if it faults, the
 * error code and what the kernel's fault handler would do.
 */
export function explainAccess(k: KernelCore, t: Task, va: bigint, access: Access): string[] {
  const out: string[] = [];
  const hex = (v: number | bigint) => `0x${v.toString(16)}`;
  const view = k.arch.view;
  const pt = k.arch.pgtable;
  out.push(
    t.kthread
      ? `${t.comm} (pid ${t.pid}, a kernel thread) ${accessName(access)} of ${hex(va)}:`
      : `${t.comm} (pid ${t.pid}) ${accessName(access)} of ${hex(va)}, ${view.userMode}:`,
  );
  if (!t.alive || t.mm === null) {
    out.push(
      t.alive ? "  a kernel thread has no user address space" : `  the process is dead (${t.exitReason})`,
    );
    return out;
  }
  // arm64 TCR_EL1.TBI0 (Arm ARM D8.8, address tagging): a data access's top byte takes no part in
  // translating a TTBR0 address (bit 55 clear), and do_mem_abort works on untagged_addr(far)
  // (the same mask); an instruction fetch keeps it (hw/arch/arm64/Cpu.ts vpnOf)
  if (access !== Access.Exec && k.arch.untaggedAddr !== undefined) va = k.arch.untaggedAddr(va);
  if (!k.va.isCanonical(va)) {
    const cpu = k.machine.cpus[Math.max(0, cpuOf(k, t))];
    out.push(`  ${view.badAddressWords?.(cpu, va, false, access) ?? view.badAddress}`);
    return out;
  }
  const mm = t.mm;
  const vpn = k.va.vpn(va);
  const cpuId = cpuOf(k, t);
  const cpu = k.machine.cpus[Math.max(0, cpuId)];
  // 1. TLB
  if (cpuId < 0)
    out.push(
      `  TLB: ${t.comm} is not running on any CPU; its translations may still be cached under its ASID`,
    );
  else {
    let found = "";
    // user code runs on the user ASID (x86 under PTI: the user PCID)
    const asid = k.tlbMgr.userAsid(cpuId);
    // a fetch looks in the instruction TLBs, a load or store in the data TLBs
    const path = access === Access.Exec ? cpu.tlb.instrPath : cpu.tlb.dataPath;
    cpu.tlb.levels.forEach((l, i) => {
      for (const a of path[i]) {
        if (found) return;
        const slot = a.peek(vpn, asid);
        if (slot >= 0) {
          const m = a.metas[slot];
          found = `hit in ${l.name} (${a.name}): frame ${hex(tlbFrame(cpu, a.pfns[slot], m, vpn))}, cached rights ${permText((m >>> Meta.RIGHTS_SHIFT) & 63)}, ${m & Meta.D ? "dirty" : "clean"}`;
        }
      }
    });
    out.push(
      `  TLB on cpu${cpuId} (${cpu.asidName} ${asid}): ${found || "miss: the MMU walks the page tables"}`,
    );
  }
  // pagetable=inverted: a miss looks the page up in the hashed IPT; Linux's tables come after, in hash_page
  const hw = k.arch.hwTable;
  if (hw !== undefined) {
    const asid = cpuId < 0 ? -1 : k.tlbMgr.userAsid(cpuId);
    out.push(
      `  on a TLB hit nothing else is consulted: ${asid < 0 ? `the entry's tag (its ${cpu.asidName})` : `the entry's tag (${cpu.asidName} ${asid})`} is what keeps ${t.comm} to its own pages; another process's entry for this address carries another tag and cannot hit`,
      ...hw.explain(k, mm, vpn, access),
      "  hash_page's software walk of Linux's page tables (the radix tables the IPT is refilled from):",
    );
  }
  // 2. walk
  // arm64 KPTI: at EL0 TTBR1_EL1 holds tramp_pg_dir
  const trampPfn = k.tlbMgr.userKernelRootPfn?.() ?? -1;
  if (trampPfn >= 0)
    out.push(
      `  KPTI: at EL0 TTBR1_EL1 holds tramp_pg_dir (pfn 0x${trampPfn.toString(16)}), which maps only the trampoline vectors, and EL0 runs with the user ASID (the odd one of the mm's pair)`,
    );
  else if (k.config.pti)
    out.push(
      `  PTI: user mode walks the user PGD (pfn 0x${k.arch.pgtable.userPgd(mm.pgdPfn).toString(16)}), which maps the user half and, of the kernel, only the entry text and the cpu_entry_area`,
    );
  // the walk user mode does on the task's tables, and the MMU's verdict
  const rec = new WalkRecord();
  const verdict = new WalkRecord();
  // the walk and the verdict under the task's own protection-key register (PKRU is checked on every access)
  const pk = k.arch.pkeys?.enabled ? k.arch.pkeys : null;
  const pkru = taskPkru(k, t);
  const saved = pk === null ? 0 : pk.read(cpu);
  pk?.write(cpu, pkru);
  probeOn(cpu, k.arch.pgtable.userPgd(mm.pgdPfn), va, vpn, access, rec, verdict, trampPfn);
  pk?.write(cpu, saved);
  const names = cpu.format.levelNames;
  for (let n = 0; n < rec.count; n++) {
    const level = rec.level[n];
    const hi = rec.hi[n];
    const lo = rec.lo[n];
    const raw = entryHex(hi, lo, cpu.format.entryBytes);
    out.push(
      `  ${names[level].padEnd(4)}[${String(rec.index[n]).padStart(3)}] entry @${hex(rec.entryPa[n])} = ${raw}  ${view.entryFlags(hi, lo, level).join(" ")}${level === 0 ? specialNote(pt, hi, lo, mm.vmaAt(vpn)?.vmFlags ?? 0) : ""}`,
    );
  }
  // the leaf the walk reached, whatever the access: its level, not the translation's size (an arm64
  // contiguous page is a 64K translation, rec.size = Geometry.contSize, from a level-0 entry)
  const leaf =
    rec.outcome === 0 && rec.count > 0
      ? { hi: rec.hi[rec.count - 1], lo: rec.lo[rec.count - 1], level: rec.level[rec.count - 1] }
      : null;
  // 3. rights
  if (leaf === null) {
    const where = verdict.faultLevel >= 0 ? names[verdict.faultLevel] : "the top";
    out.push(
      verdict.faultKind === HwFaultKind.Translation
        ? `  not present at ${where}: ${view.faultText(verdict.errorCode)}`
        : `  ${HW_FAULT_NAMES[verdict.faultKind]} fault at ${where}: ${view.faultText(verdict.errorCode)}`,
    );
  } else {
    const rights = (rec.meta >>> Meta.RIGHTS_SHIFT) & 63;
    const ok = verdict.outcome === 0;
    // the byte's frame: a huge leaf's first frame plus the address's offset inside the page
    // (SDM §4.5 Table 4-18: a PDE's bits 51:21 and linear bits 20:0; Arm ARM D8.3 block
    // descriptors; RISC-V privileged spec §12.3.2 step 8, a superpage's pa.ppn[i] = va.vpn[i])
    const basePfn = pt.pfn(leaf.hi, leaf.lo, leaf.level);
    const pfn = basePfn + (vpn % cpu.geometry.pagesPer[leaf.level]);
    out.push(
      `  rights over all levels: ${rights & (Perm.PW | Perm.UW) ? "writable" : "read-only"}, ${rights & Perm.USER ? "user" : "supervisor"}, ${rights & (Perm.PX | Perm.UX) ? "executable" : "no-execute"} -> ${ok ? "allowed" : "denied"}`,
    );
    const key = vmaPkey(mm.vmaAt(vpn)?.vmFlags ?? 0);
    if (pk !== null && access !== Access.Exec && rights & Perm.USER)
      out.push(
        `  protection key ${key}: ${pk.register} ${hex(pkru)} has ${pk.describe(pkru, key)}: ${pk.allows(pkru, key, access === Access.Write) ? "allowed" : "denied"}`,
      );
    if (ok) {
      out.push(
        `  -> pa ${hex(pfn * 4096 + k.va.offset(va))} (frame ${hex(pfn)}${basePfn === k.zeroPfn ? ", the zero page" : ""}${pfn === basePfn ? "" : `, in the ${sizeText(cpu.geometry.pagesPer[leaf.level])} page at frame ${hex(basePfn)}`})${access === Access.Write && !pt.dirty(leaf.hi, leaf.lo) ? "; the write sets D" : ""}`,
      );
      out.push(...explainCache(k, Math.max(0, cpuId), va, pfn * 4096 + k.va.offset(va)));
      return out;
    }
    out.push(`  ${view.faultText(verdict.errorCode)}: a protection violation`);
  }
  // 4. the kernel's fault handler (do_user_addr_fault; profile=windows: MmAccessFault)
  if (k.os !== null) {
    out.push(...k.os.explainUserFault(k, t, va, access));
    return out;
  }
  const kernelAddr = k.va.isKernel(va) ? k.arch.explainUserKernelAddr?.(verdict.errorCode) : undefined;
  if (kernelAddr !== undefined) {
    out.push(`  ${kernelAddr}`);
    return out;
  }
  let vma = mm.findVma(vpn);
  if (vma !== null && vma.vmStart > vpn) {
    if (vma.vmFlags & VmFlag.GROWSDOWN)
      out.push(
        `  below the stack VMA: expand_stack would grow it down to ${hex(k.va.user(vpn))} if within RLIMIT_STACK (${t.rlimitStack} bytes) and the guard gap`,
      );
    else vma = null;
  }
  if (vma === null) {
    out.push("  no VMA covers the address: SIGSEGV, si_code SEGV_MAPERR");
    return out;
  }
  out.push(
    `  VMA ${hex(k.va.user(vma.vmStart))}-${hex(k.va.user(vma.vmEnd))} ${permString(vma.vmFlags)}${vma.name ? ` ${vma.name}` : ""}`,
  );
  const write = access === Access.Write;
  // access_error: X86_PF_PK, or arch_vma_access_permitted (the key would deny the access once mapped)
  if (pk !== null && access !== Access.Exec && !pk.allows(pkru, vmaPkey(vma.vmFlags), write)) {
    const key = vmaPkey(vma.vmFlags);
    out.push(
      `  access_error: the VMA's protection key ${key} is denied by ${t.comm}'s ${pk.register} ${hex(pkru)} (${pk.describe(pkru, key)})${leaf === null ? ", checked before any page is mapped (arch_vma_access_permitted)" : ""}: SIGSEGV, si_code SEGV_PKUERR, si_pkey ${key}`,
    );
    return out;
  }
  if (
    write
      ? !(vma.vmFlags & VmFlag.WRITE)
      : leaf !== null || !(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))
  ) {
    out.push(`  access_error: the VMA does not allow a ${accessName(access)}: SIGSEGV, si_code SEGV_ACCERR`);
    return out;
  }
  // the present entry handle_pte_fault finds: the walk's leaf, or an old PTE (an arm64 Access flag
  // fault: no TCR_EL1.HA, machine hafdbs=off), which a write to a read-only one takes to do_wp_page
  let pte0 = leaf;
  if (leaf === null && verdict.faultKind === HwFaultKind.AccessFlag) {
    const old = k.userMm.readPte(mm, vpn);
    if (old !== null && (!write || pt.write(old.hi, old.lo))) {
      out.push(
        `  handle_pte_fault: the PTE is present but old: pte_mkyoung${write ? ", pte_mkdirty" : ""} and ptep_set_access_flags (a minor fault; ${write ? "the write's change is flushed: TLBI VALE1IS" : "no TLBI, an entry with AF = 0 is never cached"})`,
      );
      return out;
    }
    if (old !== null) pte0 = { hi: old.hi, lo: old.lo, level: 0 };
  }
  if (pte0 === null) {
    const pte = k.userMm.readPte(mm, vpn);
    const f = vma.file;
    if (pte !== null && pt.protnone(pte.hi, pte.lo)) out.push("  a PROT_NONE entry");
    else if (pte !== null && pt.isSwap(pte.hi, pte.lo)) {
      const slot = pt.swapOffset(pte.hi, pte.lo);
      const cached = k.swap?.cache.get(slot);
      out.push(
        `  a swap entry: type 0, offset ${slot} (${view.swapLayout})`,
        cached !== undefined
          ? `  handle_mm_fault -> do_swap_page: the page is in the swap cache (pfn ${hex(cached)}): mapped again without I/O (a minor fault)`
          : "  handle_mm_fault -> do_swap_page: read the page from swap into the swap cache and map it (a major fault)",
      );
      if (cached === undefined && k.swap !== null) refaultLine(k, out, k.swap.shadow[slot], false);
    } else if (f !== null) {
      const index = vma.vmPgoff + (vpn - vma.vmStart);
      if (index >= f.nrPages)
        out.push(
          `  page ${index} of ${f.path} is past its end (${f.sizeBytes} bytes): filemap_fault -> SIGBUS, BUS_ADRERR`,
        );
      else if (f.cache.has(index))
        out.push(
          `  do_read_fault/do_${write ? ((vma.vmFlags & VmFlag.SHARED) !== 0 ? "shared" : "cow") : "read"}_fault: page ${index} of ${f.path} is in the page cache (pfn ${hex(f.cache.get(index)!)}): no I/O (a minor fault)${write && !(vma.vmFlags & VmFlag.SHARED) ? "; a private copy is made" : ""}`,
        );
      else {
        out.push(
          `  filemap_fault: page ${index} of ${f.path} is not cached: read it from disk with read-around (a major fault)`,
        );
        if (f.shadows.has(index)) refaultLine(k, out, f.shadows.get(index)!, true);
      }
    } else if (vma.shmem)
      out.push("  shmem_fault: the shared page is found or allocated in the shmem object (a minor fault)");
    else if (write)
      out.push(
        "  handle_mm_fault -> do_anonymous_page: allocate a zeroed page, map it writable and dirty (a minor fault)",
      );
    else
      out.push(
        "  handle_mm_fault -> do_anonymous_page: map the shared zero page read-only, allocate nothing (a minor fault)",
      );
    if (access === Access.Exec && !(vma.vmFlags & VmFlag.EXEC))
      out.push("  the page will be mapped no-execute, so the fetch faults again and gets SEGV_ACCERR");
    return out;
  }
  const pfn = pt.pfn(pte0.hi, pte0.lo, pte0.level);
  if (write) {
    if (pt.write(pte0.hi, pte0.lo) && !pt.dirty(pte0.hi, pte0.lo))
      // handle_pte_fault: pte_write, so no do_wp_page (arm64 without TCR_EL1.HD: a writable-clean page)
      out.push(
        `  handle_pte_fault: the PTE is writable (pte_write) but clean, and the hardware does not set its dirty state: pte_mkdirty and ptep_set_access_flags make it dirty (a minor fault${pt.accessFlagsFlush ? "; the change is flushed: TLBI VALE1IS" : ""})`,
      );
    else if (pt.special(pte0.hi, pte0.lo))
      out.push(
        "  do_wp_page on the zero page -> wp_page_copy: a new zeroed page replaces it (a minor fault)",
      );
    else if (
      k.pages.kind[pfn] === PageKind.UserAnon &&
      k.pages.mapcount[pfn] === 1 &&
      // wp_can_reuse_anon_folio empties this CPU's LRU add and mlock batches first (lru_add_drain)
      // when the folio is on no list
      k.pages.refcount[pfn] -
        (k.vmscan.lru[pfn] === 0
          ? (k.vmscan.fbatches.hasLocal(pfn) ? 1 : 0) + k.vmscan.fbatches.mlock.localRefs(pfn)
          : 0) ===
        1
    )
      out.push(
        "  do_wp_page -> wp_page_reuse: the page is this process's alone, made writable in place (a minor fault)",
      );
    else
      out.push(
        `  do_wp_page -> wp_page_copy: the page is shared (mapcount ${k.pages.mapcount[pfn]}), copied to a new page (copy-on-write, a minor fault)`,
      );
  } else out.push("  the PTE allows it now: a stale TLB entry; the fault is spurious and the access retried");
  return out;
}

/**
 * pte_special, said in words: only a present PTE has the bit (in a swap
 * entry or a PTE marker the same bit is part of the offset).
 */
function specialNote(pt: KernelCore["arch"]["pgtable"], hi: number, lo: number, vmFlags: number): string {
  if (!pt.present(hi, lo) || !pt.special(hi, lo)) return "";
  return vmFlags & VmFlag.PFNMAP
    ? " (special: a remap_pfn_range frame, no struct page refcounted)"
    : " (special: the zero page)";
}

/**
 * The frame a TLB entry gives for `vpn`: the entry holds the first frame of
 * the page it caches (its held size), the hit adds the page number's offset
 * inside it, as Mmu.translate's hit path adds the address's low bits.
 */
export function tlbFrame(cpu: Mmu, firstPfn: number, meta: number, vpn: number): number {
  const held = (meta >>> Meta.HELD_SIZE_SHIFT) & 7;
  return firstPfn + (vpn % cpu.geometry.pagesPer[held]);
}

/** A page's size from its count of 4 KiB frames: "2M", "1G", "4M", "64K". */
export function sizeText(frames: number): string {
  const kib = frames * 4;
  return kib >= 1 << 20 ? `${kib >> 20}G` : kib >= 1024 ? `${kib >> 10}M` : `${kib}K`;
}

/**
 * What workingset_refault will make of a page read back where reclaim left
 * `shadow` (0: none, nothing said): the refault distance against the
 * workingset, and the list the page joins.
 */
function refaultLine(k: KernelCore, out: string[], shadow: number, file: boolean): void {
  if (shadow === 0 || k.config.policy !== "linux") return;
  const t = k.vmscan.workingset.testRecent(shadow, file, k.vmscan.size, k.swap?.freePages ?? 0);
  const kind = file ? "file" : "anon";
  out.push(
    `  workingset_refault: a shadow entry is left from its eviction; ${t.distance} pages were evicted or activated since, ` +
      (t.distance <= t.workingsetSize
        ? `no more than the ${t.workingsetSize} pages of the workingset it competes with: it joins the active list (workingset_activate_${kind}${t.workingset ? `, and workingset_restore_${kind}: it was active before` : ""})`
        : `more than the ${t.workingsetSize} pages of the workingset it competes with: it joins the inactive list`),
  );
}
