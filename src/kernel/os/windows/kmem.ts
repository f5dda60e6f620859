/**
 * The kernel side of the Windows profile: the pools (pool.ts) in system
 * space, each CPU's IRQL, MmAccessFault for kernel-mode faults on pool
 * addresses, `trim kernel` (the paged pool's pages out of the system
 * working set), and bug checks (KeBugCheckEx: the code, its four
 * parameters, the text).
 *
 * vmlab goes on after a bug check (a real machine stops: KeBugCheckEx does
 * not return) so that `expect bugcheck == 0xA` can read it: the kernel
 * statement is abandoned, as an oops abandons Linux's.
 */
import { assert } from "../../../base/assert.ts";
import { Access } from "../../../hw/access.ts";
import type { KernelAccessResult, KernelCore } from "../../core/core.ts";
import { Gfp } from "../../mm/gfp.ts";
import { PageKind } from "../../mm/PageDesc.ts";
import { pageFileOffset, SoftKind, softKind, transitionPfn } from "./mmpte.ts";
import { flushKernelPage, resolvePageFile, resolveTransition, trimPage } from "./paging.ts";
import { getKernelPte, type PfnDatabase, setKernelPte } from "./pfn.ts";
import {
  type BugCheck,
  IRQL_NAMES,
  IRQL_NOT_LESS_OR_EQUAL,
  Irql,
  PAGE_FAULT_IN_NONPAGED_AREA,
  Pool,
  type PoolBlock,
  type PoolHost,
  PoolPage,
  PoolTracker,
  poolAlloc,
  poolFree,
  poolOf,
} from "./pool.ts";
import { widePtes } from "./process.ts";

/** The system's commit accounting (virtual.ts CommitBook, whose shape this is: kmem.ts may not import virtual.ts, which imports it). */
interface CommitBook {
  total: number;
  limit: number;
  peak: number;
}

/** MM_READWRITE: the protection of a pool page's software PTEs. */
const POOL_PROTECTION = 4;

const BUGCHECK_NAMES: Record<number, string> = {
  [IRQL_NOT_LESS_OR_EQUAL]: "IRQL_NOT_LESS_OR_EQUAL",
  [PAGE_FAULT_IN_NONPAGED_AREA]: "PAGE_FAULT_IN_NONPAGED_AREA",
};

export class WinKernelMemory implements PoolHost {
  readonly paged = new Pool(true);
  readonly nonpaged = new Pool(false);
  readonly live = new Map<string, PoolBlock>();
  readonly tracker = new PoolTracker();
  /** KPCR.Irql of each CPU */
  readonly irql: Uint8Array;
  /** the last bug check (code 0: none) */
  bugcheck: BugCheck = { code: 0, params: [0n, 0n, 0n, 0n] };
  bugchecks = 0;

  constructor(
    readonly k: KernelCore,
    readonly db: PfnDatabase,
    private readonly commit: CommitBook,
  ) {
    this.irql = new Uint8Array(k.machine.cpus.length);
  }

  // ---- the pools (PoolHost) ----

  /** ExAllocatePoolWithTag on `cpuId`: the address, 0n (NULL), or an error for a paged request at DISPATCH_LEVEL. */
  alloc(cpuId: number, paged: boolean, size: number, tag?: string): bigint | string {
    // "Callers ... running at DISPATCH_LEVEL must specify a NonPagedXxx value for PoolType"
    if (paged && this.irql[cpuId] >= Irql.DISPATCH)
      return `ExAllocatePoolWithTag(PagedPool) at ${IRQL_NAMES[this.irql[cpuId]]}: callers at DISPATCH_LEVEL must ask for nonpaged pool`;
    return poolAlloc(this, paged ? this.paged : this.nonpaged, size, tag);
  }

  free(va: bigint): string | null {
    return poolFree(this, va);
  }

  addPage(pool: Pool, vpn: number): boolean {
    // pool pages are charged to the commit limit (MiChargeCommitment)
    if (this.commit.total + 1 > this.commit.limit) return false;
    const pfn = this.db.takeFrame(this.k, false, Gfp.KERNEL, PageKind.KernelPages);
    if (pfn < 0) return false;
    this.k.pages.refcount[pfn] = 1;
    if (!this.k.vm.ops.mapKernelPage(vpn, pfn)) {
      this.k.pages.refcount[pfn] = 0;
      this.k.buddy.free(pfn, 0);
      return false;
    }
    // a new page's only copy is in memory (modified); its protection for the transition PTE
    this.db.modified[pfn] = 1;
    this.db.pageFileOffset[pfn] = 0;
    this.db.originalProtection[pfn] = POOL_PROTECTION;
    this.commit.total++;
    this.commit.peak = Math.max(this.commit.peak, this.commit.total);
    pool.pages++;
    return true;
  }

