/**
 * The MMU every architecture implements: a TLB hierarchy, optional paging-structure (walk) caches, the one walk loop
 * over a PagingFormat, and the translate hot path. An architecture's CPU (hw/arch/NAME/) extends this class with its
 * registers and instructions and fills in a few hooks: how a virtual address becomes a page number (canonical checks,
 * TTBR selection), where a walk starts, the access mode, and how a fault is reported (x86 error code and CR2, ARM64
 * ESR_EL1 and FAR_EL1, RISC-V scause and stval).
 *
 * Shapes borrowed from QEMU's mmu_translate (in, out, err: one exit per fault) and gem5's walker (the walk apart from
 * the rights decision). The hot path allocates nothing, uses no bigint and never throws for an architectural fault:
 * `translate` returns 0 (OK) and leaves the physical address in `pa`, or an architecture outcome code (x86: 13 #GP,
 * 14 #PF) with the fault in the CPU's registers and `faultKind`/`faultLevel`.
 *
 * Units (base/units.ts) are in the types where values leave or enter the MMU: `pa`, `pageNumber`, `walk`'s vpn,
 * WalkRecord's `pagePfn`, events and observer hooks. Inside the hot path (translate, the walk) page numbers and
 * addresses are plain numbers, branded by inline `as` casts where they cross such a boundary (no call on the hot
 * path; see units.ts).
 */
import type { Pfn, PhysAddr, Vpn } from "../../base/units.ts";
import { Access, Mode } from "../access.ts";
import type { PhysMem } from "../PhysMem.ts";
import { adWrite } from "./adWrite.ts";
import { mmuCaches } from "./caches.ts";
import { flushEvent, type HwEvent, tlbEvent, walkStepEvent } from "./events.ts";
import { DirectMemory, type MemoryPort } from "./memAccess.ts";
import {
  EntryKind,
  Geometry,
  HwFaultKind,
  type PagingFormat,
  PERM_TABLE_SIZE,
  WalkState,
} from "./PagingFormat.ts";
import { pscFill, pscInvalidateAll, pscStart } from "./psc.ts";
import type { RunFold } from "./runFold.ts";
import type { Tlb } from "./Tlb.ts";
import { InvalidateHow, Meta, type TlbArray, tlbInsertSerial } from "./TlbArray.ts";
import { type MmuCaches, RunFault, type RunFaultSinkOf, type TlbObserverOf, WalkMemo } from "./WalkMemo.ts";
import { MAX_LEVELS, WalkRecord } from "./WalkRecord.ts";

export type { HwEvent } from "./events.ts";
export type { MmuCaches } from "./WalkMemo.ts";
/** the record of a walk (WalkRecord.ts), exported here as before */
export { MAX_LEVELS, WalkRecord } from "./WalkRecord.ts";
/** One coherence-checker hook; see CoherenceChecker. */
export type TlbObserver = TlbObserverOf<Mmu>;
/** The kernel's fold of a run's faults (WalkMemo.ts RunFaultSinkOf). */
export type RunFaultSink = RunFaultSinkOf<Mmu>;

const TWO32 = 4294967296;

export abstract class Mmu {
  readonly geometry: Geometry;
  readonly tlb: Tlb;
  /** the base-page array of the first TLB level for data / for fetches, probed first (fast path), or null */
  private readonly l1d: TlbArray | null;
  private readonly l1i: TlbArray | null;
  /** walk caches by level (index 1 holds level-1 entries); null where not modelled */
  readonly psc: (TlbArray | null)[];
  private readonly hasPsc: boolean;
  /** base page size, and its offset mask */
  readonly pageSize: number;
  private readonly pageMask: number;
  /** offset masks of each size code, as the low and high 32 bits of an address */
  private readonly offLo: Float64Array;
  private readonly offHi: Float64Array;

  // ---- state the architecture's registers set ----
  /** the ASID (x86 PCID) translations are tagged with now */
  asid = 0;
  /** physical address of the table a full walk starts from (x86 CR3; ARM64 and RISC-V select per address) */
  rootPa = 0;
  /** allowed[permIndex(rights, mode, access)], recomputed by the architecture when a control register changes */
  protected readonly permTable = new Uint8Array(PERM_TABLE_SIZE);
  /** call attrDenied on every access (x86: CR4.PKE) */
  protected checkAttrs = false;

  /** where translated accesses go: physical memory, or a cache model in front of it */
  mem: MemoryPort;

  // ---- results of the last translate ----
  /** the physical address of the last successful translation */
  pa = 0 as PhysAddr;
  /** the byte the last successful load8 read */
  data = 0;
  faultKind = 0;
  faultLevel = -1;
  readonly walkRec = new WalkRecord();
  private readonly hitRec = new WalkRecord();
  protected readonly ws = new WalkState();
  /** inside accessRun's loop, where the fast walk may keep and use `memo` (WalkMemo.ts) */
  protected inRun = false;
  protected readonly memo = new WalkMemo();

