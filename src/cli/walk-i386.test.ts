/** `vmlab walk` on i386 and i386-pae images, as ../shared/spec/walk-images.md fixes them. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tmpImage, vmlab, walkJson } from "./testkit.ts";

const I386 = "examples/images/i386.json";
const PAE = "examples/images/i386-pae.json";

const walk = (args: string[], img: string) => walkJson(img, args);

/** The image with registers and memory added or replaced. */
const variant = (file: string, change: { regs?: object; memory?: object[]; top?: object }) => {
  const base = JSON.parse(readFileSync(file, "utf8"));
  return tmpImage(
    JSON.stringify({
      ...base,
      ...change.top,
      regs: { ...base.regs, ...change.regs },
      memory: [...base.memory, ...(change.memory ?? [])],
    }),
  );
};

describe("vmlab walk, arch i386 (32-bit paging)", () => {
  it("translates 4 KiB and 4 MiB pages (PSE-36 above 4 GiB) in the spec's JSON shape", () => {
    const out = [
      walk(["--va", "0x400abc", "--cpl", "3"], I386),
      ...walk(["--va", "0xc0123456", "--va", "0xc0412345"], I386),
    ];
    expect(out[0]).toMatchObject({ ok: true, pa: "0x1234abc", pageSize: 4096 });
    expect(out[0].levels.map((l: { name: string }) => l.name)).toEqual(["PD", "PT"]);
    expect(out[0].levels[1]).toMatchObject({ index: 0, entryPa: "0x2000", raw: "0x01234067" });
    expect(out[1]).toMatchObject({ ok: true, pa: "0x123456", pageSize: 4194304 });
    expect(out[2]).toMatchObject({ ok: true, pa: "0x100012345", pageSize: 4194304 });
  });

  it("reports #PF with the error code and CR2: rights, WP, SMAP/AC, SMEP, not present", () => {
    // SMAP: a CPL 0 read of a user page faults, unless RFLAGS.AC (registers may be hex strings too)
    expect(
      walk(["--va", "0x400abc", "--cpl", "0"], variant(I386, { regs: { "rflags.ac": "0x1" } })),
    ).toMatchObject({
      ok: true,
    });
    expect(walk(["--va", "0x400abc", "--cpl", "0"], I386)).toMatchObject({
      ok: false,
      fault: "#PF",
      errorCode: 1,
    });
    expect(
      walk(["--va", "0x400abc", "--cpl", "0"], variant(I386, { regs: { "rflags.ac": 1 } })),
    ).toMatchObject({
      ok: true,
    });
    // a user write to a read-only page; the kernel's write too with WP, not without
    expect(walk(["--va", "0x401008", "--cpl", "3", "--access", "write"], I386)).toMatchObject({
      fault: "#PF",
      errorCode: 7,
      cr2: "0x00401008",
    });
    const noSmap = variant(I386, { regs: { "cr4.smap": 0 } });
    expect(walk(["--va", "0x401008", "--cpl", "0", "--access", "write"], noSmap)).toMatchObject({
      errorCode: 3,
    });
    const noWp = variant(I386, { regs: { "cr4.smap": 0, "cr0.wp": 0 } });
    expect(walk(["--va", "0x401008", "--cpl", "0", "--access", "write"], noWp)).toMatchObject({ ok: true });
    // SMEP: I/D set; without SMEP a 32-bit fetch fault has no I/D
    expect(walk(["--va", "0x400000", "--cpl", "0", "--access", "exec"], I386)).toMatchObject({
      errorCode: 0x11,
    });
    expect(walk(["--va", "0xc0000000", "--cpl", "3", "--access", "exec"], noSmap)).toMatchObject({
      errorCode: 0x15,
    });
    const noSmep = variant(I386, { regs: { "cr4.smep": 0 } });
    expect(walk(["--va", "0xc0000000", "--cpl", "3", "--access", "exec"], noSmep)).toMatchObject({
      errorCode: 0x05,
    });
    // not present, at the PD and at the PT
    expect(walk(["--va", "0x800000", "--cpl", "3", "--access", "write"], I386)).toMatchObject({
      fault: "#PF",
      errorCode: 6,
      cr2: "0x00800000",
    });
    expect(walk(["--va", "0x402000", "--cpl", "3"], I386)).toMatchObject({ errorCode: 4 });
  });

  it("CR4.PSE = 0 ignores PS; reserved PSE-36 bits are RSVD faults", () => {
    // without PSE the PDE at 0x1c00 names a page table at 0x0: its entry 0x123 is zero
    const noPse = variant(I386, { regs: { "cr4.pse": 0 } });
    const r = walk(["--va", "0xc0123456"], noPse);
    expect(r).toMatchObject({ ok: false, errorCode: 0 });
    expect(r.levels.map((l: { name: string }) => l.name)).toEqual(["PD", "PT"]);
    // bit 21 of a 4 MiB PDE is reserved; with the default MAXPHYADDR 36 so is bit 17
    for (const hex of ["a3012000", "a3010200"]) {
      const img = variant(I386, { memory: [{ pa: "0x1c00", hex }] });
      expect(walk(["--va", "0xc0000000", "--access", "write"], img), hex).toMatchObject({ errorCode: 0x0b });
    }
    const wide = variant(I386, { memory: [{ pa: "0x1c00", hex: "a3010200" }], top: { maxphyaddr: 40 } });
    expect(walk(["--va", "0xc0000000"], wide)).toMatchObject({ ok: true, pa: "0x1000000000" });
  });
});

