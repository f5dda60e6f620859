/**
 * Seeded sequences of VirtualAlloc, VirtualFree, VirtualProtect and user
 * touches against a naive model of a Windows address space: one record per
 * page (which reservation, committed, protection, locked), the rules of the Win32
 * pages written out again independently. VirtualLock, VirtualUnlock and
 * MEM_RESET come from a stream of their own (the other operations' stream
 * is unchanged): their return values and GetLastError, the locked pages
 * (each valid, none lost to the trims and working-set maxima), and
 * SetProcessWorkingSetSize refusing a maximum the locked pages reach. After every step the return
 * values and GetLastError agree; every few steps the regions VirtualQuery
 * reports, the VAD tree (no overlap, balanced) and the commit charge (none
 * lost, none invented) agree with the model; at the end the kernel's
 * invariants hold and the process's exit returns every page of charge.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import { Access } from "../../../hw/access.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { STATUS_ACCESS_VIOLATION, STATUS_GUARD_PAGE_VIOLATION } from "./fault.ts";
import { PageProt } from "./mmpte.ts";
import { MemState, WinError } from "./virtual.ts";
import { QuotaLimits } from "./workingset.ts";

/** The model's window: vpn 0x10 .. 0x10 + PAGES (system-chosen bases land here while it has room). */
const FIRST = 0x10;
const PAGES = 4096;
const BASES = [
  PageProt.NOACCESS,
  PageProt.READONLY,
  PageProt.READWRITE,
  PageProt.EXECUTE,
  PageProt.EXECUTE_READ,
  PageProt.EXECUTE_READWRITE,
];

interface Model {
  /** per page: reservation id (0: free), committed, Win32 protection */
  vad: Int32Array;
  committed: Uint8Array;
  prot: Int32Array;
  vads: Map<number, { start: number; end: number }>;
  nextId: number;
  charge: number;
  limit: number;
  /** per page: locked in the working set (VirtualLock) */
  locked: Uint8Array;
  /** the working-set minimum, in pages */
  wsMin: number;
}

function validProt(p: number): boolean {
  const base = p & 0xff;
  if (!BASES.includes(base)) return false; // write-copy too: not for private memory
  if (p & ~0x7ff) return false;
  // the memory-protection-constants page: at most one modifier, none with PAGE_NOACCESS
  const mods = [PageProt.GUARD, PageProt.NOCACHE, PageProt.WRITECOMBINE].filter((m) => p & m).length;
  return mods === 0 || (mods === 1 && base !== PageProt.NOACCESS);
}

const idx = (vpn: number) => vpn - FIRST;

/** VirtualAlloc as the documentation says it: [base or 0, lastError]. */
function modelAlloc(m: Model, addr: number, size: number, reserve: boolean, commit: boolean, prot: number) {
  if ((!reserve && !commit) || !validProt(prot) || size === 0) return [0, WinError.INVALID_PARAMETER];
  if (addr !== 0 && addr < 0x10000) return [0, WinError.INVALID_PARAMETER];
  if (reserve || addr === 0) {
    let s: number;
    let e: number;
    if (addr !== 0) {
      s = Math.floor(addr / 0x10000) * 16;
      e = Math.floor((addr + size - 1) / 4096);
      for (let v = s; v <= e; v++) if (m.vad[idx(v)] !== 0) return [0, WinError.INVALID_ADDRESS];
    } else {
      const n = Math.ceil(size / 4096);
      s = FIRST;
      for (;;) {
        let ok = true;
        for (let v = s; v < s + n; v++)
          if (m.vad[idx(v)] !== 0) {
            ok = false;
            break;
          }
        if (ok) break;
        s += 16;
      }
      e = s + n - 1;
    }
    if (commit && m.charge + (e - s + 1) > m.limit) return [0, WinError.COMMITMENT_LIMIT];
    const id = m.nextId++;
    m.vads.set(id, { start: s, end: e });
    for (let v = s; v <= e; v++) {
      m.vad[idx(v)] = id;
      m.committed[idx(v)] = commit ? 1 : 0;
      m.prot[idx(v)] = commit ? prot : 0;
    }
    if (commit) m.charge += e - s + 1;
    return [s * 4096, 0];
  }
  const s = Math.floor(addr / 4096);
  const e = Math.floor((addr + size - 1) / 4096);
  const id = m.vad[idx(s)];
  if (id === 0 || m.vad[idx(e)] !== id) return [0, WinError.INVALID_ADDRESS];
  let needed = 0;
  for (let v = s; v <= e; v++) if (!m.committed[idx(v)]) needed++;
  if (m.charge + needed > m.limit) return [0, WinError.COMMITMENT_LIMIT];
  m.charge += needed;
  // committed pages take the protection as VirtualProtect gives it (MiProtectVirtualMemory): NOACCESS or GUARD unlock
  const hidden = (prot & 0xff) === PageProt.NOACCESS || prot & PageProt.GUARD;
  for (let v = s; v <= e; v++) {
    m.committed[idx(v)] = 1;
    m.prot[idx(v)] = prot;
    if (hidden) m.locked[idx(v)] = 0;
  }
  return [s * 4096, 0];
}

