import { BuddyAllocator } from "../src/kernel/mm/buddy.ts";
import { Gfp } from "../src/kernel/mm/gfp.ts";
import { PageDescTable, PageKind } from "../src/kernel/mm/PageDesc.ts";
const frames = 524288;
const ns = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
const res: number[] = [];
let sum = 0;
for (let r = 0; r < 5; r++) {
  const pages = new PageDescTable(frames);
  const b = new BuddyAllocator(pages, frames);
  b.freeBootRange(256, frames);
  b.setupWatermarks();
  if ((b as any).setupPerCpuPageset) (b as any).setupPerCpuPageset(1, 9, () => 0);
  const held = new Int32Array(400000);
  const t0 = ns();
  for (let i = 0; i < 400000; i++) held[i] = b.alloc(0, Gfp.HIGHUSER, PageKind.UserAnon);
  // free half in a strided order and reallocate
  for (let i = 0; i < 400000; i += 2) b.free(held[i], 0);
  for (let i = 0; i < 400000; i += 2) held[i] = b.alloc(0, Gfp.HIGHUSER, PageKind.UserAnon);
  for (let i = 0; i < 400000; i++) b.free(held[i], 0);
  res.push((ns() - t0) / 1400000);
  sum += b.freePages();
}
res.sort((a, b) => a - b);
console.log(JSON.stringify({ nsPerOpBest: res[0].toFixed(1), median: res[2].toFixed(1), sum }));
