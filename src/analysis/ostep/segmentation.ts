/**
 * segmentation.py (vm-segmentation): two segments, one growing up from its
 * base, one growing down from it. Line by line the script of
 * remzi-arpacidusseau/ostep-homework (docs/ostep.md).
 */
import type { OstepScript, ScriptIo } from "./common.ts";
import { BASE_BOUNDS_SIZES, convert, optInt, randomSeed, SEED_OPTION } from "./common.ts";
import { parseArgs } from "./optparse.ts";
import { PyExit, pyFormat, pyInt, pyIntOfFloat } from "./python.ts";
import { noRoomError } from "./stuck.ts";

const OPTIONS = [
  SEED_OPTION,
  {
    short: "-A",
    long: "--addresses",
    dest: "addresses",
    kind: "string",
    default: "-1",
    help: "a set of comma-separated pages to access; -1 means randomly generate",
  },
  ...BASE_BOUNDS_SIZES,
  {
    short: "-n",
    long: "--numaddrs",
    dest: "num",
    kind: "int",
    default: 5,
    help: "number of virtual addresses to generate",
  },
  {
    short: "-b",
    long: "--b0",
    dest: "base0",
    kind: "string",
    default: "-1",
    help: "value of segment 0 base register",
  },
  {
    short: "-l",
    long: "--l0",
    dest: "len0",
    kind: "string",
    default: "-1",
    help: "value of segment 0 limit register",
  },
  {
    short: "-B",
    long: "--b1",
    dest: "base1",
    kind: "string",
    default: "-1",
    help: "value of segment 1 base register",
  },
  {
    short: "-L",
    long: "--l1",
    dest: "len1",
    kind: "string",
    default: "-1",
    help: "value of segment 1 limit register",
  },
  { short: "-c", dest: "solve", kind: "true", default: false, help: "compute answers for me" },
] as const;

