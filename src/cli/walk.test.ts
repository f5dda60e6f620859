import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tmpImage, vmlab } from "./testkit.ts";

const IMG = "examples/images/simple.json";

describe("vmlab walk", () => {
  it("prints each level and the physical address", () => {
    const r = vmlab(["walk", "--image", IMG, "--va", "0x400abc", "--cpl", "3"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PML4\[\s*0\]\s+entry @0x1000\s+= 0x0000000000002067 {2}P RW US A D/);
    expect(r.stdout).toMatch(/PT {2}\[\s*0\]\s+entry @0x4000\s+= 0x0000000001234067/);
    expect(r.stdout).toMatch(/-> pa 0x1234abc \(4K page\)/);
  });

  it("gives JSON in the documented shape, an array for repeated --va, in order", () => {
    const r = vmlab([
      "walk",
      "--image",
      IMG,
      "--va",
      "0x401000",
      "--va",
      "0xa01234",
      "--va",
      "0x800000000000",
      "--access",
      "write",
      "--cpl",
      "3",
      "--json",
    ]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toHaveLength(3);
    expect(out[0]).toMatchObject({ ok: false, fault: "#PF", errorCode: 7, cr2: "0x0000000000401000" });
    expect(out[0].levels.map((l: { name: string }) => l.name)).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(out[0].levels[3]).toEqual({
      name: "PT",
      index: 1,
      entryPa: "0x4008",
      raw: "0x0000000001235025",
      flags: ["P", "US", "A"],
    });
    expect(out[1]).toMatchObject({ ok: true, pa: "0xa01234", pageSize: 2097152 });
    expect(out[1].levels).toHaveLength(3);
    expect(out[2]).toEqual({ ok: false, fault: "#GP", levels: [] });
  });

  it("applies the image's registers: SMAP stops a supervisor read of a user page, SMEP a fetch, NXE the XD bit", () => {
    const one = (args: string[]) => JSON.parse(vmlab(["walk", "--image", IMG, "--json", ...args]).stdout);
    expect(one(["--va", "0x400000", "--cpl", "0"])).toMatchObject({ ok: false, errorCode: 1 });
    expect(one(["--va", "0x400000", "--cpl", "0", "--access", "exec"])).toMatchObject({
      ok: false,
      errorCode: 0x11,
    });
    expect(one(["--va", "0xa00000", "--cpl", "3", "--access", "exec"])).toMatchObject({
      ok: false,
      errorCode: 0x15,
    });
    expect(one(["--va", "0xffff888000123456", "--cpl", "0"])).toMatchObject({
      ok: true,
      pa: "0x123456",
      pageSize: 1073741824,
    });
  });

  it("reads LA57 images with five levels", () => {
    // PML5[1] -> PML4 at 0x2000, PML4[0] -> PDPT at 0x3000, PDPT[0]: a 1 GiB page at 1 GiB
    const img = tmpImage(
      JSON.stringify({
        arch: "x86_64-la57",
        cr3: "0x1000",
        memory: [
          { pa: "0x1008", hex: "0720000000000000" },
          { pa: "0x2000", hex: "0730000000000000" },
          { pa: "0x3000", hex: "8700004000000000" },
        ],
      }),
    );
    const r = JSON.parse(vmlab(["walk", "--image", img, "--va", "0x100000000abcd", "--json"]).stdout);
    expect(r).toMatchObject({ ok: true, pa: "0x4000abcd", pageSize: 1073741824 });
    expect(r.levels.map((l: { name: string }) => l.name)).toEqual(["PML5", "PML4", "PDPT"]);
  });

  it("rejects bad images and arguments with FILE:LINE:COL and exit 2", () => {
    const cases: [string, RegExp][] = [
      ['{"arch": "x86_64", "cr3": "0x1000",, }', /img\.json:1:36: expected a property name/],
      [
        '{"arch": "mips", "cr3": "0x1000"}',
        /img\.json:1:10: arch: arch must be "x86_64" or "x86_64-la57" or "arm64"/,
      ],
      [
        '{"arch": "x86_64",\n "cr3": "0x1000",\n "memory": [{"pa": "0x10", "hex": "zz"}]}',
        /img\.json:3:35: memory\[0\]\.hex: contains a character that is not a hex digit/,
      ],
      [
        '{"arch": "x86_64", "cr3": "0x1000", "maxphyaddr": 99}',
        /maxphyaddr: must be an integer from 36 to 52/,
      ],
      ['{"arch": "x86_64", "cr3": "0x1000", "regs": {"cr4.smapp": 1}}', /unknown register 'cr4\.smapp'/],
      ['{"arch": "x86_64", "cr3": "banana"}', /cr3: must be a 64-bit hex string/],
      ['{"arch": "x86_64"}', /cr3: is missing/],
      [
        '{"arch": "x86_64", "cr3": "0x1000", "memory": [{"pa": "0x3ffffffffffc", "hex": "0000000000000000"}]}',
        /run past MAXPHYADDR/,
      ],
      ["[1,2", /unexpected end of JSON|expected ',' or ']'/],
    ];
    for (const [text, want] of cases) {
      const r = vmlab(["walk", "--image", tmpImage(text), "--va", "0"]);
      expect(r.code, text).toBe(2);
      expect(r.stderr, text).toMatch(want);
      expect(r.stdout, text).toBe("");
    }
    expect(vmlab(["walk", "--image", IMG, "--va", "0x1ffffffffffffffff"]).code).toBe(2);
    expect(vmlab(["walk", "--image", IMG, "--va", "1", "--access", "jump"]).stderr).toMatch(
      /--access must be read, write or exec/,
    );
    expect(vmlab(["walk", "--image", IMG]).stderr).toMatch(/at least one --va/);
    expect(vmlab(["nonsense"]).code).toBe(2);
  });

  it("refuses hostile images with exit 2 and a clear message: deep nesting, __proto__, an oversized file", () => {
    const deep = vmlab([
      "walk",
      "--image",
      tmpImage(`{"arch": "x86_64", "cr3": "0x1000", "regs": ${"[".repeat(4000)}${"]".repeat(4000)}}`),
      "--va",
      "0",
    ]);
    expect(deep.code).toBe(2);
    expect(deep.stderr).toMatch(/img\.json:1:\d+: arrays and objects nested more than 64 deep\n$/);
    const proto = vmlab([
      "walk",
      "--image",
      tmpImage('{"arch": "x86_64", "cr3": "0x1000", "__proto__": {}}'),
      "--va",
      "0",
    ]);
    expect(proto.code).toBe(2);
    expect(proto.stderr).toMatch(/img\.json:1:\d+: __proto__: unknown key '__proto__'/);
    const big = tmpImage(`{"arch": "x86_64", "cr3": "0x1000"}${" ".repeat(64 * 1024 * 1024)}`);
    const r = vmlab(["walk", "--image", big, "--va", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/img\.json: the image is larger than 64 MiB, the most vmlab walk reads/);
    expect(r.stdout).toBe("");
  });
});

describe("vmlab tour", () => {
  it("shows a walk, a TLB hit, a fault on a TLB hit, a stale entry caught by the checker, and PCIDs", () => {
    const r = vmlab(["tour"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/second access: pa 0x1234008 +\(walks so far: 1, L1 hits: 1\)/);
    expect(r.stdout).toMatch(/user read, same page \(CPL 3\): +#PF error_code\(0x0005\)/);
    expect(r.stdout).toMatch(/walks for the user read: 0/);
    expect(r.stdout).toMatch(/without INVLPG: pa 0x1234000/);
    expect(r.stdout).toMatch(/checker:\s+PT entry at 0x[0-9a-f]+ changed 0x1234007 -> 0x5678007/);
    expect(r.stdout).toMatch(/after INVLPG: pa 0x5678000/);
    expect(r.stdout).toMatch(/back to A, no flush +-> pa 0x5678000 +\(TLB hit/);
    // the process scenarios, each with its evidence checked
    for (const q of [
      "When memory runs out, what leaves RAM, and what never does?",
      "Does malloc allocate memory?",
      "Are kernel pages allocated lazily too?",
      "Once a translation is in the TLB, is it still checked?",
      "Does every process have its own page tables?",
      "What does a context switch cost the TLB?",
      "Do two processes that map the same file share its frames?",
      "Why does the kernel read user memory with copy_from_user, not a plain dereference?",
      "How can a driver give a process direct access to kernel memory?",
      "What does a real program do to memory in its first 100,000 accesses?",
      "On arm64, what keeps the kernel out of user memory, and how does copy_from_user get in?",
      "Can the kernel run code from a user page on arm64?",
      "On arm64, is the kernel half copied into every process's page tables?",
      "How does arm64 keep TLBs right: ASIDs instead of PCIDs, broadcasts instead of IPIs?",
      "Who are processes 0, 1 and 2, and why can a kernel thread not touch user space?",
      "On RISC-V, what stands beside SMAP and PAN, and how does copy_from_user get through?",
      "What was the vmalloc fault of 32-bit x86, and why is it gone (lazy, then eager)?",
      "With one page table for the whole machine, what keeps a process to its own pages?",
      "VIVT, VIPT, PIPT: why must the first two flush when the PGD or a PTE changes?",
      "Where does the Windows kernel start, and what keeps user code out of it?",
      "Is kernel memory ever paged out? Linux: never. Windows: its paged pool, and IRQL says when.",
    ]) {
      expect(r.stdout).toContain(q);
    }
    const verdicts = [...r.stdout.matchAll(/-> (\d+) of (\d+) expectations hold/g)];
    // one verdict per scenario of examples/tour/
    const tourFiles = readdirSync(new URL("../../examples/tour/", import.meta.url)).filter((f) =>
      f.endsWith(".vm"),
    );
    expect(verdicts.length).toBe(tourFiles.length);
    for (const v of verdicts) expect(v[1]).toBe(v[2]);
  });
});
