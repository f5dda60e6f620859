/**
 * The read-only view: what it reports of a small, known state, that its
 * data are copies, and that reading everything changes nothing.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { Kernel, mmapArgs, type TaskHandle } from "../Kernel.ts";
import { KernelImpl } from "../KernelImpl.ts";
import { PageKind } from "../mm/PageDesc.ts";

const PAGE = 4096n;

/** A process with 4 anonymous pages written, 1 read (the zero page), and a kmalloc. */
function setup(extra: Record<string, unknown> = {}) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 2, swapBytes: 4 << 20, ...extra });
  const a = k.spawn("A")!;
  k.switchTo(0, a);
  const buf = k.mmap(a, mmapArgs(8 * 4096));
  for (let i = 0n; i < 4n; i++) k.userAccess(0, a, buf + i * PAGE, Access.Write, 7);
  k.userAccess(0, a, buf + 4n * PAGE, Access.Read);
  const obj = k.kmalloc(100);
  return { k, a, buf, obj };
}

/** Every read the view offers, over every task and CPU. */
function readAll(k: Kernel, t: TaskHandle, va: bigint): unknown[] {
  const v = k.view;
  const vpn = v.address(va).vpn;
  return [
    v.machine(),
    v.layout(),
    v.tasks(),
    v.mm(t),
    v.vmas(t),
    v.pages(t, vpn, 8),
    v.smaps(t),
    v.status(t),
    v.statm(t),
    v.smapsRollup(t),
    v.oomScore(t),
    v.walk(t, va),
    v.walk("kernel", va),
    v.mappings(t),
    v.pageTables(t),
    v.cpus(),
    v.tlb(0),
    v.tlb(1),
    v.frames(),
    v.frame(v.page(t, vpn).pfn),
    v.meminfo(),
    v.vmstat(),
    v.buddyinfo(),
    v.slabinfo(),
    v.files(),
    v.devices(),
    v.counters(),
    v.oopses(),
    v.oomReports(),
    v.invariants(),
    v.explain(t, va, Access.Write),
    v.explainKernel(0, va, Access.Read),
  ];
}

