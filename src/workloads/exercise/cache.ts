/**
 * `vmlab exercise cache`: an L1 data cache (VIVT, VIPT or PIPT, of a seeded
 * geometry), one page of a tmpfs file mapped at two addresses of process A,
 * perhaps another page at A's first address in process B, and a string of
 * one-byte loads and stores through them. The student says the cache's
 * geometry (sets, index bits, colours; whether synonyms and homonyms can
 * happen), then for each access the set it uses, hit or miss, and for a
 * load whether it returns the last value stored to that byte or stale data;
 * last, the lines written back and the whole-cache flushes.
 *
 * No answer is computed here: the geometry is the cache model's own
 * (CacheSpec.ts cacheGeometry, hasSynonyms), and the rest comes from the
 * scenario engine: `let`s of the cache's counters around each access, and
 * the set as `explain` reports it from DataCache.probe (docs/exercises.md).
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { type CacheKind, type CacheSpec, cacheGeometry, hasSynonyms } from "../../hw/cache/CacheSpec.ts";
import { runScenario } from "../scenario/session.ts";

export const CACHE_EXERCISE_KINDS: readonly CacheKind[] = ["vivt", "vipt", "pipt"];

export interface CacheExerciseOptions {
  seed: number;
  /** the cache's kind (null: the seed picks) */
  kind: CacheKind | null;
  /** accesses to ask about (1..16) */
  count: number;
}

/** One access: which mapping, load or store, the byte's offset in the page, the value stored. */
export interface CacheAccess {
  /** `a` and `b`: A's two mappings of one page; `c`: B's page at a's address */
  via: "a" | "b" | "c";
  write: boolean;
  offset: number;
  value: number;
  /** the statement */
  text: string;
}

export interface CacheExercise {
  seed: number;
  spec: CacheSpec;
  /** A's two mappings of the file's page, and B's (null: no B) */
  a: number;
  b: number;
  c: number | null;
  /** the scenario up to the first access */
  setup: string[];
  accesses: CacheAccess[];
}

/** The user addresses the mappings are placed at (MAP_FIXED): a, then b some pages above it. */
const BASE = 0x10000000;
const PAGE = 4096;

const hex = (n: number) => `0x${n.toString(16)}`;
const bytes = (n: number) => (n >= 1024 ? `${n / 1024}K` : `${n}`);

/**
 * The exercise. Every choice comes from the seeded Rng in a fixed order, so
 * the same seed gives the same text. On a VIPT cache with colours, b is
 * placed at a's colour: Linux refuses a MAP_FIXED shared mapping at another
 * colour (arch/arm/mm/mmap.c, SHMLBA), which is how it keeps such a cache
 * free of user synonyms.
 */
export function generateCacheExercise(o: CacheExerciseOptions): CacheExercise {
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 16)
    throw new InputError(`-n must be 1 to 16 accesses, not ${o.count}`);
  const rng = new Rng(o.seed);
  const kind = o.kind ?? CACHE_EXERCISE_KINDS[rng.below(3)];
  const lineBytes = [32, 64][rng.below(2)];
  const ways = [1, 2, 4][rng.below(3)];
  const wayBytes = [2048, 4096, 8192, 16384][rng.below(4)];
  const asidTagged = kind === "vivt" && rng.below(2) === 1;
  const spec: CacheSpec = { kind, sizeBytes: ways * wayBytes, ways, lineBytes, asidTagged };
  const colours = cacheGeometry(spec).colours;
  const apart = kind === "vipt" ? colours * (1 + rng.below(2)) : 1 + rng.below(7);
  const a = BASE;
  const b = BASE + apart * PAGE;
  const withB = rng.below(2) === 1;
  const c = withB ? BASE : null;
  const setup = [
    `machine ram=64M cache=${kind} cache_size=${bytes(spec.sizeBytes)} cache_ways=${ways} cache_line=${lineBytes}${asidTagged ? " cache_asid=on" : ""}`,
    "file f size=4K fs=tmpfs",
    ...(withB ? ["file g size=4K fs=tmpfs"] : []),
    "spawn A",
    `A: a = mmap 4K file=f shared at=${hex(a)} fixed`,
    `A: b = mmap 4K file=f shared at=${hex(b)} fixed`,
    // the PTEs made without a data access: the accesses below take no page fault
    "A: madvise a 4K populate_write",
    "A: madvise b 4K populate_write",
    ...(withB
      ? ["spawn B", `B: c = mmap 4K file=g shared at=${hex(BASE)} fixed`, "B: madvise c 4K populate_write"]
      : []),
  ];
  // offsets: two lines of the page's start, and its middle (the same set as 0 when a way is 2 KiB)
  const offsets = [0, lineBytes, 2048];
  const accesses: CacheAccess[] = [];
  for (let i = 0; i < o.count; i++) {
    const via = (withB ? ["a", "b", "c"] : ["a", "b"])[rng.below(withB ? 3 : 2)] as CacheAccess["via"];
    const write = rng.below(2) === 1;
    const offset = offsets[rng.below(offsets.length)];
    const value = 1 + rng.below(255);
    const who = via === "c" ? "B" : "A";
    const at = offset === 0 ? via : `${via}+${hex(offset)}`;
    accesses.push({
      via,
      write,
      offset,
      value,
      text: write ? `${who}: write ${at} value=${value}` : `${who}: read ${at}`,
    });
  }
  return { seed: o.seed, spec, a, b, c, setup, accesses };
}

