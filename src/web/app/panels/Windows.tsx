/**
 * profile=windows: what Windows' own tools show in place of the Linux-only
 * panels (kernel.view.windows(): view/windows.ts, windbg.ts,
 * sysinternals.ts). Per process, WinDbg's `!vad` (the VAD tree, in address
 * order with each node's depth; `show P vad`) and VMMap's summary by
 * memory type (`show P vmmap`) instead of /proc/PID/maps; for the machine,
 * RAMMap's Use Counts (pages by use and by page list: `show rammap`), the
 * page lists, the paging file and the commit charge, beside the frame grid.
 * Sizes in K, as both Sysinternals tools print them.
 */
import { RAMMAP_LISTS } from "../../../kernel/view/sysinternals.ts";
import type { TaskInfo } from "../../../kernel/view/types.ts";
import { stepper, tick } from "../model/state.ts";

/** Pages as VMMap and RAMMap print them: K with thousands separators; blank for none. */
export function kb(pages: number): string {
  return pages === 0 ? "" : `${(pages * 4).toLocaleString("en-US")} K`;
}

/** `!vad` and VMMap's summary of one live process. */
export function WinProcess({ t }: { t: TaskInfo }) {
  tick.value;
  const k = stepper.value?.session.kernel;
  const win = k?.view.windows();
  const h = k?.view.taskHandle(t.pid);
  if (!k || !win || !h) return null;
  const vads = win.vadTree(h);
  const vmmap = win.vmmap(h);
  const p = win.process(h);
  return (
    <div class="win-process">
      <div class="pt-head">
        {t.comm} (pid {t.pid}): !vad — {vads.length} VAD{vads.length === 1 ? "" : "s"}
        {p ? `, commit charge ${p.commitCharge} pages, working set ${p.workingSet} pages` : ""}
      </div>
      <table class="tlb" data-testid={`vad-${t.comm}`}>
        <thead>
          <tr>
            <th>level</th>
            <th>start (VPN)</th>
            <th>end (VPN)</th>
            <th>commit</th>
            <th>type</th>
            <th>protection</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {vads.map((v) => (
            <tr key={v.startVpn} data-testid="vad-row" data-start={v.startVpn}>
              <td>{v.level}</td>
              <td class="va">{v.startVpn.toString(16)}</td>
              <td class="va">{v.endVpn.toString(16)}</td>
              <td>{v.commit}</td>
              <td>
                {v.type}
                {v.image ? " Exe" : ""}
              </td>
              <td>{v.protection}</td>
              <td>{v.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pt-head">VMMap: {t.comm}</div>
      <table class="tlb num" data-testid={`vmmap-${t.comm}`}>
        <thead>
          <tr>
            <th>Type</th>
            <th>Size</th>
            <th>Committed</th>
            <th>Private</th>
            <th>Total WS</th>
            <th>Private WS</th>
            <th>Shareable WS</th>
            <th>Blocks</th>
            <th>Largest</th>
          </tr>
        </thead>
        <tbody>
          {vmmap.map((r) => (
            <tr key={r.type} data-type={r.type}>
              <th>{r.type}</th>
              <td>{kb(r.size)}</td>
              <td>{kb(r.committed)}</td>
              <td>{kb(r.private)}</td>
              <td>{kb(r.totalWs)}</td>
              <td>{kb(r.privateWs)}</td>
              <td>{kb(r.shareableWs)}</td>
              <td>{r.blocks === 0 ? "" : r.blocks}</td>
              <td>{kb(r.largest)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** RAMMap's Use Counts, the page lists, the paging file and commit. */
export function RamMap() {
  tick.value;
  const win = stepper.value?.session.kernel?.view.windows();
  if (!win) return null;
  const r = win.rammap();
  const p = win.paging();
  const c = win.commit();
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  return (
    <div data-testid="rammap-panel">
      <p class="hint">
        page lists: zeroed {p.zeroed}, free {p.free}, standby {p.standby}, modified {p.modified} pages ·
        paging file {p.pagefileInUse} of {p.pagefilePages} pages in use · commit {c.total} of {c.limit} pages
        (peak {c.peak}) · pools: paged {p.poolPagedBytes} bytes, nonpaged {p.poolNonpagedBytes} bytes
      </p>
      <div class="pt-head">RAMMap: Use Counts</div>
      <table class="tlb num" data-testid="rammap">
        <thead>
          <tr>
            <th>Usage</th>
            {RAMMAP_LISTS.map((l) => (
              <th key={l}>{l}</th>
            ))}
            <th>Total</th>
          </tr>
        </thead>
        <tbody>
          {r.rows.map((row) => (
            <tr key={row.use} data-use={row.use}>
              <th>{row.use}</th>
              {row.pages.map((n, i) => (
                <td key={i}>{kb(n)}</td>
              ))}
              <td>{kb(row.total)}</td>
            </tr>
          ))}
          <tr data-use="Total">
            <th>Total</th>
            {r.total.map((n, i) => (
              <td key={i}>{kb(n)}</td>
            ))}
            <td data-testid="rammap-total">{kb(sum(r.total))}</td>
          </tr>
        </tbody>
      </table>
    </div>
  );
}
