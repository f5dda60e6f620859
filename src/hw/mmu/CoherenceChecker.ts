import { hexNum } from "../../base/u64.ts";
import type { Access } from "../access.ts";
import { Mode } from "../access.ts";
import type { WriteWatch } from "../PhysMem.ts";
import { type Cpu, type TlbObserver, WalkRecord } from "../x86_64/Cpu.ts";
import { Outcome } from "../x86_64/fault.ts";
import { LEVEL_NAMES } from "../x86_64/pte.ts";
import { Meta, PAGES_PER, SIZE_NAMES, type TlbArray } from "./TlbArray.ts";

/** One entry the walk that filled a TLB entry read, as it was then and is now. */
export interface ChangedEntry {
  level: string;
  entryPa: number;
  before: { hi: number; lo: number };
  after: { hi: number; lo: number };
  /** sequence number of the write that changed it (checker clock), and the tag current then */
  seq: number;
  tag: string;
}

/** A use of a TLB entry that disagrees with the page tables in memory. */
export interface StaleUse {
  cpu: number;
  /** 4K page number of the access */
  vpn: number;
  pcid: number;
  global: boolean;
  /** what differs, e.g. "frame 0x12 (memory: 0x34)", "writable (memory: read-only)" */
  differences: string[];
  changed: ChangedEntry[];
  /** the invalidation that would have prevented it */
  missing: string;
  /** checker clock and tag at the stale use */
  seq: number;
  tag: string;
}

interface FillRecord {
  entries: { level: number; entryPa: number; hi: number; lo: number }[];
}

/**
 * Debug switch: checks every TLB hit against a fresh walk of the page tables
 * in memory, and reports each disagreement with the page-table write that
 * made the entry stale and the invalidation that was missing. A kernel that
 * forgets a flush is caught at the first use of the stale entry.
 *
 * Hardware itself is allowed to use stale entries (SDM §4.10.4.3); the
 * checker does not change that behaviour, it only reports it. Accessed flags
 * are ignored; a dirty flag cleared in memory while the TLB still caches it
 * set is reported (later writes would not set D again).
 */
export class CoherenceChecker implements TlbObserver, WriteWatch {
  /** a clock advanced by every page-table write and stale use */
  seq = 0;
  /** free text naming the current step (a scenario line, a test step); copied into reports */
  tag = "";
  readonly reports: StaleUse[] = [];
  onReport: ((r: StaleUse) => void) | null = null;
  private readonly fills = new Map<string, FillRecord>();
  private readonly lastWrite = new Map<number, { seq: number; tag: string }>();
  private readonly reported = new Set<string>();
  private readonly rec = new WalkRecord();

  wrote(pa8: number): void {
    this.lastWrite.set(pa8, { seq: ++this.seq, tag: this.tag });
  }

  onFill(cpu: Cpu, vpn: number, rec: WalkRecord): void {
    const pagesPer = PAGES_PER[rec.size];
    const key = fillKey(cpu.id, rec.meta, vpn - (vpn % pagesPer), rec.size);
    const entries: FillRecord["entries"] = [];
    for (let i = 0; i < rec.count; i++) {
      entries.push({ level: rec.level[i], entryPa: rec.entryPa[i], hi: rec.hi[i], lo: rec.lo[i] });
    }
    this.fills.set(key, { entries });
  }