  // ---- counters ----
  translations = 0;
  walks = 0;
  walkRefs = 0;
  adWrites = 0;
  dirtyAssists = 0;
  pageFaults = 0;
  /** accesses to an address no translation applies to (x86: #GP for a non-canonical address) */
  addressFaults = 0;
  /** writes of the root register (x86 CR3, ARM64 TTBRn, RISC-V satp) */
  rootWrites = 0;
  /** single-page invalidations (x86 INVLPG, ARM64 TLBI VA*, RISC-V SFENCE.VMA with an address) */
  pageInvalidations = 0;
  readonly pscHits = new Float64Array(MAX_LEVELS);
  readonly pscMisses = new Float64Array(MAX_LEVELS);
  /** flushes of all non-global entries of an ASID or more */
  fullFlushes = 0;

  // ---- observation (off unless set) ----
  tracer: ((e: HwEvent) => void) | null = null;
  observer: TlbObserver | null = null;

  /** take an architecture's fast miss path (walkFast) where it applies; false: the generic walk only (tests) */
  useFastMiss = true;
  /** walkFast covers this configuration (enableFastMiss) */
  private hasFastMiss = false;
  /**
   * While the fault of a walk that followed a miss in every TLB array of its path is delivered:
   * 1 (data path) or 2 (instruction path), else 0; `deliver` may then use Tlb.invalidatePageMissed.
   */
  protected missedPath = 0;

  protected constructor(
    readonly id: number,
    readonly phys: PhysMem,
    readonly format: PagingFormat,
    caches: MmuCaches,
  ) {
    const g = new Geometry(format);
    this.geometry = g;
    this.pageSize = g.pageSize;
    this.pageMask = g.pageSize - 1;
    const c = mmuCaches(g, format.levels, caches); // caches.ts
    this.tlb = c.tlb;
    this.l1d = c.l1d;
    this.l1i = c.l1i;
    this.psc = c.psc;
    this.hasPsc = c.hasPsc;
    this.offLo = c.offLo;
    this.offHi = c.offHi;
    this.mem = new DirectMemory(phys);
  }

  /** For an architecture with a walkFast: on unless walk caches are modelled or a subclass replaces `walk`. */
  protected enableFastMiss(): void {
    this.hasFastMiss = !this.hasPsc && this.walk === Mmu.prototype.walk;
  }

  /** Levels of a full walk. */
  get levels(): number {
    return this.format.levels;
  }

  // ===== What each architecture supplies =====

  /** The page number of a virtual address (in base pages), or -1 when no translation can apply to it. */
  protected abstract vpnOf(vaHi: number, vaLo: number, access: Access): Vpn | -1;
  /** The outcome for an address vpnOf refused (x86: #GP; ARM64: a level-0 translation fault). */
  protected abstract badAddress(vaHi: number, vaLo: number, access: Access): number;
  /** The mode of an explicit access now (x86 CPL, ARM64 EL, RISC-V privilege). */
  abstract currentMode(): Mode;
  /** Enters user mode (CPL 3, EL0, U-mode) or privileged mode (CPL 0, EL1, S-mode). */
  abstract setUserMode(user: boolean): void;
  /**
   * Points user translations at the table in frame `rootPfn` under `asid`,
   * flushing that ASID's entries (x86 MOV to CR3; ARM64 TTBR0_EL1; RISC-V satp).
   */
  abstract loadUserRoot(rootPfn: Pfn, asid: number): void;
  /**
   * Drops every translation of the page holding the address in the current address space, global
   * ones too (x86 INVLPG; ARM64 TLBI VAAE1; RISC-V SFENCE.VMA va).
   */
  abstract flushPage(vaHi: number, vaLo: number): void;

