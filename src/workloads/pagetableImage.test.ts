import { describe, expect, it } from "vitest";
import { InputError } from "../base/errors.ts";
import { MAX_IMAGE_FRAMES, parseImage } from "./pagetableImage.ts";

function error(text: string): string {
  try {
    parseImage(text, "img.json");
  } catch (e) {
    if (e instanceof InputError) return e.format();
    throw e;
  }
  throw new Error("no error");
}

const head = '{"arch": "x86_64", "cr3": "0x1000"';

describe("parseImage on hostile input", () => {
  it("refuses __proto__ and constructor as unknown keys, at their place", () => {
    expect(error(`${head}, "__proto__": {"x": 1}}`)).toMatch(
      /^img\.json:1:50: __proto__: unknown key '__proto__'/,
    );
    expect(error(`${head}, "regs": {"constructor": 1}}`)).toMatch(/unknown register 'constructor'/);
    expect(error(`${head}, "memory": [{"pa": 0, "hex": "", "__proto__": 1}]}`)).toMatch(
      /unknown key '__proto__' \(expected pa, hex\)/,
    );
  });

  it("refuses an image nested thousands deep with a located error, not a stack overflow", () => {
    expect(error(`${head}, "regs": ${"[".repeat(4000)}${"]".repeat(4000)}}`)).toMatch(
      /^img\.json:1:\d+: arrays and objects nested more than 64 deep/,
    );
  });

  it("quotes a huge bad value only as a short excerpt", () => {
    const msg = error(`${head.replace('"0x1000"', `"${"z".repeat(1_000_000)}"`)}}`);
    expect(msg).toMatch(/cr3: must be a 64-bit hex string like "0x1000", not "z{40}…"$/);
  });

  it("quotes a huge or control-character key only as a short escaped excerpt", () => {
    const msg = error(`${head}, "${"k".repeat(1_000_000)}\\u001b": 1}`);
    expect(msg.length).toBeLessThan(300);
    expect(msg).toMatch(/unknown key 'k{40}…'/);
    expect(error(`${head}, "a\\u001bb": 1}`)).toMatch(/^img\.json:1:\d+: a\\u001bb: unknown key 'a\\u001bb'/);
  });

  it("decodes hex with whitespace between digits, and places a bad digit", () => {
    const img = parseImage(`${head}, "memory": [{"pa": "0x1000", "hex": "67 20 00 00\\n00000000"}]}`);
    const r = img.session.walk(0n, 1 as never, "0", "read");
    expect(JSON.stringify(r.report)).toMatch(/0x0000000000002067/);
    expect(error(`${head}, "memory": [{"pa": 0, "hex": "6g"}]}`)).toMatch(
      /memory\[0\]\.hex: contains a character/,
    );
    expect(error(`${head}, "memory": [{"pa": 0, "hex": "6 72"}]}`)).toMatch(/odd number of hex digits \(3\)/);
  });

  it("refuses memory that touches more frames than the cap, in bounded time and memory", () => {
    // one byte in each of many 16 MiB regions: each would cost the machine a frame and a directory chunk
    const items = Array.from(
      { length: MAX_IMAGE_FRAMES + 1 },
      (_, k) => `{"pa": ${k * 16 * 1024 * 1024}, "hex": "00"}`,
    );
    const t0 = performance.now();
    expect(error(`${head}, "memory": [${items.join(",")}]}`)).toMatch(
      new RegExp(
        `memory\\[${MAX_IMAGE_FRAMES}\\]\\.pa: the image's memory touches more than ${MAX_IMAGE_FRAMES} frames`,
      ),
    );
    expect(performance.now() - t0).toBeLessThan(5000);
  });
});