describe("vmlab walk, arch i386-pae (PAE paging)", () => {
  it("walks from the PDPTE registers: 4 KiB and 2 MiB pages, XD, addresses above 4 GiB", () => {
    const out = walk(["--va", "0x400abc", "--va", "0xa01234", "--va", "0x402010", "--cpl", "3"], PAE);
    expect(out[0]).toMatchObject({ ok: true, pa: "0x1234abc", pageSize: 4096 });
    expect(out[0].levels.map((l: { name: string }) => l.name)).toEqual(["PDPTE", "PD", "PT"]);
    expect(out[0].pdptes).toEqual([
      "0x0000000000002001",
      "0x0000000000000000",
      "0x0000000000000000",
      "0x0000000000003001",
    ]);
    expect(out[1]).toMatchObject({ ok: true, pa: "0xa01234", pageSize: 2097152 });
    expect(out[2]).toMatchObject({ ok: true, pa: "0x812345010" });
    expect(walk(["--va", "0xa01234", "--cpl", "3", "--access", "exec"], PAE)).toMatchObject({
      fault: "#PF",
      errorCode: 0x15,
      cr2: "0x00a01234",
    });
    expect(walk(["--va", "0xc0001234", "--cpl", "0"], PAE)).toMatchObject({ ok: true, pa: "0x1234" });
    // EFER.NXE = 0: XD is a reserved bit
    const noNxe = variant(PAE, { regs: { "efer.nxe": 0 } });
    expect(walk(["--va", "0xc0001234", "--cpl", "0"], noNxe)).toMatchObject({ errorCode: 0x09 });
    // bits 62..36 are reserved at MAXPHYADDR 36, address bits at 52
    const high = { pa: "0x4000", hex: "6740230110000000" };
    expect(walk(["--va", "0x400000", "--cpl", "3"], variant(PAE, { memory: [high] }))).toMatchObject({
      errorCode: 0x0d,
    });
    expect(
      walk(["--va", "0x400000", "--cpl", "3"], variant(PAE, { memory: [high], top: { maxphyaddr: 52 } })),
    ).toMatchObject({ ok: true, pa: "0x1001234000" });
  });

  it("PDPTE faults: a not-present PDPTE is #PF; a reserved bit in a present one makes every query #GP", () => {
    expect(walk(["--va", "0x40000000", "--cpl", "3", "--access", "write"], PAE)).toMatchObject({
      ok: false,
      fault: "#PF",
      errorCode: 6,
      cr2: "0x40000000",
    });
    // PDPTE 1 = 0x5003: P with bit 1 (reserved) set; a PDPTE of 0x5002 (not present) is fine
    const gp = variant(PAE, { memory: [{ pa: "0x1008", hex: "0350000000000000" }] });
    const out = walk(["--va", "0x400abc", "--va", "0x40000000", "--va", "0xc0001234"], gp);
    for (const r of out) expect(r).toEqual({ ok: false, fault: "#GP", levels: [] });
    const notPresent = variant(PAE, { memory: [{ pa: "0x1008", hex: "0250000000000000" }] });
    expect(walk(["--va", "0x400abc", "--cpl", "3"], notPresent)).toMatchObject({ ok: true });
    // bit 63 and bits 35.. above MAXPHYADDR are reserved in a PDPTE too
    for (const hex of ["0150000000000080", "0150000010000000"]) {
      const img = variant(PAE, { memory: [{ pa: "0x1008", hex }] });
      expect(walk(["--va", "0x400abc"], img), hex).toMatchObject({ fault: "#GP" });
    }
    // the text form says why
    const t = vmlab(["walk", "--image", gp, "--va", "0x1000"]);
    expect(t.stdout).toMatch(/#GP\(0\): MOV to CR3 faulted: a present PDPTE has a reserved bit set/);
  });

  it("the PDPT is 32-byte aligned: CR3 bits 4..0 are ignored", () => {
    const img = variant(PAE, { top: { cr3: "0x101f" } });
    expect(walk(["--va", "0x400abc", "--cpl", "3"], img)).toMatchObject({ ok: true, pa: "0x1234abc" });
  });
});

describe("vmlab walk, i386 errors", () => {
  it("rejects bad images and arguments with FILE:LINE:COL and exit 2", () => {
    const cases: [string, RegExp][] = [
      [
        '{"arch": "i386",\n "regs": {"cr4.pse": 2}, "cr3": 0}',
        /img\.json:2:22: regs\.cr4\.pse: must be 0 or 1, not 2/,
      ],
      ['{"arch": "i386", "regs": {"cr4.pke": 1}, "cr3": 0}', /unknown register 'cr4\.pke'/],
      ['{"arch": "i386", "regs": {"cr0.wp": "0x2"}, "cr3": 0}', /regs\.cr0\.wp: must be 0 or 1, not "0x2"/],
      ['{"arch": "i386", "regs": {"cr0.wp": -1}, "cr3": 0}', /regs\.cr0\.wp: must be 0 or 1, not -1/],
      ['{"arch": "i386-pae", "cr3": "0x1000", "ttbr0_el1": 0}', /img\.json:1:\d+: ttbr0_el1: unknown key/],
      ['{"arch": "i386"}', /cr3: is missing/],
      ['{"arch": "i386", "cr3": "0x100000000"}', /cr3: CR3 is a 32-bit register/],
      [
        '{"arch": "i386-pae", "cr3": "0x1000", "maxphyaddr": 35}',
        /maxphyaddr: must be an integer from 36 to 52, not 35/,
      ],
      [
        '{"arch": "i386-pae", "cr3": "0x1000", "maxphyaddr": 53}',
        /maxphyaddr: must be an integer from 36 to 52/,
      ],
      ['{"arch": "i386", "cr3": "zz"}', /img\.json:1:25: cr3: must be a 64-bit hex string/],
    ];
    for (const [text, want] of cases) {
      const r = vmlab(["walk", "--image", tmpImage(text), "--va", "0"]);
      expect(r.code, text).toBe(2);
      expect(r.stderr, text).toMatch(want);
      expect(r.stdout, text).toBe("");
    }
    const big = vmlab(["walk", "--image", PAE, "--va", "0x100000000"]);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/--va 0x100000000 is not a 32-bit linear address/);
    expect(vmlab(["walk", "--image", I386, "--va", "0", "--cpl", "1"]).stderr).toMatch(
      /--cpl must be 0 or 3, not '1'/,
    );
  });
});
