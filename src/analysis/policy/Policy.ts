/**
 * Policy mode (issue #6): the classic page-replacement simulation over page
 * numbers with a fixed number of frames. The driver (simulate.ts) keeps the
 * frame table; a policy keeps its own bookkeeping and picks victims.
 */
export interface Policy {
  readonly name: string;
  /** the page is resident and referenced (write: a store) */
  hit(page: number, t: number, write: boolean): void;
  /** the frames are full and `incoming` missed: which resident page goes? */
  victim(incoming: number, t: number): number;
  /** `page` has just been loaded into frame `slot` (after any victim left) */
  insert(page: number, slot: number, t: number, write: boolean): void;
  /** `page` left (the victim) */
  remove(page: number): void;
}

export interface PolicyOptions {
  frames: number;
  /** seed for random choices (random, NRU ties) */
  seed?: number;
  /** the whole reference string, for OPT (next use needs the future) */
  refs?: ArrayLike<number>;
  /** NRU: clear the R bits every this many references (default: the number of frames) */
  nruPeriod?: number;
}
