/**
 * The trace view (`vmlab ui --trace FILE`, or `#trace` and a file opened
 * here): a trace's analysis run by a Web Worker (worker.ts) with the CLI's
 * own replay, with progress, then the figures and the charts: the miss-ratio
 * curve, the TLB miss curve, faults over time (analysis/trace/summary.ts
 * chartPanels) and the TLB hit rate of each level: the Vega-Lite
 * specifications of analysis/chartSpec.ts, which `vmlab trace --chart` draws. The page shows the `vmlab trace` command that gives the
 * same figures.
 */
import { signal } from "@preact/signals";
import { useEffect, useMemo } from "preact/hooks";
import { chartPanels, type TraceSummary } from "../../../analysis/trace/summary.ts";
import type { TraceReadStats } from "../../../workloads/trace/decode.ts";
import { HitRates, LineChartView } from "./Chart.tsx";
import { cliCommand, DEFAULT_FORM, policiesOf, runOf, TRACE_ARCHES, type TraceForm } from "./settings.ts";
import type { TraceReply, TraceRequest, TraceSourceMsg } from "./worker.ts";
import "./trace.css";

interface Source {
  msg: TraceSourceMsg;
  name: string;
  /** bytes to read, or -1 when unknown */
  size: number;
  compression: string;
}

const form = signal<TraceForm>({ ...DEFAULT_FORM });
const source = signal<Source | null>(null);
const status = signal<"idle" | "running" | "done" | "error">("idle");
const progress = signal<{ raw: number; total: number; records: number }>({ raw: 0, total: -1, records: 0 });
const result = signal<{ summary: TraceSummary; stats: TraceReadStats } | null>(null);
const failure = signal<{ message: string; partial: TraceSummary | null } | null>(null);
/** what the worker says about the input while it runs (a slow long-window zstd file) */
const note = signal<string | null>(null);
/** runs started since the page loaded (the tests wait for the one they started) */
const runs = signal(0);
let worker: Worker | null = null;

/** Starts the worker on the source with the form's settings (stopping a run under way). */
function run(): void {
  const src = source.value;
  if (src === null) return;
  worker?.terminate();
  runs.value++;
  result.value = null;
  failure.value = null;
  note.value = null;
  let req: TraceRequest;
  try {
    req = { source: src.msg, name: src.name, size: src.size, run: runOf(form.value) };
  } catch (e) {
    status.value = "error";
    failure.value = { message: (e as Error).message, partial: null };
    return;
  }
  status.value = "running";
  progress.value = { raw: 0, total: src.size, records: 0 };
  const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
  worker = w;
  w.onmessage = (e: MessageEvent<TraceReply>) => {
    const m = e.data;
    if (m.type === "progress") progress.value = { raw: m.raw, total: m.total, records: m.records };
    else if (m.type === "note") note.value = m.message;
    else if (m.type === "done") {
      result.value = { summary: m.summary, stats: m.stats };
      status.value = "done";
      w.terminate();
    } else {
      failure.value = { message: m.message, partial: m.partial };
      status.value = "error";
      w.terminate();
    }
  };
  w.onerror = (e) => {
    failure.value = { message: e.message || "the worker stopped", partial: null };
    status.value = "error";
  };
  w.postMessage(req);
}

function stop(): void {
  worker?.terminate();
  worker = null;
  status.value = "idle";
}

const fmt = (n: number) => n.toLocaleString("en-US");
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

function Field(props: { label: string; k: keyof TraceForm; width?: number; title?: string }) {
  const v = form.value[props.k];
  return (
    <label title={props.title}>
      {props.label}{" "}
      <input
        data-testid={`trace-${props.k}`}
        size={props.width ?? 6}
        value={String(v)}
        onInput={(e) => {
          form.value = { ...form.value, [props.k]: (e.target as HTMLInputElement).value };
        }}
      />
    </label>
  );
}

function Choice(props: { label: string; k: "arch" | "page"; values: readonly string[]; title: string }) {
  const v = form.value[props.k];
  return (
    <label title={props.title}>
      {props.label}{" "}
      <select
        data-testid={`trace-${props.k}`}
        value={props.values.includes(v) ? v : props.values[0]}
        onChange={(e) => {
          form.value = { ...form.value, [props.k]: (e.target as HTMLSelectElement).value };
        }}
      >
        {props.values.map((x) => (
          <option key={x} value={x}>
            {x}
          </option>
        ))}
      </select>
    </label>
  );
}