  /** The page number (base pages) translations of the address use, or -1 when none applies to it. */
  pageNumber(vaHi: number, vaLo: number): Vpn | -1 {
    return this.vpnOf(vaHi, vaLo, Access.Read);
  }
  /**
   * Fills a fault's architecture code into `rec` (errorCode, outcome) from its kind and level;
   * returns the outcome (non-zero). No register changes: probes use it too.
   */
  protected abstract walkFault(
    rec: WalkRecord,
    access: Access,
    mode: Mode,
    attrs: number,
    rights: number,
  ): number;
  /** Raises the fault `rec` describes: fault registers, the TLB rules on a fault, counters, trace. Returns rec.outcome. */
  protected abstract deliver(rec: WalkRecord, vaHi: number, vaLo: number, vpn: Vpn): number;
  /** Extra per-access check of a translation's attributes, called only when checkAttrs (x86 protection keys). */
  protected attrDenied(_attrs: number, _rights: number, _mode: Mode, _access: Access): boolean {
    return false;
  }
  /**
   * Sets up a full walk in `w`: first level, table and index mask, and the initial accumulated state. Returns false
   * (with `w.fault`, `w.level`) when the walk cannot start (ARM64 EPD0/EPD1, a VA outside both TTBRs).
   */
  protected startWalk(w: WalkState): boolean {
    w.level = this.format.levels - 1;
    w.tablePa = this.rootPa;
    w.topMask = this.geometry.indexMask[w.level];
    w.acc = this.format.initialAcc;
    return true;
  }
  /** Which invalidation would have dropped a stale entry, in the architecture's words (for the checker). */
  abstract invalidationHint(vpn: Vpn, asid: number, global: boolean): string;
  /**
   * Emits the trace event of a fault (only with a tracer installed): `text` is the fault in the architecture's words,
   * `hi`/`lo` the faulting address (x86 CR2, ARM64 FAR_EL1, RISC-V stval).
   */
  protected traceFault(vector: number, errorCode: number, hi: number, lo: number, text: string): void {
    this.tracer?.({ type: "fault", cpu: this.id, vector, errorCode, cr2Hi: hi >>> 0, cr2Lo: lo >>> 0, text });
  }

  /** The address of page `vpn` as the architecture writes it (canonical, sign-extended), for reports. */
  vaText(vpn: number): string {
    return `0x${(vpn * this.pageSize).toString(16)}`;
  }
  /** What the architecture calls its address-space tag. */
  readonly asidName: string = "ASID";
  /** The attribute bits whose change makes a cached translation stale (see describeAttrs). */
  readonly attrCompareMask: number = -1;
  /** Cached attributes in the architecture's words (x86: `pkey 3`). */
  describeAttrs(attrs: number): string {
    return `attributes 0x${attrs.toString(16)}`;
  }

  // ===== Translation (hot path) =====

  /**
   * Translates (vaHi, vaLo) for `access` by the current mode (or an implicit supervisor access). Returns 0 with the
   * physical address in `pa`, or the architecture's fault outcome.
   */
  translate(vaHi: number, vaLo: number, access: Access, implicit = false): number {
    this.translations++;
    const vpn = this.vpnOf(vaHi, vaLo, access);
    if (vpn < 0) {
      this.addressFaults++;
      return this.badAddress(vaHi, vaLo, access);
    }
    return this.translateVpn(
      vaHi,
      vaLo,
      vpn as Vpn, // -1 excluded above (`< 0` does not narrow the type)
      access,
      implicit ? Mode.ImplicitSupervisor : this.currentMode(),
    );
  }

  // ===== The one memory-access path (see memAccess.ts) =====

  /** A byte load: translate, then the memory port. Returns the outcome; the byte is in `data`. */
  load8(vaHi: number, vaLo: number, access: Access = Access.Read, implicit = false): number {
    const out = this.translate(vaHi, vaLo, access, implicit);
    if (out === 0) this.data = this.mem.read8(this.pa, vaHi, vaLo);
    return out;
  }

  /** A byte store: translate for a write, then the memory port. Returns the outcome. */
  store8(vaHi: number, vaLo: number, value: number, implicit = false): number {
    const out = this.translate(vaHi, vaLo, Access.Write, implicit);
    if (out === 0) this.mem.write8(this.pa, value, vaHi, vaLo);
    return out;
  }

  /** An access whose data is not modelled (trace replay): translate, then tell the memory port. */
  touch(vaHi: number, vaLo: number, access: Access): number {
    const out = this.translate(vaHi, vaLo, access);
    if (out === 0) this.mem.touch(this.pa, access, vaHi, vaLo);
    return out;
  }

