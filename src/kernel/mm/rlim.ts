/**
 * struct signal_struct's rlim array as vmlab keeps it (the limits in
 * bytes, RLIM_INFINITY as Infinity) and the resource numbers; the tests
 * the kernel makes against them are mm/rlimit.ts's. A leaf module: MmStruct
 * holds a Rlimits.
 */

/** The resource numbers (include/uapi/asm-generic/resource.h) of the limits vmlab models. */
export const enum Rlimit {
  DATA = 2,
  STACK = 3,
  MEMLOCK = 8,
  AS = 9,
}

/** RLIM_NLIMITS */
const NLIMITS = 16;

/** RLIM_INFINITY (~0UL) */
export const RLIM_INFINITY = Number.POSITIVE_INFINITY;

/** The resources by the names the scenario language and the library use. */
export const RLIMIT_NAMES = {
  data: Rlimit.DATA,
  stack: Rlimit.STACK,
  memlock: Rlimit.MEMLOCK,
  as: Rlimit.AS,
} as const;
export type RlimitName = keyof typeof RLIMIT_NAMES;

/**
 * signal->rlim: soft (rlim_cur) and hard (rlim_max) limit per resource,
 * from INIT_RLIMITS (include/asm-generic/resource.h): RLIMIT_STACK 8 MiB
 * soft (_STK_LIM) and unlimited hard, RLIMIT_MEMLOCK 8 MiB both
 * (MLOCK_LIMIT), RLIMIT_DATA and RLIMIT_AS unlimited.
 */
export class Rlimits {
  readonly cur = new Float64Array(NLIMITS).fill(RLIM_INFINITY);
  readonly max = new Float64Array(NLIMITS).fill(RLIM_INFINITY);
  constructor() {
    this.cur[Rlimit.STACK] = 8 << 20;
    this.cur[Rlimit.MEMLOCK] = this.max[Rlimit.MEMLOCK] = 8 << 20;
  }
  /** copy_signal: a forked process starts with its parent's limits (memcpy of signal->rlim) */
  copy(): Rlimits {
    const r = new Rlimits();
    r.cur.set(this.cur);
    r.max.set(this.max);
    return r;
  }
}
