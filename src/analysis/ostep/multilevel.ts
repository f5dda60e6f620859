/**
 * paging-multilevel-translate.py (vm-smalltables): a two-level page table
 * of 32-byte pages in 4 KiB of RAM, and loads through it. The script's OS
 * (procAlloc: a page directory, pages at random, page-table pages on
 * demand, random contents) writes its tables byte by byte into the RAM of
 * vmlab's teaching machine (hw/arch/teaching, reached through the registry),
 * and every translation is that machine's: the generic walker shows the PDE
 * and PTE it read, and the MMU gives the physical address. Output is the
 * script's byte for byte (docs/ostep.md).
 */
import type { PyRandom } from "../../base/pyRandom.ts";
import type { Pfn } from "../../base/units.ts";
import { Access, Mode } from "../../hw/access.ts";
import { hwArch } from "../../hw/arch/index.ts";
import type { Machine } from "../../hw/machine/Machine.ts";
import { type Mmu, WalkRecord } from "../../hw/mmu/Mmu.ts";
import type { OstepScript, ScriptIo } from "./common.ts";
import { optInt, randomSeed, SEED_OPTION } from "./common.ts";
import { parseArgs } from "./optparse.ts";
import { PyError, type PyOut, pyFormat, pyIntOfFloat } from "./python.ts";

const OPTIONS = [
  SEED_OPTION,
  {
    short: "-a",
    long: "--allocated",
    dest: "allocated",
    kind: "int",
    default: 64,
    help: "number of virtual pages allocated",
  },
  {
    short: "-n",
    long: "--addresses",
    dest: "num",
    kind: "int",
    default: 10,
    help: "number of virtual addresses to generate",
  },
  {
    short: "-c",
    long: "--solve",
    dest: "solve",
    kind: "true",
    default: false,
    help: "compute answers for me",
  },
] as const;

const PAGE_SIZE = 32;
const PAGE_BITS = 5;
const PHYS_PAGES = 128;
const VA_PAGES = 1024;
/** an entry whose valid bit is clear and whose frame field is all ones: what initPageDir writes */
const EMPTY_ENTRY = 0x7f;
const VALID = 0x80;

/** The script's class OS: the frame allocator and the table builder, over the machine's RAM. */
class HomeworkOs {
  private readonly usedPages = new Uint8Array(PHYS_PAGES);
  private usedPagesCount = 0;
  pdbr = 0;

  constructor(
    private readonly m: Machine<Mmu>,
    private readonly random: PyRandom,
  ) {}

  /** findFree: a random free page (assert: one is left). */
  findFree(): number {
    if (this.usedPagesCount >= PHYS_PAGES) throw new PyError("AssertionError", "");
    let look = pyIntOfFloat(this.random.random() * PHYS_PAGES);
    while (this.usedPages[look] === 1) look = pyIntOfFloat(this.random.random() * PHYS_PAGES);
    this.usedPagesCount++;
    this.usedPages[look] = 1;
    return look;
  }

  /** initPageDir / initPageTablePage: every entry invalid (0x7f). */
  private initTablePage(page: number): void {
    for (let i = 0; i < PAGE_SIZE; i++) this.m.phys.write8(page * PAGE_SIZE + i, EMPTY_ENTRY);
  }

  /** allocVirtualPage: the PDE (a page-table page on demand), then the PTE. */
  private allocVirtualPage(vpn: number, physicalPage: number): void {
    const phys = this.m.phys;
    const pdeAddr = (this.pdbr << PAGE_BITS) | (vpn >> 5);
    const pde = phys.read8(pdeAddr);
    let ptePage: number;
    if ((pde & VALID) === 0) {
      if ((pde & 0x7f) !== 127) throw new PyError("AssertionError", "");
      ptePage = this.findFree();
      phys.write8(pdeAddr, VALID | ptePage);
      this.initTablePage(ptePage);
    } else ptePage = pde & 0x7f;
    const pteAddr = (ptePage << PAGE_BITS) | (vpn & 31);
    if (phys.read8(pteAddr) !== EMPTY_ENTRY) throw new PyError("AssertionError", "");
    phys.write8(pteAddr, VALID | physicalPage);
  }

  /** fillPage: random values below 31. */
  private fillPage(page: number): void {
    for (let j = 0; j < PAGE_SIZE; j++)
      this.m.phys.write8(page * PAGE_SIZE + j, pyIntOfFloat(this.random.random() * 31));
  }

