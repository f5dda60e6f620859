/**
 * paging-policy.py (vm-beyondphys-policy): page replacement on a reference
 * string. The references run through policy mode's PolicySim: FIFO, LRU and
 * MRU are policy mode's own, OPT, UNOPT, RAND and CLOCK the homework's
 * variants (analysis/policy/ostep.ts); the memory list it prints is kept
 * here as the script keeps it. Output is the script's byte for byte
 * (docs/ostep.md).
 */
import { OstepClock, OstepOpt, OstepRandom } from "../policy/ostep.ts";
import type { Policy } from "../policy/Policy.ts";
import { PolicySim } from "../policy/simulate.ts";
import type { OstepScript, ScriptIo } from "./common.ts";
import { optInt, randomSeed } from "./common.ts";
import { parseArgs } from "./optparse.ts";
import { PyError, PyExit, pyFormat, pyInt, pyIntOfFloat } from "./python.ts";

const OPTIONS = [
  {
    short: "-a",
    long: "--addresses",
    dest: "addresses",
    kind: "string",
    default: "-1",
    help: "a set of comma-separated pages to access; -1 means randomly generate",
  },
  {
    short: "-f",
    long: "--addressfile",
    dest: "addressfile",
    kind: "string",
    default: "",
    help: "a file with a bunch of addresses in it",
  },
  {
    short: "-n",
    long: "--numaddrs",
    dest: "numaddrs",
    kind: "string",
    default: "10",
    help: "if -a (--addresses) is -1, this is the number of addrs to generate",
  },
  {
    short: "-p",
    long: "--policy",
    dest: "policy",
    kind: "string",
    default: "FIFO",
    help: "replacement policy: FIFO, LRU, OPT, UNOPT, RAND, CLOCK",
  },
  {
    short: "-b",
    long: "--clockbits",
    dest: "clockbits",
    kind: "int",
    default: 2,
    help: "for CLOCK policy, how many clock bits to use",
  },
  {
    short: "-C",
    long: "--cachesize",
    dest: "cachesize",
    kind: "string",
    default: "3",
    help: "size of the page cache, in pages",
  },
  {
    short: "-m",
    long: "--maxpage",
    dest: "maxpage",
    kind: "string",
    default: "10",
    help: "if randomly generating page accesses, this is the max page number",
  },
  { short: "-s", long: "--seed", dest: "seed", kind: "string", default: "0", help: "random number seed" },
  {
    short: "-N",
    long: "--notrace",
    dest: "notrace",
    kind: "true",
    default: false,
    help: "do not print out a detailed trace",
  },
  {
    short: "-c",
    long: "--compute",
    dest: "solve",
    kind: "true",
    default: false,
    help: "compute answers for me",
  },
] as const;

/** The words the script prints on either side of its memory list. */
const SIDES: Record<string, [string, string]> = {
  FIFO: ["FirstIn", "Lastin "],
  LRU: ["LRU", "MRU"],
  MRU: ["LRU", "MRU"],
  OPT: ["Left ", "Right"],
  RAND: ["Left ", "Right"],
  UNOPT: ["Left ", "Right"],
  CLOCK: ["Left ", "Right"],
};

/** The Python exception the script's memory.pop / memory[...] raises with a cache of 0 pages. */
function emptyCacheError(policy: string): PyError {
  return policy === "CLOCK"
    ? new PyError("IndexError", "list index out of range")
    : new PyError("IndexError", "pop from empty list");
}

function main(argv: readonly string[], io: ScriptIo): void {
  const { values: o } = parseArgs("paging-policy.py", OPTIONS, argv, io);
  const out = io.out;
  out.print("ARG addresses", o.addresses);
  out.print("ARG addressfile", o.addressfile);
  out.print("ARG numaddrs", o.numaddrs);
  out.print("ARG policy", o.policy);
  out.print("ARG clockbits", o.clockbits);
  out.print("ARG cachesize", o.cachesize);
  out.print("ARG maxpage", o.maxpage);
  out.print("ARG seed", o.seed);
  out.print("ARG notrace", o.notrace);
  out.print("");

  const addresses = o.addresses as string;
  const addressFile = o.addressfile as string;
  const numaddrs = Number(pyInt(o.numaddrs as string));
  const cachesize = Number(pyInt(o.cachesize as string));
  const seed = pyInt(o.seed as string);
  const maxpage = Number(pyInt(o.maxpage as string));
  const policy = o.policy as string;
  const clockbits = optInt(o.clockbits);
  const random = randomSeed(seed);

  // addrList: ints from the file or the generator, strings from -a (int() of each when used)
  let addrList: (number | string)[] = [];
  if (addressFile !== "") {
    const text = io.readFile ? io.readFile(addressFile) : new PyError("OSError", "no file system");
    if (text instanceof PyError) throw text;
    for (const line of text.replace(/\r\n?/g, "\n").split(/(?<=\n)/))
      if (line !== "") addrList.push(Number(pyInt(line)));
  } else if (addresses === "-1") {
    for (let i = 0; i < numaddrs; i++) addrList.push(pyIntOfFloat(maxpage * random.random()));
  } else addrList = addresses.split(",");

  if (o.solve === false) {
    out.print(
      pyFormat("Assuming a replacement policy of %s, and a cache of size %d pages,", policy, cachesize),
    );
    out.print("figure out whether each of the following page references hit or miss");
    out.print("in the page cache.\n");
    for (const n of addrList) out.print(pyFormat("Access: %d  Hit/Miss?  State of Memory?", asInt(n)));
    out.print("");
    return;
  }
  if (o.notrace === false) out.print("Solving...\n");
  const sides = Object.hasOwn(SIDES, policy) ? SIDES[policy] : null;
  if (sides === null) {
    out.print(pyFormat("Policy %s is not yet implemented", policy));
    throw new PyExit(1);
  }
  solve(addrList, policy, cachesize, clockbits, () => random.random(), o.notrace === true, sides, io);
}

