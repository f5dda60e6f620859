/**
 * What the statements printed (the current one first), the running figures
 * as small charts over the steps, and the explain box (kernel.view.explain:
 * the story of one access, told without side effects).
 */
import { useState } from "preact/hooks";
import { parseAccess } from "../../../hw/access.ts";
import type { Figures } from "../../engine/stepper.ts";
import { parseAddress } from "../model/format.ts";
import { stepper, tick } from "../model/state.ts";

export function Output() {
  tick.value;
  const s = stepper.value;
  if (!s) return null;
  const results = s.results;
  const current = s.current;
  const last = current ? results.at(-1) : null;
  return (
    <div data-testid="output">
      <div class="current-output" data-testid="current-output">
        {last ? (
          <>
            <div class="stmt">
              line {last.line}: {last.text}
            </div>
            <pre>{last.output.join("\n") || "(no output)"}</pre>
          </>
        ) : (
          <pre>{results[0]?.output.join("\n") ?? "booted with the defaults"}</pre>
        )}
      </div>
      <details>
        <summary>everything printed so far ({results.length} statements)</summary>
        <pre class="log">
          {results
            .map((r) => [`${r.line}: ${r.text}`, ...r.output.map((o) => `    ${o}`)].join("\n"))
            .join("\n")}
        </pre>
      </details>
      {s.session.result.expectations.length > 0 && (
        <ul class="expects">
          {s.session.result.expectations.map((e) => (
            <li key={e.line} class={e.ok ? "ok" : "fail"}>
              {e.ok ? "✓" : "✗"} line {e.line}: {e.text}
              {e.ok ? "" : ` (got ${e.actual})`}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

const FIGURES: [keyof Figures, string][] = [
  ["pageFaults", "page faults"],
  ["tlbHits", "TLB hits"],
  ["tlbMisses", "TLB misses (walks)"],
  ["swapOuts", "swap-outs"],
  ["swapIns", "swap-ins"],
];

/** The running figures after the current step, each with a sparkline over the steps so far. */
export function Counters() {
  tick.value;
  const s = stepper.value;
  if (!s) return null;
  const h = s.history;
  const now = h[h.length - 1];
  return (
    <table class="figures" data-testid="figures">
      <tbody>
        {FIGURES.map(([key, label]) => (
          <tr key={key}>
            <th>{label}</th>
            <td data-testid={`fig-${key}`}>{now[key]}</td>
            <td>
              <Spark values={h.map((f) => f[key])} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Spark(p: { values: number[] }) {
  const w = 160;
  const ht = 24;
  const max = Math.max(1, ...p.values);
  const n = Math.max(1, p.values.length - 1);
  const pts = p.values.map(
    (v, i) => `${((i / n) * w).toFixed(1)},${(ht - (v / max) * (ht - 2) - 1).toFixed(1)}`,
  );
  return (
    <svg width={w} height={ht} class="spark" role="img" aria-label="over the steps">
      <polyline points={pts.join(" ")} fill="none" stroke="#2c7bb6" stroke-width="1.5" />
    </svg>
  );
}

export function Explain() {
  tick.value;
  const s = stepper.value;
  const [proc, setProc] = useState("");
  const [addr, setAddr] = useState("");
  const [access, setAccess] = useState("read");
  const [story, setStory] = useState<string[]>([]);
  if (!s?.session.kernel) return null;
  const procs = [...s.session.processes.entries()].filter(([, h]) => h.alive && !h.kthread);
  const run = (e: Event) => {
    e.preventDefault();
    const name = proc || procs[0]?.[0];
    const h = s.session.processes.get(name ?? "");
    if (!h) return setStory(["no process to explain an access of"]);
    const va = parseAddress(addr, s.session.variables);
    if (va === null) return setStory([`'${addr}' is not an address (hex, decimal, or a variable, with +N)`]);
    setStory(s.session.kernel!.view.explain(h, va, parseAccess(access)!));
  };
  return (
    <form class="explain" onSubmit={run} data-testid="explain">
      <select value={proc || procs[0]?.[0]} onChange={(e) => setProc((e.target as HTMLSelectElement).value)}>
        {procs.map(([n]) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      <input
        placeholder="address: buf+0x1000, 0x7f..."
        value={addr}
        onInput={(e) => setAddr((e.target as HTMLInputElement).value)}
        data-testid="explain-addr"
      />
      <select value={access} onChange={(e) => setAccess((e.target as HTMLSelectElement).value)}>
        <option>read</option>
        <option>write</option>
        <option>exec</option>
      </select>
      <button type="submit">explain</button>
      {story.length > 0 && <pre data-testid="explain-story">{story.join("\n")}</pre>}
    </form>
  );
}
