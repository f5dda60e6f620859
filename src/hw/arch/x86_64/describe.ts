import { hex64, hexNum } from "../../../base/u64.ts";
import type { WalkRecord } from "./Cpu.ts";
import { describeErrorCode, errorCodeNames, Outcome } from "./fault.ts";
import { flagNames, LEVEL_NAMES } from "./pte.ts";

/** One level of a walk, ready to print or serialise. */
export interface WalkLevel {
  name: string;
  index: number;
  entryPa: string;
  raw: string;
  flags: string[];
}

/** A walk's result as plain data (the shape of `vmlab walk --json`). */
export type WalkReport =
  | { ok: true; pa: string; pageSize: number; levels: WalkLevel[] }
  | { ok: false; fault: "#PF"; errorCode: number; cr2: string; levels: WalkLevel[] }
  | { ok: false; fault: "#GP"; levels: WalkLevel[] };

const PAGE_SIZES = [4096, 2 * 1024 * 1024, 1024 * 1024 * 1024];

/** Turns a probe's record into a report. `vaText` is the address as given (for CR2). */
export function describeWalk(
  outcome: number,
  rec: WalkRecord,
  vaHi: number,
  vaLo: number,
  offsetInPage: number,
): WalkReport {
  const levels: WalkLevel[] = [];
  for (let i = 0; i < rec.count; i++) {
    levels.push({
      name: LEVEL_NAMES[rec.level[i]],
      index: rec.index[i],
      entryPa: hexNum(rec.entryPa[i]),
      raw: hex64(rec.hi[i], rec.lo[i]),
      flags: flagNames(rec.hi[i], rec.lo[i], rec.level[i]),
    });
  }
  if (outcome === Outcome.GP) return { ok: false, fault: "#GP", levels: [] };
  if (outcome === Outcome.PF)
    return { ok: false, fault: "#PF", errorCode: rec.errorCode, cr2: hex64(vaHi, vaLo), levels };
  const pageSize = PAGE_SIZES[rec.size];
  const pa = rec.pagePfn * 4096 + offsetInPage;
  return { ok: true, pa: hexNum(pa), pageSize, levels };
}

/** Text form of a walk report, one line per level. */
export function formatWalk(r: WalkReport): string[] {
  const lines = r.levels.map(
    (l) =>
      `  ${l.name.padEnd(4)}[${String(l.index).padStart(3)}]  entry @${l.entryPa.padEnd(14)} = ${l.raw}  ${l.flags.join(" ")}`,
  );
  if (r.ok)
    lines.push(`  -> pa ${r.pa} (${r.pageSize === 4096 ? "4K" : r.pageSize === 2097152 ? "2M" : "1G"} page)`);
  else if (r.fault === "#GP") lines.push("  -> #GP(0): non-canonical address");
  else {
    lines.push(
      `  -> #PF: error_code(0x${r.errorCode.toString(16).padStart(4, "0")}) ${errorCodeNames(r.errorCode)} - ${describeErrorCode(r.errorCode)}, CR2 ${r.cr2}`,
    );
  }
  return lines;
}