  /**
   * `count` accesses of one kind at va, va + stride, ... (vaLo unsigned or its int32 bits, passed without a heap
   * number; stride in bytes, |count * stride| < 2^53), each exactly load8 (a read or fetch) or store8 (a write)
   * straight to RAM: `mem` must be a DirectMemory. Stops at the first access that faults (its outcome in
   * `runOutcome`, else 0; delivered as translate delivers it) or after a store outside RAM (the caller reads its byte
   * back). Returns how many completed before it; `pa` (a load's `data`) are the last one's. Read once for the run:
   * the mode (nothing in a run changes it), the access, the memory; its fast walks may start at the leaf table
   * (WalkMemo.ts). A user program's loads or stores between two exceptions (entry.ts userModeRange).
   */
  accessRun(
    vaHi: number,
    vaLo: number,
    count: number,
    stride: number,
    access: Access,
    value: number,
  ): number {
    const mode = this.currentMode();
    const phys = this.phys;
    const ram = phys.sizeBytes;
    const write = access === Access.Write;
    const own = this.translatesOwnWay(); // RISC-V Bare: its own translate, access by access
    this.runOutcome = 0;
    const lo0 = vaLo >>> 0;
    let hi = vaHi;
    let lo = vaLo | 0; // the low half's int32 bits (no heap number per call); `lo >>> 0` unsigned
    const memo = this.memo;
    memo.valid = false;
    this.inRun = true;
    const fast = !own && this.hasFastMiss && this.useFastMiss && !this.checkAttrs;
    const fold = this.runFold?.begin(fast, stride, access, value, mode) ?? null; // null unless it applies
    const sink = this.runFaults;
    let retry = -1; // the access whose fault the sink resolved last (its retry)
    this.runRetried = false;
    try {
      for (let i = 0; i < count; i++) {
        if (i > 0) {
          const next = lo0 + i * stride; // carried into the high half: |i * stride| < 2^53
          hi = (vaHi + Math.floor(next / TWO32)) >>> 0;
          lo = next | 0;
        }
        // the fold's tries (runFold.ts); one its back-off leaves out is a decrement (a faulting run)
        let k = 0;
        if (fold !== null && i !== retry) {
          if (!memo.valid)
            fold.marked = -1; // the marks are dropped with the memo
          else if (fold.skip > 0) fold.skip--;
          else k = fold.span(this.vpnOf(hi, lo >>> 0, access), lo, count - i);
        }
        // a span folded from this access on (runFold.ts); added whatever k is: a faulting first pass
        // (k 0) gives V8 the feedback of a resident one's, whose first span deoptimized accessRun
        i += Math.max(k - 1, 0);
        if (k > 0) continue;
        let out: number;
        if (own) out = this.translate(hi, lo >>> 0, access);
        else {
          // translate, with the mode read once
          this.translations++;
          const vpn = this.vpnOf(hi, lo >>> 0, access);
          if (vpn < 0) {
            this.addressFaults++;
            out = this.badAddress(hi, lo >>> 0, access);
          } else if (fold !== null && i !== retry && fold.missesAll(vpn)) {
            k = fold.faultRun(sink, hi, lo, vpn, count - i); // not-present faults from here at once (runFold.ts)
            if (k > 0) {
              i += k - 1;
              continue;
            }
            out = this.missAndFill(hi, lo, vpn as Vpn, access, mode); // the lookup missed for certain
          } else out = this.translateVpn(hi, lo, vpn as Vpn, access, mode);
        }
        if (out !== 0) {
          const r = sink !== null && i !== retry ? this.sinkFault(sink, hi, lo >>> 0) : RunFault.NotTaken;
          if (r === RunFault.Retry || r === RunFault.RetryAnew) {
            retry = i--;
            continue;
          }
          this.runOutcome = out;
          this.runRetried = i === retry;
          return i;
        }
        const pa = this.pa;
        if (write) phys.write8(pa, value);
        if (write && !(pa < ram)) return i + 1;
        if (write && memo.valid && memo.holds(Math.floor(pa / 4096))) memo.valid = false; // a store into a table
        const data = phys.read8(pa); // after a store too (in RAM a load changes nothing): a write pass's feedback for reads
        this.data = write ? this.data : data;
      }
      return count;
    } finally {
      this.inRun = false;
      memo.valid = false;
    }
  }

  runOutcome = 0; // the outcome of the access that stopped the last accessRun (0: none did)
  runFaults: RunFaultSink | null = null; // the kernel's fold of the next accessRun's faults, or null
  runRetried = false; // whether the fault that stopped it was a retry of one the sink resolved

  /** A run's not-present fault at a leaf table or above it (level 1: none yet) to the sink; the memo goes if a walk or a root write came between. */
  private sinkFault(sink: RunFaultSink, hi: number, lo: number): RunFault {
    if (this.faultKind !== HwFaultKind.Translation || !(this.faultLevel >>> 0 <= 1)) return RunFault.NotTaken;
    const walks = this.walks;
    const rw = this.rootWrites;
    const asid = this.asid;
    const inserts = tlbInsertSerial();
    this.inRun = false;
    const r = sink.runFault(this, hi, lo);
    this.inRun = true;
    const kept = r === RunFault.Retry && this.walks === walks && this.rootWrites === rw && this.asid === asid;
    if (!kept) this.memo.valid = false;
    // the fold's marks (runFold.ts) go when the kernel may have added a TLB entry (drops keep them)
    if (this.runFold !== null) this.runFold.afterFault(tlbInsertSerial() === inserts);
    return r;
  }
  /** whether a caller may use accessRun for a run of accesses (false: one load8/store8 each; tests) */
  useAccessRun = true;
  runFold: RunFold | null = null; // the architecture's fold of resident runs (runFold.ts), or null

  /** Whether translate is the architecture's own now (RISC-V Bare), not Mmu.translate: accessRun then calls it. */
  protected translatesOwnWay(): boolean {
    return false;
  }