function Settings() {
  const f = form.value;
  const set = (p: Partial<TraceForm>) => {
    form.value = { ...form.value, ...p };
  };
  return (
    <div class="trace-settings">
      <label>
        mode{" "}
        <select
          data-testid="trace-mode"
          value={f.mode}
          onChange={(e) => {
            const mode = (e.target as HTMLSelectElement).value as TraceForm["mode"];
            // a page size the new mode has no choice of goes back to 4k (2m is the reference pager's, thp Linux's)
            const page =
              mode === "policy" || (mode === "machine" ? f.page === "thp" : f.page === "2m") ? "4k" : f.page;
            set({ mode, page, policy: policiesOf(mode).includes(f.policy) ? f.policy : policiesOf(mode)[0] });
          }}
        >
          <option value="machine">machine (MMU, TLBs, pager)</option>
          <option value="linux">machine, Linux's fault handling and reclaim</option>
          <option value="policy">policy (page numbers only)</option>
        </select>
      </label>
      <Field label="frames" k="frames" />
      <label>
        policy{" "}
        <select
          data-testid="trace-policy"
          value={f.policy}
          onChange={(e) => set({ policy: (e.target as HTMLSelectElement).value })}
        >
          {policiesOf(f.mode).map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </label>
      {f.mode !== "policy" && (
        <Field
          label="TLB"
          k="tlb"
          width={12}
          title="a preset (vmref, skylake, tiny, none) or levels like 64x4,1536x12"
        />
      )}
      {f.mode !== "policy" && (
        <Choice label="arch" k="arch" values={TRACE_ARCHES} title="the MMU and page tables (--arch)" />
      )}
      {f.mode !== "policy" && (
        <Choice
          label="pages"
          k="page"
          values={f.mode === "linux" ? ["4k", "thp"] : ["4k", "2m"]}
          title="4k, or 2 MiB pages (--page 2m); with Linux's faults, transparent huge pages (--page thp)"
        />
      )}
      {f.mode === "linux" && (
        <Field
          label="swap"
          k="swap"
          width={6}
          title="the swap area, e.g. 512M (default: 4 times the frames)"
        />
      )}
      {f.mode === "machine" && (
        <>
          <Field
            label="data cache"
            k="cache"
            width={14}
            title="KIND[:SIZE[:WAYS[:LINE]]], e.g. vipt:32K:8:64"
          />
          <Field label="costs" k="cost" width={14} title="cycle costs, e.g. l1=1,l2=7,walkRead=30" />
        </>
      )}
      <label>
        <input
          type="checkbox"
          data-testid="trace-dataOnly"
          checked={f.dataOnly}
          onChange={(e) => set({ dataOnly: (e.target as HTMLInputElement).checked })}
        />{" "}
        data only
      </label>
      <label>
        <input
          type="checkbox"
          data-testid="trace-mrc"
          checked={f.mrc}
          onChange={(e) => set({ mrc: (e.target as HTMLInputElement).checked })}
        />{" "}
        miss-ratio curve
      </label>
      <Field
        label="up to (frames)"
        k="mrcMax"
        title="the largest memory size on the curve (default: frames)"
      />
      <Field label="other policies" k="mrcPolicies" width={10} title="lru, fifo, clock: one run per size" />
      <Field label="SHARDS rate" k="shards" width={5} title="a sampled curve (0, 1]: empty for none" />
      <Field label="working set tau" k="wss" width={7} title="Denning's W(t, tau): empty for none" />
      {f.wss.trim() !== "" && (
        <Field label="every" k="wssEvery" width={7} title="sample every n references (default: tau)" />
      )}
      <Field label="TLB curve ways" k="tlbCurve" width={3} title="empty: no TLB curve" />
      <Field label="seed" k="seed" width={4} />
    </div>
  );
}

function Progress() {
  const p = progress.value;
  const pct = p.total > 0 ? Math.min(100, (100 * p.raw) / p.total) : null;
  return (
    <div class="trace-progress" data-testid="trace-progress" data-status={status.value} data-run={runs.value}>
      <progress max={100} value={status.value === "done" ? 100 : (pct ?? undefined)} />{" "}
      {status.value === "running" ? "analysing" : status.value}: {fmt(p.records)} records
      {p.raw > 0 && `, ${mib(p.raw)}${p.total > 0 ? ` of ${mib(p.total)}` : ""}`}
      {pct !== null && ` (${pct.toFixed(0)}%)`}{" "}
      {status.value === "running" && (
        <button type="button" onClick={stop}>
          stop
        </button>
      )}
      {note.value && (
        <div class="hint" data-testid="trace-note">
          {note.value}
        </div>
      )}
    </div>
  );
}

/** The headline figures, as `vmlab trace` prints them. */
function Figures({ s, stats }: { s: TraceSummary; stats: TraceReadStats | null }) {
  const rows: [string, string, number | string][] = [
    ["accesses", "accesses", s.accesses],
    ["faults", s.mode === "machine" ? "page faults" : "misses", s.faults],
    ["majorFaults", s.mode === "machine" ? "major (swap-in)" : "misses of pages seen before", s.majorFaults],
    ["evictions", "evictions", s.evictions],
  ];
  if (s.mode === "machine")
    rows.push(["tlbHits", "TLB hits", s.tlbHits], ["tlbMisses", "TLB misses (walks)", s.tlbMisses]);
  else rows.push(["policyHits", "hits", s.policyHits ?? 0]);
  if (s.kernel)
    rows.push(
      ["swapOuts", "swapped out", s.kernel.swapOuts],
      ["swapIns", "swapped in", s.swapIns],
      ["pgscan", "pages scanned by reclaim", s.kernel.pgscan],
    );
  if (s.machine?.cache)
    rows.push(
      ["cacheHits", "data cache hits", s.machine.cache.hits],
      ["cacheMisses", "data cache misses", s.machine.cache.misses],
      ["cacheWritebacks", "lines written back", s.machine.cache.writebacks],
    );
  if (s.machine)
    rows.push(
      ["phys_sum", "phys_sum", s.machine.phys_sum],
      ["cycles", "est. cycles", Math.round(s.machine.cycles)],
    );
  return (
    <table class="trace-figures" data-testid="trace-figures">
      <tbody>
        <tr>
          <td>trace</td>
          <td>
            {s.trace} ({s.format}
            {s.compression !== "none" ? `, ${s.compression}` : ""})
            {stats?.skippedLines ? `: ${fmt(stats.skippedLines)} non-access lines skipped` : ""}
          </td>
        </tr>
        {rows.map(([k, label, v]) => (
          <tr key={k}>
            <td>{label}</td>
            <td data-testid={`trace-fig-${k}`} data-v={String(v)}>
              {typeof v === "number" ? fmt(v) : v}
            </td>
          </tr>
        ))}
        <tr>
          <td>time</td>
          <td>
            {s.seconds.toFixed(2)} s ({(s.accesses / Math.max(1e-9, s.seconds) / 1e6).toFixed(1)} M
            accesses/s, in a worker)
          </td>
        </tr>
      </tbody>
    </table>
  );
}

function Results() {
  const r = result.value;
  const f = failure.value;
  const s = r?.summary ?? f?.partial ?? null;
  const charts = useMemo(() => (s ? chartPanels(s) : []), [s]);
  return (
    <div data-testid="trace-results">
      {f && (
        <div class="trace-error" data-testid="trace-error">
          {f.message}
          {f.partial && <div>the trace is not complete: the figures up to that point (not a result):</div>}
        </div>
      )}
      {s && <Figures s={s} stats={r?.stats ?? null} />}
      {s && s.levels.length > 0 && <HitRates levels={s.levels} />}
      {charts.map((c) => (
        <LineChartView key={c.id} chart={c} />
      ))}
    </div>
  );
}

export function TraceView() {
  useEffect(() => {
    void (async () => {
      const r = await fetch("api/trace-info");
      if (!r.ok) return;
      const info = (await r.json()) as { name: string; size: number; compression: string };
      source.value = {
        msg: { kind: "url", url: new URL("api/trace-file", location.href).href },
        name: info.name,
        // a zstd file comes decompressed: its length is not known before
        size: info.compression === "zstd" ? -1 : info.size,
        compression: info.compression,
      };
      run();
    })();
  }, []);
  const src = source.value;
  return (
    <div class="trace-view" data-ready={status.value === "done" || status.value === "error" ? "yes" : "no"}>
      <header>
        <b>vmlab ui</b> trace view <a href="./">the scenario view</a>
      </header>
      <main>
        <div class="trace-source">
          {src ? (
            <span data-testid="trace-name">
              {src.name} ({src.size >= 0 ? mib(src.size) : "zstd, decompressed by the server"})
            </span>
          ) : (
            <span>no trace yet:</span>
          )}{" "}
          <label>
            open a trace file{" "}
            <input
              type="file"
              data-testid="trace-file"
              onChange={(e) => {
                const file = (e.target as HTMLInputElement).files?.[0];
                if (!file) return;
                source.value = {
                  msg: { kind: "file", file },
                  name: file.name,
                  size: file.size,
                  compression: "",
                };
                run();
              }}
            />
          </label>
          <span class="hint">
            bin (.u64), lackey, text or refs; plain, gzip or zstd (zstd decoded in the page by fzstd, pure JS:
            slower than vmlab trace, very slow on zstd --long files)
          </span>
        </div>
        <Settings />
        <div class="controls">
          <button type="button" data-testid="trace-run" disabled={src === null} onClick={run}>
            analyse
          </button>
          <code data-testid="trace-cli">
            vmlab trace {src?.name ?? "FILE"} {cliCommand(form.value)}
          </code>
        </div>
        <Progress />
        <Results />
      </main>
    </div>
  );
}
