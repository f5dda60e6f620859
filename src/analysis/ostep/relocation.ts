/**
 * relocation.py (vm-mechanism): base-and-bounds translation. Line by line
 * the script of remzi-arpacidusseau/ostep-homework (docs/ostep.md); the
 * comments name the Python they mirror.
 */
import type { OstepScript, ScriptIo } from "./common.ts";
import { BASE_BOUNDS_SIZES, convert, optInt, randomSeed, SEED_OPTION } from "./common.ts";
import { parseArgs } from "./optparse.ts";
import { PyExit, pyFormat, pyIntOfFloat } from "./python.ts";
import { noRoomError } from "./stuck.ts";

const OPTIONS = [
  SEED_OPTION,
  ...BASE_BOUNDS_SIZES,
  {
    short: "-n",
    long: "--addresses",
    dest: "num",
    kind: "int",
    default: 5,
    help: "number of virtual addresses to generate",
  },
  { short: "-b", long: "--b", dest: "base", kind: "string", default: "-1", help: "value of base register" },
  { short: "-l", long: "--l", dest: "limit", kind: "string", default: "-1", help: "value of limit register" },
  {
    short: "-c",
    long: "--compute",
    dest: "solve",
    kind: "true",
    default: false,
    help: "compute answers for me",
  },
] as const;

function main(argv: readonly string[], io: ScriptIo): void {
  const { values: o } = parseArgs("relocation.py", OPTIONS, argv, io);
  const out = io.out;
  out.print("");
  out.print("ARG seed", o.seed);
  out.print("ARG address space size", o.asize);
  out.print("ARG phys mem size", o.psize);
  out.print("");

  const random = randomSeed(o.seed);
  const asize = convert(o.asize as string);
  const psize = convert(o.psize as string);
  const fail = (msg: string): never => {
    out.print(msg);
    throw new PyExit(1);
  };
  if (psize <= 1) fail("Error: must specify a non-zero physical memory size.");
  if (asize === 0) fail("Error: must specify a non-zero address-space size.");
  if (psize <= asize)
    fail("Error: physical memory size must be GREATER than address space size (for this simulation)");

  let limit = convert(o.limit as string);
  let base = convert(o.base as string);
  if (limit === -1) limit = pyIntOfFloat(asize / 4.0 + (asize / 4.0) * random.random());
  if (base === -1) {
    // while done == 0: base = int(psize * random.random()); done when base + limit < psize
    if (psize - limit <= 0) noRoomError("relocation.py", "the base register");
    do base = pyIntOfFloat(psize * random.random());
    while (!(base + limit < psize));
  }

  out.print("Base-and-Bounds register information:");
  out.print("");
  out.print(pyFormat("  Base   : 0x%08x (decimal %d)", base, base));
  out.print(pyFormat("  Limit  : %d", limit));
  out.print("");

  if (base + limit > psize) {
    out.print("Error: address space does not fit into physical memory with those base/bounds values.");
    out.print("Base + Limit:", base + limit, "  Psize:", psize);
    throw new PyExit(1);
  }

  out.print("Virtual Address Trace");
  const num = optInt(o.num);
  for (let i = 0; i < num; i++) {
    const vaddr = pyIntOfFloat(asize * random.random());
    if (o.solve === false) {
      out.print(
        pyFormat("  VA %2d: 0x%08x (decimal: %4d) --> PA or segmentation violation?", i, vaddr, vaddr),
      );
    } else if (vaddr >= limit) {
      out.print(pyFormat("  VA %2d: 0x%08x (decimal: %4d) --> SEGMENTATION VIOLATION", i, vaddr, vaddr));
    } else {
      const paddr = vaddr + base;
      out.print(
        pyFormat(
          "  VA %2d: 0x%08x (decimal: %4d) --> VALID: 0x%08x (decimal: %4d)",
          i,
          vaddr,
          vaddr,
          paddr,
          paddr,
        ),
      );
    }
  }
  out.print("");
  if (o.solve === false) {
    out.print("For each virtual address, either write down the physical address it translates to");
    out.print("OR write down that it is an out-of-bounds address (a segmentation violation). For");
    out.print("this problem, you should assume a simple virtual address space of a given size.");
    out.print("");
  }
}

export const RELOCATION: OstepScript = {
  name: "relocation",
  path: "vm-mechanism/relocation.py",
  summary: "base-and-bounds (relocation) translation",
  main,
};
