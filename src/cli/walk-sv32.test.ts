/**
 * `vmlab walk` on Sv32 images (`"arch": "riscv-sv32"`, vmlab's extension of
 * ../shared/spec/walk-images.md; docs/walk-image.md). Every answer is derived
 * by hand from examples/images/riscv-sv32.json: satp 0x80400001 (MODE 1,
 * ASID 1, root PPN 1), 4-byte PTEs:
 *   0x1004 = 0x00000801  root[1]: pointer to 0x2000
 *   0x1008 = 0x00400059  root[2]: megapage PPN 0x1000 (PA 0x1000000), V X U A
 *   0x100c = 0x004004d7  root[3]: megapage PPN 0x1001, misaligned
 *   0x1010 = 0x40000001  root[4]: pointer to PA 0x1_0000_0000 (above 4 GiB)
 *   0x1c00 = 0x000000ef  root[768]: global kernel megapage at PA 0, V R W X G A D
 *   0x2000 = 0x0048d0d7  VA 0x400000: PPN 0x1234, V R W U A D
 *   0x2004 = 0x0048d413  VA 0x401000: PPN 0x1235, V R U (A clear)
 *   0x1_0000_0014 = 0xfffffcc7  VA 0x1005000: PPN 0x3fffff (PA 0x3_ffff_f000), V R W A D
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tmpImage, vmlab, walkJson } from "./testkit.ts";

const IMG = "examples/images/riscv-sv32.json";
const base = JSON.parse(readFileSync(IMG, "utf8"));

const img = (regs: object) => tmpImage(JSON.stringify({ ...base, regs: { ...base.regs, ...regs } }));

const walk = (args: string[], image = IMG) => walkJson(image, args);

describe("vmlab walk, arch riscv-sv32", () => {
  it("walks two levels of 4-byte PTEs to a 4K page", () => {
    const out = walk(["--va", "0x400abc", "--priv", "u"]);
    expect(out).toEqual({
      ok: true,
      pa: "0x1234abc",
      pageSize: 4096,
      levels: [
        { name: "L1", index: 1, entryPa: "0x1004", raw: "0x00000801", flags: ["pointer"] },
        {
          name: "L0",
          index: 0,
          entryPa: "0x2000",
          raw: "0x0048d0d7",
          flags: ["page", "R", "W", "U", "A", "D"],
        },
      ],
    });
  });

  it("a 4 MiB megapage, a misaligned one, a kernel megapage and a PTE above 4 GiB", () => {
    // execute-only: U-mode fetches, loads fault unless MXR
    expect(walk(["--va", "0x812345", "--priv", "u", "--access", "exec"])).toMatchObject({
      ok: true,
      pa: "0x1012345",
      pageSize: 4194304,
    });
    expect(walk(["--va", "0x812345", "--priv", "u"])).toMatchObject({
      ok: false,
      fault: "load-page-fault",
      scause: 13,
      stval: "0x00812345",
    });
    expect(walk(["--va", "0x812345", "--priv", "u"], img({ "sstatus.mxr": 1 }))).toMatchObject({ ok: true });
    // PPN 0x1001: PPN[0] = 1 != 0 (step 6)
    const mis = walk(["--va", "0xc12345", "--priv", "u", "--access", "write"]);
    expect(mis).toMatchObject({ ok: false, fault: "store-page-fault", scause: 15, stval: "0x00c12345" });
    expect(mis.levels[0].flags).toEqual(["superpage", "R", "W", "U", "A", "D", "misaligned"]);
    // the kernel's global megapage: S-mode maps 0xc0123456 to 0x123456; U-mode faults
    expect(walk(["--va", "0xc0123456"])).toMatchObject({ ok: true, pa: "0x123456", pageSize: 4194304 });
    expect(walk(["--va", "0xc0123456", "--priv", "u"])).toMatchObject({ ok: false, stval: "0xc0123456" });
    // a table at PA 0x1_0000_0000 and a page at 0x3_ffff_f000 (a 22-bit PPN: 34-bit PAs)
    const high = walk(["--va", "0x1005678"]);
    expect(high).toMatchObject({ ok: true, pa: "0x3fffff678", pageSize: 4096 });
    expect(high.levels[1]).toEqual({
      name: "L0",
      index: 5,
      entryPa: "0x100000014",
      raw: "0xfffffcc7",
      flags: ["page", "R", "W", "A", "D"],
    });
  });

  it("Svade, SUM, Bare, and the errors of an Sv32 image", () => {
    expect(walk(["--va", "0x401008", "--priv", "u"])).toMatchObject({ fault: "load-page-fault", scause: 13 });
    expect(walk(["--va", "0x401008", "--priv", "u"], img({ svadu: 1 }))).toMatchObject({
      ok: true,
      pa: "0x1235008",
    });
    expect(walk(["--va", "0x400abc"])).toMatchObject({ fault: "load-page-fault" });
    expect(walk(["--va", "0x400abc"], img({ "sstatus.sum": 1 }))).toMatchObject({ ok: true });
    // MODE 0 (bit 31 clear): Bare
    expect(walk(["--va", "0x400abc"], img({ satp: "0x00400001" }))).toMatchObject({
      ok: true,
      pa: "0x400abc",
    });
    const bad = (image: string, args: string[], want: RegExp) => {
      const r = vmlab(["walk", "--image", image, "--va", "0", ...args]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(want);
    };
    bad(img({ svnapot: 1 }), [], /regs\.svnapot.*Svnapot is RV64-only.*no N bit/);
    bad(img({ svpbmt: 1 }), [], /regs\.svpbmt.*Svpbmt is RV64-only.*no PBMT field/);
    bad(img({ satp: "0x8000000000001000" }), [], /regs\.satp.*must fit in 32 bits/);
    const r = vmlab(["walk", "--image", IMG, "--va", "0x100000000"]);
    expect(r.stderr).toMatch(/not a 32-bit virtual address/);
  });
});
