/**
 * `vmlab walk` on arm64 images with the 16K and 64K granules (tcr_el1.tg0 / tcr_el1.tg1, an
 * extension of ../shared/spec/walk-images.md; docs/walk-image.md). Figures derived by hand from
 * examples/images/arm64-64k.json: TTBR0 64K (TG0 = 1), TTBR1 16K (TG1 = 1, TG1's encoding).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { tmpImage, vmlab, walkJson } from "./testkit.ts";

const IMG = "examples/images/arm64-64k.json";

const walk = (args: string[], img = IMG) => walkJson(img, args);

const names = (r: { levels: { name: string }[] }) => r.levels.map((l) => l.name);

describe("vmlab walk, arm64 16K and 64K granules", () => {
  it("TTBR0 with the 64K granule: a page through L1..L3, a 512M block, a level-1 block's fault, a contiguous run", () => {
    const [page, ro, block, l1, cont] = walk([
      "--va",
      "0x400abc",
      "--va",
      "0x410000",
      "--va",
      "0x20001234",
      "--va",
      "0x40000000000",
      "--va",
      "0x612345",
      "--el",
      "0",
    ]);
    expect(page).toMatchObject({ ok: true, pa: "0x1230abc", pageSize: 65536 });
    expect(page).not.toHaveProperty("contiguous");
    expect(names(page)).toEqual(["L1", "L2", "L3"]);
    expect(page.levels[2]).toMatchObject({ index: 64, entryPa: "0x30200", raw: "0x0020000001230f43" });
    expect(ro).toMatchObject({ ok: false, fault: "access-flag", level: 3, esr: "0x9200000b" });
    expect(block).toMatchObject({ ok: true, pa: "0x40001234", pageSize: 536870912 });
    expect(names(block)).toEqual(["L1", "L2"]);
    // no FEAT_LPA (PARange 48 bits): a level-1 block descriptor is a Translation fault of level 1
    expect(l1).toMatchObject({ ok: false, fault: "translation", level: 1, esr: "0x92000005" });
    expect(l1.levels[0].flags).toEqual(["reserved"]);
    // L3[97], page 1 of a run of 32 from frame 0x2000000: the run's translation
    expect(cont).toMatchObject({ ok: true, pa: "0x2012345", pageSize: 65536, contiguous: 2097152 });
  });

  it("TTBR1 with the 16K granule (TG1 = 1 is 16K, TG0 = 1 is 64K): a 32M block, a 16K page", () => {
    const [block, page] = walk(["--va", "0xffff800000001234", "--va", "0xffff800002000567", "--el", "1"]);
    expect(block).toMatchObject({ ok: true, pa: "0x80001234", pageSize: 33554432 });
    expect(names(block)).toEqual(["L0", "L1", "L2"]);
    expect(page).toMatchObject({ ok: true, pa: "0x90000567", pageSize: 16384 });
    expect(page.levels.map((l: { index: number }) => l.index)).toEqual([1, 0, 1, 0]);
    expect(walk(["--va", "0xffff800002000567", "--el", "1", "--access", "write"])).toMatchObject({
      ok: false,
      fault: "permission",
      level: 3,
      esr: "0x9600004f",
    });
    const base = JSON.parse(readFileSync(IMG, "utf8"));
    const img = (regs: object) => tmpImage(JSON.stringify({ ...base, regs: { ...base.regs, ...regs } }));
    // the sizes as strings mean the same; TG1 = 2 is 4K: the 16K tables read as 4K ones (L0[256] is empty)
    expect(walk(["--va", "0xffff800000001234", "--el", "1"], img({ "tcr_el1.tg1": "16K" }))).toEqual(block);
    expect(walk(["--va", "0xffff800000001234", "--el", "1"], img({ "tcr_el1.tg1": 2 }))).toMatchObject({
      ok: false,
      fault: "translation",
      level: 0,
      levels: [{ name: "L0", index: 256, entryPa: "0x50800" }],
    });
  });

  it("the text form names the granule and the leaf's size", () => {
    const r = vmlab(["walk", "--image", IMG, "--va", "0x612345", "--va", "0xffff800000001234", "--el", "1"]);
    expect(r.stdout).toMatch(/TTBR0_EL1 \(48-bit range, 64K granule\)/);
    expect(r.stdout).toMatch(/-> pa 0x2012345 \(64K page, one of a contiguous 2M run\)/);
    expect(r.stdout).toMatch(/TTBR1_EL1 \(48-bit range, 16K granule\)/);
    expect(r.stdout).toMatch(/-> pa 0x80001234 \(32M block\)/);
  });

  it("52-bit output addresses with the 64K granule under FEAT_LPA (id_aa64mmfr0_el1.parange 6, IPS 6)", () => {
    // the run's first descriptor gains OA[51:48] = 1 in bits 15:12; the 4T L1 block becomes valid
    const text = readFileSync(IMG, "utf8").replace(
      '"pa": "0x30300",\n      "hex": "430f0002',
      '"pa": "0x30300",\n      "hex": "431f0002',
    );
    const base = JSON.parse(text);
    expect(base.memory.find((m: { pa: string }) => m.pa === "0x30300").hex.slice(0, 8)).toBe("431f0002");
    const lpa = tmpImage(
      JSON.stringify({ ...base, regs: { ...base.regs, "id_aa64mmfr0_el1.parange": 6, "tcr_el1.ips": 6 } }),
    );
    const [run, l1] = walk(["--va", "0x600010", "--va", "0x40000000010"], lpa);
    expect(run).toMatchObject({ ok: true, pa: "0x1000002000010" });
    expect(l1).toMatchObject({ ok: true, pa: "0x40000000010", pageSize: 4398046511104 });
    // without FEAT_LPA bits 15:12 are not part of the address
    expect(walk(["--va", "0x600010"], tmpImage(text))).toMatchObject({ ok: true, pa: "0x2000010" });
  });

  it("rejects a reserved TG encoding, and IPS 6 without FEAT_LPA, with FILE:LINE:COL", () => {
    const cases: [string, RegExp][] = [
      [
        '{"arch": "arm64",\n "regs": {"tcr_el1.tg0": 3}}',
        /img\.json:2:26: regs\.tcr_el1\.tg0: must be 0 \(4K\), 1 \(64K\), 2 \(16K\) or "4K", "16K", "64K", not 3 \(reserved\)/,
      ],
      [
        '{"arch": "arm64", "regs": {"tcr_el1.tg1": 0}}',
        /img\.json:1:43: regs\.tcr_el1\.tg1: must be 1 \(16K\), 2 \(4K\), 3 \(64K\) .*not 0 \(reserved\)/,
      ],
      ['{"arch": "arm64", "regs": {"tcr_el1.tg1": "8K"}}', /regs\.tcr_el1\.tg1: must be .*not "8K"$/m],
      [
        '{"arch": "arm64", "regs": {"tcr_el1.tg0": "64K", "tcr_el1.ips": 6}}',
        /regs\.tcr_el1\.ips: must be 0\.\.5, not 6 \(52 bits needs FEAT_LPA/,
      ],
      ['{"arch": "arm64", "regs": {"id_aa64mmfr0_el1.parange": 7}}', /parange: must be 0\.\.6, not 7/],
    ];
    for (const [text, want] of cases) {
      const r = vmlab(["walk", "--image", tmpImage(text), "--va", "0"]);
      expect(r.code, text).toBe(2);
      expect(r.stderr, text).toMatch(want);
    }
  });
});
