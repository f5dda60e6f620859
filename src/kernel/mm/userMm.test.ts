/**
 * The system-call entry points of mm/ that Kernel.ts does not call yet
 * (doMadvise, doMlock, doMunlock, doBrk, through UserMm) against the Kernel
 * methods that do the same today: on two identical machines, the same
 * call must give the same result and leave the same address space.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { Pte } from "../../hw/arch/x86_64/pte.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { checkInvariants } from "../view/invariants.ts";
import { procMaps } from "../view/procfs.ts";
import { MADVISE_ADVICE, mmapArgs, VmFault } from "./userMm.ts";

const PAGE = 4096n;

/** A process with private (huge, 4K, untouched), file (shared, private), shared, locked and swapped memory, a guard and a hole. */
function world() {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 4 << 20, thp: "always" });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const touch = (va: bigint, write: boolean) => {
    const r = k.userAccess(0, t, va, write ? Access.Write : Access.Read, 7);
    expect(r.ok).toBe(true);
  };
  const f = k.createFile("data", 64 * 4096, "disk", true);
  const anon = k.mmap(t, mmapArgs(1024 * 4096)); // 2 MiB-aligned: huge pages on a write
  for (let i = 0n; i < 600n; i += 3n) touch(anon + i * PAGE, i % 2n === 0n);
  const file = k.mmap(t, mmapArgs(64 * 4096, { file: f, shared: true }));
  for (let i = 0n; i < 40n; i += 5n) touch(file + i * PAGE, i % 10n === 0n);
  const shm = k.mmap(t, mmapArgs(16 * 4096, { shared: true }));
  for (let i = 0n; i < 16n; i += 2n) touch(shm + i * PAGE, true);
  const locked = k.mmap(t, mmapArgs(16 * 4096, { locked: true }));
  const small = k.mmap(t, mmapArgs(32 * 4096));
  for (let i = 0n; i < 32n; i++) touch(small + i * PAGE, true);
  expect(k.madvise(t, small + 8n * PAGE, 8n * PAGE, "pageout")).toBe(0n);
  expect(k.madvise(t, small + 20n * PAGE, 2n * PAGE, "guard_install")).toBe(0n);
  expect(k.munmap(t, small + 28n * PAGE, 2n * PAGE)).toBe(0n);
  const fresh = k.mmap(t, mmapArgs(8 * 4096));
  const cow = k.mmap(t, mmapArgs(16 * 4096, { file: f, offset: 16 * 4096 }));
  for (let i = 0n; i < 16n; i += 4n) touch(cow + i * PAGE, i === 8n);
  const vpns = [anon, file, shm, locked, small, fresh, cow].map((a) => Number(a / PAGE));
  return {
    k,
    t,
    anon,
    file,
    shm,
    locked,
    small,
    fresh,
    cow,
    lo: Math.min(...vpns),
    hi: Math.max(...vpns) + 1024,
  };
}

type World = ReturnType<typeof world>;

/** The address space as the two machines must agree on it. */
function snapshot(w: World) {
  const { k, t } = w;
  const mm = t.mm!;
  const ptes: (number[] | null)[] = [];
  for (let v = w.lo; v < w.hi; v++) {
    const l = k.userMm.leafFor(mm, v);
    ptes.push(l === null ? null : [l.level, l.hi, l.lo]);
  }
  checkInvariants(k);
  const sw = k.swap!;
  return {
    maps: procMaps(k, t),
    vmas: mm.vmas.map((v) => [v.vmStart, v.vmEnd, v.vmFlags, v.vmPgoff, v.anonVma]),
    counters: [mm.rssAnon, mm.rssFile, mm.rssShmem, mm.swapEnts, mm.committed, mm.ptPages, mm.brkBytes],
    faults: [t.minFlt, t.majFlt],
    swap: [sw.used, sw.pswpin, sw.pswpout, sw.readahead],
    thp: { ...k.userMm.thpStats },
    ptes,
  };
}

/** Kernel.populate's population fault, from the outside. */
function populate(w: World) {
  const { k, t } = w;
  const mm = t.mm!;
  return (vpn: number, write: boolean): VmFault => {
    const vma = mm.vmaAt(vpn);
    if (vma === null) return VmFault.SIGSEGV;
    const leaf = k.userMm.leafFor(mm, vpn);
    if (leaf !== null && leaf.lo & Pte.P && (!write || leaf.lo & Pte.RW)) return VmFault.OK;
    const r = k.userMm.handleMmFault(mm, vma, vpn, write);
    if ((r & ~VmFault.MAJOR) === VmFault.OK) {
      if (r & VmFault.MAJOR) t.majFlt++;
      else t.minFlt++;
    }
    return r & ~VmFault.MAJOR;
  };
}

