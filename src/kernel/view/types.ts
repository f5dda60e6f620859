/**
 * The kernel's state as plain data: what KernelView (KernelView.ts) returns.
 * Every value here is a copy made when it was asked for (numbers, bigints,
 * strings, arrays and objects of them); none is a live kernel object, and
 * changing one changes nothing in the kernel. Front ends (the scenario
 * runner, the CLI, a browser view) read the kernel through these only.
 *
 * Units: virtual addresses are canonical 64-bit values as unsigned bigints
 * (0xffff888000000000, as Linux prints them); page numbers (vpn) are 4 KiB
 * pages of the truncated address, frames (pfn) 4 KiB frames, physical
 * addresses (pa) bytes, all as numbers. Sizes of memory are in pages unless
 * a name says bytes (meminfo's fields are bytes, as its formatter expects).
 */
import type { EntryBit } from "../core/archView.ts";

export type { EntryBit };

/** One task (task_struct), as ps and /proc/PID/status show it. */
export interface TaskInfo {
  pid: number;
  /** the task that forked it (a thread: its process's parent); -1 when outside the model (spawned, boot) */
  ppid: number;
  comm: string;
  kthread: boolean;
  alive: boolean;
  /** why it died ("oops", "SIGSEGV", "exit", ...); "" while alive */
  exitReason: string;
  uid: number;
  /** the CPU it is current on, or -1 */
  cpu: number;
  /** it has a user address space (kernel threads have none) */
  hasMm: boolean;
  /** its address space's id (mm->context.ctx_id; threads share it), or null */
  mmId: number | null;
  /**
   * active_mm: the address space whose tables it runs on: its own, or for a
   * kernel thread current on a CPU the one that CPU has loaded (lazy TLB);
   * null when none (init_mm)
   */
  activeMmId: number | null;
  /** R (current on a CPU), S (not running), X (dead), I (an idle task) */
  state: "R" | "S" | "X" | "I";
  minFlt: number;
  majFlt: number;
  /** the last signal delivered, its si_code and si_addr ("none", "none", 0 before any) */
  signal: string;
  siCode: string;
  siAddr: bigint;
  /** si_pkey of the last SEGV_PKUERR (0 before any) */
  siPkey: number;
  /** the protection-key rights register (x86 PKRU): live while the task runs, else its saved copy; 0 without keys */
  pkru: number;
  /** signals with a handler */
  caught: string[];
  /** current->pagefault_disabled: above 0, faulthandler_disabled() (atomic context for faults) */
  pagefaultDisabled: number;
  /** RLIMIT_STACK in bytes */
  rlimitStack: number;
  /** chosen by the OOM killer */
  oomKilled: boolean;
}

/** A user address space (mm_struct). */
export interface MmInfo {
  /** mm->context.ctx_id */
  id: number;
  /** the PGD (init_mm's kernel half shared); under PTI the kernel copy of the pair; -1 once freed (exit) */
  pgdPfn: number;
  /** the PGD user mode runs on (PTI: the second page of the pair; else pgdPfn) */
  userPgdPfn: number;
  /** VMAs (map_count) */
  mapCount: number;
  /** pages mapped (total_vm) */
  totalVm: number;
  /**
   * mm->def_flags: the VMA flags every new mapping starts with (VM_LOCKED, and VM_LOCKONFAULT,
   * after mlockall(MCL_FUTURE [| MCL_ONFAULT]); else 0)
   */
  defFlags: number;
  /** resident pages by kind (MM_ANONPAGES, MM_FILEPAGES, MM_SHMEMPAGES) and their sum */
  rssAnon: number;
  /** of rssAnon, the pages fork copied into this child rather than share (copy_present_page: maybe DMA-pinned) */
  forkCopied: number;
  rssFile: number;
  rssShmem: number;
  rss: number;
  /** swap entries in the page tables (MM_SWAPENTS) */
  swapEntries: number;
  /** page-table pages below the top level */
  ptPages: number;
  /** pages charged against overcommit */
  committed: number;
  /** tasks sharing it (mm_users) */
  users: number;
  /** the CPUs that have it loaded (mm_cpumask) */
  cpus: number[];
  /** start_brk and the break, the top of the main stack, mmap_base: addresses */
  startBrk: bigint;
  brk: bigint;
  stackTop: bigint;
  mmapBase: bigint;
}

