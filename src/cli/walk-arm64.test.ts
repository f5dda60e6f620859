/** `vmlab walk` on arm64 images, as ../shared/spec/walk-images.md fixes them. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tmpImage, vmlab, walkJson } from "./testkit.ts";

const IMG = "examples/images/arm64.json";

const walk = (args: string[], img = IMG) => walkJson(img, args);

describe("vmlab walk, arch arm64", () => {
  it("translates through TTBR0 and TTBR1, pages and blocks, in the spec's JSON shape", () => {
    const out = walk(["--va", "0x400abc", "--va", "0xa01234", "--va", "0xffff800000001234", "--el", "0"]);
    expect(out[0]).toMatchObject({ ok: true, pa: "0x1234abc", pageSize: 4096 });
    expect(out[0].levels.map((l: { name: string }) => l.name)).toEqual(["L0", "L1", "L2", "L3"]);
    expect(out[1]).toMatchObject({ ok: true, pa: "0xa01234", pageSize: 2097152 });
    expect(out[2]).toMatchObject({
      ok: false,
      fault: "permission",
      level: 1,
      esr: "0x9200000d",
      far: "0xffff800000001234",
    });
    expect(walk(["--va", "0xffff800000001234", "--el", "1"])).toMatchObject({
      ok: true,
      pa: "0x40001234",
      pageSize: 1073741824,
    });
  });

  it("reports each fault kind with its level, ESR_EL1 and FAR_EL1; PAN, LDTR/STTR, PXN", () => {
    // PAN is set in the image: an EL1 read of a user page faults, an LDTR does not
    expect(walk(["--va", "0x400abc", "--el", "1"])).toMatchObject({
      ok: false,
      fault: "permission",
      level: 3,
      esr: "0x9600000f",
    });
    expect(walk(["--va", "0x400abc", "--el", "1", "--access", "read-unpriv"])).toMatchObject({
      ok: true,
      pa: "0x1234abc",
    });
    expect(walk(["--va", "0x400abc", "--el", "1", "--access", "write-unpriv"])).toMatchObject({ ok: true });
    // PXN: the kernel may not run a user page
    expect(walk(["--va", "0x400000", "--el", "1", "--access", "exec"])).toMatchObject({ esr: "0x8600000f" });
    // the AF of 0x401000 is clear
    expect(walk(["--va", "0x401008", "--el", "0", "--access", "write"])).toMatchObject({
      ok: false,
      fault: "access-flag",
      level: 3,
      esr: "0x9200004b",
      far: "0x0000000000401008",
    });
    // not mapped: a translation fault at L2 (the L2 table exists, its entry 1 is invalid)
    expect(walk(["--va", "0x200000", "--el", "0"])).toMatchObject({
      fault: "translation",
      level: 2,
      esr: "0x92000006",
    });
    // outside both ranges: level 0
    expect(walk(["--va", "0x1000000000000", "--el", "0", "--access", "exec"])).toMatchObject({
      fault: "translation",
      level: 0,
      esr: "0x82000004",
      levels: [],
    });
  });

  it("applies TCR_EL1: IPS address-size faults, HA, T0SZ, TBI, EPD", () => {
    const base = JSON.parse(readFileSync(IMG, "utf8"));
    const img = (regs: object) => tmpImage(JSON.stringify({ ...base, regs: { ...base.regs, ...regs } }));
    // IPS 0 (32 bits): the 1 GiB block at 0x40000000 is fine, a TTBR beyond 4 GiB is not
    expect(walk(["--va", "0xffff800000001234", "--el", "1"], img({ "tcr_el1.ips": 0 }))).toMatchObject({
      ok: true,
    });
    expect(
      walk(["--va", "0x400000", "--el", "1"], img({ "tcr_el1.ips": 0, ttbr0_el1: "0x100001000" })),
    ).toMatchObject({
      fault: "address-size",
      level: 0,
      esr: "0x96000000",
    });
    // HA: the clear AF is set by hardware (a probe writes nothing, the result is as if it did)
    expect(walk(["--va", "0x401000", "--el", "0"], img({ "tcr_el1.ha": 1 }))).toMatchObject({
      ok: true,
      pa: "0x1235000",
    });
    // TBI0 for data, not for fetches
    expect(walk(["--va", "0x3400000000400abc", "--el", "0"], img({ "tcr_el1.tbi0": 1 }))).toMatchObject({
      ok: true,
    });
    expect(
      walk(["--va", "0x3400000000400abc", "--el", "0", "--access", "exec"], img({ "tcr_el1.tbi0": 1 })),
    ).toMatchObject({ fault: "translation", level: 0 });
    // EPD1
    expect(walk(["--va", "0xffff800000001234", "--el", "1"], img({ "tcr_el1.epd1": 1 }))).toMatchObject({
      fault: "translation",
      level: 0,
      esr: "0x96000004",
    });
    // T0SZ 25: 0x400000 is then walked from L1
    const r = walk(["--va", "0x400abc", "--el", "0"], img({ "tcr_el1.t0sz": 25, ttbr0_el1: "0x2000" }));
    expect(r).toMatchObject({ ok: true, pa: "0x1234abc" });
    expect(r.levels[0].name).toBe("L1");
  });

  it("rejects bad images and arguments with FILE:LINE:COL and exit 2", () => {
    const cases: [string, RegExp][] = [
      [
        '{"arch": "arm64",\n "regs": {"tcr_el1.t0sz": 40}}',
        /img\.json:2:27: regs\.tcr_el1\.t0sz: must be 16\.\.39, not 40/,
      ],
      ['{"arch": "arm64", "regs": {"tcr_el1.t1sz": 15}}', /regs\.tcr_el1\.t1sz: must be 16\.\.39, not 15/],
      ['{"arch": "arm64", "cr3": "0x1000"}', /img\.json:1:\d+: cr3: unknown key 'cr3'/],
      [
        '{"arch": "arm64", "regs": {"ttbr0_el1": "0x12g"}}',
        /img\.json:1:41: regs\.ttbr0_el1: must be a hex string/,
      ],
      ['{"arch": "arm64", "regs": {"tcr_el1.t0zs": 16}}', /unknown register 'tcr_el1\.t0zs'/],
      ['{"arch": "arm64", "regs": {"pstate.pan": 2}}', /regs\.pstate\.pan: must be 0\.\.1, not 2/],
      ['{"arch": "arm64", "regs": {"tcr_el1.ips": 6}}', /regs\.tcr_el1\.ips: must be 0\.\.5, not 6/],
    ];
    for (const [text, want] of cases) {
      const r = vmlab(["walk", "--image", tmpImage(text), "--va", "0"]);
      expect(r.code, text).toBe(2);
      expect(r.stderr, text).toMatch(want);
      expect(r.stdout, text).toBe("");
    }
    expect(vmlab(["walk", "--image", IMG, "--va", "0", "--el", "3"]).stderr).toMatch(
      /--el must be 0 or 1, not '3'/,
    );
    expect(vmlab(["walk", "--image", IMG, "--va", "0", "--access", "jump"]).stderr).toMatch(
      /--access must be read, write, exec, read-unpriv or write-unpriv/,
    );
    expect(vmlab(["walk", "--help"]).stdout).toMatch(/--el <n>/);
  });
  it("a leaf with the Contiguous bit reports its run (extension field `contiguous`: 16 x the descriptor's size)", () => {
    // the example's 2M block at 0xa00000 (L2 entry at 0x3028) and 4K page at 0x400000 (L3 at 0x4000)
    // with bit 52 set: byte 6 of each little-endian descriptor gains 0x10
    const text = readFileSync(IMG, "utf8")
      .replace('"410fa00000006000"', '"410fa00000007000"')
      .replace('"434f230100002000"', '"434f230100003000"');
    const img = tmpImage(text);
    expect(walk(["--va", "0xa01234", "--el", "0"], img)).toMatchObject({
      ok: true,
      pa: "0xa01234",
      pageSize: 2097152,
      contiguous: 33554432,
    });
    // a contiguous page: 4K, one of a 64K run (translated from the run's 64K-aligned first frame)
    expect(walk(["--va", "0x400abc", "--el", "0"], img)).toMatchObject({
      ok: true,
      pageSize: 4096,
      contiguous: 65536,
    });
    expect(walk(["--va", "0x400abc", "--el", "0"])).not.toHaveProperty("contiguous");
    const r = vmlab(["walk", "--image", img, "--va", "0xa01234", "--el", "0"]);
    expect(r.stdout).toMatch(/-> pa 0xa01234 \(2M block, one of a contiguous 32M run\)/);
    expect(r.stdout).toMatch(/block AP\[2:1\]=01 AF .*Contiguous/);
  });
});
