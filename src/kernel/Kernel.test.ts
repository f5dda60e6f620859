import { describe, expect, it } from "vitest";
import { Rng } from "../base/rng.ts";
import { Access } from "../hw/access.ts";
import { KERNEL_PHYS_START } from "./arch/x86/init.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { Gfp } from "./mm/gfp.ts";
import { PageKind } from "./mm/PageDesc.ts";
import { checkInvariants } from "./view/invariants.ts";
import { formatMeminfo, meminfo, vmstat } from "./view/proc.ts";

const MiB = 1 << 20;

describe("boot", () => {
  it("builds the direct map, the kernel image mapping, vmemmap and vmalloc tables in RAM", () => {
    const k = new Kernel({ ramBytes: 256 * MiB });
    expect(checkInvariants(k)).toEqual([]);
    // the direct map: __va(pa) translates to pa
    for (const pa of [0, 0x1234, 100 * MiB + 0x42]) {
      const r = k.kernelAccess(0, 0xffff_8880_0000_0000n + BigInt(pa), Access.Read);
      expect(r.ok && r.pa).toBe(pa);
    }
    // the kernel image mapping: text at __START_KERNEL_map + 16 MiB, read-only
    const text = 0xffff_ffff_8000_0000n + BigInt(KERNEL_PHYS_START);
    expect(k.kernelPfn(text)).toBe(KERNEL_PHYS_START / 4096);
    const w = k.kernelAccess(0, text, Access.Write, 1);
    expect(w.ok).toBe(false); // CR0.WP: even the kernel cannot write its text
    // 2 MiB pages in the direct map past the first 2 MiB
    expect(k.mapper.lookup(k.rootPfn, k.va.vpn(0xffff_8880_0040_0000n))!.level).toBe(1);
    expect(k.mapper.lookup(k.rootPfn, k.va.vpn(0xffff_8880_0000_1000n))!.level).toBe(0);
  });

  it("uses 1 GiB pages in the direct map above 1 GiB", () => {
    const k = new Kernel({ ramBytes: 3 * 1024 * MiB });
    expect(k.mapper.lookup(k.rootPfn, k.va.vpn(0xffff_8880_4000_0000n))!.level).toBe(2);
    expect(k.kernelPfn(0xffff_8880_8000_1000n)).toBe(0x80001);
  });

  it("keeps the first MiB, the image, memblock and the memmap out of MemTotal", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const m = meminfo(k);
    const counts = k.pages.countByKind();
    expect(counts[PageKind.Reserved]).toBe(256);
    expect(counts[PageKind.KernelImage]).toBe(1536);
    expect(counts[PageKind.Memmap]).toBe(512); // one 2 MiB block for 16384 struct pages
    expect(m.MemTotal).toBe((16384 - 256 - 1536 - k.memblock.frames) * 4096);
    expect(counts[PageKind.PageTable] + counts[PageKind.Memmap]).toBe(k.memblock.frames);
    expect(m.MemFree).toBe(m.MemTotal);
    expect(formatMeminfo(m)[0]).toMatch(/^MemTotal: {7} {0,8}\d+ kB$/);
  });

  it("boots LA57 with five levels", () => {
    const k = new Kernel({ ramBytes: 64 * MiB, arch: "x86_64-la57" });
    const r = k.kernelAccess(0, 0xff11_0000_0010_0000n, Access.Read);
    expect(r.ok && r.pa).toBe(0x100000);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("rejects machines too small to boot", () => {
    expect(() => new Kernel({ ramBytes: 16 * MiB })).toThrow(/too small/);
  });
});

describe("kmalloc, vmalloc, alloc_pages", () => {
  it("kmalloc'd memory is physically contiguous; vmalloc'd is not", () => {
    const k = new Kernel({ ramBytes: 128 * MiB });
    const big = k.kmalloc(4 * 4096);
    const pfn0 = k.kernelPfn(big);
    for (let i = 1; i < 4; i++) expect(k.kernelPfn(big + BigInt(i * 4096))).toBe(pfn0 + i);
    expect(k.pages.kind[pfn0]).toBe(PageKind.KmallocLarge);
    // interleave allocations so the next free frames are scattered
    const spacers: bigint[] = [];
    for (let i = 0; i < 16; i++) spacers.push(k.allocPages(0));
    for (let i = 0; i < 16; i += 2) k.freePages(spacers[i], 0);
    const v = k.vmalloc(4 * 4096);
    const vp = [0, 1, 2, 3].map((i) => k.kernelPfn(v + BigInt(i * 4096)));
    expect(vp.every((p) => p > 0)).toBe(true);
    expect(vp.some((p, i) => i > 0 && p !== vp[i - 1] + 1)).toBe(true);
    expect(k.kernelPfn(v + 4n * 4096n)).toBe(-1); // the guard page
    expect(v >= 0xffff_c900_0000_0000n).toBe(true);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("kmalloc above KMALLOC_MAX_CACHE_SIZE counts in Slab and SUnreclaim (___kmalloc_large_node)", () => {
    const k = new Kernel({ ramBytes: 128 * MiB });
    const before = meminfo(k);
    const nr = vmstat(k).nr_slab_unreclaimable;
    const big = k.kmalloc(64 * 1024); // order 4: 16 pages from the page allocator
    const after = meminfo(k);
    expect([after.Slab - before.Slab, after.SUnreclaim - before.SUnreclaim]).toEqual([16 * 4096, 16 * 4096]);
    expect(vmstat(k).nr_slab_unreclaimable - nr).toBe(16);
    expect(k.kfree(big)).toBeNull();
    expect(meminfo(k).Slab).toBe(before.Slab);
  });

  it("returns ZERO_SIZE_PTR for kmalloc(0) and NULL when no block of the order is free", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    expect(k.kmalloc(0)).toBe(16n);
    expect(k.kmalloc(5 * MiB)).toBe(0n); // above MAX_PAGE_ORDER
    expect(() => k.kmalloc(-1)).toThrow(/non-negative/);
    expect(() => k.allocPages(11)).toThrow(/order/);
  });

  it("reports double and invalid frees instead of corrupting memory", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const a = k.kmalloc(100);
    expect(k.kfree(a)).toBeNull();
    expect(k.kfree(a)).toMatch(/double free/);
    expect(k.kfree(0xffff_c900_0000_0000n)).toMatch(/not a kmalloc address/);
    const p = k.allocPages(2);
    expect(k.freePages(p, 1)).toMatch(/wrong-order/);
    expect(k.freePages(p, 2)).toBeNull();
    expect(k.freePages(p, 2)).toMatch(/double free/);
    const v = k.vmalloc(8192);
    expect(k.vfree(v + 4096n)).toMatch(/not the start/);
    expect(k.vfree(v)).toBeNull();
    expect(k.vfree(v)).toMatch(/not the start/);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("vfree flushes lazily: the freed range is not reused until a purge", () => {
    const k = new Kernel({ ramBytes: 128 * MiB, cpus: 2 });
    const a = k.vmalloc(4096);
    expect(k.kernelAccess(1, a, Access.Read).ok).toBe(true); // CPU 1 caches it
    k.vfree(a);
    expect(k.vm.lazyPages).toBe(1);
    const b = k.vmalloc(4096);
    expect(b).not.toBe(a); // a's range stays reserved
    k.vm.purge();
    expect(k.tlbMgr.shootdowns).toBeGreaterThan(0);
    expect(k.vmalloc(4096)).toBe(a);
  });
});

describe("kernel faults", () => {
  it("oopses on a NULL dereference with Linux's report, and kills the task", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const task = k.contextTask(0);
    const r = k.kernelAccess(0, 0n, Access.Read);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.oops).toEqual([
      "BUG: kernel NULL pointer dereference, address: 0000000000000000",
      "#PF: supervisor read access in kernel mode",
      "#PF: error_code(0x0000) - not-present page",
      "PGD 0 P4D 0",
      "Oops: 0000 [#1] PREEMPT SMP NOPTI",
      // dump_stack_print_info (lib/dump_stack.c): 6.12's UID, print_tainted(), the release
      `CPU: 0 UID: 0 PID: ${task.pid} Comm: ${task.comm} Not tainted 6.12.0 #1`,
    ]);
    expect(task.alive).toBe(false);
    expect(k.contextTask(0)).not.toBe(task); // a new worker runs the next kernel code
    expect(k.panicked).toBeNull();
    // oops_end's add_taint(TAINT_DIE): the next oops prints 'D' among taint_flags' characters and
    // print_tainted_verbose's line
    const next = k.contextTask(0);
    const r2 = k.kernelAccess(0, 8n, Access.Read);
    expect(r2.ok).toBe(false);
    if (r2.ok) return;
    expect(r2.oops.slice(-3)).toEqual([
      "Oops: 0000 [#2] PREEMPT SMP NOPTI",
      `CPU: 0 UID: 0 PID: ${next.pid} Comm: ${next.comm} Tainted: G      D            6.12.0 #1`,
      "Tainted: [D]=DIE",
    ]);
  });

  it("oopses on an unmapped kernel address, dumping the tables down to the empty entry", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const r = k.kernelAccess(0, 0xffff_c900_1234_5000n, Access.Write, 7);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.oops[0]).toBe("BUG: unable to handle page fault for address: ffffc90012345000");
    expect(r.oops[1]).toBe("#PF: supervisor write access in kernel mode");
    expect(r.oops[2]).toBe("#PF: error_code(0x0002) - not-present page");
    expect(r.oops[3]).toMatch(/^PGD [0-9a-f]+ P4D [0-9a-f]+ PUD 0$/);
  });

  it("reports NX and SMEP on a kernel instruction fetch", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const r = k.kernelAccess(0, 0xffff_8880_0100_0000n, Access.Exec);
    expect(!r.ok && r.oops[0]).toMatch(
      /kernel tried to execute NX-protected page - exploit attempt\? \(uid: 0\)/,
    );
    expect(!r.ok && r.oops[3]).toBe("#PF: error_code(0x0011) - permissions violation");
  });

  it("gives #GP for a non-canonical address", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const r = k.kernelAccess(0, 0x0000_8000_0000_0000n, Access.Read);
    expect(!r.ok && r.oops[0]).toMatch(
      /^general protection fault, probably for non-canonical address 0x0000800000000000/,
    );
  });

  it("stops the machine with panic_on_oops", () => {
    const k = new Kernel({ ramBytes: 64 * MiB, panicOnOops: true });
    const r = k.kernelAccess(0, 8n, Access.Read);
    expect(!r.ok && r.panic).toBe("Fatal exception");
    expect(k.panicked).toBe("Fatal exception");
    expect(k.log.at(-1)).toBe("Kernel panic - not syncing: Fatal exception");
  });

  it("treats a write fault on a page made writable without a flush as spurious", () => {
    const k = new Kernel({ ramBytes: 64 * MiB });
    const v = k.vmalloc(4096);
    const vpn = k.va.vpn(v);
    k.mapper.protect(k.rootPfn, vpn, { nx: true, global: true, accessed: true }); // read-only
    k.flushTlbKernelRange(vpn, 1);
    expect(k.kernelAccess(0, v, Access.Read).ok).toBe(true); // caches read-only
    k.mapper.protect(k.rootPfn, vpn, { writable: true, nx: true, global: true }); // writable again, no flush
    const r = k.kernelAccess(0, v, Access.Write, 9);
    expect(r.ok && r.faults).toBe(1);
    expect(k.oopses).toHaveLength(0);
  });
});