  /** procAlloc: the directory, then numPages distinct random virtual pages. */
  procAlloc(numPages: number): number[] {
    this.pdbr = this.findFree();
    this.initTablePage(this.pdbr);
    const used = new Uint8Array(VA_PAGES);
    const allocated: number[] = [];
    for (let n = 0; n < numPages; n++) {
      let vp = pyIntOfFloat(this.random.random() * VA_PAGES);
      while (used[vp] === 1) vp = pyIntOfFloat(this.random.random() * VA_PAGES);
      used[vp] = 1;
      allocated.push(vp);
      const pp = this.findFree();
      this.allocVirtualPage(vp, pp);
      this.fillPage(pp);
    }
    return allocated;
  }

  /** memoryDump: every page as hex bytes. */
  memoryDump(out: PyOut): void {
    for (let i = 0; i < PHYS_PAGES; i++) {
      out.write(pyFormat("page %3d:", i));
      for (let j = 0; j < PAGE_SIZE; j++) out.write(pyFormat("%02x", this.m.phys.read8(i * PAGE_SIZE + j)));
      out.print("");
    }
  }
}

/**
 * The script's translate with its printout, through the teaching machine:
 * the walk's entries (probe: no side effects), then the MMU's translation.
 */
function translate(cpu: Mmu, phys: { read8(pa: number): number }, vaddr: number, out: PyOut): void {
  const rec = new WalkRecord();
  cpu.probe(0, vaddr, Access.Read, Mode.User, rec);
  const names = ["pde", "pte"];
  for (let n = 0; n < rec.count; n++) {
    const entry = rec.lo[n];
    const index = rec.index[n];
    const frame = entry & 0x7f;
    out.print(
      pyFormat(
        `${n === 0 ? "  -->" : "    -->"} ${names[n]} index:0x%x [decimal %d] ${names[n]} contents:0x%x (valid %d, pfn 0x%02x [decimal %d])`,
        index,
        index,
        entry,
        entry >> 7,
        frame,
        frame,
      ),
    );
  }
  if (cpu.translate(0, vaddr, Access.Read) === 0) {
    out.print(
      pyFormat(
        "      --> Translates to Physical Address 0x%03x --> Value: 0x%02x",
        cpu.pa,
        phys.read8(cpu.pa),
      ),
    );
  } else if (cpu.faultLevel === 1) out.print("      --> Fault (page directory entry not valid)");
  else out.print("      --> Fault (page table entry not valid)");
}

function main(argv: readonly string[], io: ScriptIo): void {
  const { values: o } = parseArgs("paging-multilevel-translate.py", OPTIONS, argv, io);
  const out = io.out;
  out.print("ARG seed", o.seed);
  out.print("ARG allocated", o.allocated);
  out.print("ARG num", o.num);
  out.print("");

  const random = randomSeed(o.seed);
  const m = hwArch("teaching").machine({ ramBytes: PAGE_SIZE * PHYS_PAGES });
  const os = new HomeworkOs(m, random);
  const used = os.procAlloc(optInt(o.allocated));
  os.memoryDump(out);
  out.print(`\nPDBR:`, os.pdbr, " (decimal) [This means the page directory is held in this page]\n");

  const cpu = m.cpus[0];
  cpu.loadUserRoot(os.pdbr as Pfn, 0);
  const num = optInt(o.num);
  for (let i = 0; i < num; i++) {
    let vaddr: number;
    if (random.random() * 100 > 50.0 || i >= used.length) vaddr = pyIntOfFloat(random.random() * 1024 * 32);
    else vaddr = (used[i] << 5) | pyIntOfFloat(random.random() * 32);
    if (o.solve === true) {
      out.print(pyFormat("Virtual Address 0x%04x:", vaddr));
      translate(cpu, m.phys, vaddr, out);
    } else {
      out.print(
        pyFormat(
          "Virtual Address %04x: Translates To What Physical Address (And Fetches what Value)? Or Fault?",
          vaddr,
        ),
      );
    }
  }
  out.print("");
}

export const MULTILEVEL: OstepScript = {
  name: "paging-multilevel-translate",
  path: "vm-smalltables/paging-multilevel-translate.py",
  summary: "a two-level page table (the teaching machine), loads through it",
  main,
};
