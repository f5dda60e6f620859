import { describe, expect, it } from "vitest";
import { InputError } from "../../src/base/errors.ts";
import { vmlab } from "../../src/cli/testkit.ts";
import { runScenario } from "../../src/workloads/scenario/session.ts";

/** The data caches (`machine cache=`, issue #18): synonyms, homonyms, Linux's flush calls, the keys. */

const run = (src: string) => runScenario(src, { checkInvariants: true });
/** the value a metric expression has at the end of `src` */
const metric = (src: string, expr: string): string => {
  const r = run(`${src}\nexpect ${expr} == -12345\n`);
  return r.expectations.at(-1)!.actual;
};

const SYNONYM = `file shm size=4K fs=tmpfs
spawn A
A: a = mmap 4K file=shm shared
A: b = mmap 4K file=shm shared
A: read b
A: write a value=7
A: read b`;

describe("synonyms: a store through one mapping, a load through another", () => {
  const kinds: [string, string][] = [
    ["cache=vivt", "1"],
    ["cache=vivt cache_asid=on", "1"],
    ["cache=pipt", "0"],
    ["cache=vipt cache_ways=8", "0"], // 4 KiB a way: no colours
    ["cache=vipt cache_ways=4", "0"], // 2 colours, but SHMLBA colouring puts both mappings on one
    ["cache=none", "0"],
  ];
  for (const [keys, stale] of kinds)
    it(`${keys}: ${stale} stale read${stale === "1" ? "" : "s"}`, () => {
      expect(metric(`machine ram=64M ${keys}\n${SYNONYM}`, "cache.stale_reads")).toBe(stale);
    });

  it("an aliasing VIPT cache without colouring (a fixed private mapping at the other colour) reads stale data", () => {
    const src = `machine ram=64M cache=vipt cache_ways=4
kbuf = device fb size=8K
spawn A
A: u = mmap 4K private dev=fb at=0x10001000 fixed
A: read u
kernel: write kbuf value=1
A: read u`;
    expect(metric(src, "cache.stale_reads")).toBe("1");
    // the same on the non-aliasing geometry: one line
    expect(metric(src.replace("cache_ways=4", "cache_ways=8"), "cache.stale_reads")).toBe("0");
  });

  it("colouring: two shared mappings of a file on a 4-colour cache start SHMLBA (16K) apart, at the offset's colour", () => {
    const src = `machine ram=64M cache=vipt cache_size=32K cache_ways=2
file f size=16K fs=tmpfs
spawn A
A: a = mmap 4K file=f shared
A: b = mmap 4K file=f shared offset=4K
A: c = mmap 4K file=f shared`;
    expect(metric(src, "a - c")).toBe(String(16 << 10));
    // b maps page 1: the next higher free address one page past a's colour (the gap above a)
    expect(metric(src, "b - a")).toBe(String(4 << 10));
    // without colours, mappings are packed page by page
    expect(metric(src.replace("cache=vipt", "cache=pipt"), "a - c")).toBe(String(8 << 10));
  });
});

describe("two CPUs", () => {
  it("keep their caches coherent by physical line (a thread on each CPU, VIVT), counted per CPU", () => {
    const src = `machine ram=64M cpus=2 cache=vivt
spawn A
A: a = mmap 4K
A: write a value=1
A: thread T
switch T cpu=1
T: read a
T: write a value=2
A: read a`;
    expect(metric(src, "cache.stale_reads")).toBe("0");
    expect(metric(src, "byte(A, a)")).toBe("2"); // A's load on cpu0 made cpu1 write its dirty line back
    expect(metric(src, "cache.misses(cpu=1)")).toBe("1");
  });
});

