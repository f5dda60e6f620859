/**
 * wasm/fold.ts's totals (the reading thread's pass over a raw slot's records, machine mode) against
 * another build of the same module: ns per record over a file of u64 records in 2 MiB slots (as
 * worker.ts hands them), the two alternating, ROUNDS (20) rounds; prints each side's min and median
 * and whether the two gave equal totals.
 *
 *   node --import tsx bench/foldtotals.bench.ts RECORDS.u64 OTHER_foldWasm.ts
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fromBase64, instantiate, wasmApi } from "../src/base/wasm.ts";
import { FOLD_WASM } from "../src/workloads/trace/foldWasm.ts";

const bytes = readFileSync(process.argv[2]);
const other = (await import(resolve(process.argv[3]))).FOLD_WASM as string;
const ROUNDS = Number(process.env.ROUNDS ?? 20);
const SLOT = 2 << 20;
const size = bytes.length - (bytes.length % SLOT);
const pages = Math.ceil((size + 4096) / 65536);
const memory = new (wasmApi()!.Memory)({ initial: pages, maximum: pages, shared: true });
new Uint8Array(memory.buffer).set(bytes.subarray(0, size));
type Totals = (rec: number, n: number, t: number) => void;
const sides: Array<[string, Totals]> = [
  ["this", instantiate(fromBase64(FOLD_WASM), memory).totals as Totals],
  ["other", instantiate(fromBase64(other), memory).totals as Totals],
];
const at = size;
const t = new Float64Array(memory.buffer, at, 7);
const ns: number[][] = [[], []];
const sums: number[][] = [[], []];
for (let r = 0; r < ROUNDS; r++)
  for (let s = 0; s < 2; s++) {
    t.fill(0);
    const t0 = process.hrtime.bigint();
    for (let o = 0; o < size; o += SLOT) sides[s][1](o, SLOT / 8, at);
    ns[s].push(Number(process.hrtime.bigint() - t0) / (size / 8));
    sums[s] = Array.from(t);
  }
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (let s = 0; s < 2; s++)
  console.log(
    `${sides[s][0]}: ns per record min ${Math.min(...ns[s]).toFixed(3)} median ${med(ns[s]).toFixed(3)}`,
  );
console.log(
  `ratio this/other (medians) ${(med(ns[0]) / med(ns[1])).toFixed(3)}; totals ${String(sums[0]) === String(sums[1]) ? "equal" : `DIFFER ${sums[0]} / ${sums[1]}`}`,
);