function main(argv: readonly string[], io: ScriptIo): void {
  const { values: o } = parseArgs("segmentation.py", OPTIONS, argv, io);
  const out = io.out;
  const abortIf = (condition: boolean, message: string): void => {
    if (condition) {
      out.print("Error:", message);
      throw new PyExit(1);
    }
  };
  out.print("ARG seed", o.seed);
  out.print("ARG address space size", o.asize);
  out.print("ARG phys mem size", o.psize);
  out.print("");

  const random = randomSeed(o.seed);
  const asize = convert(o.asize as string);
  const psize = convert(o.psize as string);
  const addresses = o.addresses as string;

  abortIf(psize <= 4, "must specify a bigger physical memory size");
  abortIf(asize === 0, "must specify a non-zero address-space size");
  abortIf(psize <= asize, "physical memory size > address space size (for this simulation)");

  let len0 = convert(o.len0 as string);
  let len1 = convert(o.len1 as string);
  let base0 = convert(o.base0 as string);
  let base1 = convert(o.base1 as string);

  // if randomly generating length, make it 1/4-1/2 the address space size (roughly)
  if (len0 === -1) len0 = pyIntOfFloat(asize / 4.0 + (asize / 4.0) * random.random());
  if (len1 === -1) len1 = pyIntOfFloat(asize / 4.0 + (asize / 4.0) * random.random());

  if (base0 === -1 || base1 === -1)
    abortIf(
      psize <= 2 * asize,
      "physical memory must be 2x GREATER than address space size (if randomly generating base registers)",
    );

  if (base0 === -1) {
    if (psize - len0 <= 0) noRoomError("segmentation.py", "segment 0's base");
    do base0 = pyIntOfFloat(psize * random.random());
    while (!(base0 + len0 < psize));
  }
  // internally, base1 points to the lower address, and base1+len1 the higher address
  if (base1 === -1) {
    // base1 in [0, psize): below psize - len1, and above segment 0 or wholly below it
    const highest = Math.min(psize - 1, psize - len1 - 1);
    if (highest < 0 || !(highest > base0 + len0 || len1 < base0))
      noRoomError("segmentation.py", "segment 1's base");
    for (;;) {
      base1 = pyIntOfFloat(psize * random.random());
      if (base1 + len1 < psize && (base1 > base0 + len0 || base1 + len1 < base0)) break;
    }
  } else base1 = base1 - len1;

  abortIf(psize < base0 + len0 - 1, "seg0 is not in physical memory");
  abortIf(psize < base1, "seg1 is not in physical memory");
  abortIf(len0 > asize / 2.0, "length0 register is too large for this address space");
  abortIf(len1 > asize / 2.0, "length1 register is too large for this address space");

  out.print("Segment register information:");
  out.print("");
  out.print(pyFormat("  Segment 0 base  (grows positive) : 0x%08x (decimal %d)", base0, base0));
  out.print(pyFormat("  Segment 0 limit                  : %d", len0));
  out.print("");
  out.print(pyFormat("  Segment 1 base  (grows negative) : 0x%08x (decimal %d)", base1 + len1, base1 + len1));
  out.print(pyFormat("  Segment 1 limit                  : %d", len1));
  out.print("");
  const nbase1 = base1 + len1;

  abortIf(len0 + base0 > base1 && base1 > base0, "segments overlap in physical memory");

  let addrList: (number | string)[] = [];
  if (addresses === "-1") {
    const num = optInt(o.num);
    for (let i = 0; i < num; i++) addrList.push(pyIntOfFloat(asize * random.random()));
  } else addrList = addresses.split(",");

  out.print("Virtual Address Trace");
  let i = 0;
  for (const vstr of addrList) {
    const big = typeof vstr === "number" ? BigInt(vstr) : pyInt(vstr);
    if (big < 0n || big >= BigInt(asize)) {
      out.print(
        pyFormat("Error: virtual address %d cannot be generated in an address space of size %d", big, asize),
      );
      throw new PyExit(1);
    }
    const vaddr = Number(big);
    if (o.solve === false) {
      out.print(
        pyFormat("  VA %2d: 0x%08x (decimal: %4d) --> PA or segmentation violation?", i, vaddr, vaddr),
      );
    } else if (vaddr >= asize / 2) {
      // seg 1: [base1+len1] [negative offset]
      const paddr = nbase1 + (vaddr - asize);
      if (paddr < base1)
        out.print(
          pyFormat("  VA %2d: 0x%08x (decimal: %4d) --> SEGMENTATION VIOLATION (SEG1)", i, vaddr, vaddr),
        );
      else
        out.print(
          pyFormat(
            "  VA %2d: 0x%08x (decimal: %4d) --> VALID in SEG1: 0x%08x (decimal: %4d)",
            i,
            vaddr,
            vaddr,
            paddr,
            paddr,
          ),
        );
    } else if (vaddr >= len0) {
      out.print(
        pyFormat("  VA %2d: 0x%08x (decimal: %4d) --> SEGMENTATION VIOLATION (SEG0)", i, vaddr, vaddr),
      );
    } else {
      const paddr = vaddr + base0;
      out.print(
        pyFormat(
          "  VA %2d: 0x%08x (decimal: %4d) --> VALID in SEG0: 0x%08x (decimal: %4d)",
          i,
          vaddr,
          vaddr,
          paddr,
          paddr,
        ),
      );
    }
    i++;
  }
  out.print("");
  if (o.solve === false) {
    out.print("For each virtual address, either write down the physical address it translates to");
    out.print("OR write down that it is an out-of-bounds address (a segmentation violation). For");
    out.print("this problem, you should assume a simple address space with two segments: the top");
    out.print("bit of the virtual address can thus be used to check whether the virtual address");
    out.print("is in segment 0 (topbit=0) or segment 1 (topbit=1). Note that the base/limit pairs");
    out.print("given to you grow in different directions, depending on the segment, i.e., segment 0");
    out.print("grows in the positive direction, whereas segment 1 in the negative. ");
    out.print("");
  }
}

export const SEGMENTATION: OstepScript = {
  name: "segmentation",
  path: "vm-segmentation/segmentation.py",
  summary: "two segments, growing in opposite directions",
  main,
};