describe("homonyms: flushes at context switch", () => {
  const SWITCHES = `spawn A
spawn B
A: a = mmap 4K at=0x10000000 fixed
B: b = mmap 4K at=0x10000000 fixed
A: write a value=1
B: write b value=2
A: read a
B: read b
kthread kw
kernel: read 0xffff888000001000`;

  it("untagged VIVT: one whole flush per switch to another mm, none for a kernel thread (lazy)", () => {
    const src = `machine ram=64M cache=vivt\n${SWITCHES}`;
    const switches = Number(metric(src, "context_switches"));
    expect(switches).toBeGreaterThanOrEqual(6);
    expect(metric(src, "cache.flushes")).toBe(String(switches));
    expect(metric(src, "cache.stale_reads")).toBe("0");
    expect(metric(src, "byte(A, a)")).toBe("1");
  });

  it("ASID-tagged VIVT and PIPT: no flush at all, and both processes keep their lines", () => {
    for (const keys of ["cache=vivt cache_asid=on", "cache=pipt", "cache=vipt"]) {
      const src = `machine ram=64M ${keys}\n${SWITCHES}`;
      expect(metric(src, "cache.flushes")).toBe("0");
      expect(metric(src, "cache.stale_reads")).toBe("0");
      // the stores are still in the cache: memory has zeros
      expect(metric(src, "byte(A, a) + byte(B, b)")).toBe("0");
    }
  });
});

describe("ASID tags and the kernel's addresses", () => {
  it("a kernel line is global: filled under A's context, it hits under B's", () => {
    const src = `machine ram=64M cache=vivt cache_asid=on
kbuf = device fb size=4K
spawn A
spawn B
A: a = mmap 4K
kernel: read kbuf
B: b = mmap 4K
let h = cache.hits
kernel: read kbuf`;
    expect(metric(src, "cache.hits - h")).toBe("1");
    // a user address under another context is another line: B's read of A's address misses
    const user = `${src}
A: write a value=1
B: m = mmap 4K at=a fixed
let x = cache.misses
B: read a`;
    expect(Number(metric(user, "cache.misses - x"))).toBeGreaterThan(0);
    expect(metric(user, "cache.stale_reads")).toBe("0");
  });
});

describe("Linux's flush calls", () => {
  const FORK = `spawn A
A: a = mmap 4K
A: write a value=5
A: fork B
B: read a`;

  it("fork: flush_cache_dup_mm on VIVT and aliasing VIPT (written back), a no-op on PIPT and small VIPT", () => {
    const cases: [string, string, string][] = [
      // [keys, flushes after the fork (before B runs), memory's byte]
      ["cache=vivt cache_asid=on", "1", "5"],
      ["cache=vipt cache_ways=4", "1", "5"],
      ["cache=pipt", "0", "0"],
      ["cache=vipt cache_ways=8", "0", "0"],
    ];
    for (const [keys, flushes, byte] of cases) {
      const src = `machine ram=64M ${keys}\n${FORK.replace("\nB: read a", "")}`;
      expect({ keys, flushes: metric(src, "cache.flushes"), byte: metric(src, "byte(A, a)") }).toEqual({
        keys,
        flushes,
        byte,
      });
      expect(metric(`machine ram=64M ${keys}\n${FORK}`, "cache.stale_reads")).toBe("0");
    }
  });

  it("COW: VIVT flushes the old frame's page twice (the copy's, wp_page_copy's), aliasing VIPT once; exit: flush_cache_mm", () => {
    const src = `machine ram=64M cache=vivt cache_asid=on\n${FORK}\nA: write a value=6\nA: read a\nB: read a`;
    // v4wb_copy_user_highpage's flush_cache_page before the copy, wp_page_copy's after it
    expect(metric(src, "cache.page_flushes")).toBe("2");
    // v6_copy_user_highpage_aliasing copies at the user's colour, flushing nothing; wp_page_copy's flush_pfn_alias
    expect(
      metric(src.replace("cache=vivt cache_asid=on", "cache=vipt cache_ways=4"), "cache.page_flushes"),
    ).toBe("1");
    expect(
      metric(src.replace("cache=vivt cache_asid=on", "cache=vipt cache_ways=4"), "cache.stale_reads"),
    ).toBe("0");
    expect(metric(src.replace("cache=vivt cache_asid=on", "cache=pipt"), "cache.page_flushes")).toBe("0");
    // a write after a read of the zero page copies no frame, but wp_page_copy still flushes the page
    const zero = "machine ram=64M cache=vivt\nspawn A\nA: a = mmap 4K\nA: read a\nA: write a value=1";
    expect(metric(zero, "cache.page_flushes")).toBe("1");
    // a private file page's first write (do_cow_fault): copy_mc_user_highpage's flush, no wp_page_copy
    const cowFault =
      "machine ram=64M cache=vivt\nfile f size=4K\nspawn A\nA: u = mmap 4K file=f\nA: write u value=7";
    expect(metric(cowFault, "cache.page_flushes")).toBe("1");
    expect(metric(src, "cache.stale_reads")).toBe("0");
    expect(metric(src, "byte(B, a)")).toBe("5");
    expect(metric(`${src}\nB: exit`, "cache.flushes")).toBe("2");
  });

  it("write(2) to a page a user maps: flush_dcache_page after the copy (aliasing caches only), no stale read", () => {
    const src = (keys: string) => `machine ram=64M ${keys}
file f size=8K fs=tmpfs
spawn A
A: u = mmap 8K file=f shared
A: read u 8K
A: buf = mmap 4K
A: write buf value=0x33
A: n = syscall write f buf 16
A: read u 8K`;
    for (const [keys, flushes] of [
      ["cache=vipt cache_ways=4", "1"], // the one page the 16 bytes reach
      ["cache=vivt", "1"],
      ["cache=pipt", "0"],
    ]) {
      expect({ keys, flushes: metric(src(keys), "cache.page_flushes") }).toEqual({ keys, flushes });
      expect(metric(src(keys), "cache.stale_reads")).toBe("0");
    }
    // an unmapped page: the flush is deferred (PG_dcache_clean), none is made
    expect(
      metric(
        src("cache=vivt").replace("A: read u 8K\nA: buf", "A: munmap u 8K\nA: buf"),
        "cache.page_flushes",
      ),
    ).toBe("0");
  });

  it("munmap and mprotect flush the VMA's range (tlb_start_vma) on VIVT, the whole cache on aliasing VIPT", () => {
    const body = "spawn A\nA: a = mmap 16K\nA: write a 16K\nA: mprotect a 8K prot=r\nA: munmap a 16K";
    // mprotect splits the VMA: one range flush for it, then munmap's two VMAs
    expect(metric(`machine ram=64M cache=vivt cache_asid=on\n${body}`, "cache.range_flushes")).toBe("3");
    expect(metric(`machine ram=64M cache=vipt\n${body}`, "cache.flushes")).toBe("3");
    expect(metric(`machine ram=64M cache=pipt\n${body}`, "cache.range_flushes + cache.flushes")).toBe("0");
  });
});