  /** translate for an explicit mode (ARM64 LDTR/STTR: a user-mode check at EL1). */
  translateAs(vaHi: number, vaLo: number, access: Access, mode: Mode): number {
    this.translations++;
    const vpn = this.vpnOf(vaHi, vaLo, access);
    if (vpn < 0) {
      this.addressFaults++;
      return this.badAddress(vaHi, vaLo, access);
    }
    return this.translateVpn(vaHi, vaLo, vpn as Vpn, access, mode);
  }

  /** translate after vpnOf; vaLo as an unsigned 32-bit number or its int32 bits (the same address). */
  private translateVpn(vaHi: number, vaLo: number, vpn: Vpn, access: Access, mode: Mode): number {
    const tlb = this.tlb;
    // fast path: the first-level base-page array; the generic lookup (all levels and sizes) on a miss there
    const l1 = access === Access.Exec ? this.l1i : this.l1d;
    let arr: TlbArray | null = null;
    const known = tlb.knownMiss(vpn, this.asid, access === Access.Exec); // a fault's retry: misses counted
    let slot = known || l1 === null ? -1 : l1.lookup(vpn, this.asid);
    if (slot >= 0) {
      arr = l1;
      tlb.hits[0]++;
      tlb.hitLevel = 0;
    } else if (!known && tlb.lookup(vpn, this.asid, access === Access.Exec, l1)) {
      arr = tlb.hitArray!;
      slot = tlb.hitSlot;
    }
    if (arr !== null) {
      const meta = arr.metas[slot];
      if (this.tracer !== null) this.tracer(tlbEvent(this, vpn, access, mode, tlb.hitLevel));
      if (this.observer !== null) this.observer.onHit(this, vpn, arr, slot);
      if (
        this.permTable[((meta >>> Meta.RIGHTS_SHIFT) & 63) * 9 + mode * 3 + access] === 0 ||
        (this.checkAttrs && this.attrDenied(arr.attrs[slot], (meta >>> Meta.RIGHTS_SHIFT) & 63, mode, access))
      ) {
        // a fault from cached rights, without a walk (x86 and Arm both allow it)
        const rec = this.hitRec;
        rec.faultKind = HwFaultKind.Permission;
        rec.faultLevel = -1;
        this.walkFault(rec, access, mode, arr.attrs[slot], (meta >>> Meta.RIGHTS_SHIFT) & 63);
        return this.fault(rec, vaHi, vaLo, vpn);
      }
      if (access === Access.Write && (meta & Meta.D) === 0) {
        // a write through a clean entry: walk again to set the dirty state in memory
        this.dirtyAssists++;
        return this.walkAndFill(vaHi, vaLo, vpn, access, mode);
      }
      const held = (meta >>> Meta.HELD_SIZE_SHIFT) & 7;
      this.pa = (arr.pfns[slot] * this.pageSize +
        (held === 0 ? vaLo & this.pageMask : this.offsetIn(vaHi, vaLo, held))) as PhysAddr;
      return 0;
    }
    if (this.tracer !== null) this.tracer(tlbEvent(this, vpn, access, mode, -1));
    return this.missAndFill(vaHi, vaLo, vpn, access, mode);
  }

  /**
   * A miss at every TLB level, its lookups counted (translateVpn; or Tlb.lookupMissed, by a caller that probed every
   * array: machine mode): walkFast where it applies, a 4K page then filled by fillMissed (every array it fills missed
   * just now), or walkFast's fault raised as walkAndFill does; else walk.
   */
  missAndFill(vaHi: number, vaLo: number, vpn: Vpn, access: Access, mode: Mode): number {
    const rec = this.walkRec;
    const fast = this.hasFastMiss && this.useFastMiss && this.tracer === null && this.observer === null;
    if (!fast || this.checkAttrs || !this.walkFast(vpn, access, mode, rec))
      return this.walkAndFill(vaHi, vaLo, vpn, access, mode);
    if (rec.outcome !== 0) return this.missedFault(rec, vaHi, vaLo, vpn, access);
    if (rec.size === 0) this.tlb.fillMissed(vpn, rec.pagePfn, rec.meta, access === Access.Exec, rec.attrs);
    else this.tlb.fill(vpn, rec.size, rec.pagePfn, rec.meta, access === Access.Exec, rec.attrs);
    this.pa = (rec.pagePfn * this.pageSize +
      (rec.size === 0 ? vaLo & this.pageMask : this.offsetIn(vaHi, vaLo, rec.size))) as PhysAddr;
    return 0;
  }

  /** walkFast's fault after a miss everywhere, delivered: the lookups miss again until an insertion (Tlb.knownMiss). */
  private missedFault(rec: WalkRecord, vaHi: number, vaLo: number, vpn: Vpn, access: Access): number {
    this.tlb.noteFaultMiss(vpn, this.asid, access === Access.Exec);
    this.missedPath = access === Access.Exec ? 2 : 1;
    const out = this.fault(rec, vaHi, vaLo, vpn);
    this.missedPath = 0;
    return out;
  }

