/**
 * The swap area beside the frame grid (kernel.view.swap): every slot as a
 * cell (free, holding a page, or whose page is in the swap cache too), the
 * count used, and each slot in use with its swap_map count, its swap-cache
 * frame and the processes' pages that refer to it (their swap PTEs).
 */
import { useEffect, useRef, useState } from "preact/hooks";
import type { SwapInfo, SwapSlotInfo } from "../../../kernel/view/reclaim.ts";
import { hex } from "../model/format.ts";
import { stepper, tick } from "../model/state.ts";

/** The slot list shows this many rows; the grid shows every slot. */
const LIST_MAX = 64;

const SLOT_COLOURS = { free: "#e8e8e8", used: "#1565c0", cached: "#ffff66", header: "#555555" };

function describe(s: SwapSlotInfo): string {
  const where = s.cachedPfn >= 0 ? `, in the swap cache at frame ${hex(s.cachedPfn)}` : "";
  const who = s.owners.length ? `; swap PTEs: ${s.owners.join(", ")}` : "; no swap PTE refers to it";
  return `slot ${s.slot}: ${s.refs} reference${s.refs === 1 ? "" : "s"}${s.written ? ", written" : ", not written yet"}${where}${who}`;
}

export function Swap() {
  tick.value;
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<string | null>(null);
  const k = stepper.value?.session.kernel;
  const info: SwapInfo | null = k?.view.swap() ?? null;
  const slots = (info?.total ?? 0) + 1;
  const cols = Math.max(16, Math.ceil(Math.sqrt(slots)));
  const cell = slots > 16384 ? 2 : slots > 2048 ? 3 : 6;
  const bySlot = new Map((info?.slots ?? []).map((s) => [s.slot, s]));
  useEffect(() => {
    const c = canvas.current;
    if (!c || !info) return;
    const g = c.getContext("2d")!;
    g.fillStyle = SLOT_COLOURS.free;
    g.fillRect(0, 0, c.width, c.height);
    g.fillStyle = SLOT_COLOURS.header;
    g.fillRect(0, 0, cell, cell);
    for (const s of info.slots) {
      g.fillStyle = s.cachedPfn >= 0 ? SLOT_COLOURS.cached : SLOT_COLOURS.used;
      g.fillRect((s.slot % cols) * cell, Math.floor(s.slot / cols) * cell, cell, cell);
    }
  });
  // profile=windows pages to its paging file, which the RAMMap panel reports (Windows.tsx)
  if (!k || k.view.windows() !== null) return null;
  if (info === null)
    return <div data-testid="swap">no swap area (machine swap=0): anonymous pages cannot leave RAM</div>;
  const onMove = (e: MouseEvent) => {
    const c = e.target as HTMLCanvasElement;
    const rect = c.getBoundingClientRect();
    const scale = c.width / rect.width;
    const col = Math.floor(((e.clientX - rect.left) * scale) / cell);
    const slot = Math.floor(((e.clientY - rect.top) * scale) / cell) * cols + col;
    if (col >= cols || slot < 0 || slot >= slots) return setHover(null);
    const s = bySlot.get(slot);
    setHover(slot === 0 ? "slot 0: the swap header" : s ? describe(s) : `slot ${slot}: free`);
  };
  return (
    <div class="swap" data-testid="swap">
      <div class="pt-head">
        swap: <b data-testid="swap-used">{info.used}</b> of {info.total} slots used, {info.free} free
      </div>
      <ul class="kinds">
        <li>
          <span class="swatch" style={{ background: SLOT_COLOURS.used }} />
          in use
        </li>
        <li>
          <span class="swatch" style={{ background: SLOT_COLOURS.cached }} />
          also in the swap cache
        </li>
        <li>
          <span class="swatch" style={{ background: SLOT_COLOURS.free }} />
          free
        </li>
      </ul>
      <canvas
        ref={canvas}
        width={cols * cell}
        height={Math.ceil(slots / cols) * cell}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
        data-cols={cols}
        data-cell={cell}
        data-testid="swap-grid"
      />
      <div class="frame-info" data-testid="swap-info">
        {hover ?? "Hover a slot."}
      </div>
      {info.slots.length > 0 && (
        <ul class="swap-slots">
          {info.slots.slice(0, LIST_MAX).map((s) => (
            <li key={s.slot} data-testid="swap-slot" data-slot={s.slot}>
              {describe(s)}
            </li>
          ))}
          {info.slots.length > LIST_MAX && <li>and {info.slots.length - LIST_MAX} more slots</li>}
        </ul>
      )}
    </div>
  );
}