describe("vmlab trace --cache: the data cache in machine mode and its cost", () => {
  const trace = (extra: string[]) => {
    const r = vmlab(["trace", "examples/traces/hotcold.u64.gz", "--frames", "16", "--json", ...extra]);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout).machine;
  };
  const FREE = ["--cost", "cacheHit=0,cacheMiss=0,cacheWriteback=0,cacheFlush=0"];

  it("adds exactly its own costs; the pager's evictions call flush_cache_page on VIVT only", () => {
    const none = trace([]);
    const pipt = trace(["--cache", "pipt", ...FREE]);
    const vivt = trace(["--cache", "vivt", ...FREE]);
    expect(none.cache).toBeNull();
    // the TLB and the pager see the same accesses with a cache: the cycles differ only by the cache's
    expect(pipt.cycles).toBe(none.cycles);
    expect(vivt.cycles).toBe(none.cycles);
    expect(pipt.cache.hits + pipt.cache.misses).toBe(none.simulated);
    expect(pipt.cache.page_flushes).toBe(0);
    expect(vivt.cache.page_flushes).toBe(none.evictions);
    // swap-out reads a dirty frame: its dirty lines are written back on either kind
    expect(pipt.cache.writebacks).toBeGreaterThan(0);
    const costed = trace(["--cache", "vivt"]);
    const c = costed.cache;
    expect(costed.cycles).toBe(
      none.cycles + c.hits * 4 + c.misses * 50 + c.writebacks * 50 + c.page_flushes * 200,
    );
  });

  it("refuses a bad geometry and the policy mode", () => {
    const bad = vmlab(["trace", "examples/traces/hotcold.u64.gz", "--cache", "vipt:32K:3"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--cache: ways 3 does not divide the 512 lines/);
    const policy = vmlab(["trace", "examples/traces/hotcold.u64.gz", "--mode", "policy", "--cache", "pipt"]);
    expect(policy.stderr).toMatch(/--cache is a machine-mode option/);
  });
});

