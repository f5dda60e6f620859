/**
 * bench/touch.bench.ts's passes as a module, for bench/touch-ab.mjs (two trees
 * in one process): a 2 GiB machine, MIB of anonymous memory written once
 * (`faulting`), then resident passes alternating write and read
 * (`resident`); `faultRound` maps, writes and (by the function it returns)
 * unmaps a fresh range: faulting touches that can be repeated.
 */
import { Access } from "../src/hw/access.ts";
import type { KernelArchName } from "../src/kernel/core/config.ts";
import { Kernel, mmapArgs } from "../src/kernel/Kernel.ts";

export function setup(mib: number, arch: string) {
  const pages = (mib << 20) / 4096;
  const k = new Kernel({
    ramBytes: 2 * 2 ** 30,
    cpus: 1,
    swapBytes: 0,
    overcommit: "always",
    arch: arch as KernelArchName,
  });
  const t = k.spawn("c");
  if (t === null) throw new Error("spawn failed");
  k.switchTo(0, t);
  const base = k.mmap(t, mmapArgs(mib << 20));
  const hi = Number(base >> 32n);
  const lo = Number(base & 0xffffffffn);
  return {
    pages,
    faulting(): void {
      k.userAccessRange(0, t, hi, lo, pages, 4096, Access.Write, 1);
    },
    resident(p: number): void {
      k.userAccessRange(0, t, hi, lo, pages, 4096, p & 1 ? Access.Read : Access.Write, 2);
    },
    faultRound(m: number): () => void {
      const b = k.mmap(t, mmapArgs(m << 20));
      k.userAccessRange(
        0,
        t,
        Number(b >> 32n),
        Number(b & 0xffffffffn),
        (m << 20) / 4096,
        4096,
        Access.Write,
        1,
      );
      return () => k.munmap(t, b, BigInt(m << 20));
    },
    counters(): string {
      return JSON.stringify(k.view.cpu(0));
    },
  };
}
