/**
 * `vmlab exercise kmem`: kmalloc against vmalloc. The kernel runs a string of
 * allocations and frees; the student says, for each kmalloc, which SLUB
 * cache serves it (or that it goes straight to the buddy allocator above
 * KMALLOC_MAX_CACHE_SIZE, and at which order), how many bytes of the object
 * go unused and whether it takes a new slab; for each vmalloc, how many
 * pages it maps, whether their frames are physically contiguous and where
 * its address lies; for each free, how many frames go back.
 *
 * The answers are the kernel model's own (src/kernel/mm/slab.ts, mm/slub.c;
 * src/kernel/mm/vmalloc.ts, mm/vmalloc.c): each step runs on a booted
 * machine, and what it did is read back through the kernel's read-only view
 * (the frames of each kind, the struct page of the object's frame, the
 * frames behind each page of a vmalloc area).
 */
import { InputError } from "../../base/errors.ts";
import { Rng } from "../../base/rng.ts";
import { KERNEL_ARCH_NAMES, type KernelArchName } from "../../kernel/core/config.ts";
import { Kernel } from "../../kernel/Kernel.ts";

export const KMEM_EXERCISE_ARCHES: readonly string[] = KERNEL_ARCH_NAMES;

export interface KmemExerciseOptions {
  seed: number;
  arch: string;
  /** steps (1..30) */
  count: number;
  cpus: number;
}

export type KmemOp =
  | { kind: "kmalloc" | "vmalloc"; name: string; size: number }
  | { kind: "kfree" | "vfree"; name: string };

export interface KmemExercise extends KmemExerciseOptions {
  arch: KernelArchName;
  ops: KmemOp[];
}

/** The frames of each kind a step took (positive) or gave back (negative), `free` left out. */
export type KindDelta = Record<string, number>;

export interface KmemStep {
  op: KmemOp;
  /** the address an allocation returned */
  va: bigint | null;
  /** the kmalloc cache that served it, or null (above 8 KiB, or a vmalloc) */
  cache: string | null;
  /** the object's size: the cache's, or the pages' for a large kmalloc and a vmalloc */
  objectBytes: number;
  /** a large kmalloc's buddy order, or -1 */
  order: number;
  /** a vmalloc's frames, page by page */
  pfns: number[];
  delta: KindDelta;
}

export interface KmemOutcome {
  steps: KmemStep[];
  answers: string[];
}

const KNOWN: Readonly<Record<string, true>> = Object.fromEntries(KMEM_EXERCISE_ARCHES.map((a) => [a, true]));

/** Sizes a kmalloc asks for: every cache's neighbourhood, and past KMALLOC_MAX_CACHE_SIZE (8 KiB). */
const KMALLOC_SIZES = [
  13, 24, 40, 60, 72, 100, 120, 150, 200, 300, 500, 700, 1000, 1500, 3000, 4096, 5000, 9000, 12000, 20000,
  33000,
];
/** Sizes a vmalloc asks for: from one page to about 17. */
const VMALLOC_SIZES = [4096, 6000, 9000, 16384, 20000, 40000, 70000];

export function generateKmemExercise(o: KmemExerciseOptions): KmemExercise {
  if (!Object.hasOwn(KNOWN, o.arch))
    throw new InputError(`--arch must be one of ${KMEM_EXERCISE_ARCHES.join(", ")}, not '${o.arch}'`);
  const rng = new Rng(o.seed);
  const ops: KmemOp[] = [];
  const live: { name: string; vmalloc: boolean }[] = [];
  let next = 0;
  for (let i = 0; i < o.count; i++) {
    if (live.length > 0 && (live.length >= 6 || rng.below(10) < 3)) {
      const [v] = live.splice(rng.below(live.length), 1);
      ops.push({ kind: v.vmalloc ? "vfree" : "kfree", name: v.name });
      continue;
    }
    const name = String.fromCharCode(97 + (next++ % 26));
    // the second allocation is always a vmalloc, so that every problem has both
    const vmalloc = next === 2 || rng.below(3) === 0;
    ops.push({
      kind: vmalloc ? "vmalloc" : "kmalloc",
      name,
      size: rng.pick(vmalloc ? VMALLOC_SIZES : KMALLOC_SIZES),
    });
    live.push({ name, vmalloc });
  }
  return { ...o, arch: o.arch as KernelArchName, ops };
}

function boot(ex: KmemExercise): Kernel {
  return new Kernel({ ramBytes: 64 << 20, cpus: ex.cpus, arch: ex.arch });
}

