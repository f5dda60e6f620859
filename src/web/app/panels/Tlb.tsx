/**
 * Each CPU's TLB (kernel.view.tlb): every array as a grid, its sets as rows
 * and its ways as columns (way 0 the most recently used, as TlbArray keeps
 * them), each valid entry in its cell with its tag (the page number and the
 * PCID/ASID), global bit, rights and dirty bit; and every valid entry as a
 * list (built only while opened). An entry that no longer agrees
 * with the page tables it was filled from (the walk of its address now maps
 * another frame, nothing, or no longer grants the write it caches) is
 * stale, as the coherence checker (hw/mmu/CoherenceChecker.ts) would report
 * a use of it: drawn in a warning colour. Only entries of the ASID the CPU
 * runs under, and global ones, can be checked against the tables loaded.
 */
import { useState } from "preact/hooks";
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import type { CpuInfo, TlbArrayInfo, TlbEntryInfo, TlbInfo } from "../../../kernel/view/types.ts";
import { hex } from "../model/format.ts";
import { stepper, tick } from "../model/state.ts";

type Walker = Parameters<KernelView["walk"]>[0];

/** The task whose tables `cpu` has loaded (null: none alive), found once per CPU and step. */
function loadedTask(view: KernelView, cpu: CpuInfo): Walker | null {
  if (cpu.loadedMm === null) return null;
  const t = view.tasks().find((t) => t.alive && t.mmId === cpu.loadedMm);
  return t ? view.taskHandle(t.pid) : null;
}

/** Whether a TLB entry is stale (true), current (false), or cannot be told from the loaded tables (null). */
export function staleEntry(
  view: KernelView,
  cpu: CpuInfo,
  e: TlbEntryInfo,
  loaded: Walker | null,
): boolean | null {
  let who: Walker | null = null;
  if (e.global) who = "kernel";
  else if (e.asid === cpu.hwAsid) who = loaded;
  if (who === null) return null;
  const leaf = view.walk(who, e.va).leaf;
  if (leaf === null || !leaf.accessible || leaf.pfn !== e.pfn) return true;
  // a write the entry still grants that the entry in memory no longer does (write-protected for COW)
  return /\b(user|kernel) .w/.test(e.rights) && !leaf.writable;
}

/** `user rw- / kernel rw-` as `u rw- k rw-`, to fit a cell. */
function shortRights(rights: string): string {
  return rights.replace("user ", "u ").replace(" / kernel ", " k ");
}

/** One cell of the grid: the entry's tag, global bit, rights and dirty bit. */
function Cell({ e, t, stale }: { e: TlbEntryInfo; t: TlbInfo; stale: boolean }) {
  const title = `${hex(e.va)} -> frame ${hex(e.pfn)}, ${e.pageSize}${e.sourceSize !== e.pageSize ? ` (of a ${e.sourceSize} page)` : ""}; ${e.global ? "global" : `${t.asidName} ${e.asid}`}; ${e.rights}${e.dirty ? "; dirty" : ""}${stale ? "; STALE: the page tables no longer say this" : ""}`;
  return (
    <td class={`tlb-cell${stale ? " stale" : ""}`} title={title} data-testid="tlb-entry" data-va={hex(e.va)}>
      <span class="vpn">{hex(e.vpn)}</span> {e.global ? <b>G</b> : <span>{`${t.asidName} ${e.asid}`}</span>}
      <br />
      {shortRights(e.rights)}
      {e.dirty ? " D" : ""}
    </td>
  );
}

