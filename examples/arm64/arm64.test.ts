import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/base/errors.ts";
import { runScenario } from "../../src/workloads/scenario/session.ts";

/** Scenario-level behaviour of arm64 against x86-64 (issue #13). */

const lines = (src: string, opts: { trace?: boolean; checkInvariants?: boolean } = {}) =>
  runScenario(src, { checkInvariants: true, ...opts });

function inputError(src: string): InputError {
  try {
    runScenario(src, { file: "t.vm" });
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("--trace names what each architecture's manual names", () => {
  const src = (arch: string) =>
    `machine arch=${arch} ram=64M\nspawn A\nA: buf = mmap 8K\nA: write buf\nA: munmap buf 8K\nexpect oops == 0\n`;

  it("arm64: levels L0..L3, the abort as ESR_EL1 and FAR_EL1, TLBIs by ASID", () => {
    const r = lines(src("arm64"), { trace: true });
    const out = r.statements.flatMap((s) => s.output).join("\n");
    expect(out).toMatch(/walk L0 \[511\] entry @0x[0-9a-f]+ = 0x0{16}\n/);
    expect(out).toMatch(
      /fault: data abort: ESR_EL1 0x92000044 \(EC = 0x24: DABT \(lower EL\), IL = 1, WnR = 1 \(write\), DFSC = 0x04: translation fault, level 0\) FAR_EL1 0xfffff7ffe000/,
    );
    expect(out).toMatch(/walk L3 \[510\]/);
    // munmap freed the PTE table too: not the last-level form
    expect(out).toMatch(
      /cpu0 TLBI VAE1IS ASID 2 vpn 0xfffff7ffe: broadcast to the 1 CPU of the Inner Shareable domain\n.*cpu0 tlbi vae1 ASID 2 vpn 0xfffff7ffe \(\d entries\)/,
    );
    expect(out).not.toMatch(/PML4|#PF|PCID/);
  });

  it("x86-64: levels PML4..PT, #PF with its error code and CR2", () => {
    const out = lines(src("x86_64"), { trace: true })
      .statements.flatMap((s) => s.output)
      .join("\n");
    expect(out).toMatch(/walk PML4 \[255\]/);
    expect(out).toMatch(/fault: #PF error_code 0x6 \(WR\|US: not-present page\) CR2 0x7ffff7ffd000/);
    expect(out).not.toMatch(/ESR_EL1|walk L0/);
  });
});

describe("arm64's TLBIs: last-level unless page tables were freed (tlb->freed_tables)", () => {
  it("VALE1IS for a munmap, mprotect or DONTNEED that keeps the tables, VAE1IS for one that frees them", () => {
    const r = lines(
      "machine arch=arm64 ram=64M\nspawn A\nA: keep = mmap 4K at=0x40200000\nA: write keep\nA: b = mmap 16K at=0x40000000\nA: write b 16K\nA: munmap b+4K 4K\nA: mprotect b+8K 4K prot=r\nA: madvise b+12K 4K dontneed\nA: munmap b 16K\n",
      { trace: true },
    );
    const tlbis = (i: number) =>
      r.statements[i].output
        .filter((l) => l.includes(" TLBI "))
        .map((l) => l.replace(/^.*TLBI (\S+) ASID 2 vpn (\S+):.*$/, "$1 $2"));
    expect(tlbis(6)).toEqual(["VALE1IS 0x40001"]);
    expect(tlbis(7)).toEqual(["VALE1IS 0x40002"]);
    expect(tlbis(8)).toEqual(["VALE1IS 0x40003"]);
    // the L3 table goes: the range reaches down to its base (b), up to the last page that was present
    // (b+8K; b+4K and b+12K were gone already), and walk caches are dropped too
    expect(tlbis(9)).toEqual(["VAE1IS 0x40000", "VAE1IS 0x40001", "VAE1IS 0x40002"]);
  });
});

describe("copy_from_user's two arm64 schemes, as --trace shows them", () => {
  const src = (uaccess: string) =>
    `machine arch=arm64 ram=64M uaccess=${uaccess}\nspawn A\nA: buf = mmap 4K\nA: write buf\nkernel: n = copy_from_user A buf 16\nexpect n == 0\n`;
  const copyLines = (uaccess: string) => {
    const r = lines(src(uaccess), { trace: true });
    expect(r.failed).toBe(0);
    return r.statements[4].output.filter((l) => l.includes("trace:"));
  };

  it("ldtr (Linux 5.11+): PAN never changes; the loads are unprivileged, checked as EL0's", () => {
    const t = copyLines("ldtr");
    expect(t.some((l) => /TLB (hit|miss).*read \(unprivileged/.test(l))).toBe(true);
    expect(t.some((l) => l.includes("PSTATE.PAN"))).toBe(false);
  });

  it("pan-toggle (before 5.11): PSTATE.PAN cleared first and set again last; the loads are ordinary EL1 loads", () => {
    const t = copyLines("pan-toggle");
    expect(t[0]).toMatch(/MSR PAN, #0: PSTATE.PAN <- 0/);
    expect(t.at(-1)).toMatch(/MSR PAN, #1: PSTATE.PAN <- 1/);
    expect(t.some((l) => l.includes("unprivileged"))).toBe(false);
  });

  it("x86: STAC before the copy, CLAC after", () => {
    const r = lines(src("x").replace("arch=arm64 ", "").replace(" uaccess=x", ""), { trace: true });
    const t = r.statements[4].output.filter((l) => l.includes("trace:"));
    expect(t[0]).toMatch(/STAC: RFLAGS.AC <- 1/);
    expect(t.at(-1)).toMatch(/CLAC: RFLAGS.AC <- 0/);
  });
});

describe("kernel: exec", () => {
  const src = (arch: string, code: string) =>
    `machine arch=${arch} ram=64M\nspawn A\nA: c = mmap 4K prot=rwx\nA: write c\nkernel: exec c\nexpect oops == 1\nexpect ${code}\nkernel: v = vmalloc 4K\nkernel: exec v\nexpect oops == 2\n`;

  it("arm64: a user page is PXN (execution of user memory); vmalloc data is PXN too", () => {
    const r = lines(src("arm64", "oops_esr == 0x8600000f"));
    expect(r.failed).toBe(0);
    expect(r.statements[4].output[0]).toBe(
      "Unable to handle kernel execution of user memory at virtual address 0000fffff7fff000",
    );
    expect(r.statements[4].output).toContain("  EC = 0x21: IABT (current EL), IL = 32 bits");
    expect(r.statements[8].output[0]).toMatch(
      /^Unable to handle kernel execute from non-executable memory at virtual address ffff8000/,
    );
  });

  it("x86: SMEP refuses the user page, NX the vmalloc page", () => {
    const r = lines(src("x86_64", "oops_error_code == 0x11"));
    expect(r.failed).toBe(0);
    expect(r.statements[4].output[0]).toBe("unable to execute userspace code (SMEP?) (uid: 0)");
    expect(r.statements[8].output[0]).toBe(
      "kernel tried to execute NX-protected page - exploit attempt? (uid: 0)",
    );
  });

  it("a fetch the kernel may make runs: a kernel text address", () => {
    const r = lines(
      "machine arch=arm64 ram=64M\nkernel: v = vmalloc 4K\nexpect oops == 0\nkernel: exec 0xffff800080000000\nexpect oops == 0\n",
    );
    expect(r.failed).toBe(0);
    expect(r.statements[3].output[0]).toMatch(/^exec 1 page: pa 0x/);
  });
});

describe("two root registers: the kernel half through TTBR1 in every process", () => {
  it("table(P, kernel address, l0) is swapper_pg_dir on arm64, the process's own PGD on x86", () => {
    const arm = lines(
      "machine arch=arm64 ram=64M\nspawn A\nspawn B\nA: a = mmap 4K\nA: write a\nexpect table(A, 0xffff000000000000, l0) == table(kernel, 0xffff000000000000, l0)\nexpect table(B, 0xffff000000000000, pgd) == table(kernel, 0xffff000000000000, pgd)\nexpect table(A, a, l0) != table(kernel, 0xffff000000000000, l0)\n",
    );
    expect(arm.failed).toBe(0);
    const x86 = lines(
      "machine ram=64M\nspawn A\nA: a = mmap 4K\nA: write a\nexpect table(A, 0xffff888000000000, pml4) != table(kernel, 0xffff888000000000, pml4)\nexpect table(A, 0xffff888000000000, pml4) == table(A, a, pml4)\n",
    );
    expect(x86.failed).toBe(0);
  });

  it("show P pagetable of a kernel address names TTBR1_EL1 and walks swapper_pg_dir", () => {
    const r = lines("machine arch=arm64 ram=64M\nspawn A\nshow A pagetable 0xffff000000000000\n");
    expect(r.statements[2].output[0]).toMatch(/^A: walk of 0xffff000000000000 from TTBR1_EL1 0x/);
  });
});

describe("KPTI (pti=on on arm64)", () => {
  const src =
    "machine arch=arm64 ram=64M pti=on\nspawn A\nA: a = mmap 4K\nA: write a\nshow A pagetable 0xffff000000000000\nexplain A 0xffff000000000000 read\nexplain A a read\n";

  it("EL0 sees tramp_pg_dir in TTBR1: a kernel address is a level 0 translation fault, no permission fault", () => {
    const r = lines(src);
    const ex = r.statements[5].output.join("\n");
    expect(ex).toMatch(/KPTI: at EL0 TTBR1_EL1 holds tramp_pg_dir/);
    expect(ex).toMatch(/ESR_EL1 0x92000004 .*DFSC = 0x04: translation fault, level 0/);
    const plain = lines(src.replace(" pti=on", "")).statements[5].output.join("\n");
    expect(plain).toMatch(/ESR_EL1 0x9200000f .*permission fault, level 3/);
  });

  it("ASID pairs: the switch writes the even one, EL0 runs with the odd one; the kernel's entries are nG", () => {
    const r = lines(src);
    expect(r.statements[2].output[0]).toMatch(/TTBR1_EL1.ASID <- 2 /);
    expect(r.statements[6].output[1]).toMatch(/TLB on cpu0 \(ASID 3\)/);
    expect(r.statements[4].output.find((l) => /^\s+L3 /.test(l))).toMatch(/ nG /);
    const plain = lines(src.replace(" pti=on", ""));
    // without KPTI the first generation's ASIDs are even too (asids_init's set_kpti_asid_bits)
    expect(plain.statements[2].output[0]).toMatch(/TTBR1_EL1.ASID <- 2 /);
    expect(plain.statements[4].output.find((l) => /^\s+L3 /.test(l))).not.toMatch(/ nG /);
  });

  it("every TLBI by ASID twice, for the kernel and the user ASID", () => {
    const run = (pti: string) =>
      lines(
        `machine arch=arm64 ram=64M${pti}\nspawn A\nA: a = mmap 16K\nA: write a 16K\nlet b = tlb.broadcasts\nA: munmap a+4K 8K\nexpect tlb.broadcasts == b + ${pti ? 4 : 2}\n`,
      ).failed;
    expect(run("")).toBe(0);
    expect(run(" pti=on")).toBe(0);
  });
});

describe("explain on arm64", () => {
  it("tells a process's access as EL0's (an abort from a lower EL) on its own tables, also when another runs", () => {
    const r = lines(
      "machine arch=arm64 ram=64M\nspawn A\nA: a = mmap 4K prot=r\nA: read a\nspawn B\nB: b = mmap 4K\nB: write b\nexplain A a write\n",
    );
    const out = r.statements[7].output;
    expect(out[0]).toMatch(/^A \(pid \d+\) write of 0xfffff7fff000, EL0:/);
    // A's own PGD (not B's, which TTBR0 holds now)
    const pgdA = r.statements[1].output.join(" ").match(/PGD at pfn 0x([0-9a-f]+)/)![1];
    expect(out.find((l) => /^\s+L0 /.test(l))).toContain(`@0x${pgdA}ff8`);
    expect(out.join("\n")).toMatch(/ESR_EL1 0x9200004f \(EC = 0x24: DABT \(lower EL\)/);
    expect(out.join("\n")).toMatch(/SEGV_ACCERR/);
  });
});

describe("explain kernel: a plain kernel access as the CPU stands", () => {
  const src = (arch: string, open: string, close: string) =>
    `machine arch=${arch} ram=64M\nspawn A\nA: a = mmap 4K\nA: write a\nexplain kernel a read\nkernel: ${open}\nexplain kernel a read\nkernel: ${close}\nexplain kernel a exec\nexplain kernel a cpu=1\n`;

  it("arm64: PAN refuses the read (the oops it would be), PAN off lets it through, PXN refuses the fetch", () => {
    const r = lines(src("arm64", "pan off", "pan on").replace(" ram=64M", " ram=64M cpus=2"));
    const [pan, open, exec] = [4, 6, 8].map((i) => r.statements[i].output.join("\n"));
    expect(pan).toMatch(/PSTATE.PAN=1/);
    expect(pan).toMatch(/ESR_EL1 0x9600000f/);
    expect(pan).toMatch(/Unable to handle kernel access to user memory outside uaccess routines/);
    expect(open).toMatch(/PSTATE.PAN=0/);
    expect(open).toMatch(/-> allowed\n\s+-> pa 0x[0-9a-f]+/);
    expect(exec).toMatch(/ESR_EL1 0x8600000f/);
    expect(exec).toMatch(/Unable to handle kernel execution of user memory/);
    // CPU 1 runs A's mm? no: it has TTBR0 = reserved_pg_dir, so the user address is not there
    expect(r.statements[9].output.join("\n")).toMatch(/translation fault, level 0/);
  });

  it("x86: SMAP with AC clear is an oops at once; STAC lets the read through; SMEP refuses the fetch", () => {
    const r = lines(src("x86_64", "stac", "clac").replace(" ram=64M", " ram=64M cpus=2"));
    const [smap, open, exec] = [4, 6, 8].map((i) => r.statements[i].output.join("\n"));
    expect(smap).toMatch(/CR4.SMAP=1 RFLAGS.AC=0/);
    expect(smap).toMatch(/#PF error_code 0x1 \(P\)/);
    expect(smap).toMatch(/SMAP is on and RFLAGS.AC is clear/);
    expect(open).toMatch(/RFLAGS.AC=1[\s\S]*-> allowed/);
    expect(exec).toMatch(/error_code 0x11[\s\S]*unable to execute userspace code \(SMEP\?\)/);
  });

  it("changes nothing, and a CPU that does not exist is an error at its word", () => {
    const r = lines(
      "machine arch=arm64 ram=64M\nspawn A\nA: a = mmap 4K\nexplain kernel a\nexpect oops == 0\nexpect A.min_flt == 0\n",
    );
    expect(r.failed).toBe(0);
    const e = inputError("machine arch=arm64 ram=64M\nexplain kernel 0x1000 cpu=3\n");
    expect(e.message).toMatch(/CPU 3 does not exist/);
  });
});

describe("ASIDs through the kernel", () => {
  it("with 8-bit ASIDs the 128th mm rolls the allocator over (the first generation's ASIDs are even): a new generation, a flush, and every TLB stays coherent", () => {
    const src = ["machine arch=arm64 asid_bits=8 ram=256M check_tlb=on"];
    for (let i = 0; i < 256; i++)
      src.push(`spawn P${i}`, `P${i}: a${i} = mmap 4K`, `P${i}: write a${i} value=${i & 0xff}`);
    // asids_init's set_kpti_asid_bits (CONFIG_UNMAP_KERNEL_AT_EL0): 2, 4, .. 254 for P0..P126;
    // P127 rolls over, and the cleared map gives 1, 2, ... but 254 (P126's, reserved): P255 is 129
    src.push("expect asid_rollovers == 1");
    // back to the first: a fresh ASID of the new generation, its data intact
    src.push("P0: read a0", "expect byte(P0, a0) == 0", "P255: read a255", "expect byte(P255, a255) == 255");
    // the coherence checker on (check_tlb); the invariant checker after each of ~800 statements would take minutes
    const r = lines(`${src.join("\n")}\n`, { checkInvariants: false });
    expect(r.failed).toBe(0);
    const first = (p: string) => r.statements[r.statements.findIndex((s) => s.text.startsWith(p))].output[0];
    expect(first("P0: a0 = mmap")).toMatch(/TTBR1_EL1.ASID <- 2 \(no flush/);
    expect(first("P1: a1 = mmap")).toMatch(/TTBR1_EL1.ASID <- 4 \(no flush/);
    expect(first("P126: a126 = mmap")).toMatch(/TTBR1_EL1.ASID <- 254 \(no flush/);
    expect(first("P127: a127 = mmap")).toMatch(
      /TTBR0_EL1 <- PGD 0x[0-9a-f]+, TTBR1_EL1.ASID <- 1 \(TLB flushed\)/,
    );
    expect(first("P128: a128 = mmap")).toMatch(/TTBR1_EL1.ASID <- 2 \(no flush/);
    expect(first("P255: a255 = mmap")).toMatch(/TTBR1_EL1.ASID <- 129 \(no flush/);
  });

  it("16-bit ASIDs (the default) do not roll over at 256", () => {
    const src = ["machine arch=arm64 ram=256M"];
    for (let i = 0; i < 260; i++) src.push(`spawn P${i}`, `P${i}: a${i} = mmap 4K`);
    src.push("expect asid_rollovers == 0");
    expect(lines(`${src.join("\n")}\n`, { checkInvariants: false }).failed).toBe(0);
  });
});

describe("machine keys of one architecture on the other: errors at the key", () => {
  it.each([
    [
      "machine arch=arm64 smap=on",
      /machine smap: is x86's \(CR4.SMAP\); arm64's counterpart is PSTATE.PAN: pan=on\|off/,
    ],
    ["machine arch=arm64 pcid=off", /machine pcid: is x86's/],
    ["machine arch=arm64 smep=off", /machine smep: is x86's \(CR4.SMEP\); arm64 has no switch/],
    ["machine pan=off", /machine pan: is arm64's/],
    ["machine asid_bits=8", /machine asid_bits: is arm64's/],
    ["machine arch=arm64 asid_bits=12", /machine asid_bits: must be 8 or 16, not 12/],
    ["machine tlbi_range=on", /machine tlbi_range: is arm64's \(FEAT_TLBIRANGE/],
    ["machine arch=riscv-sv39 tlbi_range=off", /machine tlbi_range: is arm64's \(FEAT_TLBIRANGE\); RISC-V/],
  ])("%s", (src, msg) => {
    const e = inputError(`${src}\n`);
    expect(e.message).toMatch(msg);
    // at the key's value
    expect(e.where).toMatchObject({ file: "t.vm", line: 1, col: src.lastIndexOf("=") + 2 });
  });

  it("pan=off on arm64 lets a plain kernel read of a user page through", () => {
    const r = lines(
      "machine arch=arm64 pan=off ram=64M\nspawn A\nA: a = mmap 4K\nA: write a\nkernel: read a\nexpect oops == 0\n",
    );
    expect(r.failed).toBe(0);
  });
});

describe("range TLBIs (FEAT_TLBIRANGE, tlbi_range=on)", () => {
  const example = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "tlbi-range.vm"), "utf8");
  /** the example on a machine with `key` instead of tlbi_range=on */
  const machine = (key: string) => example.replace(/^(machine .*) tlbi_range=on$/m, `$1 ${key}`);
  /** the example's lets and failed expectations on that machine */
  const variant = (key: string) => {
    const r = lines(machine(key));
    return { failed: r.failed, n: Number(r.metrics.n), n2: Number(r.metrics.n2), m: Number(r.metrics.m), r };
  };

  it("300 pages in two instructions, 2 MiB in one; the rest of the address space stays cached", () => {
    const on = variant("tlbi_range=on");
    expect(on.failed).toBe(0);
    // without the feature: 300 VALE1IS, then ASIDE1IS (512 pages and more), and the first MiB walked again
    const off = variant("tlbi_range=off");
    expect(off.r.statements.filter((s) => /FAILED/.test(s.output.join("\n"))).map((s) => s.text)).toEqual([
      "expect tlb.broadcasts == n + 2",
      "expect tlb.misses == m",
    ]);
    expect(off.n2 - off.n).toBe(300);
  });

  it("under KPTI every range operation twice (the user ASID's too), the first MiB still cached", () => {
    const r = lines(machine("tlbi_range=on pti=on").replace("n + 2", "n + 4").replace("n2 + 1", "n2 + 2"));
    expect(r.failed).toBe(0);
  });

  it("--trace names the range instruction, its ASID, first page and pages, on each CPU", () => {
    const src =
      "machine arch=arm64 ram=64M cpus=2 tlbi_range=on\nspawn A\nA: a = mmap 1M\nA: write a 1M\nA: munmap a 128K\n";
    const out = lines(src, { trace: true })
      .statements.flatMap((s) => s.output)
      .join("\n");
    expect(out).toMatch(
      /cpu0 TLBI RVALE1IS ASID 2 vpn 0x[0-9a-f]+ \+32 pages: broadcast to the 2 CPUs of the Inner Shareable domain\n.*cpu0 tlbi rvale1 \(32 pages\) ASID 2 vpn 0x[0-9a-f]+ \(32 entries\)\n.*cpu1 tlbi rvale1 \(32 pages\)/,
    );
    expect(out).not.toMatch(/TLBI VALE1IS/);
  });
});
