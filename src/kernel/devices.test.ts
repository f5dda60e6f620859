/**
 * A character device's mmap through remap_pfn_range: the same frames as the
 * kernel's buffer, special PTEs that nothing refcounts, reclaims or grows.
 */

import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { Pte } from "../hw/arch/x86_64/pte.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { PageKind } from "./mm/PageDesc.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { stolenTotal } from "./mm/vmscan_stat.ts";
import { checkInvariants } from "./view/invariants.ts";
import { pagetableLines } from "./view/procfs.ts";

describe("remap_pfn_range", () => {
  it("show P pagetable ADDR puts the frame's two entries side by side and names what differs", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    k.registerDevice("fb", 8192);
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const u = k.mmap(t, mmapArgs(8192, { device: k.devices.get("fb")!, shared: true }));
    const lines = pagetableLines(k, t, u + 4096n + 5n);
    const pfn = k.devices.get("fb")!.pfn + 1;
    expect(lines).toContain(
      `frame 0x${pfn.toString(16)}: the process's entry and the kernel's direct-map entry (0x${k.directVa(pfn * 4096).toString(16)})`,
    );
    const row = (name: string) =>
      lines
        .find((l) => l.trimStart().startsWith(`${name} `))!
        .trim()
        .split(/\s{2,}/);
    expect(row("U/S")).toEqual(["U/S", "user", "supervisor"]);
    expect(row("global")).toEqual(["global", "-", "G (survives CR3 writes)"]);
    expect(row("software")).toEqual(["software", "special (no struct page)", "-"]);
    expect(lines.at(-1)).toBe("  differs: entry, U/S, global, software");
    // an ordinary anonymous page is aliased by the direct map too, and is not special
    const a = k.mmap(t, mmapArgs(4096));
    k.userAccess(0, t, a, Access.Write, 1);
    const anon = pagetableLines(k, t, a);
    expect(anon.at(-1)).toBe("  differs: entry, U/S, global");
    // nothing present: no frame, no comparison
    expect(pagetableLines(k, t, 0x10000n).some((l) => l.startsWith("frame"))).toBe(false);
  });

  it("maps the device buffer's frames with user rights; the kernel's entry for the same frame is supervisor", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 64 << 20, overcommit: "always" });
    const kva = k.registerDevice("fb", 16 * 1024);
    const dev = k.devices.get("fb")!;
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const u = k.mmap(t, mmapArgs(16 * 1024, { device: dev, shared: true }));
    expect(u > 0n).toBe(true);
    for (let i = 0; i < 4; i++) {
      const e = k.userMm.leafFor(t.mm!, Number(u / 4096n) + i)!;
      expect(e.pfn).toBe(dev.pfn + i);
      expect(e.lo & Pte.US).toBe(Pte.US);
      expect(k.kernelPfn(kva + BigInt(i) * 4096n)).toBe(dev.pfn + i);
    }
    expect([t.mm!.rss, k.pages.mapcount[dev.pfn], k.pages.refcount[dev.pfn]]).toEqual([0, 0, 1]);
    // writes through either mapping meet in the same frame
    k.userAccess(0, t, u + 10n, Access.Write, 0x31);
    const kr = k.kernelAccess(0, kva + 10n, Access.Read);
    expect(kr.ok && kr.value).toBe(0x31);
    // no page of it is reclaimed, even under pressure
    const big = k.mmap(t, mmapArgs(20000 * 4096));
    for (let i = 0; i < 20000; i++) k.userAccess(0, t, big + BigInt(i) * 4096n, Access.Write, 1);
    expect(stolenTotal(k.vmscan.stats)).toBeGreaterThan(0);
    expect(k.userMm.leafFor(t.mm!, Number(u / 4096n))!.pfn).toBe(dev.pfn);
    expect(k.madvise(t, u, 4096n, "pageout")).toBe(-22n);
    // mremap cannot grow it; a mapping larger than the buffer is refused
    expect(k.mremap(t, u, 16384n, 32768n, true, -1n)).toBe(-14n);
    expect(k.mmap(t, mmapArgs(32 * 1024, { device: dev, shared: true }))).toBe(-22n);
    // fork copies the PTEs; munmap and exit leave the buffer to the driver
    const c = k.fork(t, "C")!;
    expect(k.userMm.leafFor(c.mm!, Number(u / 4096n))!.pfn).toBe(dev.pfn);
    k.exit(c, "exit");
    k.switchTo(0, t);
    expect(k.munmap(t, u, 16384n)).toBe(0n);
    expect(k.pages.kind[dev.pfn]).toBe(PageKind.KernelPages);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("a private mapping copies a page on write and leaves the buffer alone", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const kva = k.registerDevice("mem", 4096);
    k.kernelAccess(0, kva, Access.Write, 0x55);
    const t = k.spawn("A")!;
    k.switchTo(0, t);
    const p = k.mmap(t, mmapArgs(4096, { device: k.devices.get("mem")! }));
    const r = k.userAccess(0, t, p + 1n, Access.Write, 0x99);
    expect(r.ok).toBe(true);
    const back = k.userAccess(0, t, p, Access.Read);
    expect(back.ok && back.value).toBe(0x55); // the copy holds the buffer's bytes
    expect(
      k.kernelAccess(0, kva + 1n, Access.Read).ok &&
        k.machine.phys.read8(k.devices.get("mem")!.pfn * 4096 + 1),
    ).toBe(0);
    expect(t.mm!.rssAnon).toBe(1);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("rejects impossible devices", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    expect(() => k.registerDevice("d", 0)).toThrow(/size/);
    expect(() => k.registerDevice("d", 64 << 20)).toThrow(/size/);
    k.registerDevice("d", 4096);
    expect(() => k.registerDevice("d", 4096)).toThrow(/already exists/);
  });
});