describe("kernel memory under random use (invariant checker on)", () => {
  for (const seed of [11, 12, 13]) {
    it(`keeps every invariant and every byte (seed ${seed})`, () => {
      const rng = new Rng(seed);
      const k = new Kernel({ ramBytes: 48 * MiB, cpus: 2, checkCoherence: true });
      type Obj = { kind: "k" | "v" | "p"; va: bigint; size: number; order: number; byte: number };
      const live: Obj[] = [];
      for (let step = 0; step < 400; step++) {
        const r = rng.float();
        if (live.length === 0 || r < 0.5) {
          const which = rng.pick(["k", "k", "v", "p"] as const);
          const size =
            which === "k" ? 1 + rng.below(rng.float() < 0.9 ? 8192 : 64 * 1024) : 1 + rng.below(6 * 4096);
          const order = rng.below(4);
          const va =
            which === "k"
              ? k.kmalloc(size, Gfp.KERNEL)
              : which === "v"
                ? k.vmalloc(size)
                : k.allocPages(order);
          if (va === 0n) continue;
          const byte = rng.below(256);
          expect(k.kernelAccess(rng.below(2), va, Access.Write, byte).ok).toBe(true);
          live.push({ kind: which, va, size, order, byte });
        } else {
          const i = rng.below(live.length);
          const o = live[i];
          const read = k.kernelAccess(rng.below(2), o.va, Access.Read);
          expect(read.ok && read.value, `step ${step}`).toBe(o.byte);
          const err =
            o.kind === "k" ? k.kfree(o.va) : o.kind === "v" ? k.vfree(o.va) : k.freePages(o.va, o.order);
          expect(err).toBeNull();
          live.splice(i, 1);
        }
        if (step % 20 === 0) expect(checkInvariants(k), `step ${step}`).toEqual([]);
      }
      expect(checkInvariants(k)).toEqual([]);
      expect(k.oopses).toHaveLength(0);
      expect(k.machine.checker!.reports).toEqual([]);
    });
  }
});
