/**
 * A set of page frame numbers as one byte per frame: what a Set<number> of
 * pfns does (has, add, delete, size), without hashing. For the sets the
 * fault and reclaim paths ask about every page (reclaim's pinned pages, the
 * swap cache's orphans).
 */
export interface PfnSetLike {
  has(pfn: number): boolean;
  add(pfn: number): unknown;
  delete(pfn: number): boolean;
  readonly size: number;
}

export class PfnSet implements PfnSetLike {
  private readonly member: Uint8Array;
  size = 0;

  constructor(nrFrames: number) {
    this.member = new Uint8Array(nrFrames);
  }

  /** (an empty set answers without reading its array: one frame's byte is a cache miss per page asked) */
  has(pfn: number): boolean {
    return this.size > 0 && this.member[pfn] === 1;
  }

  add(pfn: number): this {
    if (this.member[pfn] === 0) {
      this.member[pfn] = 1;
      this.size++;
    }
    return this;
  }

  delete(pfn: number): boolean {
    if (this.size === 0 || this.member[pfn] !== 1) return false;
    this.member[pfn] = 0;
    this.size--;
    return true;
  }
}
