import { describe, expect, it } from "vitest";
import { Rng } from "../../base/rng.ts";
import { pfnToPa, toPfn, toVpn } from "../../base/units.ts";
import { Outcome } from "../arch/x86_64/fault.ts";
import { bareMachine } from "../arch/x86_64/testkit.ts";
import { type CacheKind, type CacheSpec, cacheGeometry, cacheSpecError, hasSynonyms } from "./CacheSpec.ts";
import { CacheSystem } from "./CacheSystem.ts";

const FRAME = 0x1234;

/** One frame mapped at two user addresses a page apart (one colour bit differs), behind a cache. */
function twoAliases(kind: CacheKind, ways = 4, cpus = 1) {
  const spec: CacheSpec = { kind, sizeBytes: 32 << 10, ways, lineBytes: 64, asidTagged: false };
  const { m, cpu, mapper, root } = bareMachine({ cpus });
  mapper.map(root, toVpn(0x400), toPfn(FRAME), 0, { writable: true, user: true });
  mapper.map(root, toVpn(0x401), toPfn(FRAME), 0, { writable: true, user: true });
  const sys = CacheSystem.install(spec, m.phys, m.cpus);
  return { m, cpu, sys, cache: sys.caches[0] };
}

describe("an L1 data cache on the memory-access path", () => {
  it("keeps its own copy: a store stays in the line until it is written back", () => {
    const { m, cpu, cache } = twoAliases("pipt");
    expect(cpu.store8(0, 0x400010, 0x5a)).toBe(Outcome.OK);
    expect(m.phys.read8(pfnToPa(toPfn(FRAME)) + 0x10)).toBe(0); // write-back: memory is behind
    expect(cpu.load8(0, 0x400010)).toBe(Outcome.OK);
    expect(cpu.data).toBe(0x5a);
    expect([cache.hits, cache.misses]).toEqual([1, 1]);
    cache.flushAll();
    expect(m.phys.read8(pfnToPa(toPfn(FRAME)) + 0x10)).toBe(0x5a);
    expect(cache.flushes).toBe(1);
  });

  it("synonyms: a store through one alias and a load through the other return stale bytes on VIVT and aliasing VIPT", () => {
    for (const [kind, ways, stale] of [
      ["vivt", 4, true],
      ["vipt", 4, true], // 8 KiB a way: bit 12 picks the set
      ["vipt", 8, false], // 4 KiB a way: the index lies inside the page offset
      ["pipt", 4, false],
    ] as const) {
      const { cpu, cache } = twoAliases(kind, ways);
      cpu.load8(0, 0x401020); // the second alias's line is in the cache
      cpu.store8(0, 0x400020, 0x77);
      cpu.load8(0, 0x401020);
      expect({ kind, ways, data: cpu.data, stale: cache.staleReads }).toEqual({
        kind,
        ways,
        data: stale ? 0 : 0x77,
        stale: stale ? 1 : 0,
      });
      // a whole flush writes the store back and drops the old copy: the next load is right
      cache.flushAll();
      cpu.load8(0, 0x401020);
      expect(cpu.data).toBe(0x77);
      expect(cache.staleReads).toBe(stale ? 1 : 0);
    }
  });

  it("a line evicted later writes back all its bytes, clobbering a newer write through the other alias", () => {
    const { m, cpu, cache } = twoAliases("vivt");
    cpu.load8(0, 0x400000); // alias A holds the line (clean), byte 1 = 0
    cpu.store8(0, 0x401001, 0x11); // alias B writes byte 1 (another set)
    cpu.store8(0, 0x400000, 0x22); // alias A writes byte 0: its line is dirty, with the old byte 1
    cache.flushFrame(FRAME, 1); // B's colour first: byte 1 reaches memory
    expect(m.phys.read8(pfnToPa(toPfn(FRAME)) + 1)).toBe(0x11);
    cache.flushFrame(FRAME, 0); // then A's whole line: byte 1 is 0 again
    expect(m.phys.read8(pfnToPa(toPfn(FRAME)) + 1)).toBe(0);
    cpu.load8(0, 0x400001);
    expect(cpu.data).toBe(0);
    expect(cache.staleReads).toBe(1);
  });

  it("homonyms: an untagged VIVT line answers for the same VA after it maps another frame; an ASID tag tells them apart", () => {
    for (const asidTagged of [false, true]) {
      const { m, cpu, mapper, root } = bareMachine();
      const spec: CacheSpec = { kind: "vivt", sizeBytes: 32 << 10, ways: 4, lineBytes: 64, asidTagged };
      const sys = CacheSystem.install(spec, m.phys, [cpu]);
      const c = sys.caches[0];
      mapper.map(root, toVpn(0x400), toPfn(FRAME), 0, { writable: true, user: true });
      c.context = 1; // address space 1 writes 0x400000
      cpu.store8(0, 0x400000, 0x11);
      // address space 2: the same VA, another frame (the TLB entry goes with the switch)
      mapper.unmap(root, toVpn(0x400));
      mapper.map(root, toVpn(0x400), toPfn(FRAME + 1), 0, { writable: true, user: true });
      cpu.flushPage(0, 0x400000);
      c.context = 2;
      cpu.load8(0, 0x400000);
      expect({ asidTagged, data: cpu.data, stale: c.staleReads }).toEqual({
        asidTagged,
        data: asidTagged ? 0 : 0x11,
        stale: asidTagged ? 0 : 1,
      });
      expect(c.probe(pfnToPa(toPfn(FRAME + 1)), 0, 0x400000).otherFrame).toBe(!asidTagged);
    }
  });

  it("evicts the least recently used way of a full set", () => {
    const { m, cpu, mapper, root } = bareMachine();
    const spec: CacheSpec = { kind: "pipt", sizeBytes: 1024, ways: 2, lineBytes: 64, asidTagged: false };
    for (let i = 0; i < 3; i++)
      mapper.map(root, toVpn(0x400 + i), toPfn(FRAME + i), 0, { writable: true, user: true });
    const sys = CacheSystem.install(spec, m.phys, [cpu]);
    const c = sys.caches[0];
    // 8 sets of 64 B: offset 0 of every page lands in set 0
    cpu.load8(0, 0x400000);
    cpu.load8(0, 0x401000);
    cpu.load8(0, 0x400000); // the first is now the most recent
    cpu.load8(0, 0x402000); // evicts the second page's line
    const before = c.misses;
    cpu.load8(0, 0x400000);
    expect(c.misses).toBe(before);
    cpu.load8(0, 0x401000);
    expect(c.misses).toBe(before + 1);
  });

  it("the kernel's direct write drops the lines of the frame's own colour and leaves other colours stale", () => {
    const { m, cpu, cache } = twoAliases("vipt");
    cpu.load8(0, 0x400030); // colour 0, the frame's own (0x1234000: bit 12 is 0)
    cpu.load8(0, 0x401030); // colour 1
    m.phys.write8(pfnToPa(toPfn(FRAME)) + 0x30, 0x99);
    cpu.load8(0, 0x400030);
    expect(cpu.data).toBe(0x99);
    expect(cache.staleReads).toBe(0);
    cpu.load8(0, 0x401030);
    expect(cpu.data).toBe(0);
    expect(cache.staleReads).toBe(1);
  });

  it("two CPUs stay coherent by the physical line (a store drops the other CPU's copy)", () => {
    const { m, sys } = twoAliases("pipt", 4, 2);
    const [a, b] = m.cpus;
    b.load8(0, 0x400040);
    a.store8(0, 0x400040, 0x42);
    b.load8(0, 0x400040);
    expect(b.data).toBe(0x42);
    expect(sys.total("staleReads")).toBe(0);
  });

  it("checks the geometry with messages that name the key", () => {
    const base: CacheSpec = { kind: "vipt", sizeBytes: 32 << 10, ways: 8, lineBytes: 64, asidTagged: false };
    expect(cacheSpecError(base)).toBeNull();
    expect(cacheSpecError({ ...base, ways: 3 })).toEqual([
      "cache_ways",
      "3 does not divide the 512 lines (32768 / 64) into sets of equal size",
    ]);
    expect(cacheSpecError({ ...base, sizeBytes: 48 << 10 })?.[0]).toBe("cache_size");
    expect(cacheSpecError({ ...base, lineBytes: 48 })?.[0]).toBe("cache_line");
    expect(cacheSpecError({ ...base, ways: 1024 })?.[1]).toMatch(/hold 512/);
    expect(cacheSpecError({ ...base, asidTagged: true })?.[0]).toBe("cache_asid");
    expect(cacheGeometry(base)).toMatchObject({ sets: 64, colours: 1, shmlba: 4096 });
    expect(cacheGeometry({ ...base, ways: 2 })).toMatchObject({ sets: 256, colours: 4, shmlba: 16384 });
    expect(hasSynonyms(base)).toBe(false);
    expect(hasSynonyms({ ...base, ways: 4 })).toBe(true);
  });

  // Seeded model check: 4 frames each mapped at 2 addresses of different colours, 2 CPUs,
  // random loads, stores, whole flushes and direct writes by "the kernel", against a plain
  // memory that takes every store at once. Without synonyms every load must match it; with
  // them, every load that does not match must have been counted stale.
  for (const seed of [1, 2, 3])
    for (const [kind, ways] of [
      ["pipt", 2],
      ["vipt", 8], // 2 KiB a way: no colours
      ["vipt", 2], // 8 KiB a way: 2 colours
      ["vivt", 2],
    ] as const)
      it(`seed ${seed}: ${kind} ${ways}-way against a flat memory`, () => {
        const { m, mapper, root } = bareMachine({ cpus: 2 });
        const spec: CacheSpec = { kind, sizeBytes: 16384, ways, lineBytes: 16, asidTagged: false };
        for (let f = 0; f < 4; f++) {
          mapper.map(root, toVpn(0x400 + f), toPfn(FRAME + f), 0, { writable: true, user: true });
          mapper.map(root, toVpn(0x501 + 2 * f), toPfn(FRAME + f), 0, { writable: true, user: true });
        }
        const sys = CacheSystem.install(spec, m.phys, m.cpus);
        const flat = new Uint8Array(4 * 4096);
        const rng = new Rng(seed);
        let mismatches = 0;
        for (let step = 0; step < 4000; step++) {
          const f = rng.below(4);
          const off = rng.below(64) * 7; // a few lines per page, often shared
          const alias = rng.below(2);
          const va = alias === 0 ? 0x400000 + f * 4096 + off : 0x501000 + 2 * f * 4096 + off;
          const cpu = m.cpus[rng.below(2)];
          const op = rng.below(20);
          if (op < 8) {
            const v = rng.below(256);
            expect(cpu.store8(0, va, v)).toBe(Outcome.OK);
            flat[f * 4096 + off] = v;
          } else if (op < 18) {
            expect(cpu.load8(0, va)).toBe(Outcome.OK);
            if (cpu.data !== flat[f * 4096 + off]) mismatches++;
          } else if (op === 18) {
            for (const c of sys.caches) c.flushAll();
          } else {
            const v = rng.below(256);
            m.phys.write8(pfnToPa(toPfn(FRAME + f)) + off, v); // the kernel, through its direct map
            flat[f * 4096 + off] = v;
          }
        }
        const stale = sys.total("staleReads");
        if (kind === "pipt" || ways === 8) {
          expect(mismatches).toBe(0);
          expect(stale).toBe(0);
        } else {
          expect(mismatches).toBeGreaterThan(0); // the synonyms show
          expect(stale).toBeGreaterThanOrEqual(mismatches);
        }
      });
});
