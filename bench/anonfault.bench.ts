/**
 * The kernel side of the demand-zero fault (issue #20, goal 3): on a 2 GiB
 * x86-64 machine, MIB= (1536) MiB of fresh anonymous memory is faulted in
 * page by page through do_user_addr_fault (a user write #PF's error code),
 * with no MMU access around it: handle_mm_fault, do_anonymous_page, the page
 * allocator, clearing the page, the LRU add and set_pte_at, nothing of the
 * hardware's walk. Prints CPU ns per fault (process.cpuUsage), the best and
 * the median of ROUNDS= (3) machines (and the best in user time alone: the
 * system time is the host's page faults on the model's new arrays), and counters that must be equal in
 * every tree (faults, free pages, LRU sizes, page tables, a checksum of the
 * pfns mapped).
 * Usage: node bench/bundled.mjs bench/anonfault.bench.ts
 */
import { PfErr } from "../src/hw/arch/x86_64/fault.ts";
import { doUserAddrFault } from "../src/kernel/arch/x86/fault.ts";
import { mmapArgs } from "../src/kernel/Kernel.ts";
import { KernelImpl } from "../src/kernel/KernelImpl.ts";

const MIB = Number(process.env.MIB ?? 1536);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const GIB = 1 << 30;
const PAGES = (MIB << 20) / 4096;
const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};
const userNs = () => process.cpuUsage().user * 1000;
const times: number[] = [];
const userTimes: number[] = [];
let counters = {};
for (let r = 0; r < ROUNDS; r++) {
  const k = new KernelImpl({
    ramBytes: 2 * GIB,
    cpus: 1,
    swapBytes: 0,
    overcommit: "always",
    arch: "x86_64",
  });
  const t = k.spawn("c");
  if (t === null) throw new Error("spawn failed");
  k.switchTo(0, t);
  const base = k.mmap(t, mmapArgs(MIB << 20));
  const hi = Number(base >> 32n);
  const lo = Number(base & 0xffffffffn);
  const ec = PfErr.WR | PfErr.US;
  const t0 = cpuNs();
  const u0 = userNs();
  for (let i = 0; i < PAGES; i++) {
    const l = lo + i * 4096;
    const r = doUserAddrFault(k, t, null, ec, 0, hi + Math.floor(l / 2 ** 32), l >>> 0);
    if (r !== null) throw new Error(`fault ${i}: ${r.signal}`);
  }
  times.push((cpuNs() - t0) / PAGES);
  userTimes.push((userNs() - u0) / PAGES);
  let sum = 0;
  for (let i = 0; i < PAGES; i += 97) {
    const e = k.userMm.readPte(t.mm!, Number(base / 4096n) + i);
    sum = (sum * 31 + (e?.lo ?? 0)) % 1000000007;
  }
  counters = { minFlt: t.minFlt, free: k.buddy.freePages(), pteSum: sum, rss: t.mm!.rssAnon };
}
times.sort((a, b) => a - b);
userTimes.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    faultNsBest: Math.round(times[0]),
    faultNsMedian: Math.round(times[times.length >> 1]),
    userNsBest: Math.round(userTimes[0]),
    ...counters,
  }),
);
