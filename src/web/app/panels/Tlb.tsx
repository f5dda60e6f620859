/**
 * Each CPU's TLB (kernel.view.tlb): its arrays, and every valid entry with
 * its tag, global bit, rights and dirty bit. An entry that no longer agrees
 * with the page tables it was filled from (the walk of its address now maps
 * another frame, nothing, or no longer grants the write it caches) is
 * stale, as the coherence checker (hw/mmu/CoherenceChecker.ts) would report
 * a use of it: drawn in a warning colour. Only entries of the ASID the CPU
 * runs under, and global ones, can be checked against the tables loaded.
 */
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import type { CpuInfo, TlbEntryInfo } from "../../../kernel/view/types.ts";
import { hex } from "../model/format.ts";
import { stepper, tick } from "../model/state.ts";

/** Whether a TLB entry is stale (true), current (false), or cannot be told from the loaded tables (null). */
export function staleEntry(view: KernelView, cpu: CpuInfo, e: TlbEntryInfo): boolean | null {
  let who: Parameters<KernelView["walk"]>[0] | null = null;
  if (e.global) who = "kernel";
  else if (e.asid === cpu.hwAsid && cpu.loadedMm !== null) {
    const t = view.tasks().find((t) => t.alive && t.mmId === cpu.loadedMm);
    who = t ? view.taskHandle(t.pid) : null;
  }
  if (who === null) return null;
  const leaf = view.walk(who, e.va).leaf;
  if (leaf === null || !leaf.accessible || leaf.pfn !== e.pfn) return true;
  // a write the entry still grants that the entry in memory no longer does (write-protected for COW)
  return /\b(user|kernel) .w/.test(e.rights) && !leaf.writable;
}

export function Tlbs() {
  tick.value;
  const k = stepper.value?.session.kernel;
  if (!k) return null;
  const view = k.view;
  return (
    <div data-testid="tlbs">
      {view.cpus().map((c) => {
        const t = view.tlb(c.id);
        return (
          <details open key={c.id} class="cpu" data-testid={`tlb-cpu${c.id}`}>
            <summary>
              CPU {c.id}: {c.current === null ? "idle" : `pid ${c.current}`}, {t.asidName} {c.hwAsid}
              {c.lazy ? " (lazy TLB)" : ""} — {t.entries.length} valid entries
            </summary>
            <p class="hint">
              {t.arrays
                .map((a) => `${a.level} ${a.name}: ${a.valid}/${a.entries} (${a.ways}-way)`)
                .join(" · ")}
            </p>
            {t.entries.length > 0 && (
              <table class="tlb">
                <thead>
                  <tr>
                    <th>array</th>
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
                  {t.entries.map((e, i) => {
                    const stale = staleEntry(view, c, e) === true;
                    return (
                      <tr
                        key={i}
                        data-testid="tlb-entry"
                        class={stale ? "stale" : ""}
                        title={stale ? "stale: the page tables no longer say this" : undefined}
                      >
                        <td>
                          {e.level} {e.array}
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
                    );
                  })}
                </tbody>
              </table>
            )}
          </details>
        );
      })}
    </div>
  );
}