  removePage(pool: Pool, vpn: number): void {
    const { hi, lo } = getKernelPte(this.k, vpn);
    const pt = this.k.arch.pgtable;
    if (pt.accessible(hi, lo)) {
      const pfn = pt.pfn(hi, lo, 0);
      this.k.vm.ops.unmapKernelPage(vpn);
      flushKernelPage(this.k, vpn);
      this.db.releaseFrame(this.k, pfn);
    } else {
      const kind = softKind(hi, lo, widePtes(this.k));
      if (kind === SoftKind.Transition) this.db.releaseFrame(this.k, transitionPfn(hi, lo));
      else if (kind === SoftKind.PageFile) this.db.pagefile.release(pageFileOffset(hi, lo, widePtes(this.k)));
      setKernelPte(this.k, vpn, 0, 0);
    }
    this.commit.total--;
    pool.pages--;
  }

  touch(vpn: number): void {
    const { hi, lo } = getKernelPte(this.k, vpn);
    if (this.k.arch.pgtable.accessible(hi, lo)) return;
    const r = this.resolve(vpn);
    assert(r, "pool: a pool page could not be made resident");
  }

  // ---- IRQL ----

  /** KeRaiseIrql / KeLowerIrql on `cpuId`; the old IRQL. */
  setIrql(cpuId: number, irql: Irql): Irql {
    const old = this.irql[cpuId] as Irql;
    this.irql[cpuId] = irql;
    return old;
  }

  // ---- trim kernel ----

  /** `trim kernel`: the paged pool's resident pages out of the system working set. Pages trimmed. */
  trim(): number {
    const pool = this.paged;
    if (pool.startVpn < 0) return 0;
    const pt = this.k.arch.pgtable;
    let n = 0;
    for (let i = 0; i < pool.use.length; i++) {
      if (pool.use[i] === PoolPage.None) continue;
      const vpn = pool.startVpn + i;
      const { hi, lo } = getKernelPte(this.k, vpn);
      if (!pt.accessible(hi, lo)) continue;
      trimPage(this.k, this.db, pt.pfn(hi, lo, 0), pt.dirty(hi, lo), {
        mm: null,
        vpn,
        protection: POOL_PROTECTION,
      });
      flushKernelPage(this.k, vpn);
      n++;
    }
    return n;
  }

  /** Resident pages of the paged pool (Pool Paged Resident Bytes / 4096). */
  pagedResident(): number {
    const pool = this.paged;
    let n = 0;
    if (pool.startVpn < 0) return 0;
    for (let i = 0; i < pool.use.length; i++) {
      if (pool.use[i] === PoolPage.None) continue;
      const { hi, lo } = getKernelPte(this.k, pool.startVpn + i);
      if (this.k.arch.pgtable.accessible(hi, lo)) n++;
    }
    return n;
  }

  // ---- MmAccessFault for kernel-mode faults ----

  /** Brings a paged-out pool page back (soft or hard fault); false: no page is there to bring. */
  private resolve(vpn: number): boolean {
    const k = this.k;
    const { hi, lo } = getKernelPte(k, vpn);
    const kind = softKind(hi, lo, widePtes(k));
    let pfn: number;
    if (kind === SoftKind.Transition) {
      pfn = transitionPfn(hi, lo);
      resolveTransition(this.db, pfn);
    } else if (kind === SoftKind.PageFile) {
      pfn = resolvePageFile(k, this.db, pageFileOffset(hi, lo, widePtes(k)), POOL_PROTECTION, true);
      if (pfn < 0) return false;
    } else return false;
    setKernelPte(k, vpn, 0, 0);
    assert(k.vm.ops.mapKernelPage(vpn, pfn), "pool: remapping a pool page");
    return true;
  }

  /**
   * A kernel-mode fault on `va` (entry.ts kernelModeAccess, before the
   * architecture's handler): undefined when it is not the pools' (the
   * architecture's handler decides); null when resolved (retry); else the
   * bug check.
   */
  kernelFault(cpuId: number, va: bigint, access: Access): KernelAccessResult | null | undefined {
    const k = this.k;
    const vpn = k.va.vpn(va) as unknown as number;
    const pool = poolOf([this.paged, this.nonpaged], vpn);
    if (pool === null) return undefined;
    const { hi, lo } = getKernelPte(k, vpn);
    if (k.arch.pgtable.accessible(hi, lo)) return undefined; // a stale TLB entry or a missing PDE: the architecture's
    const irql = this.irql[cpuId];
    const bits = access === Access.Write ? 1n : access === Access.Exec ? 8n : 0n;
    // the address "which referenced memory": vmlab's kernel statements have no instruction address;
    // it reports the kernel image's base
    const ip = k.layout.kernelMap;
    // above APC_LEVEL MmAccessFault does not try: IRQL_NOT_LESS_OR_EQUAL (Bug Check 0xA's parameters)
    if (irql > Irql.APC) return this.bugCheck(IRQL_NOT_LESS_OR_EQUAL, [va, BigInt(irql), bits, ip]);
    if (pool.use[vpn - pool.startVpn] !== PoolPage.None && this.resolve(vpn)) return null;
    // no pool page there (freed, or never allocated): Bug Check 0x50 (2: 0 read, 2 write, 0x10 execute;
    // 4: 2, NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE)
    const p2 = access === Access.Write ? 2n : access === Access.Exec ? 0x10n : 0n;
    return this.bugCheck(PAGE_FAULT_IN_NONPAGED_AREA, [va, p2, ip, 2n]);
  }