/** One VMA (vm_area_struct). */
export interface VmaInfo {
  /** [start, end) as addresses and as page numbers */
  start: bigint;
  end: bigint;
  startVpn: number;
  endVpn: number;
  pages: number;
  /** vm_flags, and their names (VM_READ, VM_WRITE, ...) */
  flags: number;
  flagNames: string[];
  /** as /proc/PID/maps prints them: `rw-p` */
  perms: string;
  /** "[stack]", "[heap]", a file's name, or "" */
  name: string;
  /** the mapped file, or null */
  file: { name: string; path: string; fs: "disk" | "tmpfs"; ino: number } | null;
  /** vm_pgoff: the offset in the file, device or shmem object, in pages */
  pgoff: number;
  /** anonymous memory (no file, no shmem object, not a PFN map) */
  anon: boolean;
  /** shared anonymous memory (a shmem object) */
  shmem: boolean;
  /** VM_PFNMAP: frames remap_pfn_range mapped (a device buffer) */
  pfnmap: boolean;
  /** a HugeTLB mapping: the inode of its file on the internal hugetlbfs mount */
  hugetlbIno?: number;
}

/** One user page of a process, read without side effects. */
export interface PageInfo {
  vpn: number;
  /** the PTE exists and is present, or is a PROT_NONE entry */
  present: boolean;
  /** mapped by a huge PMD (a transparent huge page, or the huge zero page) */
  huge: boolean;
  /** the 4 KiB frame holding the page, or -1 */
  pfn: number;
  zeroPage: boolean;
  /** an anonymous page (not the zero page, not page cache) */
  anon: boolean;
  dirty: boolean;
  writable: boolean;
  young: boolean;
  protnone: boolean;
  /** the PTE is a swap entry: its slot, else -1 */
  swapSlot: number;
  /** a guard marker (MADV_GUARD_INSTALL) */
  guard: boolean;
  /** inside a VM_LOCKED VMA */
  inLockedVma: boolean;
  /** MADV_FREE'd (the frame's lazyfree flag) */
  lazyfree: boolean;
  /** the swap cache holds this page (PG_swapcache), or, for a swap entry, a page for its slot */
  swapCache: boolean;
  /** the frame's mapcount: -1 when not present, 0 for the zero page (a HugeTLB folio's: the folio's mappings) */
  mapcount: number;
  /** mapped by a HugeTLB entry (counted apart from Rss and Anonymous, as smaps does) */
  hugetlb?: boolean;
}

/** One entry of a walk through a page table. */
export interface WalkEntry {
  /** 0 is the last level (the PTE); levels - 1 the root */
  level: number;
  /** the architecture's name of the table (x86-64: PML5, PML4, PDPT, PD, PT) */
  levelName: string;
  /** Linux's (PGD, P4D, PUD, PMD, PTE) */
  linuxLevel: string;
  /** the entry's index in its table, the table's frame and the entry's physical address */
  index: number;
  tablePfn: number;
  entryPa: number;
  /** the raw entry as two 32-bit halves */
  hi: number;
  lo: number;
  /** its flags as the architecture names them (x86: `P RW US A D XD`) */
  flags: string[];
  /** it points to a table (the walk goes on) */
  table: boolean;
  /** it maps a page (a PTE, or a huge page above level 0), present or PROT_NONE */
  leaf: boolean;
  /** pte_present (a table entry: present) */
  present: boolean;
  /** the frame it points to: the next table's, or a leaf's first frame; -1 when it maps nothing */
  nextPfn: number;
}

