import { hexNum } from "../../base/u64.ts";
import type { Pfn, PhysAddr, Vpn } from "../../base/units.ts";
import type { Access } from "../access.ts";
import { Mode } from "../access.ts";
import { PAGE_SIZE, type WriteWatch } from "../PhysMem.ts";
import { type Mmu, type TlbObserver, WalkRecord } from "./Mmu.ts";
import { Perm } from "./PagingFormat.ts";
import { Meta, type TlbArray } from "./TlbArray.ts";

/** One entry the walk that filled a TLB entry read, as it was then and is now. */
export interface ChangedEntry {
  level: string;
  entryPa: PhysAddr;
  before: { hi: number; lo: number };
  after: { hi: number; lo: number };
  /** sequence number of the write that changed it (checker clock), and the tag current then */
  seq: number;
  tag: string;
}

/** A use of a TLB entry that disagrees with the page tables in memory. */
export interface StaleUse {
  cpu: number;
  /** page number of the access (base pages) */
  vpn: Vpn;
  /** the virtual address of the page (its low bits: the page number times the page size) */
  va: number;
  /** the address as the architecture writes it (canonical) */
  vaText: string;
  /** the ASID (x86 PCID) of the entry, and what the architecture calls it */
  pcid: number;
  asidName: string;
  global: boolean;
  /** what differs, e.g. "frame 0x12 (memory: 0x34)", "writable (memory: read-only)" */
  differences: string[];
  changed: ChangedEntry[];
  /** the invalidation that would have prevented it */
  missing: string;
  /**
   * The manual's section that permits this use (every difference is a right
   * the entry lacks and memory grants: at worst a spurious page fault,
   * PagingFormat.fewerRightsStaleOk), or "" for a use no rule permits.
   */
  permitted: string;
  /** checker clock and tag at the stale use */
  seq: number;
  tag: string;
}

interface FillRecord {
  entries: { level: number; entryPa: PhysAddr; hi: number; lo: number }[];
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
  private readonly lastClear = new Map<number, { seq: number; tag: string }>();
  private readonly reported = new Set<string>();
  private readonly rec = new WalkRecord();

  wrote(pa8: number): void {
    this.lastWrite.set(pa8, { seq: ++this.seq, tag: this.tag });
  }

  /** A cleared frame is one record: its words' last write is the later of it and their own. */
  wroteFrame(pfn: Pfn): void {
    this.lastClear.set(pfn, { seq: ++this.seq, tag: this.tag });
  }

  private lastWriteOf(pa8: number): { seq: number; tag: string } {
    const w = this.lastWrite.get(pa8);
    const c = this.lastClear.get(Math.floor(pa8 / PAGE_SIZE));
    if (c !== undefined && (w === undefined || c.seq > w.seq)) return c;
    return w ?? { seq: -1, tag: "" };
  }

  onFill(cpu: Mmu, vpn: Vpn, rec: WalkRecord): void {
    const pagesPer = cpu.geometry.pagesPer[rec.size];
    const key = fillKey(cpu.id, rec.meta, vpn - (vpn % pagesPer), rec.size);
    const entries: FillRecord["entries"] = [];
    for (let i = 0; i < rec.count; i++) {
      entries.push({ level: rec.level[i], entryPa: rec.entryPaAt(i), hi: rec.hi[i], lo: rec.lo[i] });
    }
    this.fills.set(key, { entries });
  }

