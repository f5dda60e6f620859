import { excerpt, InputError } from "../base/errors.ts";
import { jsonExcerpt, parseJsonLocated } from "../base/json.ts";
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

/** The largest image file `vmlab walk` reads (docs/walk-image.md, "Limits"). */
export const MAX_IMAGE_BYTES = 64 * 1024 * 1024;
/**
 * The most distinct 4 KiB frames an image's memory may touch (32 MiB of
 * tables): each costs the simulated RAM a frame and, when alone in its
 * 16 MiB, a directory chunk, so this bounds the host memory a walk takes.
 */
export const MAX_IMAGE_FRAMES = 8192;

/** Parses, checks and loads an image; every mistake is an InputError with FILE:LINE:COL. */
export function parseImage(text: string, file?: string): PageTableImage {
  const doc = parseJsonLocated(text, file);
  const bad = (path: string, msg: string): never => {
    // a path holds the image's keys: quoted as a short escaped excerpt, as values are
    throw new InputError(path ? `${excerpt(path, 60)}: ${msg}` : msg, { file, ...doc.where(path) });
  };
  const root = doc.value;
  if (typeof root !== "object" || root === null || Array.isArray(root))
    return bad("", "the image must be a JSON object");
  const obj = root as Record<string, unknown>;
  const arch = obj.arch;
  const driver = typeof arch === "string" ? walkImageDriver(arch) : null;
  const topKeys = ["arch", ...(driver?.keys ?? walkImageArches().flatMap((d) => d.keys)), "regs", "memory"];
  for (const k of Object.keys(obj)) {
    if (!topKeys.includes(k))
      bad(k, `unknown key '${excerpt(k)}' (expected ${[...new Set(topKeys)].join(", ")})`);
  }
  if (driver === null) {
    const names = walkImageArches().flatMap((d) => d.arches);
    return bad(
      "arch",
      `arch must be ${names.map((n) => JSON.stringify(n)).join(" or ")}, not ${jsonExcerpt(arch)}`,
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
      bad(`regs.${k}`, `unknown register '${excerpt(k)}' (expected ${driver.regs.join(", ")})`);
  }
  const top = Object.fromEntries(Object.entries(obj).filter(([k]) => driver.keys.includes(k)));
  const fields: ImageFields = { arch: arch as string, top, regs, u64: (key) => u64At(key, obj[key], bad) };
  const checked = driver.check(fields, bad);
  const memory: { pa: number; bytes: Uint8Array }[] = [];
  const frames = new Set<number>();
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
        if (k !== "pa" && k !== "hex") bad(`${path}.${k}`, `unknown key '${excerpt(k)}' (expected pa, hex)`);
      const pa = u64At(`${path}.pa`, rec.pa, bad);
      const hex = rec.hex;
      if (typeof hex !== "string") bad(`${path}.hex`, "must be a string of hex digits");
      const bytes = decodeHex(hex as string, (msg) => bad(`${path}.hex`, msg));
      if (pa + BigInt(bytes.length) > 1n << BigInt(checked.physBits))
        bad(`${path}.pa`, `bytes at ${jsonExcerpt(rec.pa)} run past MAXPHYADDR (${checked.physBits} bits)`);
      memory.push({ pa: Number(pa), bytes });
      for (let f = Math.floor(Number(pa) / 4096); f * 4096 < Number(pa) + bytes.length; f++) {
        frames.add(f);
        if (frames.size > MAX_IMAGE_FRAMES)
          bad(
            `${path}.pa`,
            `the image's memory touches more than ${MAX_IMAGE_FRAMES} frames of 4 KiB (${MAX_IMAGE_FRAMES / 256} MiB), the most vmlab loads`,
          );
      }
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
  return bad(path, `must be a 64-bit hex string like "0x1000", not ${jsonExcerpt(v)}`);
}

const HEX_VALUE = new Int8Array(128).fill(-1);
for (let d = 0; d < 16; d++) {
  HEX_VALUE["0123456789abcdef".charCodeAt(d)] = d;
  HEX_VALUE["0123456789ABCDEF".charCodeAt(d)] = d;
}

/** Hex digits (whitespace between them ignored) as bytes; `bad` on any other character or an odd count. */
function decodeHex(hex: string, bad: (msg: string) => never): Uint8Array {
  const out = new Uint8Array(hex.length >>> 1);
  let n = 0;
  let high = -1;
  for (let k = 0; k < hex.length; k++) {
    const c = hex.charCodeAt(k);
    const v = c < 128 ? HEX_VALUE[c] : -1;
    if (v < 0) {
      if (c === 32 || c === 9 || c === 10 || c === 13) continue;
      bad("contains a character that is not a hex digit");
    }
    if (high < 0) high = v;
    else {
      out[n++] = (high << 4) | v;
      high = -1;
    }
  }
  if (high >= 0) bad(`has an odd number of hex digits (${2 * n + 1})`);
  return n === out.length ? out : out.slice(0, n);
}