function modelFree(m: Model, addr: number, size: number, release: boolean): [boolean, number] {
  const id = m.vad[idx(Math.floor(addr / 4096))];
  const vad = m.vads.get(id);
  let s: number;
  let e: number;
  if (release) {
    if (size !== 0) return [false, WinError.INVALID_PARAMETER];
    if (vad === undefined || Math.floor(addr / 4096) !== vad.start) return [false, WinError.INVALID_ADDRESS];
    s = vad.start;
    e = vad.end;
  } else {
    if (vad === undefined) return [false, WinError.INVALID_ADDRESS];
    if (size === 0) {
      if (Math.floor(addr / 4096) !== vad.start) return [false, WinError.INVALID_ADDRESS];
      s = vad.start;
      e = vad.end;
    } else {
      s = Math.floor(addr / 4096);
      e = Math.floor((addr + size - 1) / 4096);
      // STATUS_UNABLE_TO_FREE_VM
      if (e > vad.end) return [false, WinError.INVALID_PARAMETER];
    }
  }
  for (let v = s; v <= e; v++) {
    if (m.committed[idx(v)]) m.charge--;
    m.committed[idx(v)] = 0;
    m.prot[idx(v)] = 0;
    m.locked[idx(v)] = 0;
    if (release) m.vad[idx(v)] = 0;
  }
  if (release) m.vads.delete(id);
  return [true, 0];
}

/** VirtualProtect keeps a page's PAGE_NOCACHE / PAGE_WRITECOMBINE and drops those asked for (virtual.ts keepCaching). */
function keepCaching(old: number, asked: number): number {
  const CACHE = PageProt.NOCACHE | PageProt.WRITECOMBINE;
  if ((asked & 0xff) === PageProt.NOACCESS) return asked;
  const base = asked & ~CACHE;
  if (base & PageProt.GUARD) return base;
  return base | (old & CACHE);
}

function modelProtect(m: Model, addr: number, size: number, prot: number): [number, number] {
  if (!validProt(prot) || size === 0) return [-1, WinError.INVALID_PARAMETER];
  const s = Math.floor(addr / 4096);
  const e = Math.floor((addr + size - 1) / 4096);
  const id = m.vad[idx(s)];
  if (id === 0 || m.vad[idx(e)] !== id) return [-1, WinError.INVALID_ADDRESS];
  for (let v = s; v <= e; v++) if (!m.committed[idx(v)]) return [-1, WinError.INVALID_ADDRESS];
  const old = m.prot[idx(s)];
  for (let v = s; v <= e; v++) m.prot[idx(v)] = keepCaching(m.prot[idx(v)], prot);
  // PAGE_NOACCESS and PAGE_GUARD take a page out of the working set: unlocked
  if ((prot & 0xff) === PageProt.NOACCESS || prot & PageProt.GUARD)
    for (let v = s; v <= e; v++) m.locked[idx(v)] = 0;
  return [old, 0];
}