  onHit(cpu: Mmu, vpn: Vpn, arr: TlbArray, slot: number): void {
    const g = cpu.geometry;
    const meta = arr.metas[slot];
    const attrs = arr.attrs[slot];
    const heldSize = (meta >>> Meta.HELD_SIZE_SHIFT) & 7;
    const srcSize = (meta >>> Meta.SRC_SIZE_SHIFT) & 7;
    const cachedPfn = arr.pfns[slot] + (vpn % g.pagesPer[heldSize]);
    const rec = this.rec;
    const outcome = cpu.walk(vpn, 0 as Access, Mode.Supervisor, false, rec, false);
    const diffs: string[] = [];
    let fewer = 0; // differences that are a right the entry lacks and memory grants
    if (outcome !== 0) {
      diffs.push("translation cached, but memory has none (not present or reserved bit)");
    } else {
      const memPfn = rec.pagePfn + (vpn % g.pagesPer[rec.size]);
      if (memPfn !== cachedPfn) diffs.push(`frame ${hexNum(cachedPfn)} (memory: ${hexNum(memPfn)})`);
      const cached = (meta >>> Meta.RIGHTS_SHIFT) & 63;
      const now = (rec.meta >>> Meta.RIGHTS_SHIFT) & 63;
      const differ = (bits: number, yes: string, no: string, right: boolean) => {
        const c = (cached & bits) !== 0;
        if (c === ((now & bits) !== 0)) return;
        diffs.push(`${c ? yes : no} (memory: ${c ? no : yes})`);
        if (right && !c) fewer++;
      };
      differ(Perm.UW | Perm.PW, "writable", "read-only", true);
      differ(Perm.USER, "user", "supervisor", false);
      differ(Perm.UX | Perm.PX, "executable", "no-execute", true);
      if (((attrs ^ rec.attrs) & cpu.attrCompareMask) !== 0)
        diffs.push(`${cpu.describeAttrs(attrs)} (memory: ${cpu.describeAttrs(rec.attrs)})`);
      if ((meta ^ rec.meta) & Meta.G)
        diffs.push(
          `${meta & Meta.G ? "global" : "not global"} (memory: ${meta & Meta.G ? "not global" : "global"})`,
        );
      if (srcSize !== rec.size)
        diffs.push(`page size ${g.sizeName(srcSize)} (memory: ${g.sizeName(rec.size)})`);
      if (meta & Meta.D && !(rec.meta & Meta.D))
        diffs.push("dirty (memory: clean; later writes will not set D)");
    }
    if (g.contSize >= 0 && (srcSize === g.contSize || (outcome === 0 && rec.size === g.contSize))) {
      const bad = contMisprogrammed(cpu, rec, vpn);
      if (bad !== null) diffs.push(`misprogrammed Contiguous bit: ${bad}`);
    }
    if (diffs.length === 0) return;
    const global = (meta & Meta.G) !== 0;
    const pcid = meta & Meta.ASID_MASK;
    const base = vpn - (vpn % g.pagesPer[srcSize]);
    const fill = this.fills.get(fillKey(cpu.id, meta, base, srcSize));
    if (outcome !== 0 && fill && onlyAccessedCleared(cpu, fill)) return;
    const changed: ChangedEntry[] = [];
    if (fill) {
      for (const e of fill.entries) {
        const { hi, lo } = readEntry(cpu, e.entryPa);
        if (hi !== e.hi || lo !== e.lo) {
          const w = this.lastWriteOf(e.entryPa - (e.entryPa % 8));
          changed.push({
            level: cpu.format.levelNames[e.level],
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
    const report: StaleUse = {
      cpu: cpu.id,
      vpn,
      va: vpn * g.pageSize,
      vaText: cpu.vaText(vpn),
      pcid,
      asidName: cpu.asidName,
      global,
      differences: diffs,
      changed,
      missing: cpu.invalidationHint(vpn, pcid, global),
      permitted: fewer === diffs.length ? (cpu.format.fewerRightsStaleOk ?? "") : "",
      seq: ++this.seq,
      tag: this.tag,
    };
    this.reports.push(report);
    if (this.onReport !== null) this.onReport(report);
  }
}

/**
 * A contiguous translation cached or walked at `vpn`: the block's entries
 * as the format checks them (Arm ARM D8.6.1 "Misprogramming of the
 * Contiguous bit": entries of one block that disagree, or a contiguous
 * entry cached beside non-contiguous ones, make translation CONSTRAINED
 * UNPREDICTABLE). The fresh walk `rec` gives the level-0 entry's address;
 * a walk that ended above level 0 leaves nothing to check here.
 */
function contMisprogrammed(cpu: Mmu, rec: WalkRecord, vpn: number): string | null {
  const check = cpu.format.contMisprogrammed;
  const n = rec.count - 1;
  if (check === undefined || n < 0 || rec.level[n] !== 0) return null;
  return check.call(cpu.format, (pa) => cpu.phys.read32(pa), rec.entryPa[n], vpn);
}

/** An entry as it is in memory now, by the format's entry size. */
function readEntry(cpu: Mmu, entryPa: PhysAddr): { hi: number; lo: number } {
  const bytes = cpu.format.entryBytes;
  if (bytes === 1) return { hi: 0, lo: cpu.phys.read8(entryPa) };
  return { hi: bytes === 8 ? cpu.phys.read32(entryPa + 4) : 0, lo: cpu.phys.read32(entryPa) };
}

function fillKey(cpu: number, meta: number, baseVpn: number, size: number): string {
  const tag = (meta & Meta.G) !== 0 ? "g" : String(meta & Meta.ASID_MASK);
  return `${cpu}:${tag}:${baseVpn}:${size}`;
}

/** One line per report, for logs and the CLI. */
export function formatStaleUse(r: StaleUse): string {
  const lines = [
    `stale TLB entry used on cpu${r.cpu} for ${r.vaText} (${r.asidName} ${r.pcid}${r.global ? ", global" : ""}): ${r.differences.join(", ")}`,
  ];
  for (const c of r.changed) {
    lines.push(
      `  ${c.level} entry at ${hexNum(c.entryPa)} changed ${hexNum(c.before.hi * 4294967296 + c.before.lo)} -> ${hexNum(c.after.hi * 4294967296 + c.after.lo)} at write #${c.seq}${c.tag ? ` (${c.tag})` : ""}`,
    );
  }
  if (r.permitted !== "")
    lines.push(
      `  permitted (${r.permitted}): the entry has fewer rights than memory; at worst a spurious page fault, which drops it`,
    );
  else lines.push(`  missing: ${r.missing}`);
  return lines.join("\n");
}

/**
 * The walk faults only because the leaf the entry was filled from has lost
 * its accessed bit since, where a walk faults on it clear (RISC-V Svade):
 * every entry of the fill unchanged but for that bit. Not stale: the TLB
 * may keep such an entry (SFENCE.VMA is owed only for changes that matter;
 * arch/riscv ptep_clear_flush_young issues none).
 */
function onlyAccessedCleared(cpu: Mmu, fill: FillRecord): boolean {
  const bit = cpu.format.accessedFaultLo ?? 0;
  if (bit === 0) return false;
  let cleared = false;
  for (const e of fill.entries) {
    const { hi, lo } = readEntry(cpu, e.entryPa);
    if (hi === e.hi && lo === e.lo) continue;
    if (hi !== e.hi || (e.lo ^ lo) !== bit || (lo & bit) !== 0) return false;
    cleared = true;
  }
  return cleared;
}