const hex = (n: bigint | number) => `0x${n.toString(16)}`;
const opText = (op: KmemOp) =>
  op.kind === "kmalloc" || op.kind === "vmalloc"
    ? `${op.name} = ${op.kind}(${op.size})`
    : `${op.kind}(${op.name})`;

/** The frames of each kind but free ones, and what changed between two counts. */
function kindDelta(before: Record<string, number>, after: Record<string, number>): KindDelta {
  const d: KindDelta = {};
  for (const k of Object.keys(after)) if (k !== "free" && after[k] !== before[k]) d[k] = after[k] - before[k];
  return d;
}

/** Runs the steps on a booted machine and reads back what each did. */
export function solveKmem(ex: KmemExercise): KmemOutcome {
  const k = boot(ex);
  const v = k.view;
  const addr = new Map<string, bigint>();
  const steps: KmemStep[] = [];
  let before = v.frames().byKind;
  for (const op of ex.ops) {
    const s: KmemStep = { op, va: null, cache: null, objectBytes: 0, order: -1, pfns: [], delta: {} };
    if (op.kind === "kmalloc" || op.kind === "vmalloc") {
      const va = op.kind === "kmalloc" ? k.kmalloc(op.size) : k.vmalloc(op.size);
      if (va === 0n) throw new Error(`exercise kmem: ${opText(op)} failed on a 64 MiB machine`);
      addr.set(op.name, va);
      s.va = va;
      if (op.kind === "kmalloc") {
        const f = v.frame(v.kernelPfn(va));
        if (f === null) throw new Error(`exercise kmem: no struct page behind ${hex(va)}`);
        if (f.kind === "slab") {
          s.cache = f.owner?.replace(/^slab /, "") ?? null;
          s.objectBytes = f.slabObjectSize;
        } else {
          s.order = f.order;
          s.objectBytes = 4096 << f.order;
        }
      } else {
        for (let off = 0; off < op.size; off += 4096) s.pfns.push(v.kernelPfn(va + BigInt(off)));
        s.objectBytes = s.pfns.length * 4096;
      }
    } else {
      const va = addr.get(op.name);
      if (va === undefined) throw new Error(`exercise kmem: ${op.name} was never allocated`);
      const err = op.kind === "kfree" ? k.kfree(va) : k.vfree(va);
      if (err !== null) throw new Error(`exercise kmem: ${opText(op)}: ${err}`);
    }
    const after = v.frames().byKind;
    s.delta = kindDelta(before, after);
    before = after;
    steps.push(s);
  }
  return { steps, answers: kmemAnswers(steps, k) };
}

const frames = (n: number) => `${n} frame${n === 1 ? "" : "s"}`;

function deltaText(d: KindDelta): string {
  const parts = Object.entries(d).map(([kind, n]) => `${Math.abs(n)} ${kind}`);
  return parts.length === 0 ? "none" : parts.join(", ");
}

function kmemAnswers(steps: KmemStep[], k: Kernel): string[] {
  const l = k.view.layout();
  const region = (va: bigint) =>
    l.regions.find((r) => va >= r.start && va < r.end)?.name ?? "outside every region";
  const out: string[] = [];
  let kTaken = 0;
  let vTaken = 0;
  let kBytes = 0;
  let vBytes = 0;
  steps.forEach((s, i) => {
    const taken = Object.values(s.delta).reduce((a, n) => a + n, 0);
    const head = `  ${String(i + 1).padStart(2)}. ${opText(s.op)}:`;
    if (s.op.kind === "kmalloc") {
      kTaken += taken;
      kBytes += s.op.size;
      const where =
        s.cache !== null ? s.cache : `no cache (above 8 KiB): the buddy allocator, order ${s.order}`;
      out.push(
        `${head} ${where}, ${s.objectBytes - s.op.size} bytes unused; at ${hex(s.va!)} (${region(s.va!)}); ` +
          (taken === 0
            ? "no frame taken (a slab had a free object)"
            : `${frames(taken)} taken (${deltaText(s.delta)})`),
      );
    } else if (s.op.kind === "vmalloc") {
      vTaken += taken;
      vBytes += s.op.size;
      const contiguous = s.pfns.every((p, j) => j === 0 || p === s.pfns[j - 1] + 1);
      out.push(
        `${head} ${s.pfns.length} page${s.pfns.length === 1 ? "" : "s"} at ${hex(s.va!)} (${region(s.va!)}), ` +
          `frames ${s.pfns.map((p) => hex(p)).join(" ")}: ${s.pfns.length === 1 ? "one frame" : contiguous ? "contiguous" : "not contiguous"}; ` +
          `${frames(taken)} taken (${deltaText(s.delta)})`,
      );
    } else {
      out.push(
        taken === 0
          ? `${head} no frame back (the object's slab stays)`
          : `${head} ${frames(-taken)} back (${deltaText(s.delta)})`,
      );
    }
  });
  out.push(
    "",
    `kmalloc: ${kBytes} bytes asked for, ${frames(kTaken)} taken; vmalloc: ${vBytes} bytes asked for, ${frames(vTaken)} taken`,
    "(its pages and any page tables the kernel's vmalloc mappings needed).",
  );
  return out;
}

