/**
 * Page tables per process, as a tree from the root (kernel.view.pageTables):
 * each entry's physical address, raw value and flags; a leaf's fields in
 * words on hover, with the tools' views of its page (model/frameViews.ts:
 * pagemap and crash's vtop, or WinDbg's !pte); the entries the last
 * statement changed marked; the root's kernel half (shared with init_mm)
 * folded into one row.
 *
 * Drawing only what is looked at: a table of more than OPEN_MAX user
 * entries is folded to a row that counts them, with only the first
 * CHANGED_MAX of the entries the last statement changed drawn, until it is
 * opened ("show all", remembered per table frame across steps), or "every
 * entry" is ticked. A step on a scenario with thousands of PTEs, even one
 * that changed all of them (a write of 80 MiB: 20,000 PTEs), then builds
 * a few hundred rows, not all of them (docs/ui.md, "Page tables").
 */

import { signal } from "@preact/signals";
import { useState } from "preact/hooks";
import type { TaskHandle } from "../../../kernel/Kernel.ts";
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import type { PageTableEntryInfo, PageTableInfo, VmaInfo } from "../../../kernel/view/types.ts";
import { hex, raw } from "../model/format.ts";
import { addressViews } from "../model/frameViews.ts";
import { stepper, tick } from "../model/state.ts";
import { pageTablesOf } from "../model/tables.ts";

/** a table of more user entries than this is folded until opened */
const OPEN_MAX = 32;
/** a folded table draws at most this many of its changed entries (its row counts them all) */
const CHANGED_MAX = 16;
/** "every entry": every table drawn whole (the tests tick it to read every PTE) */
const showEvery = signal(false);

export function PageTables() {
  tick.value;
  const s = stepper.value;
  const k = s?.session.kernel;
  if (!s || !k) return null;
  const view = k.view;
  const changed = s.changedEntries();
  const tasks = view.tasks().filter((t) => t.alive && t.hasMm);
  const seenMm = new Set<number>();
  return (
    <div data-testid="pagetables">
      <p class="hint">
        {view.machine().arch}: {view.machine().levels} levels (
        {[...view.machine().levelNames].reverse().join(" → ")}). Entries the last statement changed are{" "}
        <span class="changed">marked</span>; hover a leaf for its fields. A table of more than {OPEN_MAX}{" "}
        entries shows only the changed ones until opened.{" "}
        <label>
          <input
            type="checkbox"
            checked={showEvery.value}
            onChange={(ev) => {
              showEvery.value = (ev.currentTarget as HTMLInputElement).checked;
            }}
            data-testid="pt-every"
          />{" "}
          every entry
        </label>
      </p>
      {tasks.length === 0 && <p class="hint">no process has an address space yet</p>}
      {tasks.map((t) => {
        if (t.mmId !== null && seenMm.has(t.mmId)) return null;
        if (t.mmId !== null) seenMm.add(t.mmId);
        const h = view.taskHandle(t.pid);
        if (h === null) return null;
        const tree = pageTablesOf(view, t.pid);
        if (tree === null) return null;
        const vmas = view.vmas(h);
        return (
          <details open key={t.pid} class="process" data-testid={`pt-${t.comm}`}>
            <summary>
              {t.comm} (pid {t.pid}) — root {view.machine().rootRegister} = frame {hex(tree.rootPfn)},{" "}
              {tree.tables.length} table{tree.tables.length === 1 ? "" : "s"}
            </summary>
            {tree.tables.map((table) => (
              <Table
                key={table.pfn}
                table={table}
                top={view.machine().levels - 1}
                changed={changed}
                view={view}
                bytes={tree.entryBytes}
                vmas={vmas}
                page={{ task: h, pid: t.pid, comm: t.comm }}
              />
            ))}
            {tree.truncated && <p class="hint">(more tables than shown)</p>}
          </details>
        );
      })}
    </div>
  );
}

/** The process whose tree an entry is in. */
type Owner = { task: TaskHandle; pid: number; comm: string };

