import { InputError } from "../base/errors.ts";
import { parseJsonLocated } from "../base/json.ts";
import { parseU64 } from "../base/u64.ts";
import { walkImageArches, walkImageDriver } from "../hw/arch/index.ts";
import type { ImageFields, WalkImageDriver, WalkSession } from "../hw/mmu/walkImage.ts";

/**
 * A page-table memory image: the input of `vmlab walk`. See
 * docs/walk-image.md (x86-64) and ../shared/spec/walk-images.md.
 *
 * { "arch": "x86_64" | "x86_64-la57", "cr3": "0x1000", "maxphyaddr": 46,
 *   "regs": { "cr0.wp": 1, "cr4.smep": 1, ... },
 *   "memory": [ { "pa": "0x1000", "hex": "0720000000000000..." } ] }
 *
 * This reader checks what every image has (the keys, the memory's hex
 * bytes) with FILE:LINE:COL on every mistake; the architecture's driver
 * (hw/mmu/walkImage.ts) checks its own keys and registers and loads it.
 */
export interface PageTableImage {
  arch: string;
  driver: WalkImageDriver;
  /** the loaded image: probes of it */
  session: WalkSession;
}

/** Parses, checks and loads an image; every mistake is an InputError with FILE:LINE:COL. */
export function parseImage(text: string, file?: string): PageTableImage {
  const doc = parseJsonLocated(text, file);
  const bad = (path: string, msg: string): never => {
    throw new InputError(path ? `${path}: ${msg}` : msg, { file, ...doc.where(path) });
  };
  const root = doc.value;
  if (typeof root !== "object" || root === null || Array.isArray(root))
    return bad("", "the image must be a JSON object");
  const obj = root as Record<string, unknown>;
  const arch = obj.arch;
  const driver = typeof arch === "string" ? walkImageDriver(arch) : null;
  const topKeys = ["arch", ...(driver?.keys ?? walkImageArches().flatMap((d) => d.keys)), "regs", "memory"];
  for (const k of Object.keys(obj)) {
    if (!topKeys.includes(k)) bad(k, `unknown key '${k}' (expected ${[...new Set(topKeys)].join(", ")})`);
  }
  if (driver === null) {
    const names = walkImageArches().flatMap((d) => d.arches);
    return bad(
      "arch",
      `arch must be ${names.map((n) => JSON.stringify(n)).join(" or ")}, not ${JSON.stringify(arch)}`,
    );
  }
  if (
    obj.regs !== undefined &&
    (typeof obj.regs !== "object" || obj.regs === null || Array.isArray(obj.regs))
  )
    bad("regs", "must be an object");
  const regs = (obj.regs ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(regs)) {
    if (!driver.regs.includes(k))
      bad(`regs.${k}`, `unknown register '${k}' (expected ${driver.regs.join(", ")})`);
  }
  const top = Object.fromEntries(Object.entries(obj).filter(([k]) => driver.keys.includes(k)));
  const fields: ImageFields = { arch: arch as string, top, regs, u64: (key) => u64At(key, obj[key], bad) };
  const checked = driver.check(fields, bad);
  const memory: { pa: number; bytes: Uint8Array }[] = [];
  if (obj.memory !== undefined) {
    if (!Array.isArray(obj.memory)) bad("memory", "must be an array of { pa, hex }");
    const items = obj.memory as unknown[];
    for (let n = 0; n < items.length; n++) {
      const item = items[n];
      const path = `memory[${n}]`;
      if (typeof item !== "object" || item === null || Array.isArray(item))
        bad(path, "must be an object { pa, hex }");
      const rec = item as Record<string, unknown>;
      for (const k of Object.keys(rec))
        if (k !== "pa" && k !== "hex") bad(`${path}.${k}`, `unknown key '${k}' (expected pa, hex)`);
      const pa = u64At(`${path}.pa`, rec.pa, bad);
      const hex = rec.hex;
      if (typeof hex !== "string") bad(`${path}.hex`, "must be a string of hex digits");
      const clean = (hex as string).replace(/\s+/g, "");
      if (!/^[0-9a-fA-F]*$/.test(clean)) bad(`${path}.hex`, "contains a character that is not a hex digit");
      if (clean.length % 2 !== 0) bad(`${path}.hex`, `has an odd number of hex digits (${clean.length})`);
      const bytes = new Uint8Array(clean.length / 2);
      for (let b = 0; b < bytes.length; b++) bytes[b] = Number.parseInt(clean.slice(2 * b, 2 * b + 2), 16);
      if (pa + BigInt(bytes.length) > 1n << BigInt(checked.physBits))
        bad(`${path}.pa`, `bytes at ${rec.pa} run past MAXPHYADDR (${checked.physBits} bits)`);
      memory.push({ pa: Number(pa), bytes });
    }
  }
  return { arch: arch as string, driver, session: checked.open(memory, bad) };
}

function u64At(path: string, v: unknown, bad: (p: string, m: string) => never): bigint {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === "string") {
    const n = parseU64(v);
    if (n !== null) return n;
  }
  if (v === undefined) return bad(path, "is missing");
  return bad(path, `must be a 64-bit hex string like "0x1000", not ${JSON.stringify(v)}`);
}
