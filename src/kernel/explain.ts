import { Access, accessName, Mode } from "../hw/access.ts";
import { permText } from "../hw/mmu/PagingFormat.ts";
import { Meta } from "../hw/mmu/TlbArray.ts";
import { errorCodeNames, PfErr } from "../hw/arch/x86_64/fault.ts";
import { flagNames, LEVEL_NAMES, Pte, PteHi } from "../hw/arch/x86_64/pte.ts";
import { allowedByRights, pkDenied, Rights } from "../hw/arch/x86_64/rights.ts";
import type { Kernel } from "./Kernel.ts";
import { PageKind } from "./mm/PageDesc.ts";
import { isSwapPte, swapSlot } from "./mm/swapfile.ts";
import { PTE_PROTNONE, PTE_SPECIAL, UserMm } from "./mm/userMm.ts";
import { permString, VmFlag } from "./mm/vma.ts";
import type { Task } from "./task.ts";

/**
 * The whole story of one user access, told without changing anything: the
 * TLB lookup, each level's entry, the rights check, and, if it faults, the
 * error code and what the kernel's fault handler would do.
 */
export function explainAccess(k: Kernel, t: Task, va: bigint, access: Access): string[] {
  const out: string[] = [];
  const hex = (v: number | bigint) => `0x${v.toString(16)}`;
  out.push(`${t.comm} (pid ${t.pid}) ${accessName(access)} of ${hex(va)}, user mode (CPL 3):`);
  if (!t.alive || t.mm === null) {
    out.push(
      t.alive ? "  a kernel thread has no user address space" : `  the process is dead (${t.exitReason})`,
    );
    return out;
  }
  if (!k.va.isCanonical(va)) {
    out.push("  the address is not canonical: #GP, not #PF; the kernel sends SIGSEGV (SI_KERNEL)");
    return out;
  }
  const mm = t.mm;
  const vpn = k.va.vpn(va);
  const cpuId = k.cpuOf(t);
  const cpu = k.machine.cpus[Math.max(0, cpuId)];
  // 1. TLB
  if (cpuId < 0)
    out.push(
      `  TLB: ${t.comm} is not running on any CPU; its translations may still be cached under its ASID`,
    );
  else {
    let found = "";
    // user code runs on the user PCID under PTI
    const pcid = k.config.pti ? k.tlbMgr.userPcid(k.tlbMgr.states[cpuId].loadedAsid) : cpu.pcid;
    cpu.tlb.levels.forEach((l) => {
      for (const a of l.arrays) {
        if (found) return;
        const slot = a.peek(vpn, pcid);
        if (slot >= 0) {
          const m = a.metas[slot];
          found = `hit in ${l.name} (${a.name}): frame ${hex(a.pfns[slot])}, cached rights ${permText((m >>> Meta.RIGHTS_SHIFT) & 63)}, ${m & Meta.D ? "dirty" : "clean"}`;
        }
      }
    });
    out.push(`  TLB on cpu${cpuId} (PCID ${pcid}): ${found || "miss: the MMU walks the page tables"}`);
  }
  // 2. walk
  if (k.config.pti)
    out.push(
      `  PTI: user mode walks the user PGD (pfn 0x${k.userPgdPfn(mm).toString(16)}), which maps the user half and, of the kernel, only the entry text and the cpu_entry_area`,
    );
  const mapper = k.userMm.mapper(mm);
  let leaf: { hi: number; lo: number; level: number } | null = null;
  let rights: number = Rights.ALL;
  let notPresentAt = -1;
  for (let level = k.levels - 1; level >= 0; level--) {
    const e = mapper.entryAt(k.userPgdPfn(mm), vpn, level);
    if (e === null) break;
    const raw = `0x${e.hi.toString(16).padStart(8, "0")}${e.lo.toString(16).padStart(8, "0")}`;
    out.push(
      `  ${LEVEL_NAMES[level].padEnd(4)}[${String(Math.floor(vpn / 512 ** level) % 512).padStart(3)}] entry @${hex(e.entryPa)} = ${raw}  ${flagNames(e.hi, e.lo, level).join(" ")}${e.lo & PTE_SPECIAL && level === 0 ? (((mm?.vmaAt(vpn)?.vmFlags ?? 0) & VmFlag.PFNMAP) !== 0 ? " (special: a remap_pfn_range frame, no struct page refcounted)" : " (special: the zero page)") : ""}`,
    );
    if (!(e.lo & Pte.P)) {
      notPresentAt = level;
      break;
    }
    if (!(e.lo & Pte.RW)) rights &= ~Rights.W;
    if (!(e.lo & Pte.US)) rights &= ~Rights.U;
    if (e.hi & PteHi.XD) rights &= ~Rights.X;
    if (level === 0 || (level <= 2 && e.lo & Pte.PS)) {
      leaf = { hi: e.hi, lo: e.lo, level };
      break;
    }
  }
  // 3. rights
  let errorCode = -1;
  const base = (access === Access.Write ? PfErr.WR : 0) | PfErr.US | (access === Access.Exec ? PfErr.ID : 0);
  if (leaf === null) {
    errorCode = base;
    out.push(
      `  not present at ${notPresentAt >= 0 ? LEVEL_NAMES[notPresentAt] : "the top"}: #PF error_code ${hex(errorCode)} (${errorCodeNames(errorCode)})`,
    );
  } else {
    const regs = { wp: cpu.cr0Wp, smep: cpu.cr4Smep, smap: cpu.cr4Smap, ac: cpu.rflagsAc, nxe: cpu.eferNxe };
    const pkey = (leaf.hi >>> 27) & 15;
    const ok =
      allowedByRights(rights, Mode.User, access, regs) &&
      !(cpu.cr4Pke && pkDenied(cpu.pkru, pkey, (rights & Rights.U) !== 0, Mode.User, access, cpu.cr0Wp));
    const pfn = UserMm.ptePfn(leaf.hi, leaf.lo);
    out.push(
      `  rights over all levels: ${rights & Rights.W ? "writable" : "read-only"}, ${rights & Rights.U ? "user" : "supervisor"}, ${rights & Rights.X ? "executable" : "no-execute"} -> ${ok ? "allowed" : "denied"}`,
    );
    if (ok) {
      out.push(
        `  -> pa ${hex(pfn * 4096 + k.va.offset(va))} (frame ${hex(pfn)}${pfn === k.zeroPfn ? ", the zero page" : ""})${access === Access.Write && !(leaf.lo & Pte.D) ? "; the write sets D" : ""}`,
      );
      return out;
    }
    errorCode = base | PfErr.P;
    out.push(`  #PF error_code ${hex(errorCode)} (${errorCodeNames(errorCode)}): a protection violation`);
  }
  // 4. the kernel's fault handler (do_user_addr_fault)
  let vma = mm.findVma(vpn);
  if (vma !== null && vma.vmStart > vpn) {
    if (vma.vmFlags & VmFlag.GROWSDOWN)
      out.push(
        `  below the stack VMA: expand_stack would grow it down to ${hex(k.va.canonical(vpn))} if within RLIMIT_STACK (${t.rlimitStack} bytes) and the guard gap`,
      );
    else vma = null;
  }
  if (vma === null) {
    out.push("  no VMA covers the address: SIGSEGV, si_code SEGV_MAPERR");
    return out;
  }
  out.push(
    `  VMA ${hex(k.va.canonical(vma.vmStart))}-${hex(k.va.canonical(vma.vmEnd))} ${permString(vma.vmFlags)}${vma.name ? ` ${vma.name}` : ""}`,
  );
  const write = access === Access.Write;
  if (
    write
      ? !(vma.vmFlags & VmFlag.WRITE)
      : errorCode & PfErr.P || !(vma.vmFlags & (VmFlag.READ | VmFlag.WRITE | VmFlag.EXEC))
  ) {
    out.push(`  access_error: the VMA does not allow a ${accessName(access)}: SIGSEGV, si_code SEGV_ACCERR`);
    return out;
  }
  if (leaf === null) {
    const pte = k.userMm.readPte(mm, vpn);
    const f = vma.file;
    if (pte !== null && pte.lo & PTE_PROTNONE) out.push("  a PROT_NONE entry");
    else if (pte !== null && isSwapPte(pte.hi, pte.lo)) {
      const slot = swapSlot(pte.hi, pte.lo);
      const cached = k.swap?.cache.get(slot);
      out.push(
        `  a swap entry: type 0, offset ${slot} (stored inverted in bits 9-58)`,
        cached !== undefined
          ? `  handle_mm_fault -> do_swap_page: the page is in the swap cache (pfn ${hex(cached)}): mapped again without I/O (a minor fault)`
          : "  handle_mm_fault -> do_swap_page: read the page from swap into the swap cache and map it (a major fault)",
      );
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
      else
        out.push(
          `  filemap_fault: page ${index} of ${f.path} is not cached: read it from disk with read-around (a major fault)`,
        );
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
  const pfn = UserMm.ptePfn(leaf.hi, leaf.lo);
  if (write) {
    if (leaf.lo & PTE_SPECIAL)
      out.push(
        "  do_wp_page on the zero page -> wp_page_copy: a new zeroed page replaces it (a minor fault)",
      );
    else if (
      k.pages.kind[pfn] === PageKind.UserAnon &&
      k.pages.mapcount[pfn] === 1 &&
      k.pages.refcount[pfn] === 1
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
