// 4000 rounds of: mmap 64K private, write its first page, mprotect read-only, mremap to 128K, munmap;
// plus brk +4K/-4K: the system calls the resource limits were added to (bench/RESULTS.md, rlimit).
import { Access } from "../src/hw/access.ts";
import { mmapArgs } from "../src/kernel/Kernel.ts";
import { KernelImpl as Kernel } from "../src/kernel/KernelImpl.ts";

const k = new Kernel({ ramBytes: 256 << 20, cpus: 1 });
const t = k.spawn("A")!;
k.switchTo(0, t);
for (let i = 0; i < 20; i++) k.mmap(t, mmapArgs(4096 * (i + 1))); // a few VMAs to count past
// LIMITED=1: RLIMIT_AS and RLIMIT_DATA set high (nothing refused), so may_expand_vm counts the VMAs
// (a tree without setrlimit ignores it)
const setrlimit = (k as unknown as { setrlimit?: (...a: unknown[]) => number }).setrlimit;
if (process.env.LIMITED === "1" && setrlimit) {
  setrlimit.call(k, t, "as", 1 << 30, Number.POSITIVE_INFINITY);
  setrlimit.call(k, t, "data", 1 << 30, Number.POSITIVE_INFINITY);
}
const ROUNDS = Number(process.env.ROUNDS ?? 4000);
const c0 = process.cpuUsage();
let sum = 0n;
for (let i = 0; i < ROUNDS; i++) {
  const a = k.mmap(t, mmapArgs(64 << 10));
  k.userAccess(0, t, a, Access.Write, 1);
  k.mprotect(t, a, 64n << 10n, { r: true, w: false, x: false });
  const b = k.mremap(t, a, 64n << 10n, 128n << 10n, true, -1n);
  k.munmap(t, b, 128n << 10n);
  sum += k.brk(t, 4096n);
  k.brk(t, -4096n);
}
const c = process.cpuUsage(c0);
const m = k.view.meminfo();
console.log(
  JSON.stringify({
    cpu_ms: Math.round((c.user + c.system) / 1000),
    rounds: ROUNDS,
    sum: String(sum % 1000003n),
    minflt: t.minFlt,
    committed: m.Committed_AS,
    vmas: k.view.vmas(t).length,
  }),
);