  onHit(cpu: Cpu, vpn: number, arr: TlbArray, slot: number): void {
    const meta = arr.metas[slot];
    const heldSize = (meta >>> Meta.HELD_SIZE_SHIFT) & 3;
    const srcSize = (meta >>> Meta.SRC_SIZE_SHIFT) & 3;
    const cachedPfn = arr.pfns[slot] + (vpn % PAGES_PER[heldSize]);
    const rec = this.rec;
    const outcome = cpu.walk(vpn, 0 as Access, Mode.Supervisor, false, rec, false);
    const diffs: string[] = [];
    if (outcome !== Outcome.OK) {
      diffs.push("translation cached, but memory has none (not present or reserved bit)");
    } else {
      const memPfn = rec.pagePfn + (vpn % PAGES_PER[rec.size]);
      if (memPfn !== cachedPfn) diffs.push(`frame ${hexNum(cachedPfn)} (memory: ${hexNum(memPfn)})`);
      const d = meta ^ rec.meta;
      if (d & Meta.W)
        diffs.push(
          `${meta & Meta.W ? "writable" : "read-only"} (memory: ${meta & Meta.W ? "read-only" : "writable"})`,
        );
      if (d & Meta.U)
        diffs.push(
          `${meta & Meta.U ? "user" : "supervisor"} (memory: ${meta & Meta.U ? "supervisor" : "user"})`,
        );
      if (d & Meta.X)
        diffs.push(`${meta & Meta.X ? "executable" : "XD"} (memory: ${meta & Meta.X ? "XD" : "executable"})`);
      if (d & (0xf << Meta.PKEY_SHIFT))
        diffs.push(
          `pkey ${(meta >>> Meta.PKEY_SHIFT) & 15} (memory: ${(rec.meta >>> Meta.PKEY_SHIFT) & 15})`,
        );
      if (d & Meta.G)
        diffs.push(
          `${meta & Meta.G ? "global" : "not global"} (memory: ${meta & Meta.G ? "not global" : "global"})`,
        );
      if (srcSize !== rec.size)
        diffs.push(`page size ${SIZE_NAMES[srcSize]} (memory: ${SIZE_NAMES[rec.size]})`);
      if (meta & Meta.D && !(rec.meta & Meta.D))
        diffs.push("dirty (memory: clean; later writes will not set D)");
    }
    if (diffs.length === 0) return;
    const global = (meta & Meta.G) !== 0;
    const pcid = meta & Meta.PCID_MASK;
    const base = vpn - (vpn % PAGES_PER[srcSize]);
    const fill = this.fills.get(fillKey(cpu.id, meta, base, srcSize));
    const changed: ChangedEntry[] = [];
    if (fill) {
      for (const e of fill.entries) {
        const hi = cpu.phys.read32(e.entryPa + 4);
        const lo = cpu.phys.read32(e.entryPa);
        if (hi !== e.hi || lo !== e.lo) {
          const w = this.lastWrite.get(e.entryPa) ?? { seq: -1, tag: "" };
          changed.push({
            level: LEVEL_NAMES[e.level],
            entryPa: e.entryPa,
            before: { hi: e.hi, lo: e.lo },
            after: { hi, lo },
            seq: w.seq,
            tag: w.tag,
          });
        }
      }
    }
    const dedupe = `${cpu.id}:${pcid}:${global}:${vpn}:${changed.map((c) => c.seq).join(",")}:${diffs.join(";")}`;
    if (this.reported.has(dedupe)) return;
    this.reported.add(dedupe);
    const va = `${hexNum(vpn * 4096)}`;
    const missing = global
      ? `INVLPG ${va} (or INVPCID type 2, or a CR4.PGE toggle): the entry is global, so CR3 writes keep it`
      : `INVLPG ${va} in PCID ${pcid}, INVPCID type 0/1 for PCID ${pcid}, or a flushing MOV to CR3`;
    const report: StaleUse = {
      cpu: cpu.id,
      vpn,
      pcid,
      global,
      differences: diffs,
      changed,
      missing,
      seq: ++this.seq,
      tag: this.tag,
    };
    this.reports.push(report);
    if (this.onReport !== null) this.onReport(report);
  }
}

function fillKey(cpu: number, meta: number, baseVpn: number, size: number): string {
  const tag = (meta & Meta.G) !== 0 ? "g" : String(meta & Meta.PCID_MASK);
  return `${cpu}:${tag}:${baseVpn}:${size}`;
}

/** One line per report, for logs and the CLI. */
export function formatStaleUse(r: StaleUse): string {
  const lines = [
    `stale TLB entry used on cpu${r.cpu} for ${hexNum(r.vpn * 4096)} (PCID ${r.pcid}${r.global ? ", global" : ""}): ${r.differences.join(", ")}`,
  ];
  for (const c of r.changed) {
    lines.push(
      `  ${c.level} entry at ${hexNum(c.entryPa)} changed ${hexNum(c.before.hi * 4294967296 + c.before.lo)} -> ${hexNum(c.after.hi * 4294967296 + c.after.lo)} at write #${c.seq}${c.tag ? ` (${c.tag})` : ""}`,
    );
  }
  lines.push(`  missing: ${r.missing}`);
  return lines.join("\n");
}