/** One array: a row per set (runs of empty sets folded into one row), a column per way. */
function ArrayGrid({ a, t, stale }: { a: TlbArrayInfo; t: TlbInfo; stale: Map<TlbEntryInfo, boolean> }) {
  const cells = new Map<number, TlbEntryInfo>();
  for (const e of t.entries)
    if (e.level === a.level && e.array === a.name) cells.set(e.set * a.ways + e.way, e);
  const rows: preact.JSX.Element[] = [];
  for (let set = 0; set < a.sets; ) {
    let used = false;
    for (let w = 0; w < a.ways; w++) used ||= cells.has(set * a.ways + w);
    if (!used) {
      let end = set;
      while (end + 1 < a.sets && ![...Array(a.ways).keys()].some((w) => cells.has((end + 1) * a.ways + w)))
        end++;
      rows.push(
        <tr key={set} class="empty-sets">
          <th>{end === set ? set : `${set}–${end}`}</th>
          <td colSpan={a.ways}>{end === set ? "empty" : `${end - set + 1} empty sets`}</td>
        </tr>,
      );
      set = end + 1;
      continue;
    }
    rows.push(
      <tr key={set} data-set={set}>
        <th>{set}</th>
        {[...Array(a.ways).keys()].map((w) => {
          const e = cells.get(set * a.ways + w);
          return e === undefined ? (
            <td key={w} class="tlb-cell free" />
          ) : (
            <Cell key={w} e={e} t={t} stale={stale.get(e) === true} />
          );
        })}
      </tr>,
    );
    set++;
  }
  return (
    <div class="tlb-array" data-testid={`tlb-array-${a.level}-${a.name}`}>
      <div class="pt-head">
        {a.level} {a.name} ({a.kind}, {a.sizes.join("/")}): {a.valid} of {a.entries} valid, {a.sets} set
        {a.sets === 1 ? "" : "s"} × {a.ways} way{a.ways === 1 ? "" : "s"}, {a.evictions} evicted
      </div>
      <table class="tlb-grid">
        <thead>
          <tr>
            <th>set</th>
            {[...Array(a.ways).keys()].map((w) => (
              <th key={w}>{w === 0 && a.ways > 1 ? "way 0 (MRU)" : `way ${w}`}</th>
            ))}
          </tr>
        </thead>
        <tbody>{rows}</tbody>
      </table>
    </div>
  );
}

/**
 * Every valid entry as a list, folded; its rows are built only while it is
 * open (a large TLB has thousands, which a step would otherwise lay out
 * unseen). Open or not is kept across steps.
 */
function EntryList({ t, stale, cpu }: { t: TlbInfo; stale: Map<TlbEntryInfo, boolean>; cpu: number }) {
  const [open, setOpen] = useState(false);
  return (
    <details
      open={open}
      onToggle={(ev) => setOpen((ev.currentTarget as HTMLDetailsElement).open)}
      data-testid={`tlb-list-cpu${cpu}`}
    >
      <summary>every valid entry as a list</summary>
      {open && (
        <table class="tlb">
          <thead>
            <tr>
              <th>array</th>
              <th>set/way</th>
              <th>virtual</th>
              <th>frame</th>
              <th>size</th>
              <th>{t.asidName}</th>
              <th>global</th>
              <th>rights</th>
              <th>dirty</th>
            </tr>
          </thead>
          <tbody>
            {t.entries.map((e, i) => (
              <tr
                key={i}
                data-testid="tlb-row"
                class={stale.get(e) ? "stale" : ""}
                title={stale.get(e) ? "stale: the page tables no longer say this" : undefined}
              >
                <td>
                  {e.level} {e.array}
                </td>
                <td>
                  {e.set}/{e.way}
                </td>
                <td class="va">{hex(e.va)}</td>
                <td>{hex(e.pfn)}</td>
                <td>
                  {e.pageSize}
                  {e.sourceSize !== e.pageSize ? ` (of ${e.sourceSize})` : ""}
                </td>
                <td>{e.global ? "—" : e.asid}</td>
                <td>{e.global ? "G" : ""}</td>
                <td>{e.rights}</td>
                <td>{e.dirty ? "D" : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </details>
  );
}

export function Tlbs() {
  tick.value;
  const k = stepper.value?.session.kernel;
  if (!k) return null;
  const view = k.view;
  return (
    <div data-testid="tlbs">
      <p class="hint">
        Each cell: the page number the entry translates, its {view.tlb(0).asidName} (or <b>G</b>lobal), the
        rights it caches for user and kernel, <b>D</b> if dirty. Hover a cell for its address and frame.{" "}
        <span class="stale-key">Stale</span>: the page tables no longer say this.
      </p>
      {view.cpus().map((c) => {
        const t = view.tlb(c.id);
        const loaded = loadedTask(view, c);
        const stale = new Map(t.entries.map((e) => [e, staleEntry(view, c, e, loaded) === true]));
        return (
          <details open key={c.id} class="cpu" data-testid={`tlb-cpu${c.id}`}>
            <summary>
              CPU {c.id}: {c.current === null ? "idle" : `pid ${c.current}`}, {t.asidName} {c.hwAsid}
              {c.lazy ? " (lazy TLB)" : ""} — {t.entries.length} valid entries
            </summary>
            {t.arrays.map((a) => (
              <ArrayGrid key={`${a.level}-${a.name}`} a={a} t={t} stale={stale} />
            ))}
            {t.entries.length > 0 && <EntryList t={t} stale={stale} cpu={c.id} />}
          </details>
        );
      })}
    </div>
  );
}
