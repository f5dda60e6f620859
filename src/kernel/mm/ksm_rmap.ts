/**
 * rmap_walk_ksm: the reverse map of a KSM page. Its mappings sit at
 * different addresses of different mms, so no one anon_vma and index find
 * them: each rmap_item of its stable node names an address and the
 * anon_vma of the VMA it was merged in, and every VMA of that anon_vma's
 * chain covering the address is looked at there (the item's own mm, then
 * the mms forked from it since ksmd last passed: search_new_forks). A
 * mapping reached twice (a child's item after ksmd appended it) is visited once.
 * Linux: mm/ksm.c rmap_walk_ksm
 */
import type { KsmState } from "./ksm_state.ts";
import type { AnonVmas, MmStruct } from "./MmStruct.ts";
import type { Vma } from "./vma.ts";

/**
 * rmap_walk for a KSM page (its stable node in ksm.kpages): `one` is the
 * walk's rmap_one for a VMA, run with index[pfn] set to the page's linear
 * index there (restored after). False when pfn is no KSM page with a node.
 */
export function rmapWalkKsm(
  ksm: KsmState,
  r: { readonly index: Float64Array; readonly env: { readonly userMm: { readonly anonVmas?: AnonVmas } } },
  pfn: number,
  one: (mm: MmStruct, v: Vma) => void,
): boolean {
  const avs = r.env.userMm.anonVmas;
  const index = r.index;
  const node = ksm.kpages.get(pfn);
  if (node === undefined || node === null) return false;
  const saved = index[pfn];
  const seen = new Map<MmStruct, Set<number>>();
  const visit = (mm: MmStruct, v: Vma, vpn: number) => {
    if (vpn < v.vmStart || vpn >= v.vmEnd || v.anonVma === 0) return;
    let s = seen.get(mm);
    if (s === undefined) {
      s = new Set();
      seen.set(mm, s);
    }
    if (s.has(vpn)) return;
    s.add(vpn);
    index[pfn] = v.vmPgoff + (vpn - v.vmStart);
    one(mm, v);
  };
  for (const searchNewForks of [false, true])
    for (const item of node.items.slice()) {
      const chain = avs?.vmas(item.anonVma);
      if (chain !== undefined) {
        for (const [v, mm] of chain) if ((mm === item.mm) !== searchNewForks) visit(mm, v, item.vpn);
      } else if (!searchNewForks) {
        const v = item.mm.vmaAt(item.vpn);
        if (v !== null) visit(item.mm, v, item.vpn);
      }
    }
  index[pfn] = saved;
  return true;
}
