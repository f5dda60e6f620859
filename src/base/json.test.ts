import { describe, expect, it } from "vitest";
import { InputError } from "./errors.ts";
import { MAX_JSON_DEPTH, parseJsonLocated } from "./json.ts";

function error(text: string): InputError {
  try {
    parseJsonLocated(text, "f.json");
  } catch (e) {
    if (e instanceof InputError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("parseJsonLocated", () => {
  it("reads values and says where each starts", () => {
    const d = parseJsonLocated('{\n  "a": [1, "x\\u0041\\n", true],\n  "b": {"c": null}\n}');
    expect(d.value).toEqual({ a: [1, "xA\n", true], b: { c: null } });
    expect(d.where("a[1]")).toEqual({ line: 2, col: 12 });
    expect(d.where("b.c")).toEqual({ line: 3, col: 14 });
    expect(d.where("nowhere")).toEqual({ line: 1, col: 1 });
    // a missing key: the object it is missing from
    expect(d.where("b.missing")).toEqual({ line: 3, col: 8 });
    expect(d.where("a[7]")).toEqual({ line: 2, col: 8 });
  });

  it("refuses nesting deeper than the cap with a located error, not a stack overflow", () => {
    const e = error(`{"a": ${"[".repeat(5000)}${"]".repeat(5000)}}`);
    expect(e.message).toMatch(new RegExp(`nested more than ${MAX_JSON_DEPTH} deep`));
    expect(e.where).toMatchObject({ file: "f.json", line: 1 });
    expect(parseJsonLocated(`${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}`).value).toBeTruthy();
  });

  it("keeps __proto__ and constructor as ordinary keys (so a key check sees them)", () => {
    const v = parseJsonLocated('{"__proto__": {"x": 1}, "constructor": 2}').value as object;
    expect(Object.keys(v)).toEqual(["__proto__", "constructor"]);
    expect(Object.getPrototypeOf(v)).toBe(null);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("refuses a key given twice", () => {
    expect(error('{"a": 1,\n "a": 2}').format()).toBe("f.json:2:2: duplicate key 'a'");
  });

  it("quotes at most a short escaped excerpt of a bad character", () => {
    expect(error("\u0001").message).toBe("unexpected character '\\u0001'");
  });

  it("reads a long string in time linear in its length", () => {
    const hex = "0123456789abcdef".repeat(1 << 20); // 16 MiB
    const t0 = performance.now();
    const v = parseJsonLocated(`{"hex": "${hex}"}`).value as { hex: string };
    expect(v.hex.length).toBe(hex.length);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
