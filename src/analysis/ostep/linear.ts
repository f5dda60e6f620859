/**
 * paging-linear-translate.py (vm-paging): a linear page table and
 * translations through it. Line by line the script of
 * remzi-arpacidusseau/ostep-homework (docs/ostep.md).
 */
import { PyRandom } from "../../base/pyRandom.ts";
import type { OstepScript, ScriptIo } from "./common.ts";
import { convert, optInt, SEED_OPTION } from "./common.ts";
import { parseArgs } from "./optparse.ts";
import { PyError, PyExit, pyFormat, pyInt, pyIntOfFloat } from "./python.ts";

const OPTIONS = [
  {
    short: "-A",
    long: "--addresses",
    dest: "addresses",
    kind: "string",
    default: "-1",
    help: "a set of comma-separated pages to access; -1 means randomly generate",
  },
  SEED_OPTION,
  {
    short: "-a",
    long: "--asize",
    dest: "asize",
    kind: "string",
    default: "16k",
    help: "address space size (e.g., 16, 64k, 32m, 1g)",
  },
  {
    short: "-p",
    long: "--physmem",
    dest: "psize",
    kind: "string",
    default: "64k",
    help: "physical memory size (e.g., 16, 64k, 32m, 1g)",
  },
  {
    short: "-P",
    long: "--pagesize",
    dest: "pagesize",
    kind: "string",
    default: "4k",
    help: "page size (e.g., 4k, 8k, whatever)",
  },
  {
    short: "-n",
    long: "--numaddrs",
    dest: "num",
    kind: "int",
    default: 5,
    help: "number of virtual addresses to generate",
  },
  {
    short: "-u",
    long: "--used",
    dest: "used",
    kind: "int",
    default: 50,
    help: "percent of virtual address space that is used",
  },
  { short: "-v", dest: "verbose", kind: "true", default: false, help: "verbose mode" },
  { short: "-c", dest: "solve", kind: "true", default: false, help: "compute answers for me" },
] as const;

/** math.log(x) for x > 0, else Python's ValueError. */
function mathLog(x: number): number {
  if (!(x > 0)) throw new PyError("ValueError", "math domain error");
  return Math.log(x);
}

