/**
 * Large folios in the page cache (`file ... folio=SIZE`): readahead in folio
 * units (page_cache_ra_order), fault-around mapping whole folios
 * (filemap_map_pages, 6.18), the compound head/tail bits of
 * /proc/kpageflags, and truncate and reclaim splitting a folio. The fault
 * counts of cached files are compared with the real kernel by
 * test/differential/folio.test.ts.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import type { Task } from "../core/task.ts";
import type { FileObject } from "../fs/file.ts";
import { fileByte } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import {
  compound_head,
  compound_order,
  decode_page_flags,
  PageHead,
  PageTail,
  page_to_pfn,
  pfn_to_page,
} from "../view/drgn.ts";
import { checkInvariants } from "../view/invariants.ts";
import { KPF } from "../view/pageTypes.ts";
import { mmapArgs } from "./userMm.ts";

const PAGE = 4096n;
const AT = 0x40000000n;

function setup(cached: boolean, folioBytes: number, sizeBytes = 2 << 20) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
  const f = k.createFile("f", sizeBytes, "disk", cached, folioBytes);
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const va = k.mmap(
    t,
    mmapArgs(sizeBytes, { file: f, prot: { r: true, w: false, x: false }, shared: true, addr: Number(AT) }),
  );
  expect(va).toBe(AT);
  return { k, f, t };
}

const read = (k: Kernel, t: Task, page: number) =>
  k.userAccess(0, t, AT + BigInt(page) * PAGE, Access.Read, 0);

/** The folios of the file's cache as [first index, pages], from kpageflags' compound head and tail bits. */
function foliosByKpageflags(k: Kernel, f: FileObject): [number, number][] {
  const out: [number, number][] = [];
  for (const index of [...f.cache.keys()].sort((a, b) => a - b)) {
    const flags = k.view.kpageflags(f.cache.get(index)!)!;
    if (flags & (1n << BigInt(KPF.COMPOUND_TAIL))) out[out.length - 1][1]++;
    else out.push([index, 1]);
  }
  return out;
}

function present(k: Kernel, t: Task): number {
  return k.view.pagemap(t, Number(AT / PAGE), 512).filter((e) => e.present).length;
}