  /**
   * missAndFill of an access whose walk the caller knows (machine mode's pager, analysis/trace/pagerTables.ts):
   * walkRec's first `n` entries the levels above leaf entry `entryPa` as walkFast reads them (an earlier walk's,
   * their tables unchanged since). A zero leaf (P clear) ends it as walkFast would (the same record, counts and
   * fault), without reading those levels again; else missAndFill walks. A host shortcut (the SDM has none).
   */
  missAtLeaf(vaHi: number, vaLo: number, vpn: Vpn, access: Access, entryPa: number, n: number): number {
    const mode = this.currentMode();
    const table = Math.floor(entryPa / 4096);
    const w = (entryPa - table * 4096) >>> 2;
    const fast = this.hasFastMiss && this.useFastMiss && this.tracer === null && this.observer === null;
    const words =
      fast && !this.checkAttrs && table < this.phys.nrFrames ? this.phys.frameWords(table as Pfn) : undefined;
    if (
      words === undefined ||
      (words !== null && (words[w] | words[w + 1]) !== 0) ||
      !this.fastTranslationFault(this.walkRec, n, 0, w >>> 1, entryPa, 0, 0, access, mode)
    )
      return this.missAndFill(vaHi, vaLo, vpn, access, mode);
    return this.missedFault(this.walkRec, vaHi, vaLo, vpn, access);
  }

  /**
   * An architecture's walk specialised for its format (enableFastMiss): the whole walk with every effect of `walk`
   * (counters, A/D write-backs, `rec`) and true, with rec.outcome 0, or a fault's outcome (a fault it reports as
   * `walk` would); or nothing changed and false (then `walk` runs).
   */
  protected walkFast(_vpn: number, _access: Access, _mode: Mode, _rec: WalkRecord): boolean {
    return false;
  }

  /**
   * walkFast's end at an entry that translates nothing, its n-th read: recorded and counted as `walk` does, then
   * failWalk's translation fault of that level (walkFault); missAndFill delivers it. Out of the walk loops: inline,
   * it slowed resident walks 3-11%.
   */
  protected fastTranslationFault(
    rec: WalkRecord,
    n: number,
    level: number,
    index: number,
    entryPa: number,
    hi: number,
    lo: number,
    access: Access,
    mode: Mode,
  ): boolean {
    if (this.memo.probing) return false; // RunFold.walkNext's probe: the per-access path faults
    rec.endAtFault(n, level, index, entryPa, hi, lo, HwFaultKind.Translation);
    this.walks++;
    this.walkRefs += n + 1;
    this.walkFault(rec, access, mode, 0, 0);
    return true;
  }

  /** The offset of an address in a page of size code `size`. */
  private offsetIn(vaHi: number, vaLo: number, size: number): number {
    const hi = this.offHi[size];
    return (hi === 0 ? 0 : (vaHi & hi) * TWO32) + ((vaLo & this.offLo[size]) >>> 0);
  }

  /** The miss path: walk, then fill the TLB or raise the fault. */
  private walkAndFill(vaHi: number, vaLo: number, vpn: Vpn, access: Access, mode: Mode): number {
    const rec = this.walkRec;
    this.memo.valid = false; // the generic walk may write entries above the leaf table (WalkMemo)
    if (this.walk(vpn, access, mode, true, rec) !== 0) return this.fault(rec, vaHi, vaLo, vpn);
    // a miss fills every level; a dirty assist refreshes the clean copies
    this.tlb.fill(vpn, rec.size, rec.pagePfn, rec.meta, access === Access.Exec, rec.attrs);
    if (this.observer !== null) this.observer.onFill(this, vpn, rec);
    this.pa = (rec.pagePfn * this.pageSize +
      (rec.size === 0 ? vaLo & this.pageMask : this.offsetIn(vaHi, vaLo, rec.size))) as PhysAddr;
    return 0;
  }

  /** Raises the walk's fault; vaLo may come as its int32 bits (accessRun): deliver gets it unsigned. */
  private fault(rec: WalkRecord, vaHi: number, vaLo: number, vpn: Vpn): number {
    this.faultKind = rec.faultKind;
    this.faultLevel = rec.faultLevel;
    return this.deliver(rec, vaHi, vaLo >>> 0, vpn);
  }

