/**
 * Physical memory as a grid of frames coloured by kind (kernel.view.frames),
 * with the count of each kind; or, at the switch, by what reclaim may do
 * with each (kernel.view.reclaim: reclaimable against pinned, and why
 * pinned). Hovering a frame shows its struct page (kernel.view.frame: kind,
 * refcount, mapcount, flags, owner) and who maps it, then the views
 * engineers read of it (model/frameViews.ts: kpageflags, pagemap and crash's
 * vtop; WinDbg's !pfn and !pte on Windows). The swap area's slots are
 * beside it (Swap.tsx).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { KernelView } from "../../../kernel/view/KernelView.ts";
import { RECLAIM_STATES, type ReclaimInfo, type ReclaimState } from "../../../kernel/view/reclaim.ts";
import type { FrameInfo } from "../../../kernel/view/types.ts";
import { hex } from "../model/format.ts";
import { firstUserMapper, frameViews } from "../model/frameViews.ts";
import { stepper, tick } from "../model/state.ts";
import { pageTablesOf } from "../model/tables.ts";
import { Swap } from "./Swap.tsx";

/** Colours by kind; a kind not listed gets a grey. */
const COLOURS: Record<string, string> = {
  free: "#e8e8e8",
  reserved: "#555555",
  "kernel-image": "#7b3294",
  memmap: "#c2a5cf",
  "page-table": "#d7191c",
  slab: "#fdae61",
  "kmalloc-large": "#f46d43",
  vmalloc: "#abd9e9",
  "kernel-pages": "#2c7bb6",
  user: "#1a9641",
  "page-cache": "#a6d96a",
  "swap-cache": "#ffff66",
  "zero-page": "#000000",
};

/** Colours of the reclaim view: free and reclaimable light, every pinned state dark. */
const RECLAIM_COLOURS: Record<ReclaimState, string> = {
  free: "#e8e8e8",
  reclaimable: "#8bc34a",
  kernel: "#4a148c",
  "page-table": "#b71c1c",
  mlocked: "#e65100",
  unevictable: "#795548",
  "no-swap": "#37474f",
};

/** What each reclaim state means, for the hover and the legend's titles. */
const RECLAIM_WORDS: Record<ReclaimState, string> = {
  free: "free",
  reclaimable: "reclaimable (on an LRU list)",
  kernel: "pinned: the kernel's own, or firmware-reserved (never on an LRU list)",
  "page-table": "pinned: a page table (freed with its mm, never reclaimed)",
  mlocked: "pinned: mlocked (mapped by a VM_LOCKED VMA)",
  unevictable: "pinned: off the LRU lists (shmem, tmpfs, or held by a fault)",
  "no-swap": "pinned: anonymous, and no swap to write it to",
};

/** The reclaim state of a frame, from the runs (binary search). */
function reclaimOf(r: ReclaimInfo, pfn: number): ReclaimState | null {
  let lo = 0;
  let hi = r.runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const run = r.runs[mid];
    if (pfn < run.first) hi = mid - 1;
    else if (pfn > run.last) lo = mid + 1;
    else return run.state;
  }
  return null;
}

/** 4 KiB frames in a page of a size name (`4K`, `2M`, `1G`, `4M`). */
function framesIn(size: string): number {
  const m = /^(\d+)([KMG])$/.exec(size);
  if (m === null) return 1;
  return Math.max(1, (Number(m[1]) * { K: 1 << 10, M: 1 << 20, G: 1 << 30 }[m[2] as "K" | "M" | "G"]) / 4096);
}

/**
 * The reverse map as the page tables have it (Linux's rmap_walk, read from
 * the other side): for each frame, who maps it (`A 0x7fff...` for a user
 * page, `A: PT` for one of A's tables). Every live address space once.
 */
export function reverseMap(view: KernelView): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const add = (pfn: number, who: string) => {
    const list = out.get(pfn);
    if (list === undefined) out.set(pfn, [who]);
    else list.push(who);
  };
  const seen = new Set<number>();
  for (const t of view.tasks()) {
    if (!t.alive || !t.hasMm || t.mmId === null || seen.has(t.mmId)) continue;
    seen.add(t.mmId);
    const tree = pageTablesOf(view, t.pid);
    if (tree === null) continue;
    for (const table of tree.tables) {
      add(table.pfn, `${t.comm}: its ${table.levelName}`);
      for (const e of table.entries)
        if (e.leaf && !e.kernelHalf && e.present) {
          const n = framesIn(e.pageSize ?? "4K");
          for (let i = 0; i < n; i++) add(e.nextPfn + i, `${t.comm} ${hex(e.va + BigInt(i) * 4096n)}`);
        }
    }
  }
  return out;
}

let rmapCache: { tick: number; map: Map<number, string[]> } | null = null;

export function colour(kind: string): string {
  return COLOURS[kind] ?? "#999999";
}

