/** The scenario text with the statement that ran last highlighted, and the editor. */
import {
  back,
  draft,
  forward,
  goTo,
  lastGoTo,
  loadError,
  runDraft,
  source,
  spareStep,
  stepper,
  tick,
  toEnd,
  toLine,
} from "../model/state.ts";

export function Controls() {
  tick.value;
  const s = stepper.value;
  const total = s?.statements.length ?? 0;
  const done = s?.done ?? 0;
  const jump = () => {
    const v = prompt("Run to line:");
    if (v !== null && /^\d+$/.test(v.trim())) toLine(Number(v));
  };
  return (
    <div class="controls">
      <button type="button" onClick={() => goTo(0)} title="restart (Home)">
        restart
      </button>
      <button type="button" onClick={back} disabled={done === 0} title="step back (←, k)" data-testid="back">
        ◀ back
      </button>
      <button
        type="button"
        onClick={forward}
        disabled={s?.finished ?? true}
        title="step (→, j)"
        data-testid="forward"
      >
        step ▶
      </button>
      <button type="button" onClick={toEnd} disabled={s?.finished ?? true} title="run to the end (End, e)">
        run to end
      </button>
      <button type="button" onClick={jump} title="run to a line (g)">
        go to line…
      </button>
      <span
        class="progress"
        data-testid="progress"
        data-goto-ms={lastGoTo.value?.ms.toFixed(1)}
        data-goto-spare={lastGoTo.value?.spare ? "yes" : "no"}
        data-spare={spareStep.value}
      >
        step {done} of {total}
        {s?.halted ? " — the machine halted" : ""}
      </span>
    </div>
  );
}

export function ScenarioText() {
  tick.value;
  const s = stepper.value;
  const current = s?.current?.pos.line ?? -1;
  const next = s && !s.finished ? s.statements[s.done].pos.line : -1;
  const runnable = new Set(s?.statements.map((st) => st.pos.line) ?? []);
  const errLine = s?.error?.line ?? loadError.value?.line ?? -1;
  const lines = source.value.split("\n");
  return (
    <pre class="source" data-testid="source">
      {lines.map((text, i) => {
        const n = i + 1;
        const cls = [
          n === current ? "current" : "",
          n === next ? "next" : "",
          n === errLine ? "error-line" : "",
          runnable.has(n) ? "runnable" : "",
          text.trimStart().startsWith("#") ? "comment" : "",
        ].join(" ");
        return (
          <div class={`line ${cls}`} key={n} data-line={n}>
            {runnable.has(n) ? (
              <button type="button" class="ln" onClick={() => toLine(n)} title="run to here">
                {n}
              </button>
            ) : (
              <span class="ln">{n}</span>
            )}
            <span class="text">{text || " "}</span>
          </div>
        );
      })}
    </pre>
  );
}

export function ErrorBox() {
  tick.value;
  const e = stepper.value?.error ?? loadError.value;
  if (e === null) return null;
  const where = e.line !== null ? `line ${e.line}${e.col !== null ? `:${e.col}` : ""}: ` : "";
  return (
    <div class="error" data-testid="error">
      {where}
      {e.message}
    </div>
  );
}

export function Editor() {
  return (
    <details class="editor">
      <summary>edit the scenario</summary>
      <textarea
        data-testid="editor"
        spellcheck={false}
        value={draft.value}
        onInput={(e) => {
          draft.value = (e.target as HTMLTextAreaElement).value;
        }}
      />
      <button type="button" onClick={() => void runDraft()} data-testid="run-edited">
        run the edited text
      </button>
    </details>
  );
}