/** The page a walk ends on. */
export interface LeafInfo {
  level: number;
  /** the architecture's name of the level (PT, PD, PDPT) */
  levelName: string;
  /** `4K`, `2M`, `1G` */
  pageSize: string;
  /** 4 KiB pages in it */
  pages: number;
  /** its first frame; the frame and physical address of the walked address */
  basePfn: number;
  pfn: number;
  pa: number;
  hi: number;
  lo: number;
  /** what the architecture says of it, as the side-by-side of two entries prints it */
  bits: EntryBit[];
  /** maps a frame the hardware may use (present and not PROT_NONE) */
  accessible: boolean;
  writable: boolean;
  dirty: boolean;
  young: boolean;
  /** no struct page refcounted for it (the zero page, remap_pfn_range frames) */
  special: boolean;
  /** a PROT_NONE entry: present, no access */
  protnone: boolean;
  /**
   * For a page of a process that the hardware may use: the frame's
   * direct-map address and the kernel's own leaf for it there (null when
   * the kernel does not map the frame). Null for the kernel's walks.
   */
  directMap: { va: bigint; leaf: LeafInfo | null } | null;
}

/** A software walk of one address through a process's page tables or the kernel's (no A/D writes). */
export interface WalkInfo {
  /** whose tables: "kernel" (init_mm) or a process's pid */
  space: "kernel" | number;
  va: bigint;
  canonical: boolean;
  vpn: number;
  /** the top-level table the walk starts from; -1 when there is none (no mm, or freed) */
  rootPfn: number;
  /** the one user mode runs on: under PTI the user copy of the pair, else rootPfn */
  userRootPfn: number;
  /** the register that holds it, as the architecture names it (x86: CR3) */
  rootRegister: string;
  /** the entries read, top level first; the walk stops at the first that is not a table */
  entries: WalkEntry[];
  /** an entry's width in bytes (the paging format's entryBytes: 4 on i386's 2-level paging and Sv32) */
  entryBytes: number;
  /** the leaf mapping the address (present or PROT_NONE), or null */
  leaf: LeafInfo | null;
  /** where the walk ended on a PTE that maps nothing: its swap slot, else -1; a guard marker */
  swapSlot: number;
  guard: boolean;
}

/** Present leaves of a process's user half in a row: same flags, frames following each other (or all the zero page). */
export interface MappingRun {
  /** [start, end) as page numbers and addresses */
  startVpn: number;
  endVpn: number;
  start: bigint;
  end: bigint;
  /** the first page's 4 KiB frame */
  pfn: number;
  zeroPage: boolean;
  level: number;
  /** the page size's name (`4K`, `2M`) */
  pageSize: string;
  flags: string[];
  protnone: boolean;
}

/** An address as the kernel's layout classifies it. */
export interface AddressInfo {
  va: bigint;
  canonical: boolean;
  /** in the kernel half (bit 63 set) */
  kernelHalf: boolean;
  vpn: number;
  /** the offset in its 4 KiB page */
  offset: number;
}

/** The figures of a VMA's smaps entry that smaps_rollup sums over every VMA (bytes). */
export interface SmapsFigures {
  rss: number;
  pss: number;
  pssDirty: number;
  /** the PSS of anonymous, swap-backed (shmem) and file pages (smaps_rollup's Pss_Anon, Pss_Shmem, Pss_File) */
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
  anonHuge: number;
  /** FilePmdMapped: page-cache pages mapped by a PMD */
  filePmd: number;
  /** ShmemPmdMapped: tmpfs and memfd (swap-backed) page-cache pages mapped by a PMD (mm/shmem_huge.ts) */
  shmemPmd: number;
  /** Shared_Hugetlb, Private_Hugetlb: a HugeTLB VMA's huge pages (smaps_hugetlb_range), in bytes */
  sharedHugetlb: number;
  privateHugetlb: number;
  swap: number;
  locked: number;
}

/** What /proc/PID/smaps adds to a VMA's maps line (show_smap). */
export interface SmapsInfo extends SmapsFigures {
  vma: VmaInfo;
  kernelPageSize: number;
  thpEligible: boolean;
  /** VmFlags mnemonics (`rd wr mr mw me ac`) */
  mnemonics: string[];
  /** ProtectionKey: the VMA's key where the CPU has protection keys (arch_pkeys_enabled), else null */
  protectionKey: number | null;
}

export type * from "./machineTypes.ts";