/** MM_FLUID_WORKING_SET (the VirtualLock page's "small overhead"). */
const FLUID = 8;
const lockedTotal = (m: Model) => m.locked.reduce((a, b) => a + b, 0);

/** VirtualLock as lock.ts's header says it (NtLockVirtualMemory's order): [ok, lastError]. */
function modelLock(m: Model, addr: number, size: number): [boolean, number] {
  if (size === 0) return [false, WinError.INVALID_PARAMETER];
  const s = Math.floor(addr / 4096);
  const e = Math.floor((addr + size - 1) / 4096);
  const n = e - s + 1;
  if (n + FLUID > m.wsMin) return [false, 1453];
  let already = 0;
  for (let v = s; v <= e; v++) {
    if (m.vad[idx(v)] === 0) return [false, 998];
    already += m.locked[idx(v)];
  }
  if (m.wsMin < lockedTotal(m) + n + FLUID - already) return [false, 1453];
  // each page read once: the first failure ends the call (a guard page loses its guard)
  for (let v = s; v <= e; v++) {
    const x = modelTouch(m, v, false);
    if (x === STATUS_GUARD_PAGE_VIOLATION) return [false, STATUS_GUARD_PAGE_VIOLATION];
    if (x !== 0) return [false, 998];
  }
  for (let v = s; v <= e; v++) m.locked[idx(v)] = 1;
  return [true, 0];
}

/** VirtualUnlock: every page of the range must be locked (else 158). */
function modelUnlock(m: Model, addr: number, size: number): [boolean, number] {
  if (size === 0) return [false, WinError.INVALID_PARAMETER];
  const s = Math.floor(addr / 4096);
  const e = Math.floor((addr + size - 1) / 4096);
  for (let v = s; v <= e; v++) if (m.vad[idx(v)] === 0 || !m.locked[idx(v)]) return [false, 158];
  for (let v = s; v <= e; v++) m.locked[idx(v)] = 0;
  return [true, 0];
}

/** MEM_RESET (reset.ts): the range rounded inwards, inside one reservation: [base, lastError]. */
function modelReset(m: Model, addr: number, size: number, prot: number): [number, number] {
  if (!validProt(prot) || size === 0 || addr < 0x10000) return [0, WinError.INVALID_PARAMETER];
  const s = Math.ceil(addr / 4096);
  const e = Math.floor((addr + size) / 4096) - 1;
  if (s > e) return [0, WinError.INVALID_ADDRESS];
  const id = m.vad[idx(s)];
  if (id === 0 || m.vad[idx(e)] !== id) return [0, WinError.INVALID_ADDRESS];
  return [s * 4096, 0];
}

/** A user touch: 0 (it worked) or the exception code; a guard page loses its guard. */
function modelTouch(m: Model, vpn: number, write: boolean): number {
  const i = idx(vpn);
  if (m.vad[i] === 0 || !m.committed[i]) return STATUS_ACCESS_VIOLATION;
  const base = m.prot[i] & 0xff;
  if (base === PageProt.NOACCESS) return STATUS_ACCESS_VIOLATION;
  if (write && base !== PageProt.READWRITE && base !== PageProt.EXECUTE_READWRITE)
    return STATUS_ACCESS_VIOLATION;
  if (m.prot[i] & PageProt.GUARD) {
    m.prot[i] &= ~PageProt.GUARD;
    return STATUS_GUARD_PAGE_VIOLATION;
  }
  return 0;
}

