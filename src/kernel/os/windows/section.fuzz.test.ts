import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import { Access } from "../../../hw/access.ts";
import type { Task } from "../../core/task.ts";
import { KernelImpl } from "../../KernelImpl.ts";
import { PageProt } from "./mmpte.ts";
import { QuotaLimits } from "./workingset.ts";

/**
 * Seeded sequences of CreateFileMapping, MapViewOfFile (read, write,
 * copy), UnmapViewOfFile, CloseHandle, writes, reads, trims and hard
 * working-set maxima in two processes, against a naive model: each
 * section page's byte, each copy-on-write view's copied pages. Checks the
 * bytes every read returns, the invariant checker, the working-set list,
 * and that every section's frames, pool and commit come back at the end.
 */
/** Two bytes of each page are followed: at offset 0 and at 0x800 (a copy must carry the one not written). */
const SLOTS = [0, 0x800];
interface ModelSection {
  handle: number;
  /** page * 2 + slot */
  bytes: number[];
  open: boolean;
  views: number;
  /** SEC_RESERVE: the pages VirtualAlloc MEM_COMMIT committed so far (null: SEC_COMMIT, all committed) */
  committed: boolean[] | null;
}
interface ModelView {
  proc: number;
  base: bigint;
  sec: ModelSection;
  access: "read" | "write" | "copy";
  /** copy views (and pages VirtualProtect made PAGE_WRITECOPY): the pages copied, with their two bytes */
  copied: Map<number, [number, number]>;
  /** pages whose protection VirtualProtect changed (Win32, as VirtualQuery reports it); else the view's */
  prot: Map<number, number>;
}

const NOACCESS = PageProt.NOACCESS;
const RO = PageProt.READONLY;
const RW = PageProt.READWRITE;
const WC = PageProt.WRITECOPY;
const GUARD = PageProt.GUARD;
/** What VirtualProtect may set in each kind of view (MmCompatibleProtectionMask, with PAGE_GUARD). */
const ALLOWED = { read: [NOACCESS, RO, WC], write: [NOACCESS, RO, WC, RW], copy: [NOACCESS, RO, WC] };
const VIEW_PROT = { read: RO, write: RW, copy: WC };
const isCopy = (p: number) => (p & 0xff) === WC;

/**
 * `protect`: VirtualProtect of view pages, SEC_RESERVE sections and VirtualAlloc MEM_COMMIT in views
 * among the operations (a separate random stream from the plain runs').
 */
