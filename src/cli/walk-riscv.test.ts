/** `vmlab walk` on RISC-V images (riscv-sv39/48/57), as ../shared/spec/walk-images.md fixes them. */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tmpImage, vmlab, walkJson } from "./testkit.ts";

const IMG = "examples/images/riscv-sv39.json";
const base = JSON.parse(readFileSync(IMG, "utf8"));

/** The example image with other registers (and another arch). */
const img = (regs: object, arch = "riscv-sv39") =>
  tmpImage(JSON.stringify({ ...base, arch, regs: { ...base.regs, ...regs } }));

const walk = (args: string[], image = IMG) => walkJson(image, args);

describe("vmlab walk, arch riscv-sv39/48/57", () => {
  it("translates pages, megapages and gigapages in the spec's JSON shape", () => {
    const out = walk(["--va", "0x400abc", "--va", "0xa01234", "--va", "0xffffffc000001234", "--priv", "u"]);
    expect(out[0]).toMatchObject({ ok: true, pa: "0x1234abc", pageSize: 4096 });
    expect(out[0].levels.map((l: { name: string }) => l.name)).toEqual(["L2", "L1", "L0"]);
    expect(out[0].levels[2].flags).toEqual(["page", "R", "W", "U", "A", "D"]);
    // the megapage is execute-only: a U-mode load faults without MXR
    expect(out[1]).toMatchObject({
      ok: false,
      fault: "load-page-fault",
      scause: 13,
      stval: "0x0000000000a01234",
    });
    // the gigapage is the kernel's: U-mode may not touch it
    expect(out[2]).toMatchObject({
      ok: false,
      fault: "load-page-fault",
      scause: 13,
      stval: "0xffffffc000001234",
    });
    expect(walk(["--va", "0xa01234", "--priv", "u", "--access", "exec"])).toMatchObject({
      ok: true,
      pa: "0x1201234",
      pageSize: 2097152,
    });
    expect(walk(["--va", "0xffffffc012345678"])).toMatchObject({
      ok: true,
      pa: "0x92345678",
      pageSize: 1073741824,
    });
  });

  it("reports each fault with its scause and stval: SUM, MXR, Svade, reserved, misaligned, invalid VAs", () => {
    // S-mode and a U page: SUM = 0 refuses loads, SUM = 1 allows them but never a fetch
    expect(walk(["--va", "0x400abc", "--priv", "s"])).toMatchObject({ fault: "load-page-fault", scause: 13 });
    expect(
      walk(["--va", "0x400abc", "--priv", "s", "--access", "write"], img({ "sstatus.sum": 1 })),
    ).toMatchObject({ ok: true, pa: "0x1234abc" });
    expect(
      walk(["--va", "0x400abc", "--priv", "s", "--access", "exec"], img({ "sstatus.sum": 1 })),
    ).toMatchObject({
      ok: false,
      fault: "instruction-page-fault",
      scause: 12,
      stval: "0x0000000000400abc",
    });
    // MXR makes the execute-only megapage readable
    expect(walk(["--va", "0xa01234", "--priv", "u"], img({ "sstatus.mxr": 1 }))).toMatchObject({ ok: true });
    // A = 0: a page fault under Svade; Svadu sets it (a probe writes nothing)
    expect(walk(["--va", "0x401008", "--priv", "u"])).toMatchObject({ fault: "load-page-fault", scause: 13 });
    expect(walk(["--va", "0x401008", "--priv", "u"], img({ svadu: 1 }))).toMatchObject({
      ok: true,
      pa: "0x1235008",
    });
    // a store to a read-only page, W without R, a misaligned gigapage, an unmapped address
    expect(walk(["--va", "0x401008", "--priv", "u", "--access", "write"], img({ svadu: 1 }))).toMatchObject({
      fault: "store-page-fault",
      scause: 15,
    });
    const reserved = walk(["--va", "0x402000", "--priv", "u"]);
    expect(reserved).toMatchObject({ fault: "load-page-fault", scause: 13 });
    expect(reserved.levels[2].flags).toContain("reserved");
    expect(walk(["--va", "0x40000000", "--priv", "u"])).toMatchObject({
      fault: "load-page-fault",
      scause: 13,
    });
    expect(walk(["--va", "0x600000", "--priv", "s", "--access", "write"])).toMatchObject({
      fault: "store-page-fault",
      scause: 15,
    });
    // bits 63..39 must equal bit 38: a page fault with no walk
    expect(walk(["--va", "0x4000000000", "--access", "exec"])).toMatchObject({
      fault: "instruction-page-fault",
      scause: 12,
      stval: "0x0000004000000000",
      levels: [],
    });
    // the kernel's rwx page, from S-mode
    expect(walk(["--va", "0x403000", "--access", "exec"])).toMatchObject({ ok: true, pa: "0x1237000" });
  });

  it("applies satp: Bare, Sv48's deeper walk, an access fault for a root outside RAM", () => {
    expect(walk(["--va", "0x12345678", "--priv", "u", "--access", "write"], img({ satp: 0 }))).toMatchObject({
      ok: true,
      pa: "0x12345678",
      levels: [],
    });
    // the same memory as Sv48 tables: the root is level 3 now
    const r = walk(["--va", "0x400abc"], img({ satp: "0x9000100000000001" }, "riscv-sv48"));
    expect(r).toMatchObject({ fault: "load-page-fault", scause: 13 });
    expect(r.levels.map((l: { name: string }) => l.name)).toEqual(["L3", "L2"]);
    expect(walk(["--va", "0x800000000000"], img({ satp: "0xa000000000000001" }, "riscv-sv57"))).toMatchObject(
      {
        fault: "load-page-fault",
      },
    );
    // a root table above the image's RAM: the PTE read is an access fault
    expect(
      walk(["--va", "0x400abc", "--access", "write"], img({ satp: "0x8000010000000000" })),
    ).toMatchObject({ ok: false, fault: "store-access-fault", scause: 7, stval: "0x0000000000400abc" });
  });

  it("rejects bad images and arguments with FILE:LINE:COL and exit 2", () => {
    const cases: [string, RegExp][] = [
      [
        '{"arch": "riscv-sv39",\n "regs": {"satp": "0x8000000000000001", "sstatus.sum": 2}}',
        /img\.json:2:56: regs\.sstatus\.sum: must be 0\.\.1, not 2/,
      ],
      ['{"arch": "riscv-sv39", "regs": {}}', /img\.json:1:\d+: regs: satp is missing/],
      ['{"arch": "riscv-sv39"}', /satp is missing/],
      [
        '{"arch": "riscv-sv39", "regs": {"satp": "0x9000000000000001"}}',
        /regs\.satp: MODE 9 \(Sv48\) does not match arch riscv-sv39: MODE must be 8 \(Sv39\) or 0 \(Bare\)/,
      ],
      [
        '{"arch": "riscv-sv57", "regs": {"satp": "0x5000000000000000"}}',
        /MODE 5 \(reserved\) does not match/,
      ],
      [
        '{"arch": "riscv-sv39", "regs": {"satp": "0x8g"}}',
        /img\.json:1:\d+: regs\.satp: must be a hex string/,
      ],
      // a long bad value is quoted as a short excerpt, not whole
      [
        `{"arch": "riscv-sv39", "regs": {"satp": "${"9".repeat(5000)}x"}}`,
        /regs\.satp: must be a hex string like "0x8000000000001000" or a non-negative integer, not "9{40}…"\n/,
      ],
      ['{"arch": "riscv-sv39", "regs": {"satp": 0, "sstatus.spp": 1}}', /unknown register 'sstatus\.spp'/],
      [
        '{"arch": "riscv-sv39", "cr3": "0x1000", "regs": {"satp": 0}}',
        /img\.json:1:\d+: cr3: unknown key 'cr3'/,
      ],
      [
        '{"arch": "riscv-sv64", "regs": {"satp": 0}}',
        /arch must be .*"riscv-sv39" or "riscv-sv48" or "riscv-sv57"/,
      ],
    ];
    for (const [text, want] of cases) {
      const r = vmlab(["walk", "--image", tmpImage(text), "--va", "0"]);
      expect(r.code, text).toBe(2);
      expect(r.stderr, text).toMatch(want);
      expect(r.stdout, text).toBe("");
    }
    expect(vmlab(["walk", "--image", IMG, "--va", "0", "--priv", "m"]).stderr).toMatch(
      /--priv must be u or s, not 'm'/,
    );
    expect(vmlab(["walk", "--help"]).stdout).toMatch(/--priv <mode>/);
  });

  it("the kernel boots on it: vmlab run takes machine arch=riscv-sv39|sv48|sv57", () => {
    for (const [arch, levels] of [
      ["riscv-sv39", 3],
      ["riscv-sv48", 4],
      ["riscv-sv57", 5],
    ] as const) {
      const p = join(mkdtempSync(join(tmpdir(), "vmlab-riscv-")), "riscv.vm");
      writeFileSync(p, `machine arch=${arch}\n`);
      const r = vmlab(["run", p]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`booted: 256 MiB RAM, 1 CPU, ${levels}-level paging`));
    }
  });
});