/** The frames of the file pages (a's and b's, and c's), from a run of the set-up. */
function framesOf(ex: CacheExercise): { ab: number; c: number } {
  const lets = ["let fa = pfn(A, a)", ...(ex.c === null ? [] : ["let fc = pfn(B, c)"])];
  const r = runScenario(`${[...ex.setup, ...lets].join("\n")}\n`, { file: "<exercise cache>" });
  if (r.halted !== null) throw new InputError(`the generated scenario halted: ${r.halted}`);
  return { ab: Number(r.metrics.fa), c: ex.c === null ? -1 : Number(r.metrics.fc) };
}

function describeSpec(s: CacheSpec): string {
  const tags =
    s.kind === "vivt" ? (s.asidTagged ? ", lines tagged with the ASID" : ", lines not ASID-tagged") : "";
  return `${s.kind.toUpperCase()}, ${bytes(s.sizeBytes)} bytes, ${s.ways}-way, ${s.lineBytes}-byte lines${tags}`;
}

/** The scenario as the student gets it: runnable, each question a comment where it is asked. */
export function cacheProblem(ex: CacheExercise): string[] {
  const f = framesOf(ex);
  const n = ex.accesses.length;
  const out = [
    `# Data cache exercise: seed ${ex.seed}. One CPU with an L1 data cache: ${describeSpec(ex.spec)};`,
    "# write-back, write-allocate, true LRU in a set; 4 KiB pages; addresses from the index up are the tag.",
    `# A maps one page of the tmpfs file f twice: a = ${hex(ex.a)} and b = ${hex(ex.b)}, both frame ${hex(f.ab)}`,
    `# (physical address ${hex(f.ab * PAGE)}).`,
    ...(ex.c === null
      ? []
      : [
          `# B maps a page of another file g at c = ${hex(ex.c)}, A's a address; it is frame ${hex(f.c)} (${hex(f.c * PAGE)}).`,
          "# Running a statement of the other process switches the CPU to it (switch_mm).",
        ]),
    "# Q1: how many sets, and which address bits (of the VA or the PA) index them? How many colours",
    "# (sets a given byte of a page can land in, over all virtual addresses of the page)? Can two",
    "# virtual addresses of one physical byte sit in two lines (synonyms)? Can one virtual address of",
    "# two address spaces hit the other's line (homonyms)?",
    ...ex.setup,
  ];
  ex.accesses.forEach((x, i) => {
    out.push(
      x.text,
      `# Q${i + 2}: which set? hit or miss?${x.write ? "" : " does the load return the last value stored to that byte, or stale data?"}`,
    );
  });
  out.push(
    `# Q${n + 2}: from the first access to the last, how many lines were written back, how many whole-cache flushes?`,
  );
  return out;
}

/** One access's answer. */
export interface CacheAnswer {
  access: string;
  set: number;
  hit: boolean;
  /** a load that returned data older than the last store to its byte (false for a store) */
  stale: boolean;
}

/** The counters each access is bracketed by. */
const COUNTERS = ["cache.hits", "cache.misses", "cache.stale_reads"] as const;

function lets(tag: string): string[] {
  return COUNTERS.map((m, j) => `let ${tag}_${j} = ${m}`);
}

/** The set of the access `explain` just reported (DataCache.probe's, as cacheExplain prints it). */
function setReported(output: string[], access: string): number {
  const m = /L1 data cache on cpu\d+ \(.*?\).*?: set (\d+)/s.exec(output.join(" "));
  if (m === null) throw new Error(`explain of \`${access}\` reported no data cache set`);
  return Number(m[1]);
}

