/**
 * drgn's helpers (view/drgn.ts) against the view's own answers: crash's
 * `vtop` text (the PHYSICAL column, the VMA line, the struct page line, the
 * SWAP line) and /proc/PID/pagemap's entries, on x86-64, arm64, RISC-V Sv39 and 32-bit
 * x86 (whose swp_entry_t is 32 bits wide).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { KernelArchName } from "../core/config.ts";
import { Kernel, mmapArgs } from "../Kernel.ts";
import {
  decode_page_flags,
  decode_page_flags_value,
  find_task,
  follow_page,
  follow_pfn,
  follow_phys,
  for_each_task,
  for_each_vma,
  init_mm,
  lookup_address_in_mm,
  PTE_MARKER_GUARD,
  page_to_pfn,
  page_to_phys,
  page_to_virt,
  pfn_to_page,
  pfn_to_virt,
  pte_to_swp_entry,
  SWP_PTE_MARKER,
  swp_entry,
  swp_offset,
  swp_type,
  virt_to_page,
  virt_to_pfn,
  vma_find,
} from "./drgn.ts";

const PAGE = 4096n;

/** A process with four pages: 0 and 2 written, 1 written and paged out, 3 a guard region; and a fork. */
function machine(arch: KernelArchName) {
  const k = new Kernel({ arch, ramBytes: 64 << 20, swapBytes: 16 << 20, cpus: 2 });
  const a = k.spawn("A")!;
  k.switchTo(0, a);
  const buf = k.mmap(a, mmapArgs(16384));
  for (let i = 0n; i < 3n; i++) k.userAccess(0, a, buf + i * PAGE, Access.Write, 0x5a);
  expect(k.madvise(a, buf + PAGE, PAGE, "pageout")).toBe(0n);
  expect(k.madvise(a, buf + 3n * PAGE, PAGE, "guard_install")).toBe(0n);
  const b = k.fork(a, "B")!;
  return { k, a, b, buf, pid: k.view.task(a).pid };
}

/** vtop's `VIRTUAL PHYSICAL` line: the physical address, or null for `(not mapped)`. */
function vtopPhysical(lines: string[]): bigint | null {
  const col = lines[1].trim().split(/\s+/)[1];
  return col === "(not mapped)" ? null : BigInt(`0x${col}`);
}

/** The line after a vtop header starting with `header` (trimmed, split on blanks). */
function vtopRow(lines: string[], header: RegExp): string[] {
  const i = lines.findIndex((l) => header.test(l));
  expect(i, `no ${header} in\n${lines.join("\n")}`).toBeGreaterThanOrEqual(0);
  return lines[i + 1].trim().split(/\s+/);
}

