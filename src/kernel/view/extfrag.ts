/**
 * /sys/kernel/debug/extfrag/unusable_index and extfrag_index: how fragmented each zone's free
 * memory is, per order. The unusable free space index is the share of free memory in blocks
 * too small for an allocation of the order (0: all usable, 1: none); the fragmentation index
 * says why such an allocation would fail, toward 0 for lack of memory and toward 1 for
 * fragmentation, and is -1 when a block of the order is free (it would not fail). Compaction's
 * compaction_suitable reads the second against vm.extfrag_threshold (500, as 0.500 here).
 * Linux: mm/vmstat.c unusable_show_print, unusable_free_index, extfrag_show_print,
 * __fragmentation_index, fill_contig_page_info
 */
import { fragmentationIndex, unusableFreeIndex } from "../mm/compaction.ts";
import type { ZoneInfo } from "./machineTypes.ts";

/** C's "%d.%03d" of index / 1000 and index % 1000 (both truncated toward zero), padded to `width`. */
function thousandths(index: number, width: number): string {
  const whole = Math.trunc(index / 1000);
  const frac = Math.abs(index % 1000);
  const sign = index < 0 && whole === 0 ? "-" : "";
  return `${`${sign}${whole}`.padStart(width)}.${String(frac).padStart(3, "0")}`;
}

/** Both files, each headed by its path, one line per populated zone. */
export function formatExtfrag(zones: ZoneInfo[]): string[] {
  const populated = zones.filter((z) => z.managed > 0);
  const line = (z: ZoneInfo, f: (order: number) => string) =>
    `Node 0, zone ${z.name.padStart(8)} ${z.freeBlocks.map((_, o) => f(o)).join(" ")} `;
  return [
    "/sys/kernel/debug/extfrag/unusable_index",
    ...populated.map((z) => line(z, (o) => thousandths(unusableFreeIndex(z.freeBlocks, o), 1))),
    "/sys/kernel/debug/extfrag/extfrag_index",
    ...populated.map((z) => line(z, (o) => thousandths(fragmentationIndex(z.freeBlocks, o), 2))),
  ];
}
