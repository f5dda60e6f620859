import { InputError } from "../base/errors.ts";
import { type Located, parseJsonLocated } from "../base/json.ts";
import { fromBig, parseU64 } from "../base/u64.ts";
import { X86Machine as Machine } from "../hw/arch/x86_64/machine.ts";
import type { Cpu } from "../hw/arch/x86_64/Cpu.ts";
import { Outcome } from "../hw/arch/x86_64/fault.ts";

/**
 * A page-table memory image: the input of `vmlab walk`. See docs/walk-image.md.
 *
 * { "arch": "x86_64" | "x86_64-la57", "cr3": "0x1000", "maxphyaddr": 46,
 *   "regs": { "cr0.wp": 1, "cr4.smep": 1, ... },
 *   "memory": [ { "pa": "0x1000", "hex": "0720000000000000..." } ] }
 */
export interface PageTableImage {
  arch: "x86_64" | "x86_64-la57";
  cr3: bigint;
  maxPhyAddr: number;
  regs: Record<RegName, number>;
  memory: { pa: number; bytes: Uint8Array }[];
}

export const REG_NAMES = [
  "cr0.wp",
  "cr4.smep",
  "cr4.smap",
  "rflags.ac",
  "efer.nxe",
  "cr4.pke",
  "pkru",
  "cr4.pcide",
  "cr4.pge",
] as const;
export type RegName = (typeof REG_NAMES)[number];

const TOP_KEYS = ["arch", "cr3", "maxphyaddr", "regs", "memory"];

/** Parses and checks an image; every mistake is an InputError with FILE:LINE:COL. */
export function parseImage(text: string, file?: string): PageTableImage {
  const doc = parseJsonLocated(text, file);
  const bad = (path: string, msg: string): never => {
    throw new InputError(path ? `${path}: ${msg}` : msg, { file, ...doc.where(path) });
  };
  const root = doc.value;
  if (typeof root !== "object" || root === null || Array.isArray(root))
    return bad("", "the image must be a JSON object");
  const obj = root as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!TOP_KEYS.includes(k)) bad(k, `unknown key '${k}' (expected ${TOP_KEYS.join(", ")})`);
  }
  const arch = obj.arch;
  if (arch !== "x86_64" && arch !== "x86_64-la57")
    bad("arch", `arch must be "x86_64" or "x86_64-la57", not ${JSON.stringify(arch)}`);
  let maxPhyAddr = 46;
  if (obj.maxphyaddr !== undefined) {
    const m = obj.maxphyaddr;
    if (typeof m !== "number" || !Number.isInteger(m) || m < 36 || m > 52)
      bad("maxphyaddr", `must be an integer from 36 to 52, not ${JSON.stringify(m)}`);
    maxPhyAddr = m as number;
  }
  const cr3 = u64At(doc, "cr3", obj.cr3, bad);
  const regs = Object.fromEntries(REG_NAMES.map((r) => [r, 0])) as Record<RegName, number>;
  if (obj.regs !== undefined) {
    if (typeof obj.regs !== "object" || obj.regs === null || Array.isArray(obj.regs))
      bad("regs", "must be an object");
    for (const [k, v] of Object.entries(obj.regs as Record<string, unknown>)) {
      const path = `regs.${k}`;
      if (!(REG_NAMES as readonly string[]).includes(k))
        bad(path, `unknown register '${k}' (expected ${REG_NAMES.join(", ")})`);
      if (k === "pkru") {
        const n =
          typeof v === "string"
            ? parseU64(v)
            : typeof v === "number" && Number.isInteger(v)
              ? BigInt(v)
              : null;
        if (n === null || n < 0n || n > 0xffffffffn) bad(path, "pkru must be a 32-bit value");
        regs.pkru = Number(n);
      } else {
        if (v !== 0 && v !== 1 && v !== true && v !== false)
          bad(path, `must be 0 or 1, not ${JSON.stringify(v)}`);
        regs[k as RegName] = v === 1 || v === true ? 1 : 0;
      }
    }
  }
  const memory: PageTableImage["memory"] = [];
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
      const pa = u64At(doc, `${path}.pa`, rec.pa, bad);
      const hex = rec.hex;
      if (typeof hex !== "string") bad(`${path}.hex`, "must be a string of hex digits");
      const clean = (hex as string).replace(/\s+/g, "");
      if (!/^[0-9a-fA-F]*$/.test(clean)) bad(`${path}.hex`, "contains a character that is not a hex digit");
      if (clean.length % 2 !== 0) bad(`${path}.hex`, `has an odd number of hex digits (${clean.length})`);
      const bytes = new Uint8Array(clean.length / 2);
      for (let b = 0; b < bytes.length; b++) bytes[b] = Number.parseInt(clean.slice(2 * b, 2 * b + 2), 16);
      if (pa + BigInt(bytes.length) > 1n << BigInt(maxPhyAddr))
        bad(`${path}.pa`, `bytes at ${rec.pa} run past MAXPHYADDR (${maxPhyAddr} bits)`);
      memory.push({ pa: Number(pa), bytes });
    }
  }
  const physLimit = 1n << BigInt(maxPhyAddr);
  if ((cr3 & 0x7fff_ffff_ffff_f000n) >= physLimit)
    bad("cr3", `the table address is beyond MAXPHYADDR (${maxPhyAddr} bits)`);
  return { arch: arch as PageTableImage["arch"], cr3, maxPhyAddr, regs, memory };
}

function u64At(_doc: Located, path: string, v: unknown, bad: (p: string, m: string) => never): bigint {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === "string") {
    const n = parseU64(v);
    if (n !== null) return n;
  }
  if (v === undefined) return bad(path, "is missing");
  return bad(path, `must be a 64-bit hex string like "0x1000", not ${JSON.stringify(v)}`);
}

/** A one-CPU machine whose RAM is the whole physical address space, holding the image. */
export function loadImage(img: PageTableImage): Cpu {
  const m = new Machine({
    ramBytes: 2 ** img.maxPhyAddr,
    maxPhyAddr: img.maxPhyAddr,
    la57: img.arch === "x86_64-la57",
    tlb: "none",
  });
  for (const chunk of img.memory) m.phys.writeBytes(chunk.pa, chunk.bytes);
  const cpu = m.cpus[0];
  cpu.setWp(img.regs["cr0.wp"] === 1);
  cpu.setNxe(img.regs["efer.nxe"] === 1);
  if (img.regs["rflags.ac"]) cpu.stac();
  cpu.wrpkru(img.regs.pkru);
  // CR4 first (CR3 = 0 then), so that CR3 may carry a PCID
  cpu.movToCr4({
    smep: img.regs["cr4.smep"] === 1,
    smap: img.regs["cr4.smap"] === 1,
    pke: img.regs["cr4.pke"] === 1,
    pge: img.regs["cr4.pge"] === 1,
    pcide: img.regs["cr4.pcide"] === 1,
  });
  const cr3 = fromBig(img.cr3 & 0x7fff_ffff_ffff_ffffn);
  if (cpu.movToCr3(cr3.hi, cr3.lo) !== Outcome.OK) throw new InputError("cr3 has reserved bits set");
  return cpu;
}
