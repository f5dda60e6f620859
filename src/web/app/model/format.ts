/** Number formatting shared by the panels. */

/** `0x` and at least `width` hex digits. */
export function hex(n: number | bigint, width = 0): string {
  return `0x${n.toString(16).padStart(width, "0")}`;
}

/** A raw entry from its two 32-bit halves, as 16 hex digits (8 for a 4-byte entry). */
export function raw(hi: number, lo: number, bytes = 8): string {
  if (bytes <= 4) return `0x${(lo >>> 0).toString(16).padStart(bytes * 2, "0")}`;
  return `0x${(hi >>> 0).toString(16).padStart(8, "0")}${(lo >>> 0).toString(16).padStart(8, "0")}`;
}

/** An address or size a user typed: hex (0x...), decimal, or a variable's name, with an optional +N/-N. */
export function parseAddress(text: string, vars: ReadonlyMap<string, bigint>): bigint | null {
  const m = /^\s*([A-Za-z_][\w.]*|0x[0-9a-fA-F_]+|\d+)\s*(?:([+-])\s*(0x[0-9a-fA-F_]+|\d+)\s*)?$/.exec(text);
  if (m === null) return null;
  const num = (s: string): bigint => BigInt(s.replaceAll("_", ""));
  let base: bigint;
  if (/^[A-Za-z_]/.test(m[1])) {
    const v = vars.get(m[1]);
    if (v === undefined) return null;
    base = v;
  } else base = num(m[1]);
  if (m[2] === undefined) return base;
  return m[2] === "+" ? base + num(m[3]) : base - num(m[3]);
}