/** One entry of a page table that is not zero (view/tableTree.ts). */
export interface PageTableEntryInfo {
  /** its index in the table, the first page it covers and that page's address */
  index: number;
  vpn: number;
  va: bigint;
  entryPa: number;
  /** the raw entry as two 32-bit halves */
  hi: number;
  lo: number;
  /** its flags as the architecture names them, and a leaf's fields in words (the legend) */
  flags: string[];
  bits: EntryBit[];
  table: boolean;
  leaf: boolean;
  present: boolean;
  /** a leaf that allows writes (pte_write) */
  writable: boolean;
  /** the next table's frame or a leaf's first frame; -1 when it maps nothing */
  nextPfn: number;
  /** a leaf's page size (`4K`, `2M`), else null */
  pageSize: string | null;
  /** an entry of the root's kernel half: shared with init_mm and every process */
  kernelHalf: boolean;
  /** a swap entry's slot, else -1 */
  swapSlot: number;
  /** a leaf mapping the shared zero page */
  zeroPage: boolean;
}

/** One table page of a process's tree. */
export interface PageTableInfo {
  pfn: number;
  level: number;
  /** the architecture's name of its level (PML4, PT, L0...) and Linux's (PGD, PTE...) */
  levelName: string;
  linuxLevel: string;
  /** the first page it covers, and its address */
  firstVpn: number;
  va: bigint;
  entries: PageTableEntryInfo[];
}

/** A process's page tables: root first, then depth first, lowest address first. */
export interface PageTablesInfo {
  rootPfn: number;
  userRootPfn: number;
  /** bytes per entry (8; 4 for 32-bit x86 without PAE): how wide a raw value is */
  entryBytes: number;
  tables: PageTableInfo[];
  /** more tables than the tree lists (MAX_TREE_TABLES) */
  truncated: boolean;
}

/**
 * The memory lines of /proc/PID/status (task_mem), in bytes: the mm's
 * counters, the high-water marks taken as Linux reads them (VmPeak =
 * max(hiwater_vm, total_vm), VmHWM = max(hiwater_rss, rss)).
 * Linux: fs/proc/task_mmu.c task_mem
 */
export interface StatusMemInfo {
  vmPeak: number;
  vmSize: number;
  vmLck: number;
  vmPin: number;
  vmHwm: number;
  vmRss: number;
  rssAnon: number;
  rssFile: number;
  rssShmem: number;
  vmData: number;
  vmStk: number;
  vmExe: number;
  vmLib: number;
  vmPte: number;
  vmSwap: number;
  /** mm->hugetlb_usage in bytes: negative when PMD sharing left it so (the text prints it as %lu does) */
  hugetlbPages: number;
}

/**
 * /proc/PID/status: the lines vmlab models (proc_pid_status: task_state's
 * Name, State, Tgid, Pid, PPid, Uid; task_mem; CoreDumping; THP_enabled;
 * Threads). Linux: fs/proc/array.c proc_pid_status
 */
export interface StatusInfo {
  name: string;
  /** "R (running)", "S (sleeping)", "I (idle)", "X (dead)" */
  state: string;
  /** the thread group: the lowest pid sharing the mm (a kernel thread: its own) */
  tgid: number;
  pid: number;
  ppid: number;
  uid: number;
  /** null for a kernel thread (no mm: task_mem is skipped) */
  mem: StatusMemInfo | null;
  /** tasks in the thread group (the mm's users; 1 for a kernel thread) */
  threads: number;
  /** task_thp_status: IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE) (0 on RV32), and no MMF_DISABLE_THP */
  thpEnabled: boolean;
}

/** /proc/PID/statm (task_statm), in pages: size resident shared text lib data dt (lib and dt are always 0). */
export interface StatmInfo {
  size: number;
  resident: number;
  shared: number;
  text: number;
  data: number;
}

/**
 * /proc/PID/smaps_rollup: smaps' figures summed over every VMA (bytes),
 * with the span from the first VMA's start to the last's end and the
 * PSS split by kind (Pss_Anon, Pss_File, Pss_Shmem).
 * Linux: fs/proc/task_mmu.c show_smaps_rollup
 */
export interface SmapsRollupInfo extends SmapsFigures {
  start: bigint;
  end: bigint;
}
