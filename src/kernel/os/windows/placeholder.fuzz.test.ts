/**
 * Seeded sequences of placeholder operations (placeholder.ts) against a
 * naive model of one 1 MB range: a list of segments, each a placeholder, a
 * private allocation that replaced one (committed or reserved, with the
 * bytes written to it) or a view of a section that replaced one. Every
 * call's result and GetLastError, every segment's VirtualQuery, the bytes,
 * a touch of a placeholder (an access violation), the invariant checker,
 * and at the end the commit charge back after rundown.
 */
import { describe, expect, it } from "vitest";
import { Rng } from "../../../base/rng.ts";
import { Access } from "../../../hw/access.ts";
import { twoProcs } from "../../windows.testkit.ts";
import { PageProt } from "./mmpte.ts";
import { FreeType } from "./placeholder.ts";
import { MemState } from "./virtual.ts";

const P = 4096n;
const PAGES = 256;
const PRESERVE = FreeType.RELEASE | FreeType.PRESERVE_PLACEHOLDER;
const COALESCE = FreeType.RELEASE | FreeType.COALESCE_PLACEHOLDERS;
const TYPE = {
  reserve: true,
  commit: false,
  reservePlaceholder: false,
  replacePlaceholder: false,
  writeWatch: false,
};

/** what the seeds did, over all of them */
const done = { split: 0, coalesce: 0, priv: 0, view: 0, preserve: 0, refused: 0 };

interface Seg {
  start: number;
  n: number;
  kind: "ph" | "priv" | "view";
  committed: boolean;
  /** page index in the segment -> byte at its offset 8 */
  bytes: Map<number, number>;
}