function run(seed: number, steps: number, protect = false): void {
  const k = new KernelImpl({ ramBytes: 32 << 20, profile: "windows", pagefileBytes: 4 << 20 });
  const procs: Task[] = [k.spawn("a")!, k.spawn("b")!];
  for (const t of procs) k.catchExceptions(t);
  const commit0 = k.view.windows()!.commit().total;
  const rng = new Rng(seed);
  const sections: ModelSection[] = [];
  const views: ModelView[] = [];
  const pick = <T>(a: readonly T[]): T => a[rng.below(a.length)];
  let reads = 0;
  let protects = 0;
  let commits = 0;
  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    const op = rng.below(protect ? 13 : 10);
    const pi = rng.below(2);
    const t = procs[pi];
    k.switchTo(0, t);
    const live = sections.filter((s) => s.open);
    if (op === 0 || live.length === 0) {
      const pages = 1 + rng.below(8);
      const reserve = protect && rng.below(2) === 0;
      const h = k.createFileMapping(t, BigInt(pages) * 4096n, PageProt.READWRITE, null, null, reserve);
      expect(h, where).toBeGreaterThan(0);
      const committed = reserve ? new Array<boolean>(pages).fill(false) : null;
      sections.push({ handle: h, bytes: new Array(pages * 2).fill(0), open: true, views: 0, committed });
    } else if (op === 1) {
      const sec = pick(live);
      const access = pick(["read", "write", "copy"] as const);
      const base = k.mapViewOfFile(t, sec.handle, access, false, 0n, 0n, 0n);
      expect(base, where).not.toBe(0n);
      sec.views++;
      views.push({ proc: pi, base, sec, access, copied: new Map(), prot: new Map() });
    } else if (op === 2 && views.length > 0) {
      const v = pick(views);
      k.switchTo(0, procs[v.proc]);
      expect(
        k.unmapViewOfFile(procs[v.proc], v.base + BigInt(rng.below(v.sec.bytes.length * 2048))),
        where,
      ).toBe(true);
      views.splice(views.indexOf(v), 1);
      v.sec.views--;
    } else if (op === 3 && rng.below(3) === 0) {
      const sec = pick(live);
      expect(k.closeHandle(t, sec.handle), where).toBe(true);
      sec.open = false;
    } else if (op <= 6 && views.length > 0) {
      // a write through a write or copy view
      const v = pick(views);
      if (!protect && v.access === "read") continue;
      const page = rng.below(v.sec.bytes.length / 2);
      const prot = v.prot.get(page) ?? VIEW_PROT[v.access];
      const present = v.sec.committed?.[page] ?? true;
      const slot = rng.below(2);
      const value = 1 + rng.below(255);
      k.switchTo(0, procs[v.proc]);
      const r = k.userAccess(
        0,
        procs[v.proc],
        v.base + BigInt(page * 4096 + SLOTS[slot]),
        Access.Write,
        value,
      );
      // a page without write access faults (MiAccessCheck: before the guard); a guard page faults once and loses its guard
      const writable = present && ((prot & 0xff) === RW || isCopy(prot));
      const ok = (prot & GUARD) === 0 && writable;
      expect(r.ok, `${where}: write to page ${page} (0x${prot.toString(16)})`).toBe(ok);
      if (prot & GUARD && writable) v.prot.set(page, prot & ~GUARD);
      if (!ok) continue;
      if (v.copied.has(page) || isCopy(prot)) {
        if (isCopy(prot)) v.prot.set(page, RW);
        // the first write copies the page as the section holds it now
        const c = v.copied.get(page) ?? [v.sec.bytes[page * 2], v.sec.bytes[page * 2 + 1]];
        c[slot] = value;
        v.copied.set(page, c);
      } else v.sec.bytes[page * 2 + slot] = value;
    } else if (op <= 8 && views.length > 0) {
      const v = pick(views);
      const page = rng.below(v.sec.bytes.length / 2);
      const slot = rng.below(2);
      k.switchTo(0, procs[v.proc]);
      const r = k.userAccess(0, procs[v.proc], v.base + BigInt(page * 4096 + SLOTS[slot]), Access.Read);
      const prot = v.prot.get(page) ?? VIEW_PROT[v.access];
      const present = v.sec.committed?.[page] ?? true;
      const hidden = !present || prot === NOACCESS || (prot & GUARD) !== 0;
      if (prot & GUARD && present) v.prot.set(page, prot & ~GUARD);
      const want = hidden ? -1 : (v.copied.get(page)?.[slot] ?? v.sec.bytes[page * 2 + slot]);
      expect(r.ok ? r.value : -1, `${where}: read of page ${page} (${v.access} view)`).toBe(want);
      reads++;
    } else if ((op === 10 || op === 11) && views.length > 0) {
      // VirtualProtect of a run of pages of a view
      const v = pick(views);
      const n = v.sec.bytes.length / 2;
      const first = rng.below(n);
      const count = 1 + rng.below(n - first);
      const asked = pick([NOACCESS, RO, RW, WC, RO | GUARD, RW | GUARD, WC | GUARD]);
      k.switchTo(0, procs[v.proc]);
      const got = k.virtualProtect(procs[v.proc], v.base + BigInt(first * 4096), BigInt(count * 4096), asked);
      const old = v.prot.get(first) ?? VIEW_PROT[v.access];
      const allowed =
        (ALLOWED[v.access] as number[]).includes(asked & ~GUARD) &&
        asked !== (NOACCESS | GUARD) &&
        (v.sec.committed?.slice(first, first + count).every((c) => c) ?? true);
      expect(got, `${where}: VirtualProtect(0x${asked.toString(16)}) of a ${v.access} view`).toBe(
        allowed ? old : -1,
      );
      if (!allowed) continue;
      protects++;
      for (let pg = first; pg < first + count; pg++)
        // a private copy: copy-on-write means nothing for it
        v.prot.set(pg, v.copied.has(pg) && isCopy(asked) ? (asked & ~0xff) | RW : asked);
    } else if (op === 12 && views.length > 0) {
      // VirtualAlloc MEM_COMMIT of a run of pages of a view (of a SEC_RESERVE section, or of a committed one)
      const v = pick(views);
      const n = v.sec.bytes.length / 2;
      const first = rng.below(n);
      const count = 1 + rng.below(n - first);
      const asked = pick([NOACCESS, RO, RW, WC]);
      k.switchTo(0, procs[v.proc]);
      const at = v.base + BigInt(first * 4096);
      const got = k.virtualAlloc(procs[v.proc], at, BigInt(count * 4096), false, true, asked);
      const allowed = (ALLOWED[v.access] as number[]).includes(asked);
      expect(got, `${where}: MEM_COMMIT(0x${asked.toString(16)}) in a ${v.access} view`).toBe(
        allowed ? at : 0n,
      );
      if (!allowed) continue;
      if (v.sec.committed?.slice(first, first + count).some((c) => !c)) commits++;
      for (let pg = first; pg < first + count; pg++) {
        if (v.sec.committed) v.sec.committed[pg] = true;
        v.prot.set(pg, v.copied.has(pg) && isCopy(asked) ? RW : asked);
      }
    } else if (rng.below(2) === 0) k.trim(t, rng.below(2) === 0);
    // a hard maximum at least MM_FLUID_WORKING_SET + 1 above the minimum (MmAdjustWorkingSetSizeEx)
    else
      expect(
        k.setWorkingSetSize(
          t,
          20n * 4096n,
          BigInt(29 + rng.below(20)) * 4096n,
          QuotaLimits.HARDWS_MAX_ENABLE,
        ),
        where,
      ).toBe(0);
    if (step % 16 === 15) {
      expect(k.view.invariants(), where).toEqual([]);
      for (const [i, p] of procs.entries()) {
        const w = k.view.windows()!;
        expect(w.process(p)!.workingSet, where).toBe(w.vads(p).reduce((n, v) => n + v.residentPages, 0));
        // each view's charge: its shared pages that may be copied and its private copies
        let charge = 0;
        for (const v of views.filter((x) => x.proc === i))
          for (let pg = 0; pg < v.sec.bytes.length / 2; pg++)
            if (v.copied.has(pg) || isCopy(v.prot.get(pg) ?? VIEW_PROT[v.access])) charge++;
        expect(w.process(p)!.commitCharge, `${where}: commit charge`).toBe(charge);
        // VirtualQuery's Protect, page by page
        if (protect)
          for (const v of views.filter((x) => x.proc === i))
            for (let pg = 0; pg < v.sec.bytes.length / 2; pg++)
              expect(k.virtualQuery(p, v.base + BigInt(pg * 4096))!.protect, `${where}: page ${pg}`).toBe(
                (v.sec.committed?.[pg] ?? true) ? (v.prot.get(pg) ?? VIEW_PROT[v.access]) : 0,
              );
      }
    }
  }
  expect(reads).toBeGreaterThan(steps / (protect ? 20 : 10));
  if (protect) {
    expect(protects, "VirtualProtect of views exercised").toBeGreaterThan(5);
    expect(commits, "MEM_COMMIT of reserved pages exercised").toBeGreaterThan(2);
  }
  expect(k.view.windows()!.paging().writeCopies, "copy-on-write exercised").toBeGreaterThan(0);
  expect(k.view.invariants()).toEqual([]);
  for (const s of sections) if (s.open) expect(k.closeHandle(procs[0], s.handle)).toBe(true);
  for (const t of procs) k.exit(t, "exit");
  const w = k.view.windows()!;
  for (const s of sections) expect(w.section(s.handle)).toBeNull();
  expect(w.commit().total).toBe(commit0);
  expect(w.paging().poolNonpagedBytes).toBe(0);
  expect(k.view.invariants()).toEqual([]);
}

describe("sections and views against a naive model", () => {
  for (const seed of [1, 2, 3, 4]) it(`seed ${seed}`, () => run(seed, 300));
  for (const seed of [5, 6, 7, 8])
    it(`seed ${seed}, with VirtualProtect of view pages`, () => run(seed, 500, true));
});
