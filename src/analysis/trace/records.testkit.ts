/**
 * What machine mode's property tests (machineMode.test.ts, hitLoop.test.ts) share: trace records
 * written as [page, offset, kind, repeat] (that record repeated, its offset moving 8 bytes a time:
 * runs of several records), their words, and the usual arbitrary of them.
 */
import fc from "fast-check";

/** A record spec: page, offset in it, kind (0 fetch, 1 load, 2 store, 3 modify), how many times. */
export type RecordSpec = [number, number, number, number];

/** The specs' records as trace words (low word, then high). */
export function recordWords(spec: readonly RecordSpec[]): Uint32Array {
  const recs = spec.flatMap(([page, off, kind, times]) =>
    Array.from({ length: times }, (_, t) => (page * 4096 + ((off + 8 * t) % 4096)) * 4 + kind),
  );
  const w = new Uint32Array(2 * recs.length);
  recs.forEach((r, i) => {
    w[2 * i] = r % 2 ** 32;
    w[2 * i + 1] = Math.floor(r / 2 ** 32);
  });
  return w;
}

/** Mostly pages 0..20 (TLB hits, few frames), now and then anywhere below 2^35 (other sets, high words). */
export const recordArb: fc.Arbitrary<RecordSpec> = fc.tuple(
  fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 20 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 35 - 1 }) },
  ),
  fc.integer({ min: 0, max: 4095 }),
  fc.integer({ min: 0, max: 3 }),
  fc.integer({ min: 1, max: 6 }),
);
