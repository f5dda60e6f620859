/**
 * The memory limit (`userMemoryPages`, one cgroup's memory.max over every process) as a hard
 * limit: try_charge_memcg reclaims, retries, and when nothing more can go the memory cgroup's
 * OOM killer kills within the limit (mm/memcontrol.c try_charge_memcg, mem_cgroup_oom;
 * mm/oom_kill.c with CONSTRAINT_MEMCG).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import type { KernelConfig } from "./Kernel.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";

const PAGE = 4096n;
const LIMIT = 512;
const SWAP_PAGES = 256;

function boot(extra: Partial<KernelConfig> = {}) {
  return new Kernel({
    ramBytes: 64 << 20,
    swapBytes: SWAP_PAGES * 4096,
    overcommit: "always",
    userMemoryPages: LIMIT,
    ...extra,
  });
}

/**
 * Charged user memory as the limit counts it (core/memcontrol.ts): each user page once, the
 * pages on the LRU lists (the swap cache's included) and those in an LRU add batch.
 */
function charged(k: Kernel): number {
  const v = k.vmscan;
  return v.size[1] + v.size[2] + v.size[3] + v.size[4] + v.size[5] + v.fbatches.pending();
}

describe("the memory limit's OOM killer", () => {
  it("kills the task that outgrows the limit and the swap, with the memory cgroup's report", () => {
    const k = boot();
    const t = k.spawn("grow")!;
    k.switchTo(0, t);
    const pages = 2 * (LIMIT + SWAP_PAGES);
    const a = k.mmap(t, mmapArgs(pages * 4096));
    let diedAt = -1;
    for (let i = 0; i < pages; i++) {
      const r = k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, 1);
      if (!r.ok) {
        expect(r.signal).toBe("SIGKILL");
        diedAt = i;
        break;
      }
      // the limit holds: never more charged than memory.max
      expect(charged(k)).toBeLessThanOrEqual(LIMIT);
    }
    // it dies once the limit and the swap are full (a few swap slots may still be held by the
    // swap cache's readahead or be free: within a batch of the sum)
    expect(diedAt).toBeGreaterThan(LIMIT + SWAP_PAGES - 64);
    expect(diedAt).toBeLessThanOrEqual(LIMIT + SWAP_PAGES);
    expect(t.alive).toBe(false);
    const compat = k.view.vmstatCompat();
    expect(compat.memcg_oom_kills).toBe(1);
    // each charge that found the limit reached counts once, and reclaimed a batch before the next
    expect(compat.memcg_failcnt).toBeGreaterThan(0);
    expect(compat.memcg_failcnt).toBeLessThanOrEqual(compat.memcg_reclaims);
    expect(k.view.vmstat().oom_kill).toBe(1);
    const report = k.oomReports.join("\n");
    // the charge's mask (folio_prealloc's mem_cgroup_charge(..., GFP_KERNEL)), not the page's
    expect(report).toMatch(/^grow invoked oom-killer: gfp_mask=0xcc0\(GFP_KERNEL\), order=0/m);
    expect(report).toMatch(new RegExp(`^memory: usage \\d+kB, limit ${LIMIT * 4}kB, failcnt \\d+$`, "m"));
    expect(report).toMatch(/^swap: usage \d+kB, limit 9007199254740988kB, failcnt 0$/m);
    expect(report).toMatch(/oom-kill:constraint=CONSTRAINT_MEMCG,.*oom_memcg=\/,task_memcg=\/,task=grow,/);
    expect(report).toMatch(/^Memory cgroup out of memory: Killed process \d+ \(grow\) total-vm:/m);
    expect(report).not.toMatch(/^Out of memory:/m);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("kills the largest task in the limit and lets the charging one go on", () => {
    const k = boot();
    const big = k.spawn("big")!;
    const small = k.spawn("small")!;
    k.switchTo(0, big);
    const bigPages = LIMIT + SWAP_PAGES - 100; // the limit and most of swap
    const b = k.mmap(big, mmapArgs(bigPages * 4096));
    for (let i = 0; i < bigPages; i++)
      expect(k.userAccess(0, big, b + BigInt(i) * PAGE, Access.Write, 2).ok).toBe(true);
    expect(k.view.vmstatCompat().memcg_oom_kills).toBe(0);
    k.switchTo(0, small);
    const smallPages = 300;
    const s = k.mmap(small, mmapArgs(smallPages * 4096));
    for (let i = 0; i < smallPages; i++) {
      const r = k.userAccess(0, small, s + BigInt(i) * PAGE, Access.Write, 3);
      expect(r.ok, `small's page ${i}`).toBe(true);
      expect(charged(k)).toBeLessThanOrEqual(LIMIT);
    }
    expect(big.alive).toBe(false);
    expect(small.alive).toBe(true);
    expect(k.view.vmstatCompat().memcg_oom_kills).toBe(1);
    expect(k.oomReports.join("\n")).toMatch(/^Memory cgroup out of memory: Killed process \d+ \(big\)/m);
    // small's pages kept their contents through the reclaim around the kill
    for (let i = 0; i < smallPages; i++) {
      const r = k.userAccess(0, small, s + BigInt(i) * PAGE, Access.Read);
      expect(r.ok && r.value, `small's page ${i}`).toBe(3);
    }
  });

  it("without a limit nothing changes: the global OOM killer's report", () => {
    const k = boot({ userMemoryPages: null, ramBytes: 32 << 20, swapBytes: 0 });
    const t = k.spawn("grow")!;
    k.switchTo(0, t);
    const pages = 16384; // 64 MiB of anonymous memory in 32 MiB without swap
    const a = k.mmap(t, mmapArgs(pages * 4096));
    for (let i = 0; i < pages && t.alive; i++) k.userAccess(0, t, a + BigInt(i) * PAGE, Access.Write, 1);
    expect(t.alive).toBe(false);
    expect(k.view.vmstatCompat().memcg_oom_kills).toBe(0);
    expect(k.oomReports.join("\n")).toMatch(/^Out of memory: Killed process \d+ \(grow\)/m);
  });
});
