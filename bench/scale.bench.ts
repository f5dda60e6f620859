/**
 * Host memory at real machine sizes (issue #20, goal 3): a simulated 16 GiB
 * machine, one process that writes 16 GiB of anonymous memory page by page
 * (what a scenario's `A: write a 16G value=0x5a` does: one byte of each
 * page, through the page tables and the fault path), then reads back a
 * sample of the pages, checking each byte. The machine is full: the pages
 * that do not fit go to a 1 GiB swap area.
 *
 * Prints the host memory the run took (process.memoryUsage() after a full
 * GC, less the same before the machine was booted: RSS, and heap + array
 * buffers) divided by the simulated pages resident at the end, beside the
 * same run on a 1 GiB machine (the baseline) and the goal: at most 256
 * bytes per resident page whose contents are uniform, and the 16 GiB
 * machine inside 2 GiB of host memory.
 *
 * Run: npm run bench:scale   (GIB=N for another size than 16)
 */
import { Access } from "../src/hw/access.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";

const GIB = 2 ** 30;
const MIB = 2 ** 20;
const GOAL_BYTES_PER_PAGE = 256;
const GOAL_HOST_BYTES = 2 * GIB;
const VALUE = 0x5a;

function gc(): void {
  if (!global.gc) throw new Error("run with node --expose-gc (npm run bench:scale does)");
  global.gc();
  global.gc();
}

function run(gib: number) {
  gc();
  const m0 = process.memoryUsage();
  const k = new Kernel({ ramBytes: gib * GIB, cpus: 1, swapBytes: GIB, overcommit: "always" });
  const t = k.spawn("writer")!;
  k.switchTo(0, t);
  const pages = (gib * GIB) / 4096;
  const base = k.mmap(t, mmapArgs(gib * GIB));
  if (base < 0n) throw new Error(`mmap failed: ${base}`);
  const start = process.hrtime.bigint();
  for (let i = 0; i < pages; i++) {
    const r = k.userAccess(0, t, base + BigInt(i) * 4096n, Access.Write, VALUE);
    if (!r.ok) throw new Error(`write of page ${i} failed: ${r.signal}`);
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  // a sample read back: the byte written, and one the write did not touch (zero)
  let sampled = 0;
  for (let i = 0; i < pages; i += 4093) {
    const va = base + BigInt(i) * 4096n;
    const a = k.userAccess(0, t, va, Access.Read);
    const b = k.userAccess(0, t, va + 2049n, Access.Read);
    if (!a.ok || a.value !== VALUE || !b.ok || b.value !== 0) throw new Error(`page ${i} lost its contents`);
    sampled++;
  }
  gc();
  const m1 = process.memoryUsage();
  const mm = k.view.mm(t)!;
  const phys = k.machine.phys;
  return {
    gib,
    pages,
    seconds,
    sampled,
    resident: mm.rss,
    swapped: mm.swapEntries,
    materialised: phys.materialized,
    rss: m1.rss - m0.rss,
    heap: m1.heapUsed + m1.arrayBuffers - (m0.heapUsed + m0.arrayBuffers),
    heapUsed: m1.heapUsed - m0.heapUsed,
  };
}

function report(r: ReturnType<typeof run>): void {
  console.log(
    `  ${r.gib} GiB machine: wrote ${r.pages} pages in ${r.seconds.toFixed(1)} s (${(r.pages / r.seconds / 1e6).toFixed(2)} M pages/s), read back ${r.sampled} sampled pages exactly`,
  );
  console.log(
    `    resident ${r.resident} pages, ${r.swapped} swapped out; frames holding 4 KiB of host memory: ${r.materialised}`,
  );
  console.log(
    `    host memory: RSS +${(r.rss / MIB).toFixed(0)} MiB = ${(r.rss / r.resident).toFixed(0)} B per resident page; heap + array buffers +${(r.heap / MIB).toFixed(0)} MiB = ${(r.heap / r.resident).toFixed(0)} B per page (heapUsed alone ${(r.heapUsed / r.resident).toFixed(1)} B)`,
  );
}

function main(): void {
  const gib = Number(process.env.GIB ?? 16);
  console.log(
    `scale bench: a ${gib} GiB machine with 1 GiB of swap, one process writes ${gib} GiB page by page (value 0x5a), Node ${process.version}`,
  );
  const small = run(1); // its machine is garbage once run returns
  report(small);
  const big = run(gib);
  report(big);
  const perPage = big.rss / big.resident;
  console.log(
    `  goal: at most ${GOAL_BYTES_PER_PAGE} B per resident page: ${perPage.toFixed(0)} B (${perPage <= GOAL_BYTES_PER_PAGE ? "met" : "NOT met"}); baseline at 1 GiB ${(small.rss / small.resident).toFixed(0)} B`,
  );
  const total = process.memoryUsage().rss;
  console.log(
    `  goal: the ${gib} GiB machine inside ${GOAL_HOST_BYTES / GIB} GiB of host memory: process RSS ${(total / MIB).toFixed(0)} MiB (${total <= GOAL_HOST_BYTES ? "met" : "NOT met"})`,
  );
}

main();