describe("the cache keys", () => {
  const err = (src: string) => {
    try {
      run(src);
    } catch (e) {
      return e instanceof InputError ? e.format() : String(e);
    }
    return "no error";
  };

  it("refuses a geometry that cannot be built, at the key's value", () => {
    expect(err("machine cache=vivt cache_ways=3\n")).toBe(
      "<scenario>:1:31: machine cache_ways: 3 does not divide the 512 lines (32768 / 64) into sets of equal size",
    );
    expect(err("machine cache=pipt cache_size=48K\n")).toMatch(
      /^<scenario>:1:31: machine cache_size: must be a power of two/,
    );
    expect(err("machine cache=pipt cache_line=32K\n")).toMatch(
      /cache_line: must be a power of two from 16 to 4K/,
    );
    expect(err("machine cache=pipt cache_size=64 cache_line=128\n")).toMatch(
      /cache_size: 64 bytes is smaller/,
    );
    expect(err("machine cache=pipt cache_size=1K cache_ways=32\n")).toMatch(
      /cache_ways: 32 ways need 32 lines/,
    );
    expect(err("machine cache=vipt cache_asid=on\n")).toMatch(/cache_asid: is for a VIVT cache/);
    expect(err("machine cache_size=16K\n")).toMatch(
      /cache_size: describes a cache: give cache=vivt, vipt or pipt/,
    );
    expect(err("machine cache=l1\n")).toMatch(/cache: expected one of none, vivt, vipt, pipt, not 'l1'/);
  });

  it("vmlab run --json gives the cache's final counters with a cache, none without", () => {
    const withCache = JSON.parse(vmlab(["run", "examples/caches/homonyms-vivt.vm", "--json"]).stdout).metrics;
    expect(withCache["cache.flushes"]).toBe("6");
    expect(withCache["cache.stale_reads"]).toBe("0");
    const without = JSON.parse(vmlab(["run", "-", "--json"], "spawn A\nexpect oops == 0\n").stdout).metrics;
    expect(Object.keys(without).filter((k) => k.startsWith("cache."))).toEqual([]);
  });

  it("vmlab run exits 2 with FILE:LINE:COL and no stack trace", () => {
    const r = vmlab(["run", "-"], "# a cache\nmachine cache=vivt cache_ways=0\n");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^-:2:31: machine cache_ways: must be a whole number of ways, at least 1, not 0/m,
    );
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/);
  });
});

describe("each access is one cache access", () => {
  // entry.ts reported a store's byte by reading it back through the CPU's memory port: with a cache
  // that was a second access (cache.hits counted 2 for one store), for a user store and a kernel one
  for (const keys of ["cache=vivt", "cache=vipt", "cache=pipt"])
    it(`${keys}: one user store, one kernel store, one load: three accesses, the store's byte reported`, () => {
      const r = run(`machine ram=64M ${keys}
kbuf = device fb size=4K
spawn A
A: a = mmap 4K
A: madvise a 4K populate_write
let h0 = cache.hits
let m0 = cache.misses
A: write a+0x40 value=0x1a5
let h1 = cache.hits
let m1 = cache.misses
kernel: write kbuf+0x80
let h2 = cache.hits
let m2 = cache.misses
A: read a+0x40
let h3 = cache.hits
let m3 = cache.misses`);
      const v = (n: string) => Number(r.metrics[n]);
      const step = (i: number) => v(`h${i}`) - v(`h${i - 1}`) + v(`m${i}`) - v(`m${i - 1}`);
      expect([step(1), step(2), step(3)]).toEqual([1, 1, 1]);
      // the store missed (a new line), the load hit it
      expect(v("m1") - v("m0")).toBe(1);
      expect(v("h3") - v("h2")).toBe(1);
      const store = r.statements.find((s) => s.text.startsWith("A: write"))!;
      expect(store.output.join("\n")).toMatch(/byte 0xa5/);
    });
});