function main(argv: readonly string[], io: ScriptIo): void {
  const { values: o } = parseArgs("paging-linear-translate.py", OPTIONS, argv, io);
  const out = io.out;
  const fail = (msg: string): never => {
    out.print(msg);
    throw new PyExit(1);
  };
  out.print("ARG seed", o.seed);
  out.print("ARG address space size", o.asize);
  out.print("ARG phys mem size", o.psize);
  out.print("ARG page size", o.pagesize);
  out.print("ARG verbose", o.verbose);
  out.print("ARG addresses", o.addresses);
  out.print("");

  const random = new PyRandom(o.seed as bigint | number); // random.seed(options.seed)
  const asize = convert(o.asize as string);
  const psize = convert(o.psize as string);
  const pagesize = convert(o.pagesize as string);
  const addresses = o.addresses as string;

  if (psize <= 1) fail("Error: must specify a non-zero physical memory size.");
  if (asize < 1) fail("Error: must specify a non-zero address-space size.");
  if (psize <= asize)
    fail("Error: physical memory size must be GREATER than address space size (for this simulation)");
  if (psize >= convert("1g") || asize >= convert("1g"))
    fail("Error: must use smaller sizes (less than 1 GB) for this simulation.");

  // mustbemultipleof: int(float(a)/float(b)) != int(a) / int(b) (true division in Python 3)
  const mustBeMultipleOf = (big: number, num: number, msg: string): void => {
    if (num === 0) throw new PyError("ZeroDivisionError", "float division by zero");
    if (pyIntOfFloat(big / num) !== big / num) fail(`Error in argument: ${msg}`);
  };
  mustBeMultipleOf(asize, pagesize, "address space must be a multiple of the pagesize");
  mustBeMultipleOf(psize, pagesize, "physical memory must be a multiple of the pagesize");

  const pages = pyIntOfFloat(psize / pagesize);
  const used = new Uint8Array(Math.max(pages, 0));
  const pt: number[] = [];
  const vpages = pyIntOfFloat(asize / pagesize);

  // mustbepowerof2: math.pow(2, bits) != size
  const mustBePowerOf2 = (bits: number, size: number, msg: string): void => {
    if (2 ** bits !== size) fail(`Error in argument: ${msg}`);
  };
  const vabits = pyIntOfFloat(mathLog(asize) / Math.log(2.0));
  mustBePowerOf2(vabits, asize, "address space must be a power of 2");
  const pagebits = pyIntOfFloat(mathLog(pagesize) / Math.log(2.0));
  mustBePowerOf2(pagebits, pagesize, "page size must be a power of 2");
  const pagemask = 2 ** pagebits - 1;
  // vpnmask = 0xFFFFFFFF & ~pagemask (Python ints: no sign, no 32-bit wrap)
  const vpnmask = BigInt(0xffffffff) & ~BigInt(pagemask);

  out.print("");
  out.print("The format of the page table is simple:");
  out.print("The high-order (left-most) bit is the VALID bit.");
  out.print("  If the bit is 1, the rest of the entry is the PFN.");
  out.print("  If the bit is 0, the page is not valid.");
  out.print("Use verbose mode (-v) if you want to print the VPN # by");
  out.print("each entry of the page table.");
  out.print("");

  out.print("Page Table (from entry 0 down to the max size)");
  const usedPct = optInt(o.used);
  for (let v = 0; v < vpages; v++) {
    for (;;) {
      if (random.random() * 100.0 > 100.0 - usedPct) {
        const u = pyIntOfFloat(pages * random.random());
        if (used[u] === 0) {
          used[u] = 1;
          out.write(o.verbose === true ? pyFormat("  [%8d]  ", v) : "  ");
          out.print(pyFormat("0x%08x", 0x80000000 + u));
          pt.push(u);
          break;
        }
      } else {
        out.write(o.verbose === true ? pyFormat("  [%8d]  ", v) : "  ");
        out.print(pyFormat("0x%08x", 0));
        pt.push(-1);
        break;
      }
    }
  }
  out.print("");

  let addrList: (number | string)[] = [];
  if (addresses === "-1") {
    const num = optInt(o.num);
    for (let i = 0; i < num; i++) addrList.push(pyIntOfFloat(asize * random.random()));
  } else addrList = addresses.split(",");

  out.print("Virtual Address Trace");
  for (const vStr of addrList) {
    const vaddr = typeof vStr === "number" ? BigInt(vStr) : pyInt(vStr);
    if (o.solve === false) {
      out.print(pyFormat("  VA 0x%08x (decimal: %8d) --> PA or invalid address?", vaddr, vaddr));
      continue;
    }
    // split vaddr into VPN | offset
    const vpn = Number((vaddr & vpnmask) >> BigInt(pagebits));
    if (vpn >= pt.length) throw new PyError("IndexError", "array index out of range");
    if (pt[vpn] < 0) {
      out.print(pyFormat("  VA 0x%08x (decimal: %8d) -->  Invalid (VPN %d not valid)", vaddr, vaddr, vpn));
    } else {
      const pfn = BigInt(pt[vpn]);
      const offset = vaddr & BigInt(pagemask);
      const paddr = (pfn << BigInt(pagebits)) | offset;
      out.print(
        pyFormat(
          "  VA 0x%08x (decimal: %8d) --> %08x (decimal %8d) [VPN %d]",
          vaddr,
          vaddr,
          paddr,
          paddr,
          vpn,
        ),
      );
    }
  }
  out.print("");
  if (o.solve === false) {
    out.print("For each virtual address, write down the physical address it translates to");
    out.print("OR write down that it is an out-of-bounds address (e.g., segfault).");
    out.print("");
  }
}

export const LINEAR: OstepScript = {
  name: "paging-linear-translate",
  path: "vm-paging/paging-linear-translate.py",
  summary: "a linear page table and translations through it",
  main,
};
