/**
 * Physical memory as a grid of frames coloured by kind (kernel.view.frames),
 * with the count of each kind; hovering a frame shows its struct page
 * (kernel.view.frame: kind, refcount, mapcount, flags, owner).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { FrameInfo } from "../../../kernel/view/types.ts";
import { hex } from "../model/format.ts";
import { stepper, tick } from "../model/state.ts";

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

export function colour(kind: string): string {
  return COLOURS[kind] ?? "#999999";
}

export function Frames() {
  tick.value;
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<FrameInfo | null>(null);
  const k = stepper.value?.session.kernel;
  const info = k?.view.frames() ?? null;
  const total = info?.total ?? 0;
  const cols = Math.max(64, Math.ceil(Math.sqrt(total) * 1.5));
  const cell = total > 40000 ? 2 : total > 4000 ? 4 : 8;
  const rows = Math.ceil(total / cols);
  useEffect(() => {
    const c = canvas.current;
    if (!c || !info) return;
    const g = c.getContext("2d")!;
    g.clearRect(0, 0, c.width, c.height);
    for (const r of info.runs) {
      g.fillStyle = colour(r.kind);
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
    const rect = (e.target as HTMLCanvasElement).getBoundingClientRect();
    const pfn = Math.floor((e.clientY - rect.top) / cell) * cols + Math.floor((e.clientX - rect.left) / cell);
    setHover(pfn >= 0 && pfn < total ? k.view.frame(pfn) : null);
  };
  return (
    <div data-testid="frames">
      <ul class="kinds">
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
      <canvas
        ref={canvas}
        width={cols * cell}
        height={rows * cell}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
        data-testid="frame-grid"
      />
      <div class="frame-info" data-testid="frame-info">
        {hover === null
          ? `${total} frames of 4 KiB; the zero page is ${hex(zero)}. Hover a frame.`
          : `frame ${hex(hover.pfn)}: ${hover.kind}${hover.owner ? ` (${hover.owner})` : ""}, zone ${hover.zone}, refcount ${hover.refcount}, mapped by ${hover.mapcount} user page table entr${hover.mapcount === 1 ? "y" : "ies"}${hover.order >= 0 ? `, order ${hover.order}` : ""}; ${hover.flags.join(" ") || "no flags"}`}
      </div>
    </div>
  );
}