/** The kernel's regions (VirtualQuery walked from the window's start) against the model's pages. */
function compareRegions(
  k: KernelImpl,
  t: NonNullable<ReturnType<KernelImpl["spawn"]>>,
  m: Model,
  where: string,
) {
  let vpn = FIRST;
  while (vpn < FIRST + PAGES) {
    const q = k.virtualQuery(t, BigInt(vpn) * 4096n)!;
    const n = Number(q.regionSize / 4096n);
    for (let v = vpn; v < Math.min(vpn + n, FIRST + PAGES); v++) {
      const i = idx(v);
      const state = m.vad[i] === 0 ? MemState.FREE : m.committed[i] ? MemState.COMMIT : MemState.RESERVE;
      if (q.state !== state || (state === MemState.COMMIT && q.protect !== m.prot[i]))
        throw new Error(
          `${where}: page 0x${v.toString(16)}: kernel ${q.state}/${q.protect}, model ${state}/${m.prot[i]}`,
        );
      if (state !== MemState.FREE && q.allocationBase !== BigInt(m.vads.get(m.vad[i])!.start) * 4096n)
        throw new Error(`${where}: page 0x${v.toString(16)}: allocation base`);
    }
    vpn += n;
  }
  const w = k.view.windows()!;
  expect(w.commit().total, where).toBe(m.charge);
  expect(w.process(t)!.commitCharge, where).toBe(m.charge);
  const vads = w.vads(t);
  expect(vads.length, where).toBe(m.vads.size);
  for (let i = 1; i < vads.length; i++) expect(vads[i - 1].end <= vads[i].start, where).toBe(true);
  expect(
    vads.reduce((a, v) => a + v.commitCharge, 0),
    where,
  ).toBe(m.charge);
  const info = w.process(t)!;
  expect(info.locked, where).toBe(lockedTotal(m));
  for (let i = 0; i < PAGES; i++)
    if (m.locked[i])
      expect(k.view.page(t, FIRST + i).present, `${where}: locked page 0x${(FIRST + i).toString(16)}`).toBe(
        true,
      );
  // the working-set list is exactly the valid pages (checkPte checks each valid one is in it)
  expect(info.workingSet, where).toBe(vads.reduce((a, v) => a + v.residentPages, 0));
  expect(info.vadHeight, where).toBeLessThanOrEqual(Math.ceil(1.45 * Math.log2(vads.length + 2)));
}

/** a range mostly inside a reservation, from `r` */
function inVadFrom(r: Rng, m: Model): [number, number] {
  const list = [...m.vads.values()];
  if (!list.length || r.below(4) === 0)
    return [(FIRST + r.below(PAGES / 2)) * 4096 + r.below(4096), r.below(0x8000)];
  const v = list[r.below(list.length)];
  const first = v.start + r.below(v.end - v.start + 1);
  const last = Math.min(v.end, first + r.below(6));
  return [first * 4096 + r.below(64), (last - first + 1) * 4096 - r.below(64)];
}

/** soft and hard faults over all seeds (a touch after a trim of that page) */
let pagedBack = 0;