/** Ranges (address, pages) over each kind of memory, across a huge page's edge, and over a hole. */
const RANGES: [string, (w: World) => [bigint, bigint]][] = [
  ["anonymous, across a huge page's edge", (w) => [w.anon + 510n * PAGE, 4n]],
  ["anonymous, whole", (w) => [w.anon, 1024n]],
  ["a shared file mapping", (w) => [w.file, 64n]],
  ["shared anonymous", (w) => [w.shm, 16n]],
  ["locked", (w) => [w.locked, 16n]],
  ["swapped and guarded", (w) => [w.small, 24n]],
  ["with a hole", (w) => [w.small, 32n]],
  ["untouched anonymous", (w) => [w.fresh, 8n]],
  ["a private file mapping", (w) => [w.cow, 16n]],
];

describe("doMadvise (mm/madvise.ts) against Kernel.madvise", () => {
  // MADV_REMOVE is not doMadvise's: core/fallocate.ts punches the file (kernel/mm/falloc.test.ts)
  const names = Object.keys(MADVISE_ADVICE);
  for (const name of names) {
    it(`MADV_${name.toUpperCase()}`, () => {
      for (const [what, range] of RANGES) {
        const a = world();
        const b = world();
        const [addr, pages] = range(a);
        a.k.lastPageout = 0;
        const ra = a.k.madvise(a.t, addr, pages * PAGE, name);
        const start = Number(addr / PAGE);
        const advice = MADVISE_ADVICE[name];
        let reclaimed = 0;
        const rb = b.k.userMm.madvise(b.t.mm!, start, start + Number(pages), advice, populate(b), (n) => {
          reclaimed += n;
        });
        expect(BigInt(rb), what).toBe(ra);
        expect(reclaimed, what).toBe(a.k.lastPageout);
        expect(snapshot(b), what).toEqual(snapshot(a));
      }
    });
  }
});

describe("doMlock, doMunlock (mm/mlock.ts) against Kernel.mlock, Kernel.munlock", () => {
  for (const onFault of [false, true]) {
    it(`mlock${onFault ? "2(MLOCK_ONFAULT)" : ""} and munlock`, () => {
      for (const [what, range] of RANGES) {
        const a = world();
        const b = world();
        const [addr, pages] = range(a);
        const start = Number(addr / PAGE);
        const end = start + Number(pages);
        expect(BigInt(b.k.userMm.mlock(b.t.mm!, start, end, onFault, populate(b))), what).toBe(
          a.k.mlock(a.t, addr, pages * PAGE, onFault),
        );
        expect(snapshot(b), what).toEqual(snapshot(a));
        expect(BigInt(b.k.userMm.munlock(b.t.mm!, start, end)), what).toBe(
          a.k.munlock(a.t, addr, pages * PAGE),
        );
        expect(snapshot(b), what).toEqual(snapshot(a));
      }
    });
  }
});

describe("doBrk (mm/mmap.ts) against Kernel.brk", () => {
  it("grows, shrinks and refuses as sbrk does", () => {
    const a = world();
    const b = world();
    const blocker = (w: World) =>
      w.k.mmap(w.t, mmapArgs(4 * 4096, { addr: (w.t.mm!.startBrk + 40) * 4096, fixed: true }));
    expect(blocker(b)).toBe(blocker(a));
    const sbrk = (w: World, delta: bigint): bigint => {
      const old = BigInt(w.t.mm!.brkBytes);
      const r = w.k.userMm.brk(w.t.mm!, Number(old + delta));
      return r === 0 ? old : BigInt(r);
    };
    for (const delta of [
      3n * PAGE + 5n,
      10n * PAGE,
      -PAGE,
      -100n * PAGE,
      40n * PAGE,
      1n << 50n,
      -4n * PAGE,
    ]) {
      expect(sbrk(b, delta), `delta ${delta}`).toBe(a.k.brk(a.t, delta));
      expect(snapshot(b), `delta ${delta}`).toEqual(snapshot(a));
    }
  });
});