describe("large page-cache folios", () => {
  it("a cold read reads the read-around window in folios: smaller at an unaligned start and at the window's end", () => {
    const { k, f, t } = setup(false, 64 << 10);
    const before = k.view.task(t).majFlt;
    read(k, t, 200);
    expect(k.view.task(t).majFlt - before).toBe(1);
    // 32 pages (read_ahead_kb 128) from page 184: 184..191 (8: 184 is 8-aligned), 192..207 (16), 208..215 (8)
    expect(foliosByKpageflags(k, f)).toEqual([
      [184, 8],
      [192, 16],
      [208, 8],
    ]);
    // fault-around maps the whole 64K folio holding page 200
    expect(present(k, t)).toBe(16);
    // the contents are the file's
    const pa = k.view.pagemap(t, Number(AT / PAGE) + 200, 1)[0];
    expect(k.view.physByte(Number(pa.entry & ((1n << 55n) - 1n)) * 4096 + 5)).toBe(
      fileByte("f", 200 * 4096 + 5),
    );
    expect(checkInvariants(k)).toEqual([]);
  });

  it("kpageflags: KPF_THP on every page of a large page-cache folio, compound head on its first page only", () => {
    const { k, f } = setup(true, 16 << 10);
    const head = k.view.kpageflags(f.cache.get(4)!)!;
    const tail = k.view.kpageflags(f.cache.get(5)!)!;
    expect(head & (1n << BigInt(KPF.COMPOUND_HEAD))).not.toBe(0n);
    expect(tail & (1n << BigInt(KPF.COMPOUND_TAIL))).not.toBe(0n);
    expect(tail & (1n << BigInt(KPF.COMPOUND_HEAD))).toBe(0n);
    for (const e of [head, tail]) expect(e & (1n << BigInt(KPF.THP))).not.toBe(0n);
    expect(f.folios.size).toBe(128);
    // drgn's compound helpers agree
    const tailPage = pfn_to_page(k.view, f.cache.get(5)!);
    expect(page_to_pfn(compound_head(tailPage))).toBe(f.cache.get(4));
    expect([PageTail(tailPage), PageHead(tailPage), compound_order(compound_head(tailPage))]).toEqual([
      true,
      false,
      2,
    ]);
    expect(decode_page_flags(compound_head(tailPage))).toMatch(/PG_head/);
    // the folio's references on its head: the cache's one per page (nothing maps it); tails 0
    expect([compound_head(tailPage)._refcount, tailPage._refcount]).toEqual([4, 0]);
  });

  it("the last folio of the file is mapped only within the window (can_map_large), and not at all on a new page table", () => {
    const { k, f, t } = setup(true, 256 << 10); // 64-page folios
    read(k, t, 500); // in the last folio (448..511): nothing mapped around on the fresh table, the page alone
    expect(present(k, t)).toBe(1);
    read(k, t, 10); // folio 0..63, not the last: mapped whole
    expect(present(k, t)).toBe(65);
    read(k, t, 480); // the table exists now: the window 480..495 of the last folio (500 was mapped)
    expect(present(k, t)).toBe(81);
    expect(f.folios.size).toBe(8);
  });

  it("truncate splits the folio that holds the new end and drops the pages past it", () => {
    const { k, f, t } = setup(true, 64 << 10, 64 << 10);
    read(k, t, 0);
    expect(present(k, t)).toBe(1); // the only folio is the last one: nothing around it on a new table
    read(k, t, 1);
    expect(present(k, t)).toBe(16); // the window, now the table is there
    expect(k.ftruncate(t, f, 5000n)).toBe(0n);
    expect([...f.cache.keys()].sort((a, b) => a - b)).toEqual([0, 1]);
    expect(f.folios.size).toBe(0);
    expect(foliosByKpageflags(k, f)).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(k.view.meminfo().Cached).toBe(2 * 4096);
    // the split unmapped the folio (unmap_folio): the pages before the end fault in again
    expect(present(k, t)).toBe(0);
    read(k, t, 1);
    expect(present(k, t)).toBe(2);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("reclaim takes a large folio whole (shrink_folio_list, __remove_mapping), its frames back to the buddy allocator", () => {
    const { k, f } = setup(true, 128 << 10);
    const free0 = k.view.meminfo().MemFree;
    const v0 = k.view.vmstat();
    expect(k.reclaim(100)).toBeGreaterThanOrEqual(100);
    expect(f.cache.size).toBeLessThanOrEqual(412);
    expect(k.view.meminfo().MemFree - free0).toBe((512 - f.cache.size) * 4096);
    // try_to_free_pages: direct reclaim of file pages (pgsteal_direct, pgsteal_file), none by kswapd
    const v1 = k.view.vmstat();
    expect(v1.pgsteal_direct - v0.pgsteal_direct).toBe(512 - f.cache.size);
    expect(v1.pgsteal_file - v0.pgsteal_file).toBe(512 - f.cache.size);
    expect(v1.pgsteal_kswapd - v0.pgsteal_kswapd).toBe(0);
    expect(v1.pgsteal_anon - v0.pgsteal_anon).toBe(0);
    // whole folios went: what is left is whole folios of 32 pages
    expect(f.cache.size % 32).toBe(0);
    expect(f.folios.size).toBe(f.cache.size / 32);
    for (const [start, order] of f.folios)
      for (let i = 0; i < 2 ** order; i++) expect(f.cache.has(start + i)).toBe(true);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("refuses folio sizes Linux would not make here", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    expect(() => k.createFile("a", 4096, "disk", false, 4 << 20)).toThrow(/mapping_max_folio_order/);
    expect(k.createFile("a2", 4096, "disk", false, 2 << 20).name).toBe("a2"); // the PMD size: do_set_pmd maps it
    expect(() => k.createFile("b", 4096, "disk", false, 12288)).toThrow(/power of two/);
    expect(() => k.createFile("c", 4096, "tmpfs", false, 65536)).toThrow(/shmem_enabled/);
  });
});