  /** `explain kernel ADDR` on a pool address: what kernelFault would do, changing nothing. */
  explainKernelFault(cpuId: number, va: bigint, _access: Access): string[] | undefined {
    const k = this.k;
    const vpn = k.va.vpn(va) as unknown as number;
    const pool = poolOf([this.paged, this.nonpaged], vpn);
    if (pool === null) return undefined;
    const { hi, lo } = getKernelPte(k, vpn);
    if (k.arch.pgtable.accessible(hi, lo)) return undefined;
    const irql = this.irql[cpuId];
    const name = pool.paged ? "the paged pool" : "the nonpaged pool";
    if (irql > Irql.APC)
      return [
        `MmAccessFault: ${name}, at ${IRQL_NAMES[irql]}: no page fault can be resolved above APC_LEVEL: bug check 0xA IRQL_NOT_LESS_OR_EQUAL`,
      ];
    const kind = softKind(hi, lo, widePtes(k));
    if (pool.use[vpn - pool.startVpn] !== PoolPage.None && kind === SoftKind.Transition)
      return [
        `MiResolveTransitionFault: ${name}: the page is on a page list: back into the system working set (a soft fault)`,
      ];
    if (pool.use[vpn - pool.startVpn] !== PoolPage.None && kind === SoftKind.PageFile)
      return [
        `MiResolvePageFileFault: ${name}: the page is in the paging file: a new frame and an in-page read (a hard fault)`,
      ];
    return [`MmAccessFault: ${name}: no pool page is there: bug check 0x50 PAGE_FAULT_IN_NONPAGED_AREA`];
  }

  /** KeBugCheckEx: recorded (the `bugcheck` metric), logged, and the text the statement prints. */
  bugCheck(code: number, params: [bigint, bigint, bigint, bigint]): KernelAccessResult {
    this.bugcheck = { code, params };
    this.bugchecks++;
    const lines = bugCheckText(this.bugcheck, widePtes(this.k) && this.k.arch.pgtable.levels >= 4);
    this.k.log.push(...lines);
    return { ok: false, oops: lines, panic: null };
  }
}

/** The blue screen's STOP line and name, and the parameters as a debugger names them. */
export function bugCheckText(b: BugCheck, wide: boolean): string[] {
  const h = (v: bigint) =>
    `0x${v
      .toString(16)
      .toUpperCase()
      .padStart(wide ? 16 : 8, "0")}`;
  const lines = [
    `*** STOP: 0x${b.code.toString(16).toUpperCase().padStart(8, "0")} (${b.params.map(h).join(",")})`,
    BUGCHECK_NAMES[b.code] ?? "",
  ];
  if (b.code === IRQL_NOT_LESS_OR_EQUAL) {
    lines.push(
      `  1: ${h(b.params[0])}  the address referenced (pageable, and not resident)`,
      `  2: ${h(b.params[1])}  the IRQL at the time (${IRQL_NAMES[Number(b.params[1])] ?? ""}): the fault handler cannot wait for a page read`,
      `  3: ${h(b.params[2])}  ${b.params[2] & 8n ? "an execute" : b.params[2] & 1n ? "a write" : "a read"} (bit 0: write, bit 3: execute)`,
      `  4: ${h(b.params[3])}  the address of the instruction (vmlab: the kernel image's base)`,
    );
  } else if (b.code === PAGE_FAULT_IN_NONPAGED_AREA) {
    lines.push(
      `  1: ${h(b.params[0])}  the address referenced: no pool page is there`,
      `  2: ${h(b.params[1])}  0 read, 2 write, 0x10 execute`,
      `  3: ${h(b.params[2])}  the address of the instruction (vmlab: the kernel image's base)`,
      `  4: ${h(b.params[3])}  NONPAGED_BUGCHECK_NOT_PRESENT_PAGE_TABLE`,
    );
  }
  return lines;
}
