/**
 * The page-table changes the TLB property tests draw (fast-check): map a
 * page to a frame with rights, unmap it, change its rights. Each
 * architecture's test adds its own accesses and register changes.
 */
import fc from "fast-check";

export type TableOp =
  | { op: "map"; page: number; frame: number; writable: boolean; user: boolean; nx: boolean; global: boolean }
  | { op: "unmap"; page: number }
  | { op: "protect"; page: number; writable: boolean; user: boolean; nx: boolean; global: boolean };

/** Arbitraries of map, unmap and protect over pages 0..npages-1 and frames 0x800..0x8ff. */
export function tableOpArbs(npages: number): fc.Arbitrary<TableOp>[] {
  const flags = { writable: fc.boolean(), user: fc.boolean(), nx: fc.boolean(), global: fc.boolean() };
  return [
    fc.record({
      op: fc.constant("map" as const),
      page: fc.nat(npages - 1),
      frame: fc.integer({ min: 0x800, max: 0x8ff }),
      ...flags,
    }),
    fc.record({ op: fc.constant("unmap" as const), page: fc.nat(npages - 1) }),
    fc.record({ op: fc.constant("protect" as const), page: fc.nat(npages - 1), ...flags }),
  ];
}
