/**
 * The Linux side of arm64 TLB maintenance as pure logic (v6.12
 * arch/arm64/include/asm/tlbflush.h): which TLBI instructions a flush
 * issues, as a list of operations, without executing any. Every one of
 * them is Inner Shareable (…IS): the hardware broadcasts it to every CPU,
 * so there are no IPIs.
 *
 * Without FEAT_TLBIRANGE, __flush_tlb_range issues one VA-based TLBI per
 * `stride` (VALE1IS when only leaf entries changed, VAE1IS when tables may
 * have too), and falls back to one ASIDE1IS for the whole mm when the range
 * is MAX_DVM_OPS (= PTRS_PER_PTE = 512) strides or more. With
 * FEAT_TLBIRANGE it issues range TLBIs (RVALE1IS/RVAE1IS) covering
 * (num + 1) * 2^(5 * scale + 1) pages each, falling back above
 * MAX_TLBI_RANGE_PAGES. Under KPTI each operation is repeated for the
 * user ASID (__tlbi_user: ASID | USER_ASID_FLAG).
 */

/** One TLBI instruction: its name and operands (ASID, first page, pages a range covers, TTL hint). */
export interface TlbiOp {
  op:
    | "VALE1IS"
    | "VAE1IS"
    | "RVALE1IS"
    | "RVAE1IS"
    | "ASIDE1IS"
    | "VMALLE1IS"
    | "VMALLE1"
    | "VAALE1IS"
    | "VAAE1IS";
  asid?: number;
  /** the page (VA >> 12) the operation starts at */
  vpn?: number;
  /** pages a range operation covers */
  pages?: number;
  /** the translation-level hint (TTL), when known */
  level?: number;
}

/** MAX_DVM_OPS = PTRS_PER_PTE */
export const MAX_DVM_OPS = 512;
/** __TLBI_RANGE_PAGES(num, scale) */
export function tlbiRangePages(num: number, scale: number): number {
  return (num + 1) * 2 ** (5 * scale + 1);
}
/** MAX_TLBI_RANGE_PAGES = __TLBI_RANGE_PAGES(31, 3) = 2^21 */
export const MAX_TLBI_RANGE_PAGES = tlbiRangePages(31, 3);

/** What the CPUs support and how the kernel runs. */
export interface TlbFeatures {
  /** system_supports_tlb_range(): FEAT_TLBIRANGE */
  tlbRange?: boolean;
  /** arm64_kernel_unmapped_at_el0(): KPTI */
  kpti?: boolean;
}

/** __tlbi and __tlbi_user: the operation, and its user-ASID twin under KPTI. */
function push(out: TlbiOp[], f: TlbFeatures, op: TlbiOp): void {
  out.push(op);
  if (f.kpti && op.asid !== undefined) out.push({ ...op, asid: op.asid | 1 });
}

/** flush_tlb_mm: TLBI ASIDE1IS for the mm's ASID. */
export function flushTlbMm(asid: number, f: TlbFeatures = {}): TlbiOp[] {
  const out: TlbiOp[] = [];
  push(out, f, { op: "ASIDE1IS", asid });
  return out;
}

/** flush_tlb_page: TLBI VALE1IS of one page (a last-level entry). */
export function flushTlbPage(asid: number, vpn: number, f: TlbFeatures = {}): TlbiOp[] {
  const out: TlbiOp[] = [];
  push(out, f, { op: "VALE1IS", asid, vpn });
  return out;
}

/**
 * __flush_tlb_range(vma, start, end, stride, last_level, tlb_level) with
 * start and end as page numbers (end exclusive) and stride in pages (1,
 * or 512 for flush_pmd_tlb_range). flush_tlb_range is (stride 1,
 * lastLevel false, level unknown).
 */
export function flushTlbRange(
  asid: number,
  startVpn: number,
  endVpn: number,
  strideVpn = 1,
  lastLevel = false,
  level?: number,
  f: TlbFeatures = {},
): TlbiOp[] {
  // start = round_down(start, stride); end = round_up(end, stride)
  let start = startVpn - (startVpn % strideVpn);
  const end = Math.ceil(endVpn / strideVpn) * strideVpn;
  let pages = end - start;
  if ((!f.tlbRange && pages >= MAX_DVM_OPS * strideVpn) || pages > MAX_TLBI_RANGE_PAGES)
    return flushTlbMm(asid, f);
  const out: TlbiOp[] = [];
  const op = lastLevel ? "VALE1IS" : "VAE1IS";
  const rop = lastLevel ? "RVALE1IS" : "RVAE1IS";
  // __flush_tlb_range_op, without LPA2
  let scale = 3;
  while (pages > 0) {
    if (!f.tlbRange || pages === 1) {
      push(out, f, level === undefined ? { op, asid, vpn: start } : { op, asid, vpn: start, level });
      start += strideVpn;
      pages -= strideVpn;
      continue;
    }
    // __TLBI_RANGE_NUM(pages, scale)
    const num = Math.floor(Math.min(pages, tlbiRangePages(31, scale)) / 2 ** (5 * scale + 1)) - 1;
    if (num >= 0) {
      const n = tlbiRangePages(num, scale);
      push(
        out,
        f,
        level === undefined
          ? { op: rop, asid, vpn: start, pages: n }
          : { op: rop, asid, vpn: start, pages: n, level },
      );
      start += n;
      pages -= n;
    }
    scale--;
  }
  return out;
}

/**
 * flush_tlb_kernel_range: TLBI VAALE1IS per page (all ASIDs, last level),
 * or one VMALLE1IS (flush_tlb_all) when the range is more than MAX_DVM_OPS
 * pages.
 */
export function flushTlbKernelRange(startVpn: number, endVpn: number): TlbiOp[] {
  if (endVpn - startVpn > MAX_DVM_OPS) return [{ op: "VMALLE1IS" }];
  const out: TlbiOp[] = [];
  for (let v = startVpn; v < endVpn; v++) out.push({ op: "VAALE1IS", vpn: v });
  return out;
}