describe("KernelView", () => {
  it("reports tasks, their mm and VMAs", () => {
    const { k, a, buf } = setup();
    const b = k.fork(a, "B")!;
    const v = k.view;
    const tasks = v.tasks();
    expect(tasks.map((t) => t.comm).slice(-2)).toEqual(["A", "B"]);
    const ta = v.task(a);
    const tb = v.task(b);
    expect([ta.cpu, ta.hasMm, ta.kthread, ta.alive, tb.ppid]).toEqual([0, true, false, true, ta.pid]);
    expect(tb.mmId).not.toBe(ta.mmId);
    const mm = v.mm(a)!;
    expect([mm.rssAnon, mm.mapCount, mm.users]).toEqual([4, 2, 1]);
    expect(mm.totalVm).toBe(8 + 33);
    const vma = v.vmas(a).find((x) => x.start === buf)!;
    expect([vma.end, vma.pages, vma.perms, vma.anon]).toEqual([buf + 8n * PAGE, 8, "rw-p", true]);
    expect(vma.flagNames).toContain("VM_WRITE");
    expect(v.mm(k.kthread("K"))).toBeNull();
  });

  it("decodes each level of a walk and the leaf, with the frame's direct-map twin", () => {
    const { k, a, buf } = setup();
    const w = k.view.walk(a, buf);
    expect(w.entries.map((e) => e.levelName)).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(w.entries.map((e) => e.linuxLevel)).toEqual(["PGD", "PUD", "PMD", "PTE"]);
    expect(w.entries.slice(0, 3).every((e) => e.table && e.present && e.nextPfn >= 0)).toBe(true);
    for (let i = 1; i < w.entries.length; i++) expect(w.entries[i].tablePfn).toBe(w.entries[i - 1].nextPfn);
    expect(w.entries[0].tablePfn).toBe(k.view.mm(a)!.pgdPfn);
    const leaf = w.leaf!;
    expect([leaf.pageSize, leaf.writable, leaf.dirty, leaf.young, leaf.special]).toEqual([
      "4K",
      true,
      true,
      true,
      false,
    ]);
    expect(leaf.pfn).toBe(k.view.page(a, w.vpn).pfn);
    expect(w.entries[3].flags).toContain("D");
    expect(leaf.directMap!.va).toBe(k.directVa(leaf.pa));
    expect(leaf.directMap!.leaf!.pfn).toBe(leaf.pfn);
    // the zero page, and an untouched page
    expect(k.view.walk(a, buf + 4n * PAGE).leaf!.special).toBe(true);
    expect(k.view.walk(a, buf + 5n * PAGE).leaf).toBeNull();
    // the kernel's own tables map the direct map with large pages
    const kw = k.view.walk("kernel", k.directVa(0x100000));
    expect(kw.leaf!.pfn).toBe(0x100);
    expect(kw.leaf!.directMap).toBeNull();
    expect(k.view.kernelPfn(k.directVa(0x100000))).toBe(0x100);
  });

  it("reports pages, mappings, swap entries and guard markers", () => {
    const { k, a, buf } = setup();
    const vpn = k.view.address(buf).vpn;
    expect(k.madvise(a, buf, PAGE, "pageout")).toBe(0n);
    expect(k.madvise(a, buf + 6n * PAGE, PAGE, "guard_install")).toBe(0n);
    const pages = k.view.pages(a, vpn, 8);
    expect(pages[0].swapSlot).toBeGreaterThan(0);
    expect(pages[0].present).toBe(false);
    expect(pages.slice(1, 4).every((p) => p.present && p.anon && p.dirty && p.mapcount === 1)).toBe(true);
    expect([pages[4].zeroPage, pages[4].mapcount, pages[5].present, pages[6].guard]).toEqual([
      true,
      0,
      false,
      true,
    ]);
    const runs = k.view.mappings(a).filter((r) => r.start >= buf && r.start < buf + 8n * PAGE);
    expect(runs.reduce((n, r) => n + (r.endVpn - r.startVpn), 0)).toBe(4);
    expect(runs.some((r) => r.zeroPage)).toBe(true);
  });

  it("lists every valid TLB entry with its canonical rights", () => {
    const { k, a, buf } = setup();
    const t = k.view.tlb(0);
    const mine = t.entries.filter((e) => e.va === buf);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0].rights).toBe("user rw- / kernel rw-");
    expect(mine[0]).toMatchObject({
      pfn: k.view.page(a, mine[0].vpn).pfn,
      dirty: true,
      global: false,
    });
    expect(t.arrays.reduce((n, x) => n + x.valid, 0)).toBe(t.entries.length);
    expect(k.view.cpu(0).tlbHits + k.view.cpu(0).walks).toBeGreaterThan(0);
  });

  it("counts frames by kind and knows a slab frame's cache", () => {
    const { k, obj } = setup();
    const f = k.view.frames();
    expect(Object.values(f.byKind).reduce((x, y) => x + y, 0)).toBe(f.total);
    expect(f.runs.at(-1)!.last).toBe(f.total - 1);
    const slab = k.view.frame(k.directPa(obj) / 4096)!;
    expect([slab.kind, slab.owner, slab.slabObjectSize]).toEqual(["slab", "slab kmalloc-128", 128]);
    expect(k.view.frame(f.total)).toBeNull();
    // the same counts as the kernel's own books
    const impl = new KernelImpl({ ramBytes: 64 << 20 });
    expect(impl.view.frames().byKind.free).toBe(impl.pages.countByKind()[PageKind.Free]);
  });

  it("hands out copies", () => {
    const { k, a } = setup();
    const vmas = k.view.vmas(a);
    vmas[0].perms = "----";
    vmas.length = 0;
    expect(k.view.vmas(a)[0].perms).not.toBe("----");
    const t = k.view.task(a);
    t.caught.push("SIGSEGV");
    expect(k.view.task(a).caught).toEqual([]);
    const l = k.view.layout();
    l.regions.length = 0;
    expect(k.view.layout().regions.length).toBeGreaterThan(0);
  });

  it("changes nothing by reading", () => {
    for (const extra of [{}, { pti: true }, { thp: "always" }]) {
      const { k, a, buf } = setup(extra);
      const before = JSON.stringify(readAll(k, a, buf), (_, x) => (typeof x === "bigint" ? `${x}n` : x));
      const after = JSON.stringify(readAll(k, a, buf), (_, x) => (typeof x === "bigint" ? `${x}n` : x));
      expect(after).toBe(before);
    }
  });
});

describe("explain", () => {
  it("looks in the instruction TLBs for a fetch and in the data TLBs for a load", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const a = k.spawn("A")!;
    k.switchTo(0, a);
    const code = k.mmap(a, mmapArgs(4096, { prot: { r: true, w: true, x: true } }));
    k.userAccess(0, a, code, Access.Write, 1);
    k.userAccess(0, a, code, Access.Read);
    // only the data side and the shared L2 hold the page yet
    expect(k.view.explain(a, code, Access.Read)[1]).toMatch(/hit in L1 \(L1\.0\)/);
    expect(k.view.explain(a, code, Access.Exec)[1]).toMatch(/hit in L2 /);
    k.userAccess(0, a, code, Access.Exec);
    expect(k.view.explain(a, code, Access.Exec)[1]).toMatch(/hit in L1 \(L1\.[1-9]\)/);
  });

  it("names a kernel thread as one, not as user mode", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const kt = k.kthread("K");
    const out = k.view.explain(kt, 0x1000n, Access.Read);
    expect(out[0]).toBe("K (pid 4, a kernel thread) read of 0x1000:");
    expect(out[1]).toMatch(/a kernel thread has no user address space/);
  });
});

describe("mremap", () => {
  it("an old_size of 0 duplicates only a shared mapping: a private one is -EINVAL (resize_is_valid)", () => {
    const k = new Kernel({ ramBytes: 64 << 20 });
    const a = k.spawn("A")!;
    const priv = k.mmap(a, mmapArgs(8192));
    expect(k.mremap(a, priv, 0n, 4096n, true, -1n)).toBe(-22n);
    expect(k.mremap(a, priv + 8192n * 1000n, 0n, 4096n, true, -1n)).toBe(-14n);
  });
});