/** The answers: the geometry from the cache model, the rest from the scenario engine's run. */
export function solveCache(ex: CacheExercise): {
  answers: string[];
  values: CacheAnswer[];
  geometry: { sets: number; colours: number; synonyms: boolean; homonyms: boolean };
  writebacks: number;
  flushes: number;
} {
  const text = [...ex.setup, "let wb0 = cache.writebacks", "let fl0 = cache.flushes"];
  ex.accesses.forEach((x, i) => {
    const who = x.via === "c" ? "B" : "A";
    const at = x.offset === 0 ? x.via : `${x.via}+${hex(x.offset)}`;
    text.push(
      ...lets(`b${i}`),
      x.text,
      ...lets(`a${i}`),
      `explain ${who} ${at} ${x.write ? "write" : "read"}`,
    );
  });
  text.push("let wb = cache.writebacks", "let fl = cache.flushes");
  const r = runScenario(`${text.join("\n")}\n`, { file: "<exercise cache>" });
  if (r.halted !== null) throw new InputError(`the generated scenario halted: ${r.halted}`);
  const v = (name: string) => Number(r.metrics[name]);
  const explains = r.statements.filter((s) => s.text.startsWith("explain "));
  const values: CacheAnswer[] = ex.accesses.map((x, i) => {
    const d = (j: number) => v(`a${i}_${j}`) - v(`b${i}_${j}`);
    if (d(0) + d(1) !== 1)
      throw new Error(`\`${x.text}\` made ${d(0)} hits and ${d(1)} misses, not one access`);
    return { access: x.text, set: setReported(explains[i].output, x.text), hit: d(0) === 1, stale: d(2) > 0 };
  });
  const g = cacheGeometry(ex.spec);
  const geometry = {
    sets: g.sets,
    colours: g.colours,
    synonyms: hasSynonyms(ex.spec),
    homonyms: ex.spec.kind === "vivt" && !ex.spec.asidTagged,
  };
  const lineBits = Math.log2(ex.spec.lineBytes);
  const top = lineBits + Math.log2(g.sets) - 1;
  const from = ex.spec.kind === "pipt" ? "PA" : "VA";
  const answers = [
    `Q1: ${g.sets} sets, indexed by bits ${lineBits}..${top} of the ${from} (bits 0..${lineBits - 1} are the offset in the line);`,
    ex.spec.kind === "pipt"
      ? "  colours do not matter: the index comes from the physical address, the same for every mapping;"
      : `  ${g.colours} colour${g.colours === 1 ? "" : "s"} (a way is ${bytes(g.wayBytes)}: ${g.colours === 1 ? "no index bit above the 4 KiB page offset" : `${Math.log2(g.colours)} index bit${g.colours === 2 ? "" : "s"} above the page offset`});`,
    `  synonyms: ${synonymsWhy(ex.spec, g.colours)}`,
    `  homonyms: ${homonymsWhy(ex.spec)}`,
  ];
  values.forEach((a, i) => {
    const load = ex.accesses[i].write ? "" : a.stale ? "; stale data" : "; the last value stored";
    answers.push(`Q${i + 2}: \`${a.access}\`: set ${a.set}, ${a.hit ? "hit" : "miss"}${load}`);
  });
  const writebacks = v("wb") - v("wb0");
  const flushes = v("fl") - v("fl0");
  answers.push(
    `Q${values.length + 2}: ${writebacks} line${writebacks === 1 ? "" : "s"} written back, ${flushes} whole-cache flush${flushes === 1 ? "" : "es"}`,
    "",
    ...ruleOf(ex.spec),
  );
  return { answers, values, geometry, writebacks, flushes };
}

function synonymsWhy(s: CacheSpec, colours: number): string {
  if (s.kind === "vivt") return "yes: the index and the tag come from the VA, so a and b are two lines";
  if (s.kind === "pipt") return "no: one physical byte has one index and one tag";
  return colours > 1
    ? "yes in hardware (the index has bits above the page offset), but Linux maps every shared page at its colour (SHMLBA), so a and b share a line"
    : "no: the index bits are all inside the page offset, the same in every VA of the byte, and the tag is physical";
}

function homonymsWhy(s: CacheSpec): string {
  if (s.kind !== "vivt") return "no: the tag is physical";
  return s.asidTagged
    ? "no: each line carries the ASID of the address space that filled it"
    : "yes: the tag is the VA alone, so Linux flushes the whole cache at every switch to another mm (cpu_arm926_switch_mm)";
}

/** What the answers follow, in Linux's and the hardware's names (what to read next). */
function ruleOf(s: CacheSpec): string[] {
  return [
    "The rule (docs/caches.md): the set is (address / line size) mod sets, from the VA (VIVT, VIPT) or the PA",
    "(PIPT); a line hits when its tag matches (the VA on VIVT, with the ASID when tagged; the PA otherwise).",
    "A store stays in its line until the line is evicted or flushed (write-back); a load through another",
    "line of the same byte returns that line's older copy (stale). Linux's cacheflush.h calls",
    `(flush_cache_mm, flush_cache_range, flush_cache_page, flush_dcache_page) clean what the kind needs: ${s.kind === "pipt" ? "nothing on PIPT" : s.kind === "vipt" ? "on VIPT, only with colours" : "on VIVT, at every switch_mm when untagged"}.`,
  ];
}
