/**
 * The walk caches' (x86 paging-structure caches, SDM Vol. 3A §4.10.3) part of a walk and of an
 * invalidation, for Mmu (Mmu.ts): where a walk may start below the top, what a table entry read
 * leaves in its level's cache, and the entries a fault or an invalidation drops. Each cache is a
 * TlbArray keyed by the page number of its level (vpn / pagesPer[level]) for the ASID, holding the
 * next table's physical address and what the levels above allow.
 */
import type { Geometry, WalkState } from "./PagingFormat.ts";
import { InvalidateHow, Meta, type TlbArray } from "./TlbArray.ts";
import type { WalkRecord } from "./WalkRecord.ts";

/** What these functions read and count of an MMU (Mmu's own fields). */
export interface PscOwner {
  readonly psc: (TlbArray | null)[];
  readonly geometry: Geometry;
  readonly asid: number;
  readonly pscHits: Float64Array;
  readonly pscMisses: Float64Array;
}

/** A walk starts below the top when a walk cache holds the entry of a lower level (the lowest wins). */
export function pscStart(mmu: PscOwner, vpn: number, w: WalkState, rec: WalkRecord): void {
  const g = mmu.geometry;
  for (let l = 1; l <= w.level; l++) {
    const c = mmu.psc[l];
    if (c === null) continue;
    const slot = c.lookup(Math.floor(vpn / g.pagesPer[l]), mmu.asid);
    if (slot >= 0) {
      mmu.pscHits[l]++;
      w.tablePa = c.pfns[slot];
      w.acc = (c.metas[slot] >>> Meta.RIGHTS_SHIFT) & 63;
      w.level = l - 1;
      w.topMask = g.indexMask[l - 1];
      rec.pscLevel = l;
      return;
    }
    mmu.pscMisses[l]++;
  }
}

/** Caches a table entry of `level` in its walk cache: the next table and what the levels above allow. */
export function pscFill(mmu: PscOwner, vpn: number, level: number, nextTablePa: number, acc: number): void {
  const c = mmu.psc[level];
  if (c !== null)
    c.insert(
      Math.floor(vpn / mmu.geometry.pagesPer[level]),
      0,
      nextTablePa,
      mmu.asid | (acc << Meta.RIGHTS_SHIFT),
    );
}

/** Drops the walk-cache entries on the way to vpn, as a fault does on x86. */
export function pscInvalidatePath(mmu: PscOwner, vpn: number, asid: number): void {
  for (let level = 1; level < mmu.psc.length; level++) {
    const c = mmu.psc[level];
    if (c !== null)
      c.invalidatePage(Math.floor(vpn / mmu.geometry.pagesPer[level]), asid, InvalidateHow.PcidNonGlobal);
  }
}

/** Drops every walk-cache entry that `how` matches. */
export function pscInvalidateAll(mmu: PscOwner, asid: number, how: InvalidateHow): void {
  for (let l = 1; l < mmu.psc.length; l++) {
    const c = mmu.psc[l];
    if (c !== null) c.invalidateAll(asid, how);
  }
}
