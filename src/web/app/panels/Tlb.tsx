/** Each CPU's TLB (kernel.view.tlb): its arrays, and every valid entry with its tag, global bit, rights and dirty bit. */
import { hex } from "../model/format.ts";
import { stepper, tick } from "../model/state.ts";

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
                  {t.entries.map((e, i) => (
                    <tr key={i} data-testid="tlb-entry">
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
                  ))}
                </tbody>
              </table>
            )}
          </details>
        );
      })}
    </div>
  );
}
