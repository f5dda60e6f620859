/**
 * What the statements printed (the current one first), the running figures
 * as small charts over the steps, and the explain box (kernel.view.explain:
 * the story of one access, told without side effects). The charts are
 * Vega-Lite specifications (analysis/chartSpec.ts stepSparkSpec) drawn by
 * vega, as the trace view's are: each is compiled once, and a step only
 * replaces its dataset.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { SPARK, stepSparkSpec } from "../../../analysis/chartSpec.ts";
import { parseAccess } from "../../../hw/access.ts";
import type { Figures } from "../../engine/stepper.ts";
import { parseAddress } from "../model/format.ts";
import { stepper, tick } from "../model/state.ts";
import { load } from "../trace/Chart.tsx";

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
              <Spark id={key} label={label} values={h.map((f) => f[key])} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

type View = InstanceType<typeof import("vega")["View"]>;

/**
 * One figure over the steps, drawn by vega from stepSparkSpec. The view is
 * built once; each step hands it the whole series (view.data replaces the
 * dataset) and vega redraws the line. Once drawn, the box carries the
 * values it drew (`data-values`), their count (`data-steps`) and how long
 * vega took to draw them (`data-draw-ms`, from the data to the SVG).
 */
function Spark({ id, label, values }: { id: string; label: string; values: number[] }) {
  const box = useRef<HTMLDivElement>(null);
  const view = useRef<View | null>(null);
  const [ready, setReady] = useState(false);
  useEffect(() => {
    let gone = false;
    void (async () => {
      const [vega, vl, { expressionInterpreter }] = await load();
      const el = box.current;
      if (gone || el === null) return;
      const runtime = vega.parse(vl.compile(stepSparkSpec(label)).spec, undefined, { ast: true });
      view.current = new vega.View(runtime, { renderer: "svg", expr: expressionInterpreter });
      view.current.initialize(el);
      setReady(true);
    })();
    return () => {
      gone = true;
      view.current?.finalize();
      view.current = null;
    };
  }, [label]);
  const key = values.join(",");
  useEffect(() => {
    const v = view.current;
    const el = box.current;
    if (!ready || v === null || el === null) return;
    const t0 = performance.now();
    void v
      .data(
        "steps",
        values.map((n, step) => ({ step, v: n })),
      )
      .runAsync()
      .then(() => {
        el.dataset.values = key;
        el.dataset.steps = String(values.length);
        el.dataset.drawMs = (performance.now() - t0).toFixed(2);
      });
  }, [key, ready]);
  return (
    <div
      ref={box}
      class="spark"
      role="img"
      aria-label={`${label} over the steps`}
      data-testid={`spark-${id}`}
      style={{ width: `${SPARK.width + 2}px`, height: `${SPARK.height + 2}px` }}
    />
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