export function Frames() {
  tick.value;
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<FrameInfo | null>(null);
  const [mappers, setMappers] = useState<string[]>([]);
  const [views, setViews] = useState<{ tick: number; pfn: number; lines: string[] } | null>(null);
  const [by, setBy] = useState<"kind" | "reclaim">("kind");
  const k = stepper.value?.session.kernel;
  const info = k?.view.frames() ?? null;
  // reclaim over LRU lists is Linux's; the Windows profile's page lists are RAMMap's (Windows.tsx)
  const reclaim = k && k.view.windows() === null ? k.view.reclaim() : null;
  const colouring = by === "reclaim" && reclaim !== null ? "reclaim" : "kind";
  const total = info?.total ?? 0;
  const cols = Math.max(64, Math.ceil(Math.sqrt(total) * 1.5));
  const cell = total > 40000 ? 2 : total > 4000 ? 4 : 8;
  const rows = Math.ceil(total / cols);
  useEffect(() => {
    const c = canvas.current;
    if (!c || !info) return;
    const g = c.getContext("2d")!;
    g.clearRect(0, 0, c.width, c.height);
    const runs =
      colouring === "reclaim"
        ? reclaim!.runs.map((r) => ({ first: r.first, last: r.last, fill: RECLAIM_COLOURS[r.state] }))
        : info.runs.map((r) => ({ first: r.first, last: r.last, fill: colour(r.kind) }));
    for (const r of runs) {
      g.fillStyle = r.fill;
      for (let p = r.first; p <= r.last; ) {
        const row = Math.floor(p / cols);
        const end = Math.min(r.last, (row + 1) * cols - 1);
        g.fillRect((p % cols) * cell, row * cell, (end - p + 1) * cell, cell);
        p = end + 1;
      }
    }
  });
  if (!k || !info) return null;
  const zero = k.view.machine().zeroPfn;
  const onMove = (e: MouseEvent) => {
    const c = e.target as HTMLCanvasElement;
    const rect = c.getBoundingClientRect();
    // the canvas may be drawn narrower than its pixels (max-width: 100%)
    const scale = c.width / rect.width;
    const col = Math.floor(((e.clientX - rect.left) * scale) / cell);
    const row = Math.floor(((e.clientY - rect.top) * scale) / cell);
    const pfn = col < cols ? row * cols + col : -1;
    showFrame(pfn);
  };
  const showFrame = (pfn: number) => {
    setHover(pfn >= 0 && pfn < total ? k.view.frame(pfn) : null);
    if (rmapCache === null || rmapCache.tick !== tick.value)
      rmapCache = { tick: tick.value, map: reverseMap(k.view) };
    setMappers(rmapCache.map.get(pfn) ?? []);
    // the tools' views of the frame, once per frame and step (the search for a mapper walks the tables)
    if (pfn < 0 || pfn >= total) setViews(null);
    else if (views === null || views.pfn !== pfn || views.tick !== tick.value)
      setViews({ tick: tick.value, pfn, lines: frameViews(k.view, pfn, firstUserMapper(k.view, pfn)) });
  };
  const state = hover !== null && reclaim !== null ? reclaimOf(reclaim, hover.pfn) : null;
  return (
    <div data-testid="frames" data-colouring={colouring}>
      {reclaim !== null && (
        <div class="colour-by">
          colour by{" "}
          <label>
            <input type="radio" name="by" checked={colouring === "kind"} onChange={() => setBy("kind")} />{" "}
            kind
          </label>{" "}
          <label>
            <input
              type="radio"
              name="by"
              checked={colouring === "reclaim"}
              onChange={() => setBy("reclaim")}
              data-testid="by-reclaim"
            />{" "}
            what reclaim may take (pinned against reclaimable)
          </label>
        </div>
      )}
      {reclaim !== null && (
        <ul class={`kinds${colouring === "reclaim" ? " active" : ""}`} data-testid="reclaim-counts">
          <li class="by">reclaim:</li>
          {RECLAIM_STATES.map((st) => (
            <li key={st} title={RECLAIM_WORDS[st]}>
              <span class="swatch" style={{ background: RECLAIM_COLOURS[st] }} />
              {st} <b data-testid={`reclaim-${st}`}>{reclaim.counts[st]}</b>
            </li>
          ))}
          <li>
            pinned in all <b data-testid="reclaim-pinned">{reclaim.counts.pinned}</b>
          </li>
        </ul>
      )}
      <ul class={`kinds${colouring === "kind" ? " active" : ""}`}>
        <li class="by">kinds:</li>
        {Object.entries(info.byKind).map(([kind, n]) => (
          <li key={kind} data-kind={kind}>
            <span class="swatch" style={{ background: colour(kind) }} />
            {kind} <b data-testid={`count-${kind}`}>{n}</b>
          </li>
        ))}
        <li>
          total <b data-testid="count-total">{total}</b>
        </li>
      </ul>
      <div class="grids">
        <div>
          <canvas
            ref={canvas}
            width={cols * cell}
            height={rows * cell}
            onMouseMove={onMove}
            onMouseLeave={() => setHover(null)}
            data-cols={cols}
            data-cell={cell}
            data-testid="frame-grid"
          />
          <div class="frame-info" data-testid="frame-info">
            {hover === null
              ? `${total} frames of 4 KiB; the zero page is ${hex(zero)}. Hover a frame.`
              : `frame ${hex(hover.pfn)}: ${hover.kind}${hover.owner ? ` (${hover.owner})` : ""}, zone ${hover.zone}, refcount ${hover.refcount}, mapped by ${hover.mapcount} user page table entr${hover.mapcount === 1 ? "y" : "ies"}${hover.order >= 0 ? `, order ${hover.order}` : ""}; ${hover.flags.join(" ") || "no flags"}${mappers.length ? `; mapped by ${mappers.slice(0, 8).join(", ")}${mappers.length > 8 ? ` and ${mappers.length - 8} more` : ""}` : ""}${state ? `; ${RECLAIM_WORDS[state]}` : ""}`}
          </div>
          {hover !== null && views !== null && views.pfn === hover.pfn && views.lines.length > 0 && (
            <pre class="frame-views" data-testid="frame-views">
              {views.lines.join("\n")}
            </pre>
          )}
        </div>
        <Swap />
      </div>
    </div>
  );
}