  /**
   * The walk: reads one entry per level from physical memory, top level first, starting where startWalk says (or
   * below, from a walk cache). The format decodes each entry; rights are checked at the leaf by the permission table.
   * With `sideEffects` false (a probe) nothing is written and no cache is used or filled; accessed/dirty updates are
   * then as if they succeeded.
   *
   * Level n's index is the vpn's bits levelShift[n] .. levelShift[n] + indexBits[n] - 1 (x86-64: vpn bits 9n+8..9n).
   *
   * On return: 0 with rec.pagePfn/size/meta/attrs set, or the architecture's outcome with rec.errorCode, faultKind
   * and faultLevel.
   */
  walk(
    vpn: number,
    access: Access,
    mode: Mode,
    sideEffects: boolean,
    rec: WalkRecord,
    checkRights = true,
  ): number {
    const w = this.ws;
    const g = this.geometry;
    const fmt = this.format;
    w.vpn = vpn;
    w.access = access;
    w.mode = mode;
    w.sideEffects = sideEffects;
    if (sideEffects) this.walks++;
    rec.count = 0;
    rec.pscLevel = -1;
    if (!this.startWalk(w)) return this.failWalk(rec, w.fault, w.level, access, mode);
    if (sideEffects && this.hasPsc) pscStart(this, vpn, w, rec);
    let level = w.level;
    // the table being read, as a frame of RAM and a byte offset in it (tables need not fill a page)
    let tableFrame = Math.floor(w.tablePa / 4096);
    let tableOff = w.tablePa - tableFrame * 4096;
    let mask = w.topMask;
    const phys = this.phys;
    const nrFrames = phys.nrFrames;
    const entryBytes = fmt.entryBytes;
    // vpn < 2^53 as 32-bit halves (vpnHi < 2^21: an int32), so each level's index is integer shifts
    const vpnLo = vpn >>> 0;
    const vpnHi = ((vpn - vpnLo) / TWO32) | 0;
    const levelShift = g.levelShift;
    const indexMask = g.indexMask;
    const recLevel = rec.level;
    const recIndex = rec.index;
    const recEntryPa = rec.entryPa;
    const recHi = rec.hi;
    const recLo = rec.lo;
    for (;;) {
      const shift = levelShift[level];
      const index =
        (shift < 32
          ? (vpnLo >>> shift) | (shift === 0 || vpnHi === 0 ? 0 : vpnHi << (32 - shift))
          : vpnHi >>> (shift - 32)) & mask;
      const offset = tableOff + index * entryBytes; // an entry never crosses its table's page
      const entryPa = tableFrame * 4096 + offset;
      // read the entry straight from its frame
      let lo: number;
      let hi = 0;
      if (tableFrame < nrFrames) {
        const words = phys.frameWords(tableFrame as Pfn); // inline cast: the hot loop (units.ts)
        if (words === null) lo = 0;
        else if (entryBytes === 8) {
          lo = words[offset >>> 2];
          hi = words[(offset >>> 2) + 1];
        } else if (entryBytes === 4) lo = words[offset >>> 2];
        else lo = (words[offset >>> 2] >>> ((offset & 3) * 8)) & 0xff;
      } else {
        // outside RAM: all ones, counted as stray
        lo = entryBytes === 1 ? phys.read8(entryPa) : phys.read32(entryPa);
        if (entryBytes === 8) hi = phys.read32(entryPa + 4);
      }
      const n = rec.count++;
      recLevel[n] = level;
      recIndex[n] = index;
      recEntryPa[n] = entryPa;
      recHi[n] = hi;
      recLo[n] = lo;
      if (sideEffects) this.walkRefs++;
      if (this.tracer !== null)
        this.tracer(walkStepEvent(this, level, index, entryPa, hi, lo, n === 0 && rec.pscLevel >= 0));
      const kind = fmt.decode(w, level, hi, lo);
      if (kind === EntryKind.Leaf)
        return this.leafFound(rec, level, entryPa, hi, lo, access, mode, sideEffects, checkRights);
      if (kind !== EntryKind.Table || level === 0) {
        return this.failWalk(
          rec,
          kind === EntryKind.Fault ? w.fault : HwFaultKind.Translation,
          level,
          access,
          mode,
        );
      }
      if (sideEffects) {
        if (w.newLo !== lo) adWrite(this, entryPa, hi, hi, w.newLo); // a table's updates are in its low half
        if (this.hasPsc) pscFill(this, vpn, level, w.nextFrame * 4096 + w.nextOffset, w.acc);
      }
      tableFrame = w.nextFrame;
      tableOff = w.nextOffset;
      level--;
      mask = indexMask[level];
    }
  }