/**
 * The vmalloc area on the booted machine: where its first area starts, the page-table frames the
 * first mapping takes (the upper levels the kernel set up at boot, e.g. x86-64's
 * preallocate_vmalloc_pages(), are already there) and the bytes one last-level table maps
 * (mm/vmalloc.c vmap_pages_range() -> vmap_pte_range(): pte_alloc_kernel() for a missing table).
 */
export function vmallocStartState(ex: KmemExercise): { start: bigint; tables: number; tableSpan: number } {
  const k = boot(ex);
  const before = k.view.frames().byKind["page-table"] ?? 0;
  const start = k.vmalloc(4096);
  if (start === 0n) throw new Error("exercise kmem: vmalloc(4096) failed on a fresh machine");
  const tables = (k.view.frames().byKind["page-table"] ?? 0) - before;
  const entryBytes = k.machine.cpus[0].format.entryBytes;
  return { start, tables, tableSpan: (4096 / entryBytes) * 4096 };
}

/** The problem's text: the machine, kmalloc's caches as slabinfo shows them, the rules, the steps. */
export function kmemProblem(ex: KmemExercise): string[] {
  const k = boot(ex);
  const vs = vmallocStartState(ex);
  const l = k.view.layout();
  const caches = k.view.slabinfo();
  const holding = (va: bigint) => l.regions.find((r) => va >= r.start && va < r.end);
  const direct = holding(l.directMap);
  const vm = holding(l.vmallocStart);
  return [
    `Kernel allocation exercise (${ex.arch}): seed ${ex.seed}`,
    "",
    `The machine: ${ex.cpus} CPU${ex.cpus === 1 ? "" : "s"}, 64 MiB of RAM, 4 KiB pages. Kernel virtual memory:`,
    ...(direct ? [`  ${direct.name}: ${hex(direct.start)} to ${hex(direct.end)} (${direct.what})`] : []),
    ...(vm ? [`  ${vm.name}: ${hex(vm.start)} to ${hex(vm.end)} (${vm.what})`] : []),
    "kmalloc's caches (SLUB; /proc/slabinfo: object size, objects per slab, pages per slab), all empty:",
    ...caches.map(
      (c) =>
        `  ${c.name.padEnd(12)} ${String(c.objSize).padStart(5)} bytes  ${String(c.objsPerSlab).padStart(3)} objects  ${c.pagesPerSlab} page${c.pagesPerSlab === 1 ? "" : "s"}`,
    ),
    "kmalloc(size) takes an object of the smallest cache at least size bytes; a cache whose slabs are all full",
    "takes a new slab from the buddy allocator. Above 8 KiB (KMALLOC_MAX_CACHE_SIZE) kmalloc takes 2^order",
    "physically contiguous pages straight from the buddy allocator (order = get_order(size)); kfree gives them",
    "back. kfree of a slab object keeps its slab, even empty (SLUB keeps at least min_partial, 5, partial slabs).",
    "vmalloc(size) maps size rounded up to pages, each an order-0 page from the buddy allocator, into the vmalloc",
    "area (a guard page after it); the kernel's page tables grow when the area needs new ones. vfree frees the",
    "pages at once (the page tables stay; the TLB flush is lazy).",
    `The first vmalloc area starts at ${hex(vs.start)}; its mapping takes ${frames(vs.tables)} of page tables (the`,
    `levels above are there since boot); each later area starts after the last one's guard page, and one`,
    `last-level table maps ${vs.tableSpan >> 20} MiB (a table is taken when an area reaches a ${vs.tableSpan >> 20} MiB block without one).`,
    "",
    "The kernel runs:",
    ...ex.ops.map((op, i) => `  ${String(i + 1).padStart(2)}. ${opText(op)}`),
    "",
    "1. For each kmalloc: the cache (or the buddy allocator and the order), the bytes of the object left unused,",
    "   the region of its address, and how many frames it takes from the buddy allocator.",
    "2. For each vmalloc: how many pages, whether their frames are physically contiguous, the region of its",
    "   address, and how many frames it takes (its pages, and page tables if any).",
    "3. For each kfree and vfree: how many frames go back to the buddy allocator.",
    "4. In all: the frames kmalloc and vmalloc took for the bytes asked of them.",
  ];
}