function Table(p: {
  vmas: VmaInfo[];
  page: Owner;
  table: PageTableInfo;
  top: number;
  changed: Set<number>;
  view: KernelView;
  bytes: number;
}) {
  const { table } = p;
  const user = table.entries.filter((e) => !e.kernelHalf);
  const kernel = table.entries.filter((e) => e.kernelHalf);
  // opened by the user: kept across steps for this table (the component is keyed by its frame)
  const [opened, setOpened] = useState(false);
  const whole = user.length <= OPEN_MAX || opened || showEvery.value;
  const changed = whole ? [] : user.filter((e) => p.changed.has(e.entryPa));
  const shown = whole ? user : changed.slice(0, CHANGED_MAX);
  return (
    <div class="pt-table" data-pfn={table.pfn} style={{ marginLeft: `${(p.top - table.level) * 1.2}em` }}>
      <div class="pt-head">
        {table.levelName} ({table.linuxLevel}) at frame {hex(table.pfn)} — covers {hex(table.va)}
      </div>
      <table class="entries">
        <tbody>
          {!whole && (
            <tr class="folded" data-changed={changed.length}>
              <td colSpan={5}>
                {user.length} entries ({user.filter((e) => e.leaf).length} leaves, {changed.length} changed
                {changed.length > shown.length ? `, the first ${shown.length} shown` : " shown"}){" "}
                <button type="button" onClick={() => setOpened(true)} data-testid="pt-open">
                  show all
                </button>
              </td>
            </tr>
          )}
          {shown.map((e) => (
            <Entry
              key={e.entryPa}
              e={e}
              changed={p.changed.has(e.entryPa)}
              view={p.view}
              bytes={p.bytes}
              vmas={p.vmas}
              page={p.page}
            />
          ))}
          {kernel.length > 0 && (
            <tr class="kernel-half">
              <td colSpan={5}>
                + {kernel.length} entries of the kernel half (indices {kernel[0].index}–
                {kernel[kernel.length - 1].index}
                ), shared with init_mm by every process
                {kernel.some((e) => p.changed.has(e.entryPa)) ? " (changed)" : ""}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

/**
 * What an entry shares, in words: the zero page, a page-cache (file) page,
 * a copy-on-write page (write-protected in a private writable mapping:
 * do_wp_page will copy it on the first write), a frame mapped N times.
 */
function sharing(e: PageTableEntryInfo, view: KernelView, vmas: VmaInfo[]): string {
  if (e.zeroPage) return "zero page";
  const f = view.frame(e.nextPfn);
  const words: string[] = [];
  if (f?.kind === "page-cache") words.push("file page");
  const vma = vmas.find((v) => e.vpn >= v.startVpn && e.vpn < v.endVpn);
  if (vma && e.present && !e.writable && vma.perms[1] === "w" && vma.perms[3] === "p") words.push("COW");
  if (f !== null && f.mapcount > 1) words.push(`shared ×${f.mapcount}`);
  return words.join(", ");
}

function Entry(p: {
  e: PageTableEntryInfo;
  changed: boolean;
  view: KernelView;
  bytes: number;
  vmas: VmaInfo[];
  page: Owner;
}) {
  const { e } = p;
  let target = "";
  let shared = "";
  if (e.table) target = `→ table ${hex(e.nextPfn)}`;
  else if (e.leaf) {
    target = `→ ${e.pageSize} page, frame ${hex(e.nextPfn)}`;
    shared = sharing(e, p.view, p.vmas);
  } else if (e.swapSlot >= 0) target = `swap slot ${e.swapSlot}`;
  else target = "not present";
  const legend = e.bits.map((b) => `${b.name}: ${b.value}`).join("\n");
  // a user page's leaf or swap entry: the tools' views of that page, made when the pointer comes (a walk each)
  const onEnter = (ev: MouseEvent) => {
    const views = addressViews(p.view, { ...p.page, va: e.va }).join("\n");
    (ev.currentTarget as HTMLElement).title = legend ? `${legend}\n\n${views}` : views;
  };
  return (
    <tr
      class={p.changed ? "changed" : ""}
      title={legend || undefined}
      data-entry-pa={e.entryPa}
      onMouseEnter={e.leaf || e.swapSlot >= 0 ? onEnter : undefined}
    >
      <td class="idx">[{e.index}]</td>
      <td class="pa">{hex(e.entryPa)}</td>
      <td class="raw" data-testid="pte-raw">
        {raw(e.hi, e.lo, p.bytes)}
      </td>
      <td class="flags">{e.flags.join(" ")}</td>
      <td class="target">
        {hex(e.va)} {target} {shared && <span class="shared">{shared}</span>}
      </td>
    </tr>
  );
}

/** The fields of the leaves on show, once each: what the flag letters stand for. */
export function Legend() {
  tick.value;
  const k = stepper.value?.session.kernel;
  if (!k) return null;
  const view = k.view;
  const fields = new Map<string, Set<string>>();
  for (const t of view.tasks()) {
    const tree = t.alive && t.hasMm ? pageTablesOf(view, t.pid) : null;
    if (tree === null) continue;
    for (const table of tree.tables)
      for (const e of table.entries)
        for (const b of e.bits) {
          if (!fields.has(b.name)) fields.set(b.name, new Set());
          fields.get(b.name)!.add(b.value);
        }
  }
  if (fields.size === 0) return null;
  return (
    <table class="legend" data-testid="legend">
      <tbody>
        {[...fields].map(([name, values]) => (
          <tr key={name}>
            <th>{name}</th>
            <td>{[...values].join(" · ")}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