  /** The leaf: the rights check, the accessed/dirty write-back, the record. */
  private leafFound(
    rec: WalkRecord,
    level: number,
    entryPa: number,
    hi: number,
    lo: number,
    access: Access,
    mode: Mode,
    sideEffects: boolean,
    checkRights: boolean,
  ): number {
    const w = this.ws;
    if (
      checkRights &&
      (this.permTable[w.rights * 9 + mode * 3 + access] === 0 ||
        (this.checkAttrs && this.attrDenied(w.attrs, w.rights, mode, access)))
    ) {
      return this.failWalk(rec, HwFaultKind.Permission, level, access, mode, w.attrs, w.rights);
    }
    if (sideEffects && (w.newLo !== lo || w.newHi !== hi)) adWrite(this, entryPa, hi, w.newHi, w.newLo);
    rec.pagePfn = w.next as Pfn; // a leaf's `next` is its first frame
    rec.size = w.cont ? this.geometry.contSize : level; // a contiguous block is one translation (D8.6.1)
    rec.meta =
      this.asid |
      (w.rights << Meta.RIGHTS_SHIFT) |
      (w.dirty ? Meta.D : 0) |
      (w.global ? Meta.G : 0) |
      (rec.size << Meta.SRC_SIZE_SHIFT);
    rec.attrs = w.attrs;
    rec.outcome = 0;
    rec.faultKind = HwFaultKind.None;
    rec.faultLevel = -1;
    return 0;
  }

  private failWalk(
    rec: WalkRecord,
    kind: number,
    level: number,
    access: Access,
    mode: Mode,
    attrs = 0,
    rights = 0,
  ): number {
    rec.faultKind = kind;
    rec.faultLevel = level;
    return this.walkFault(rec, access, mode, attrs, rights);
  }

  /**
   * Runs `body` as though the CPU ran user code on the tables at `rootPa` (explain's probes of a task that is not
   * running, or of PTI's user PGD): the user root and the privilege level swapped in and the tracer off, all three
   * restored after. Only probes and walks belong inside: they change nothing. `kernelRootPa` (>= 0) is the table the
   * kernel half's walk starts from in user mode, where it has a root of its own (arm64 KPTI: tramp_pg_dir in
   * TTBR1_EL1).
   */
  probeAsUser<T>(rootPa: number, body: () => T, kernelRootPa = -1): T {
    const root = this.userRootPa();
    const kernelRoot = this.kernelRootPa();
    const user = this.currentMode() === Mode.User;
    const tracer = this.tracer;
    this.setUserRootPa(rootPa);
    if (kernelRootPa >= 0) this.setKernelRootPa(kernelRootPa);
    this.setUserMode(true);
    this.tracer = null;
    try {
      return body();
    } finally {
      this.setUserRootPa(root);
      if (kernelRootPa >= 0) this.setKernelRootPa(kernelRoot);
      this.setUserMode(user);
      this.tracer = tracer;
    }
  }

  /** The table the kernel half's walks start from where it has its own root register (ARM64 TTBR1_EL1), else -1. */
  protected kernelRootPa(): number {
    return -1;
  }

  protected setKernelRootPa(_pa: number): void {}

  /** The table user translations start from (x86 CR3's; ARM64 TTBR0_EL1's). */
  protected userRootPa(): number {
    return this.rootPa;
  }

  protected setUserRootPa(pa: number): void {
    this.rootPa = pa;
  }

  /**
   * Walks without side effects (no accessed/dirty writes, no TLB or cache use), for inspectors, `explain` and the
   * coherence checker. Returns the outcome and fills `rec`; an address no translation applies to gives badAddress's
   * outcome with `rec.count` = 0.
   */
  probe(vaHi: number, vaLo: number, access: Access, mode: Mode, rec: WalkRecord): number {
    const vpn = this.vpnOf(vaHi, vaLo, access);
    if (vpn < 0) {
      rec.count = 0;
      rec.faultKind = HwFaultKind.NonCanonical;
      rec.faultLevel = -1;
      rec.outcome = this.probeBadAddress();
      return rec.outcome;
    }
    return this.walk(vpn, access, mode, false, rec);
  }

  /** The outcome probe gives for an address vpnOf refused (no registers change). */
  protected abstract probeBadAddress(): number;

  // ===== Invalidation helpers for the architectures' instructions =====

  /** Drops TLB entries of the page and walk-cache entries as `how` says; returns TLB entries dropped. */
  protected invalidatePageEntries(vpn: Vpn, asid: number, how: InvalidateHow, pscHow: InvalidateHow): number {
    const n = this.tlb.invalidatePage(vpn, asid, how);
    if (this.hasPsc) pscInvalidateAll(this, asid, pscHow); // (without walk caches every slot is null)
    return n;
  }

  /** Drops TLB and walk-cache entries that `how` matches, counted as a full flush; returns TLB entries dropped. */
  protected flushMatching(asid: number, how: InvalidateHow, op: string): number {
    this.fullFlushes++;
    const n = this.tlb.invalidateAll(asid, how);
    pscInvalidateAll(this, asid, how === InvalidateHow.PcidAndGlobal ? InvalidateHow.PcidNonGlobal : how);
    if (this.tracer !== null) this.tracer(flushEvent(this, op, how >= 2 ? -1 : asid, n));
    return n;
  }
}