function run(seed: number): void {
  const { k, a } = twoProcs({ ramBytes: 64 << 20 });
  k.catchExceptions(a);
  const w = k.view.windows()!;
  const commit0 = w.commit().total;
  const rng = new Rng(seed);
  const base = k.virtualAlloc2(
    a,
    0n,
    BigInt(PAGES) * P,
    { ...TYPE, reservePlaceholder: true },
    PageProt.NOACCESS,
  );
  expect(base).not.toBe(0n);
  const va = (page: number) => base + BigInt(page) * P;
  let segs: Seg[] = [{ start: 0, n: PAGES, kind: "ph", committed: false, bytes: new Map() }];
  const ph = () => segs.filter((s) => s.kind === "ph");
  const err = () => w.process(a)!.lastError;
  for (let step = 0; step < 120; step++) {
    const where = `seed ${seed} step ${step}`;
    const op = rng.below(6);
    const phs = ph();
    if (op === 0 && phs.length > 0) {
      // split: a sub-range of a placeholder (the whole one: 487)
      const s = phs[rng.below(phs.length)];
      const off = rng.below(s.n);
      const n = 1 + rng.below(s.n - off);
      const ok = k.virtualFreeEx(a, va(s.start + off), BigInt(n) * P, PRESERVE);
      if (n === s.n) {
        expect([ok, err()], where).toEqual([false, 487]);
        done.refused++;
        continue;
      }
      expect(ok, where).toBe(true);
      done.split++;
      const parts: Seg[] = [];
      if (off > 0) parts.push({ ...s, n: off, bytes: new Map() });
      parts.push({ ...s, start: s.start + off, n, bytes: new Map() });
      if (off + n < s.n) parts.push({ ...s, start: s.start + off + n, n: s.n - off - n, bytes: new Map() });
      segs.splice(segs.indexOf(s), 1, ...parts);
    } else if (op === 1 && segs.length > 1) {
      // coalesce a run of two or three adjacent segments: only placeholders merge
      const i = rng.below(segs.length - 1);
      const run = segs.slice(i, i + 2 + rng.below(2));
      const n = run.reduce((t, s) => t + s.n, 0);
      const ok = k.virtualFreeEx(a, va(run[0].start), BigInt(n) * P, COALESCE);
      if (run.some((s) => s.kind !== "ph")) {
        expect([ok, err()], where).toEqual([false, 487]);
        done.refused++;
        continue;
      }
      expect(ok, where).toBe(true);
      done.coalesce++;
      segs.splice(i, run.length, { start: run[0].start, n, kind: "ph", committed: false, bytes: new Map() });
    } else if (op === 2 && phs.length > 0) {
      // a private allocation replacing a placeholder, committed or not; some pages written
      const s = phs[rng.below(phs.length)];
      const commit = rng.below(2) === 0;
      const got = k.virtualAlloc2(
        a,
        va(s.start),
        BigInt(s.n) * P,
        { ...TYPE, commit, replacePlaceholder: true },
        PageProt.READWRITE,
      );
      expect(got, where).toBe(va(s.start));
      s.kind = "priv";
      done.priv++;
      s.committed = commit;
      if (commit)
        for (let j = 0; j < 3; j++) {
          const pg = rng.below(s.n);
          const v = 1 + rng.below(200);
          expect(k.userAccess(0, a, va(s.start + pg) + 8n, Access.Write, v).ok, where).toBe(true);
          s.bytes.set(pg, v);
        }
    } else if (op === 3) {
      // a view replacing a placeholder: at any page (the 64 KB rules do not apply), from a random page of a larger section
      const s = phs.length ? phs[rng.below(phs.length)] : null;
      if (s === null) continue;
      const first = rng.below(4);
      const h = k.createFileMapping(a, BigInt(s.n + first) * P, PageProt.READWRITE, null, null);
      const got = k.mapViewOfFile(
        a,
        h,
        "write",
        false,
        BigInt(first) * P,
        BigInt(s.n) * P,
        va(s.start),
        true,
      );
      expect(k.closeHandle(a, h)).toBe(true);
      expect(got, where).toBe(va(s.start));
      s.kind = "view";
      done.view++;
      const pg = rng.below(s.n);
      expect(k.userAccess(0, a, va(s.start + pg) + 8n, Access.Write, 0x77).ok, where).toBe(true);
      s.bytes.set(pg, 0x77);
    } else if (op === 4) {
      // back to a placeholder
      const rs = segs.filter((s) => s.kind !== "ph");
      if (rs.length === 0) continue;
      const s = rs[rng.below(rs.length)];
      const ok =
        s.kind === "view"
          ? k.unmapViewOfFile(a, va(s.start), true)
          : k.virtualFreeEx(a, va(s.start), BigInt(s.n) * P, PRESERVE);
      expect(ok, where).toBe(true);
      Object.assign(s, { kind: "ph", committed: false, bytes: new Map() });
      done.preserve++;
    } else if (op === 5 && segs.length > 0) {
      // touch a page: a placeholder faults, a written page reads back
      const s = segs[rng.below(segs.length)];
      const pg = rng.below(s.n);
      const r = k.userAccess(0, a, va(s.start + pg) + 8n, Access.Read);
      if (s.kind === "ph" || (s.kind === "priv" && !s.committed)) expect(r.ok, where).toBe(false);
      else expect(r, where).toMatchObject({ ok: true, value: s.bytes.get(pg) ?? 0 });
    }
    // every segment as VirtualQuery sees it
    for (const s of segs) {
      const q = k.virtualQuery(a, va(s.start))!;
      expect(
        { base: q.allocationBase, size: q.regionSize, state: q.state, type: q.type, ap: q.allocationProtect },
        where,
      ).toEqual({
        base: va(s.start),
        size: BigInt(s.n) * P,
        state: s.kind === "view" || s.committed ? MemState.COMMIT : MemState.RESERVE,
        type: s.kind === "view" ? MemState.MAPPED : MemState.PRIVATE,
        ap: s.kind === "ph" ? PageProt.NOACCESS : PageProt.READWRITE,
      });
    }
    segs = [...segs].sort((x, y) => x.start - y.start);
    if (step % 20 === 19) expect(k.view.invariants(), where).toEqual([]);
  }
  expect(k.view.invariants()).toEqual([]);
  k.exit(a, "done");
  expect(w.commit().total).toBe(commit0);
  expect(k.view.invariants()).toEqual([]);
}

describe("placeholders against a naive model", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) it(`seed ${seed}`, () => run(seed));
  it("the seeds split, coalesced, replaced with both kinds, preserved and were refused", () => {
    for (const [what, n] of Object.entries(done)) expect(n, what).toBeGreaterThan(0);
  });
});