describe.each(["x86_64", "arm64", "riscv-sv39", "i386"] as const)("drgn's helpers on %s", (arch) => {
  const { k, a, b, buf, pid } = machine(arch);
  const v = k.view;
  const mm = find_task(v, pid)!.mm!;

  it("for_each_task and find_task: the live tasks by pid, the idle task only when asked, pid 0 never found", () => {
    const live = v.tasks().filter((t) => t.alive && t.state !== "I");
    expect([...for_each_task(v)].map((t) => t.pid)).toEqual(live.map((t) => t.pid).sort((x, y) => x - y));
    const withIdle = [...for_each_task(v, { idle: true })];
    expect(withIdle[0].comm).toMatch(/^swapper\//);
    expect(withIdle.length).toBe(live.length + v.tasks().filter((t) => t.state === "I").length);
    expect(find_task(v, 0)).toBeNull();
    // each idle task is its own (they share pid 0)
    const idle = withIdle.filter((t) => t.pid === 0);
    expect(new Set(idle.map((t) => v.task(t.handle).comm)).size).toBe(idle.length);
    const t = find_task(v, pid)!;
    expect(t.comm).toBe("A");
    expect(t.mm!.map_count).toBe(v.mm(a)!.mapCount);
    // a kernel thread has no mm
    const kthread = [...for_each_task(v)].find((x) => x.info.kthread)!;
    expect(kthread.mm).toBeNull();
  });

  it("for_each_vma and vma_find: the VMAs vtop names (START, END, FLAGS), none outside them", () => {
    const vmas = [...for_each_vma(mm)];
    expect(vmas.map((x) => x.vm_start)).toEqual(v.vmas(a).map((x) => x.start));
    const vma = vma_find(mm, buf + 2n * PAGE)!;
    const [, start, end, flags] = vtopRow(v.vtop(a, buf + 2n * PAGE), /^ +VMA +START +END +FLAGS/);
    expect(vma.vm_start).toBe(BigInt(`0x${start}`));
    expect(vma.vm_end).toBe(BigInt(`0x${end}`));
    expect(vma.vm_flags).toBe(Number.parseInt(flags, 16));
    expect(vma.vm_file).toBeNull();
    expect(vma_find(mm, vma.vm_end - 1n)?.vm_start).toBe(vma.vm_start);
    expect(vma_find(mm, vma.vm_end)?.vm_start).not.toBe(vma.vm_start);
    expect(vma_find(mm, 0x1000n)).toBeNull();
    expect(v.vtop(a, 0x1000n)[1]).toMatch(/\(not accessible\)/);
    expect([...for_each_vma(init_mm(v))]).toEqual([]);
  });

  it("follow_phys, follow_pfn, follow_page: vtop's PHYSICAL and struct page, pagemap's PFN", () => {
    const entries = v.pagemap(a, v.address(buf).vpn, 4);
    for (const i of [0n, 2n]) {
      const va = buf + i * PAGE + 0x123n;
      const lines = v.vtop(a, va);
      expect(follow_phys(mm, va)).toBe(vtopPhysical(lines));
      const pfn = follow_pfn(mm, va)!;
      expect(pfn).toBe(entries[Number(i)].pfn);
      const page = follow_page(mm, va)!;
      expect(page_to_pfn(page)).toBe(pfn);
      expect(page_to_phys(page)).toBe(follow_phys(mm, va)! & ~0xfffn);
      // the struct page line: PAGE (the struct page's address), CNT, FLAGS (page->flags and its names)
      const [addr, , , , cnt, flags, names] = vtopRow(lines, /^ +PAGE +PHYSICAL +MAPPING/);
      expect(page.address).toBe(BigInt(`0x${addr}`));
      expect(page._refcount).toBe(Number(cnt));
      expect(page.flags).toBe(BigInt(`0x${flags}`));
      const decoded = decode_page_flags(page).split("|");
      for (const name of names.split(",")) expect(decoded).toContain(`PG_${name}`);
    }
    // after fork the private pages are mapped twice: _mapcount is mappings less one
    expect(follow_page(mm, buf)!._mapcount).toBe(1);
    expect(follow_pfn(find_task(v, v.task(b).pid)!.mm!, buf)).toBe(follow_pfn(mm, buf));
    // not translated: the paged-out page, the guard region, an address with no VMA
    for (const va of [buf + PAGE, buf + 3n * PAGE, 0x1000n]) {
      expect(follow_pfn(mm, va)).toBeNull();
      expect(follow_page(mm, va)).toBeNull();
    }
  });

  it("a huge page: follow_pfn gives the 4 KiB frame inside it (pagemap's PFN), lookup_address_in_mm the leaf above the PTEs", () => {
    const t = new Kernel({ arch, ramBytes: 64 << 20, thp: "always" });
    const p = t.spawn("P")!;
    t.switchTo(0, p);
    const h = t.mmap(p, mmapArgs(8 << 20));
    const va = ((h + (4n << 20n) - 1n) & ~((4n << 20n) - 1n)) + 5n * PAGE; // 5 pages into an aligned 4 MiB
    t.userAccess(0, p, va, Access.Write, 1);
    const pmm = find_task(t.view, t.view.task(p).pid)!.mm!;
    const pte = lookup_address_in_mm(pmm, va)!;
    // a PMD (i386 without PAE: the PGD entry, a 4 MiB page)
    expect([pte.level, pte.leaf, pte.pageSize]).toEqual([1, true, arch === "i386" ? "4M" : "2M"]);
    const [entry] = t.view.pagemap(p, t.view.address(va).vpn, 1);
    expect(follow_pfn(pmm, va)).toBe(entry.pfn);
    expect(follow_pfn(pmm, va - 5n * PAGE)).toBe(entry.pfn - 5);
    expect(follow_phys(pmm, va + 0x42n)).toBe(vtopPhysical(t.view.vtop(p, va + 0x42n)));
  });

  it('decode_page_flags_value: drgn\'s decode_flags, aliases included; 0 as "0"; zone bits dropped', () => {
    expect(decode_page_flags_value(v, 0n)).toBe("0");
    expect(decode_page_flags_value(v, (1n << 3n) | (1n << 5n))).toBe("PG_uptodate|PG_lru|PG_reported");
    const flags = follow_page(mm, buf)!.flags;
    expect(flags >> 24n).not.toBe(0n); // the zone, above the PG_* bits
    expect(decode_page_flags_value(v, flags)).toBe(decode_page_flags_value(v, flags & 0xffffffn));
  });

  it("lookup_address_in_mm and pte_to_swp_entry: vtop's SWAP OFFSET and pagemap's type and offset; the guard marker", () => {
    const [present, swapped, , guard] = v.pagemap(a, v.address(buf).vpn, 4);
    const pte0 = lookup_address_in_mm(mm, buf)!;
    expect(pte0.present && pte0.leaf).toBe(true);
    expect(pte0.pfn).toBe(present.pfn);
    expect(pte_to_swp_entry(pte0)).toBeNull();
    const pte1 = lookup_address_in_mm(mm, buf + PAGE)!;
    expect(pte1.present).toBe(false);
    const entry = pte_to_swp_entry(pte1)!;
    expect(swp_type(entry)).toBe(swapped.swapType);
    expect(swp_offset(entry)).toBe(swapped.swapOffset);
    expect(v.vtop(a, buf + PAGE).at(-1)).toBe(`SWAP: /swapfile  OFFSET: ${swp_offset(entry)}`);
    const marker = pte_to_swp_entry(lookup_address_in_mm(mm, buf + 3n * PAGE)!)!;
    expect(guard.guard).toBe(true);
    expect([swp_type(marker), swp_offset(marker)]).toEqual([SWP_PTE_MARKER, PTE_MARKER_GUARD]);
    // pagemap reports the same marker: PM_SWAP with its type and offset, and PM_GUARD_REGION
    expect([guard.swapped, guard.swapType, guard.swapOffset]).toEqual([
      true,
      swp_type(marker),
      swp_offset(marker),
    ]);
    expect(guard.entry & ((1n << 55n) - 1n)).toBe(
      BigInt(swp_type(marker)) | (BigInt(swp_offset(marker)) << 5n),
    );
    // no table for an address far from every mapping: pXd_none above the PTE
    expect(lookup_address_in_mm(mm, 0x1000n)).toBeNull();
  });

  it("swp_entry, swp_type, swp_offset: the type above SWP_TYPE_SHIFT (58 on 64-bit, 26 on 32-bit)", () => {
    const e = swp_entry(v, 3, 0x1234);
    expect([swp_type(e), swp_offset(e)]).toEqual([3, 0x1234]);
    expect(e.val).toBe((3n << (arch === "i386" ? 26n : 58n)) | 0x1234n);
  });

  it("the direct map: page_to_virt is the kernel's own mapping of the frame (vtop of the user page and of its __va)", () => {
    const page = follow_page(mm, buf)!;
    const pfn = page_to_pfn(page);
    const kva = page_to_virt(page);
    expect(kva).toBe(v.walk(a, buf).leaf!.directMap!.va);
    expect(pfn_to_virt(v, pfn)).toBe(kva);
    expect(virt_to_pfn(v, kva + 0x10n)).toBe(pfn);
    expect(virt_to_page(v, kva).address).toBe(page.address);
    expect(v.kernelPfn(kva)).toBe(pfn);
    // drgn's follow_page(init_mm, addr) for a kernel address: the same frame through swapper_pg_dir
    expect(follow_pfn(init_mm(v), kva)).toBe(pfn);
    expect(follow_phys(init_mm(v), kva + 8n)).toBe(vtopPhysical(v.vtop("kernel", kva + 8n)));
    expect(pfn_to_page(v, pfn).address).toBe(page.address);
    expect(() => pfn_to_page(v, v.frames().total)).toThrow(/not a frame of RAM/);
  });
});
