/**
 * What the frame grid's hover adds under a frame's struct page (issue #21):
 * the views engineers read of that frame and of the first user page that
 * maps it, from kernel.view. Linux: the frame's /proc/kpageflags entry
 * with page-types' symbolic and long names, the page's /proc/PID/pagemap
 * entry, and crash's `vtop` of that address (the table chain, the PTE, the
 * VMA, the struct page line). Windows: WinDbg's `!pfn` of the frame and
 * `!pte` of that address.
 */
import type { TaskHandle } from "../../../kernel/Kernel.ts";
import { formatPagemap } from "../../../kernel/view/crash.ts";
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import { pageFlagLongname, pageFlagName } from "../../../kernel/view/pageTypes.ts";
import { formatPfn, formatPte } from "../../../kernel/view/windbg.ts";

/** A user page that maps a frame: its task and address. */
export interface FrameMapper {
  task: TaskHandle;
  pid: number;
  comm: string;
  va: bigint;
}

/** The first user page (in task order, then address order) that maps pfn, or null. The zero page is everyone's: none. */
export function firstUserMapper(view: KernelView, pfn: number): FrameMapper | null {
  if (pfn === view.machine().zeroPfn) return null;
  const win = view.windows();
  for (const t of view.tasks()) {
    if (!t.alive || !t.hasMm) continue;
    const h = view.taskHandle(t.pid);
    if (h === null) continue;
    // Windows: the pages of the process's VADs (it has no Linux VMAs to read runs from)
    if (win !== null) {
      for (const vad of win.vads(h))
        for (let vpn = Number(vad.start >> 12n); vpn < Number(vad.end >> 12n); vpn++) {
          const p = view.page(h, vpn);
          if (p.present && p.pfn === pfn)
            return { task: h, pid: t.pid, comm: t.comm, va: BigInt(vpn) * 4096n };
        }
      continue;
    }
    for (const r of view.mappings(h)) {
      if (r.zeroPage || pfn < r.pfn || pfn >= r.pfn + (r.endVpn - r.startVpn)) continue;
      return { task: h, pid: t.pid, comm: t.comm, va: BigInt(r.startVpn + (pfn - r.pfn)) * 4096n };
    }
  }
  return null;
}

/**
 * The views' lines for one user page of a process: on Linux its
 * /proc/PID/pagemap entry and crash's `vtop`; on Windows WinDbg's `!pte`.
 * The page-table tree's hover shows them for a leaf or a swap entry.
 */
export function addressViews(view: KernelView, page: FrameMapper): string[] {
  const win = view.windows();
  const va = page.va.toString(16);
  if (win !== null) return [`kd> !pte ${va}   (${page.comm})`, ...formatPte(win.pte(page.task, page.va))];
  return [
    `/proc/${page.pid}/pagemap (${page.comm}) at 0x${va}:`,
    ...formatPagemap(view.pagemap(page.task, Number(page.va >> 12n), 1)),
    "",
    `crash> vtop -c ${page.pid} ${va}`,
    ...view.vtop(page.task, page.va),
  ];
}

/** The views' lines for a frame (and, if given, the user page that maps it). */
export function frameViews(view: KernelView, pfn: number, mapper: FrameMapper | null): string[] {
  const win = view.windows();
  const out: string[] = [];
  if (win !== null) {
    const p = win.pfn(pfn);
    if (p !== null) out.push(`kd> !pfn ${pfn.toString(16)}`, ...formatPfn(p, win.pagingFormat()));
  } else {
    const flags = view.kpageflags(pfn);
    if (flags !== null)
      out.push(
        `/proc/kpageflags[${pfn}] = 0x${flags.toString(16).padStart(16, "0")}  ${pageFlagName(flags)}  ${pageFlagLongname(flags) || "(none)"}`,
      );
  }
  if (mapper !== null) out.push("", ...addressViews(view, mapper));
  return out;
}
