/**
 * What the homework scripts share: the size parser every script copies
 * (convert), the seeding wrapper (random_seed), and the interface of a
 * script as vmlab runs it.
 */
import { PyRandom } from "../../base/pyRandom.ts";
import type { OptparseIo } from "./optparse.ts";
import { PyError, type PyValue, pyInt } from "./python.ts";

/** What a script may use besides its arguments. */
export interface ScriptIo extends OptparseIo {
  /** open(path).read() for paging-policy's -f, or the PyError open() raises */
  readFile?(path: string): string | PyError;
}

/** A script: its file name, a one-line summary, and its main program. */
export interface OstepScript {
  readonly name: string;
  /** its path in remzi-arpacidusseau/ostep-homework */
  readonly path: string;
  readonly summary: string;
  main(argv: readonly string[], io: ScriptIo): void;
}

/**
 * convert(size): "16", "64k", "32m", "1g" (either case) in bytes. The
 * script's own IndexError on "" and ValueError on a bad number are raised
 * as Python raises them.
 */
export function convert(size: string): number {
  const chars = [...size];
  if (chars.length === 0) throw new PyError("IndexError", "string index out of range");
  const last = chars[chars.length - 1];
  const head = chars.slice(0, -1).join("");
  const scale = (c: string): number =>
    c === "k" || c === "K"
      ? 1024
      : c === "m" || c === "M"
        ? 1024 ** 2
        : c === "g" || c === "G"
          ? 1024 ** 3
          : 0;
  const m = scale(last);
  return m === 0 ? Number(pyInt(size)) : Number(pyInt(head)) * m;
}

/** random_seed(seed): random.seed(seed, version=1); an int seed seeds the same on Python 2 and 3. */
export function randomSeed(seed: PyValue): PyRandom {
  return new PyRandom(typeof seed === "bigint" || typeof seed === "number" ? seed : 0);
}

/** int(x) of a value optparse produced for a type="int" option. */
export function optInt(v: PyValue): number {
  return Number(v);
}

/** `-s/--seed`, as relocation.py, segmentation.py and both paging-*-translate.py declare it */
export const SEED_OPTION = {
  short: "-s",
  long: "--seed",
  dest: "seed",
  kind: "int",
  default: 0,
  help: "the random seed",
} as const;

/** relocation.py's and segmentation.py's `-a/--asize` and `-p/--physmem` (the same lines in both) */
export const BASE_BOUNDS_SIZES = [
  {
    short: "-a",
    long: "--asize",
    dest: "asize",
    kind: "string",
    default: "1k",
    help: "address space size (e.g., 16, 64k, 32m, 1g)",
  },
  {
    short: "-p",
    long: "--physmem",
    dest: "psize",
    kind: "string",
    default: "16k",
    help: "physical memory size (e.g., 16, 64k, 32m, 1g)",
  },
] as const;
