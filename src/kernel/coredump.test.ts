/** Core dumps: vma_dump_size's choices and get_dump_page's holes. */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { coreDump, DEFAULT_COREDUMP_FILTER, MmfDump } from "./core/coredump.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";

function setup() {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, swapBytes: 16 << 20 });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const touch = (va: bigint, pages: number, access = Access.Write) => {
    for (let i = 0; i < pages; i++) k.userAccess(0, t, va + BigInt(i) * 4096n, access, 7);
  };
  return { k, t, touch };
}

describe("core dumps", () => {
  it("leave out VM_DONTDUMP, device and never-written private mappings; dump written and shared ones whole", () => {
    const { k, t, touch } = setup();
    k.registerDevice("fb", 8192);
    const heap = k.mmap(t, mmapArgs(8 * 4096));
    touch(heap, 2);
    const readOnly = k.mmap(t, mmapArgs(4 * 4096, { prot: { r: true, w: false, x: false } }));
    touch(readOnly, 4, Access.Read); // only the zero page: no anon_vma
    const shm = k.mmap(t, mmapArgs(2 * 4096, { shared: true }));
    touch(shm, 1);
    const dev = k.mmap(t, mmapArgs(8192, { device: k.devices.get("fb")!, shared: true }));
    touch(dev, 2);
    const secret = k.mmap(t, mmapArgs(4096));
    touch(secret, 1);
    expect(k.madvise(t, secret, 4096n, "dontdump")).toBe(0n);
    const d = coreDump(k, t);
    const seg = (va: bigint) => d.segments.find((g) => g.start <= va && va < g.end)!;
    expect(seg(heap)).toMatchObject({ dumpBytes: 8 * 4096, pagesWritten: 2, holes: 6 });
    expect(seg(readOnly)).toMatchObject({
      dumpBytes: 0,
      why: "private anonymous, never written (no anon_vma)",
    });
    expect(seg(shm)).toMatchObject({ dumpBytes: 2 * 4096, pagesWritten: 2 }); // the shmem hole is faulted in
    expect(seg(dev)).toMatchObject({ dumpBytes: 0, why: "VM_DONTDUMP" });
    expect(seg(secret)).toMatchObject({ dumpBytes: 0, why: "VM_DONTDUMP" });
    expect(d.bytes).toBe(10 * 4096);
    // without ANON_SHARED the shared mapping goes; without ANON_PRIVATE the heap goes too
    expect(coreDump(k, t, DEFAULT_COREDUMP_FILTER & ~MmfDump.ANON_SHARED).bytes).toBe(8 * 4096);
    expect(coreDump(k, t, MmfDump.ELF_HEADERS).bytes).toBe(0);
    // MADV_DODUMP cannot bring back a VM_SPECIAL mapping
    expect(k.madvise(t, dev, 8192n, "dodump")).toBe(-22n);
  });

  it("swap a swapped-out page back in to write it, and read unread file pages only when the filter asks", () => {
    const { k, t, touch } = setup();
    const heap = k.mmap(t, mmapArgs(4 * 4096));
    touch(heap, 4);
    expect(k.madvise(t, heap, 4096n, "pageout")).toBe(0n);
    k.createFile("data", 8 * 4096);
    const f = k.mmap(t, mmapArgs(8 * 4096, { file: k.pageCache.files.get("data")! }));
    const maj0 = t.majFlt;
    const d = coreDump(k, t);
    expect(d.pagesWritten).toBe(4);
    // two major faults: the swap-in, and the file's first page read for the ELF-header check
    expect(t.majFlt).toBe(maj0 + 2);
    expect(k.userMm.leafFor(t.mm!, Number(heap / 4096n))!.lo & 1).toBe(1);
    // the default filter only looks at a file's first page (ELF header check); 0x37 dumps all of it
    expect(d.segments.find((g) => g.start === f)!.dumpBytes).toBe(0);
    const all = coreDump(k, t, DEFAULT_COREDUMP_FILTER | MmfDump.MAPPED_PRIVATE);
    expect(all.segments.find((g) => g.start === f)).toMatchObject({ dumpBytes: 8 * 4096, pagesWritten: 8 });
  });
});
