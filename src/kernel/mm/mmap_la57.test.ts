/**
 * 5-level paging keeps user space below 47 bits unless asked
 * (Documentation/arch/x86/x86_64/5level-paging.rst): STACK_TOP and
 * mmap_base come from DEFAULT_MAP_WINDOW (2^47 - 4K), and only an mmap
 * hint above it opens the 56-bit space (arch_get_unmapped_area_topdown,
 * mmap_address_hint_valid).
 */
import { describe, expect, it } from "vitest";
import { KernelImpl as Kernel } from "../KernelImpl.ts";

const map = (k: Kernel, t: ReturnType<Kernel["spawn"]>, length: number, addr = -1) =>
  k.mmap(t!, {
    file: null,
    offset: 0,
    length,
    prot: { r: true, w: true, x: false },
    shared: false,
    populate: false,
    locked: false,
    noreserve: false,
    addr,
    fixed: false,
    privileged: true,
  });

describe("LA57: the 47-bit default map window", () => {
  it("puts the stack and plain mmaps below 2^47, and goes above only for a hint above the window", () => {
    const k = new Kernel({ arch: "x86_64-la57", ramBytes: 64 << 20 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const w = 1n << 47n;
    expect(BigInt(t.mm!.stackTop) * 4096n).toBe(w - 4096n);
    const low = map(k, t, 4096);
    expect(low > 0n && low < w).toBe(true);
    // a hint above the window that is free: taken as is
    const at = 1n << 52n;
    expect(map(k, t, 4096, Number(at))).toBe(at);
    // a hint past TASK_SIZE is not valid, but still raises the search's top into the 56-bit space
    const high = map(k, t, 4096, 2 ** 56);
    expect(high >= w && high < 1n << 56n).toBe(true);
    // a hint that would straddle the window is not taken: the search stays below it
    const straddle = map(k, t, 8192, Number(w - 4096n));
    expect(straddle < w - 4096n).toBe(true);
  });

  it("4-level paging: unchanged (the window is TASK_SIZE)", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    expect(BigInt(t.mm!.stackTop) * 4096n).toBe((1n << 47n) - 4096n);
    expect(map(k, t, 4096, 2 ** 56) < 1n << 47n).toBe(true);
  });
});