/** int(x) of an entry: a number already, or a string from -a. */
function asInt(v: number | string): number {
  return typeof v === "number" ? v : Number(pyInt(v));
}

/** The script's solving loop, with PolicySim choosing the victims. */
function solve(
  addrList: readonly (number | string)[],
  policy: string,
  cachesize: number,
  clockbits: number,
  random: () => number,
  notrace: boolean,
  [leftStr, riteStr]: [string, string],
  io: ScriptIo,
): void {
  const out = io.out;
  // the entries as ints; the first one int() rejects ends the run when the loop reaches it
  let bad = -1;
  const refs = addrList.map((v, t) => {
    if (typeof v === "number") return v;
    try {
      return Number(pyInt(v));
    } catch {
      if (bad < 0) bad = t;
      return Number.NaN;
    }
  });
  const strategy: Policy | string =
    policy === "OPT" || policy === "UNOPT"
      ? new OstepOpt(refs, policy === "UNOPT")
      : policy === "RAND"
        ? new OstepRandom(random)
        : policy === "CLOCK"
          ? new OstepClock(random, clockbits)
          : policy.toLowerCase();
  // `count == cachesize` decides when to replace: a cache of N >= 1 pages is N frames; one of
  // fewer than 0 pages never fills (never replaces); 0 pages fails at the first miss
  const frames = Math.max(1, cachesize < 0 ? refs.length : Math.min(cachesize, refs.length));
  const sim = new PolicySim(strategy, frames, { refs });
  const memory: number[] = []; // the script's list, as it prints it
  const lastRef = new Map<number, number>();
  let hits = 0;
  let miss = 0;
  for (let t = 0; t < refs.length; t++) {
    if (t === bad) pyInt(addrList[t] as string); // raises the script's ValueError
    const n = refs[t];
    const resident = memory.includes(n);
    if (!resident && cachesize === 0) throw emptyCacheError(policy);
    // OPT and UNOPT read the future with int(): a bad entry before a resident page's next use fails
    if (!resident && bad > t && memory.length === cachesize && (policy === "OPT" || policy === "UNOPT")) {
      for (const page of memory) {
        if (!hasUseBefore(refs, page, lastRef.get(page)!, bad)) pyInt(addrList[bad] as string);
      }
    }
    const hit = sim.access(n, false);
    const victim = sim.lastVictim;
    if (hit) {
      hits++;
      if (policy === "LRU" || policy === "MRU") {
        memory.splice(memory.indexOf(n), 1);
        memory.push(n);
      }
    } else {
      miss++;
      if (victim !== null) memory.splice(memory.indexOf(victim), 1);
      memory.push(n);
    }
    lastRef.set(n, t);
    if (!notrace)
      out.print(
        pyFormat(
          "Access: %d  %s %s -> %12s <- %s Replaced:%s [Hits:%d Misses:%d]",
          n,
          hit ? "HIT " : "MISS",
          leftStr,
          memory,
          riteStr,
          victim === null ? "-" : String(victim),
          hits,
          miss,
        ),
      );
  }
  out.print("");
  if (hits + miss === 0) throw new PyError("ZeroDivisionError", "float division by zero");
  out.print(
    pyFormat("FINALSTATS hits %d   misses %d   hitrate %.2f", hits, miss, (100.0 * hits) / (hits + miss)),
  );
  out.print("");
}

/** Whether `page`, last referenced at `from`, is referenced again before index `end`. */
function hasUseBefore(refs: readonly number[], page: number, from: number, end: number): boolean {
  for (let t = from + 1; t < end; t++) if (refs[t] === page) return true;
  return false;
}

export const POLICY: OstepScript = {
  name: "paging-policy",
  path: "vm-beyondphys-policy/paging-policy.py",
  summary: "replacement: FIFO, LRU, MRU, OPT, UNOPT, RAND, CLOCK",
  main,
};
