/**
 * `vmlab ui`'s page: the scenario list (from the server), the scenario
 * text with the controls, and the panels, all drawn from the kernel's
 * read-only view of the engine running in this page. The server only
 * serves files and scenario texts; nothing is sent back.
 */
import { signal } from "@preact/signals";
import { render } from "preact";
import { useEffect } from "preact/hooks";
import {
  back,
  forward,
  goTo,
  load,
  type ScenarioEntry,
  scenarioId,
  scenarios,
  stepper,
  toEnd,
  toLine,
} from "./model/state.ts";
import { Frames } from "./panels/Frames.tsx";
import { Counters, Explain, Output } from "./panels/Output.tsx";
import { Legend, PageTables } from "./panels/PageTables.tsx";
import { Controls, Editor, ErrorBox, ScenarioText } from "./panels/Scenario.tsx";
import { Tasks } from "./panels/Tasks.tsx";
import { Tlbs } from "./panels/Tlb.tsx";
import { RamMap } from "./panels/Windows.tsx";
import { TraceView } from "./trace/TraceView.tsx";
import "./style.css";

async function open(id: string): Promise<void> {
  const r = await fetch(`api/scenario/${encodeURIComponent(id)}`);
  if (!r.ok) throw new Error(`${id}: ${r.status}`);
  await load(await r.text(), id);
  if (location.hash.slice(1) !== id) history.replaceState(null, "", `#${id}`);
}

function onKey(e: KeyboardEvent): void {
  const t = e.target as HTMLElement;
  // typing goes to the field; a ticked checkbox keeps the keys (a radio button takes the arrows itself)
  const box = t instanceof HTMLInputElement && t.type === "checkbox";
  if (t.tagName === "TEXTAREA" || (t.tagName === "INPUT" && !box) || t.tagName === "SELECT") return;
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const keys: Record<string, () => void> = {
    ArrowRight: forward,
    j: forward,
    ArrowLeft: back,
    k: back,
    End: toEnd,
    e: toEnd,
    Home: () => goTo(0),
    g: () => {
      const v = prompt("Run to line:");
      if (v !== null && /^\d+$/.test(v.trim())) toLine(Number(v));
    },
  };
  const f = keys[e.key];
  if (f) {
    e.preventDefault();
    f();
  }
}

function Picker() {
  const groups = new Map<string, ScenarioEntry[]>();
  for (const s of scenarios.value) {
    if (!groups.has(s.group)) groups.set(s.group, []);
    groups.get(s.group)!.push(s);
  }
  return (
    <select
      data-testid="picker"
      value={scenarioId.value ?? ""}
      onChange={(e) => void open((e.target as HTMLSelectElement).value)}
    >
      {scenarioId.value === null && <option value="">choose a scenario…</option>}
      {[...groups].map(([g, list]) => (
        <optgroup key={g} label={g}>
          {list.map((s) => (
            <option key={s.id} value={s.id}>
              {s.title}
            </option>
          ))}
        </optgroup>
      ))}
    </select>
  );
}

function App() {
  useEffect(() => {
    window.addEventListener("keydown", onKey);
    void (async () => {
      const r = await fetch("api/scenarios");
      const body = (await r.json()) as { initial: string | null; scenarios: ScenarioEntry[] };
      scenarios.value = body.scenarios;
      const wanted = decodeURIComponent(location.hash.slice(1)) || body.initial || body.scenarios[0]?.id;
      if (wanted) await open(wanted);
    })();
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  const s = stepper.value;
  return (
    <div class="layout" data-ready={s !== null ? "yes" : "no"}>
      <header>
        <b>vmlab ui</b> <Picker />
        <span class="keys">
          <a href="#trace" class="to-trace">
            trace view
          </a>{" "}
          keys: → / j step · ← / k back · End / e run to end · Home restart · g go to line
        </span>
      </header>
      <section class="left">
        <Controls />
        <ErrorBox />
        <ScenarioText />
        <Editor />
        <h3>output</h3>
        <Output />
        <h3>figures</h3>
        <Counters />
        <h3>explain an access</h3>
        <Explain />
      </section>
      <section class="right">
        <h3>page tables</h3>
        <PageTables />
        <details>
          <summary>legend: the fields of the entries shown</summary>
          <Legend />
        </details>
        <h3>TLBs</h3>
        <Tlbs />
        <h3>physical memory</h3>
        <Frames />
        <RamMap />
        <h3>{s?.session.kernel?.view.windows() ? "processes and their VADs" : "tasks and address spaces"}</h3>
        <Tasks />
      </section>
    </div>
  );
}

/** `#trace`: the trace view (trace/TraceView.tsx); any other hash names a scenario. */
const traceMode = signal(location.hash === "#trace");
window.addEventListener("hashchange", () => {
  const was = traceMode.value;
  traceMode.value = location.hash === "#trace";
  // back from the trace view: the scenario view starts afresh
  if (was && !traceMode.value) location.reload();
});

function Root() {
  return traceMode.value ? <TraceView /> : <App />;
}

render(<Root />, document.getElementById("app")!);
