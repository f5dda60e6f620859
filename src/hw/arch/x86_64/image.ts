/**
 * x86-64 page-table images for `vmlab walk` (docs/walk-image.md): the
 * registers an image may set (CR3, MAXPHYADDR, CR0.WP, CR4.SMEP/SMAP/PKE/
 * PCIDE/PGE, RFLAGS.AC, EFER.NXE, PKRU), the one-CPU machine that holds it,
 * and a probe's report (`#PF` with the error code and CR2, or `#GP`).
 */
import { InputError } from "../../../base/errors.ts";
import { jsonExcerpt } from "../../../base/json.ts";
import { fromBig, parseU64 } from "../../../base/u64.ts";
import { type Access, accessName, Mode } from "../../access.ts";
import type { CheckedImage, ImageFields, WalkImageDriver, WalkSession } from "../../mmu/walkImage.ts";
import { WalkRecord } from "./Cpu.ts";
import { describeWalk, formatWalk } from "./describe.ts";
import { Outcome } from "./fault.ts";
import { X86Machine } from "./machine.ts";

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

/** The x86-64 image's own values, checked. */
interface X86Image {
  la57: boolean;
  cr3: bigint;
  maxPhyAddr: number;
  regs: Record<string, number>;
}

function check(f: ImageFields, bad: (path: string, msg: string) => never): CheckedImage {
  let maxPhyAddr = 46;
  const m = f.top.maxphyaddr;
  if (m !== undefined) {
    if (typeof m !== "number" || !Number.isInteger(m) || m < 36 || m > 52)
      bad("maxphyaddr", `must be an integer from 36 to 52, not ${jsonExcerpt(m)}`);
    maxPhyAddr = m as number;
  }
  const cr3 = f.u64("cr3");
  const regs: Record<string, number> = Object.fromEntries(REG_NAMES.map((r) => [r, 0]));
  for (const [k, v] of Object.entries(f.regs)) {
    const path = `regs.${k}`;
    if (k === "pkru") {
      const n =
        typeof v === "string" ? parseU64(v) : typeof v === "number" && Number.isInteger(v) ? BigInt(v) : null;
      if (n === null || n < 0n || n > 0xffffffffn) bad(path, "pkru must be a 32-bit value");
      regs.pkru = Number(n);
    } else {
      if (v !== 0 && v !== 1 && v !== true && v !== false) bad(path, `must be 0 or 1, not ${jsonExcerpt(v)}`);
      regs[k] = v === 1 || v === true ? 1 : 0;
    }
  }
  const img: X86Image = { la57: f.arch === "x86_64-la57", cr3, maxPhyAddr, regs };
  return {
    physBits: maxPhyAddr,
    open(memory, bad2) {
      if ((cr3 & 0x7fff_ffff_ffff_f000n) >= 1n << BigInt(maxPhyAddr))
        bad2("cr3", `the table address is beyond MAXPHYADDR (${maxPhyAddr} bits)`);
      return load(img, memory);
    },
  };
}

function load(img: X86Image, memory: { pa: number; bytes: Uint8Array }[]): WalkSession {
  const m = new X86Machine({
    ramBytes: 2 ** img.maxPhyAddr,
    maxPhyAddr: img.maxPhyAddr,
    la57: img.la57,
    tlb: "none",
  });
  for (const chunk of memory) m.phys.writeBytes(chunk.pa, chunk.bytes);
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
  const rec = new WalkRecord();
  return {
    walk(va: bigint, access: Access, privilege: string) {
      cpu.cpl = Number(privilege);
      const { hi, lo } = fromBig(va);
      const outcome = cpu.probe(hi, lo, access, cpu.cpl === 3 ? Mode.User : Mode.Supervisor, rec);
      const offsetMask = rec.size === 2 ? 0x3fffffff : rec.size === 1 ? 0x1fffff : 0xfff;
      const report = describeWalk(outcome, rec, hi, lo, lo & offsetMask);
      const header = `va 0x${va.toString(16).padStart(16, "0")}: ${accessName(access)} at CPL ${cpu.cpl}, ${img.la57 ? "5" : "4"}-level paging, CR3 0x${img.cr3.toString(16)}`;
      return { report, lines: [header, ...formatWalk(report)] };
    },
  };
}

/** `arch: "x86_64"` and `"x86_64-la57"` images. */
export const X86_WALK_IMAGE: WalkImageDriver = {
  arches: ["x86_64", "x86_64-la57"],
  keys: ["cr3", "maxphyaddr"],
  regs: REG_NAMES,
  privilege: { flag: "cpl", values: ["0", "3"], default: "3" },
  check,
};
