/** fromBase64: Node's decoder where it can, the loop elsewhere; the same bytes either way. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64 } from "./wasm.ts";

describe("fromBase64", () => {
  it("gives the bytes the text encodes, with Buffer and without", () => {
    const g = globalThis as { Buffer?: unknown };
    const buffer = g.Buffer;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const text = Buffer.from(bytes).toString("base64");
        expect(Array.from(fromBase64(text))).toEqual(Array.from(bytes));
        g.Buffer = undefined;
        try {
          expect(Array.from(fromBase64(text))).toEqual(Array.from(bytes));
        } finally {
          g.Buffer = buffer;
        }
      }),
    );
  });

  it("refuses a character that is not base64", () => {
    expect(() => fromBase64("AAA*")).toThrow(/not base64/);
  });
});