function run(seed: number, steps: number): void {
  // a paging file, so that trims (below) can page out
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", pagefileBytes: 8 << 20 });
  const t = k.spawn("fuzz")!;
  k.switchTo(0, t);
  k.catchExceptions(t);
  const rng = new Rng(seed);
  // trims from their own stream (the operations' stream is unchanged): none may change what the model sees
  const trimRng = new Rng(seed + 7919);
  // VirtualLock, VirtualUnlock and MEM_RESET from a third stream (lock.ts, reset.ts)
  const lockRng = new Rng(seed + 104729);
  let trims = 0;
  const m: Model = {
    vad: new Int32Array(PAGES + 64),
    committed: new Uint8Array(PAGES + 64),
    prot: new Int32Array(PAGES + 64),
    vads: new Map(),
    nextId: 1,
    charge: 0,
    limit: k.view.windows()!.commit().limit,
    locked: new Uint8Array(PAGES + 64),
    wsMin: 50,
  };
  const pick = <T>(a: readonly T[]): T => a[rng.below(a.length)];
  const prot = () =>
    rng.below(12) === 0
      ? pick([
          PageProt.WRITECOPY,
          PageProt.NOACCESS | PageProt.GUARD,
          0,
          PageProt.READONLY | PageProt.READWRITE,
        ])
      : pick(BASES) | (rng.below(3) === 0 ? PageProt.GUARD : 0) | (rng.below(8) === 0 ? PageProt.NOCACHE : 0);
  // addresses in the lower half of the window, so that reservations stay inside it
  const someAddr = () => (FIRST + rng.below(PAGES / 2)) * 4096 + (rng.below(3) === 0 ? rng.below(4096) : 0);
  const someSize = () => (rng.below(10) === 0 ? 0 : 1 + rng.below(rng.below(2) ? 0x8000 : 0x40000));
  const vadBase = () => {
    const list = [...m.vads.values()];
    return list.length && rng.below(2) ? pick(list).start * 4096 : someAddr();
  };
  /** mostly a range inside a reservation (where the calls succeed), sometimes anything */
  const inVad = (): [number, number] => {
    const list = [...m.vads.values()];
    if (!list.length || rng.below(4) === 0) return [someAddr(), someSize()];
    const v = pick(list);
    const first = v.start + rng.below(v.end - v.start + 1);
    const last = Math.min(v.end, first + rng.below(6));
    return [first * 4096 + rng.below(64), (last - first) * 4096 + 1 + rng.below(4000)];
  };
  // what the run reached (a sequence that only ever fails would prove little)
  const seen = {
    alloc: 0,
    commit: 0,
    release: 0,
    decommit: 0,
    protect: 0,
    touch: 0,
    guard: 0,
    av: 0,
    lock: 0,
    reset: 0,
  };
  /** a range of 1 to 8 pages in a reservation (where a lock can succeed), from the lock stream */
  const lockRange = (): [number, number] => {
    const list = [...m.vads.values()];
    if (!list.length || lockRng.below(5) === 0)
      return [(FIRST + lockRng.below(PAGES / 2)) * 4096, lockRng.below(6) * 4096];
    const v = list[lockRng.below(list.length)];
    const first = v.start + lockRng.below(Math.min(16, v.end - v.start + 1));
    return [first * 4096 + lockRng.below(100), lockRng.below(8) * 4096 + 1];
  };
  for (let step = 0; step < steps; step++) {
    const op = rng.below(10);
    const where = `seed ${seed} step ${step}`;
    const lastError = () => k.view.windows()!.process(t)!.lastError;
    if (op < 4) {
      const type = rng.below(3);
      let addr = rng.below(4) === 0 ? 0 : rng.below(20) === 0 ? rng.below(0x10000) : someAddr();
      let size = someSize();
      if (type === 1 && rng.below(4) !== 0) [addr, size] = inVad();
      const p = prot();
      const [want, err] = modelAlloc(m, addr, size, type !== 1, type !== 0, p);
      const got = k.virtualAlloc(t, BigInt(addr), BigInt(size), type !== 1, type !== 0, p);
      expect(
        got,
        `${where}: VirtualAlloc(0x${addr.toString(16)}, ${size}, ${type}, 0x${p.toString(16)})`,
      ).toBe(BigInt(want));
      if (want === 0) expect(lastError(), where).toBe(err);
      else if (type === 1) seen.commit++;
      else seen.alloc++;
    } else if (op < 6) {
      const release = rng.below(2) === 0;
      let addr = vadBase() + (rng.below(4) === 0 ? rng.below(3) * 4096 : 0);
      let size = release && rng.below(4) ? 0 : someSize();
      if (!release && rng.below(2)) [addr, size] = inVad();
      const [want, err] = modelFree(m, addr, size, release);
      expect(k.virtualFree(t, BigInt(addr), BigInt(size), release), `${where}: VirtualFree`).toBe(want);
      if (!want) expect(lastError(), where).toBe(err);
      else seen[release ? "release" : "decommit"]++;
    } else if (op < 8) {
      const [addr, size] = inVad();
      const p = prot();
      const [want, err] = modelProtect(m, addr, size, p);
      expect(k.virtualProtect(t, BigInt(addr), BigInt(size), p), `${where}: VirtualProtect`).toBe(want);
      if (want < 0) expect(lastError(), where).toBe(err);
      else seen.protect++;
    } else {
      const list = [...m.vads.values()];
      const vpn = list.length ? pick(list).start + rng.below(20) : FIRST + rng.below(64);
      const write = rng.below(2) === 0;
      const want = modelTouch(m, vpn, write);
      seen[want === 0 ? "touch" : want === STATUS_GUARD_PAGE_VIOLATION ? "guard" : "av"]++;
      const r = k.userAccess(0, t, BigInt(vpn) * 4096n + 7n, write ? Access.Write : Access.Read, 1);
      expect(
        r.ok ? 0 : k.view.windows()!.process(t)!.exception,
        `${where}: touch 0x${vpn.toString(16)}`,
      ).toBe(want);
    }
    const lop = lockRng.below(10);
    if (lop < 3) {
      const [addr, size] = lockRange();
      const lock = lop < 2;
      const [want, err] = lock ? modelLock(m, addr, size) : modelUnlock(m, addr, size);
      const got = lock
        ? k.virtualLock(t, BigInt(addr), BigInt(size))
        : k.virtualUnlock(t, BigInt(addr), BigInt(size));
      expect(got, `${where}: Virtual${lock ? "" : "Un"}lock(0x${addr.toString(16)}, ${size})`).toBe(want);
      if (!want) expect(lastError(), where).toBe(err);
      else if (lock) seen.lock++;
    } else if (lop === 3) {
      // MEM_RESET keeps every page committed with its protection; the bytes are not modelled here
      const [addr, size] = inVadFrom(lockRng, m);
      const p = lockRng.below(8) === 0 ? 0 : BASES[lockRng.below(BASES.length)];
      const [want, err] = modelReset(m, addr, size, p);
      const got = k.virtualAllocReset(t, BigInt(addr), BigInt(size), p, false);
      expect(got, `${where}: MEM_RESET(0x${addr.toString(16)}, ${size})`).toBe(BigInt(want));
      if (want === 0) expect(lastError(), where).toBe(err);
      else seen.reset++;
    }
    if (trimRng.below(12) === 0) {
      k.trim(t, trimRng.below(2) === 0);
      trims++;
    }
    // a working-set maximum now and then, hard or soft: replacement must not change what the model sees;
    // a maximum the locked pages plus MM_FLUID_WORKING_SET reach is refused
    if (trimRng.below(50) === 0) {
      const max = 20 + trimRng.below(40);
      const hard = trimRng.below(2) === 0;
      // and a hard one less than MM_FLUID_WORKING_SET + 1 above the minimum (MmAdjustWorkingSetSizeEx)
      const want = lockedTotal(m) + FLUID >= max || (hard && 20 + FLUID >= max) ? 87 : 0;
      expect(
        k.setWorkingSetSize(
          t,
          20n * 4096n,
          BigInt(max) * 4096n,
          hard ? QuotaLimits.HARDWS_MAX_ENABLE : QuotaLimits.HARDWS_MAX_DISABLE,
        ),
        where,
      ).toBe(want);
      if (want === 0) m.wsMin = 20;
    }
    if (step % 8 === 7) compareRegions(k, t, m, where);
  }
  expect(trims).toBeGreaterThan(10);
  pagedBack += k.view.windows()!.paging().pageReads + k.view.windows()!.paging().transitionFaults;
  compareRegions(k, t, m, `seed ${seed} end`);
  for (const [what, n] of Object.entries(seen))
    expect(n, `seed ${seed}: ${what}`).toBeGreaterThan(what === "guard" ? 0 : 2);
  expect(k.view.invariants()).toEqual([]);
  k.exit(t, "exit");
  expect(k.view.windows()!.commit().total).toBe(0);
  expect(k.view.windows()!.paging()).toMatchObject({ pagefileInUse: 0, standby: 0, modified: 0 });
  expect(k.view.invariants()).toEqual([]);
}

describe("VirtualAlloc / VirtualFree / VirtualProtect against a naive model", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) it(`seed ${seed}`, () => run(seed, 400));
  it("the seeds' trims were followed by soft or hard faults", () => expect(pagedBack).toBeGreaterThan(0));
});
