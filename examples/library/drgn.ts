/**
 * drgn's helpers on the simulated kernel (docs/library.md, "Reading the
 * kernel as drgn does"): task -> mm -> VMA -> page-table entry -> page,
 * a swapped-out page's swap entry, and the seed's remap_pfn_range question
 * — a driver's buffer mapped into a process: the same frame through the
 * user mapping and through the kernel's direct map. drgn.test.ts runs it
 * and checks what it prints. Run with
 *   node --import tsx examples/library/drgn.ts [ARCH]   (x86_64, arm64, riscv-sv39, i386, ...)
 */
import { Access } from "../../src/hw/access.ts";
import type { KernelArchName } from "../../src/kernel/core/config.ts";
import { Kernel, mmapArgs } from "../../src/kernel/Kernel.ts";
import {
  decode_page_flags,
  find_task,
  follow_page,
  follow_pfn,
  for_each_task,
  for_each_vma,
  init_mm,
  lookup_address_in_mm,
  page_to_pfn,
  page_to_virt,
  pte_to_swp_entry,
  swp_offset,
  swp_type,
  virt_to_page,
  virt_to_pfn,
} from "../../src/kernel/view/drgn.ts";

const hex = (v: bigint | number) => `0x${v.toString(16)}`;
const arch = (process.argv[2] ?? "x86_64") as KernelArchName;

// a machine with swap, a driver with a buffer, a process with three heap pages and the driver's buffer mapped
const k = new Kernel({ arch, ramBytes: 128 << 20, swapBytes: 16 << 20 });
const kbuf = k.registerDevice("mydev", 8192); // alloc_pages: the buffer's direct-map address
const a = k.spawn("A")!;
k.switchTo(0, a);
const heap = k.mmap(a, mmapArgs(3 * 4096));
k.userAccess(0, a, heap, Access.Write, 1);
k.userAccess(0, a, heap + 4096n, Access.Write, 2);
k.madvise(a, heap + 4096n, 4096n, "pageout"); // page 1 goes to swap; page 2 is never touched
const dev = k.mmap(a, mmapArgs(8192, { device: k.view.device("mydev"), shared: true })); // remap_pfn_range

const prog = k.view; // drgn's `prog`: the kernel's read-only view
for (const task of for_each_task(prog))
  console.log(`task ${task.pid} ${task.comm}: ${task.mm ? `${task.mm.map_count} VMAs` : "kernel thread"}`);

const mm = find_task(prog, prog.task(a).pid)!.mm!;
for (const vma of for_each_vma(mm))
  console.log(
    `vma ${hex(vma.vm_start)}-${hex(vma.vm_end)} flags ${hex(vma.vm_flags)} pgoff ${hex(vma.vm_pgoff)}`,
  );

for (const addr of [heap, heap + 4096n, heap + 8192n]) {
  const page = follow_page(mm, addr);
  const pte = lookup_address_in_mm(mm, addr);
  const swap = pte && pte_to_swp_entry(pte);
  if (page !== null)
    console.log(
      `${hex(addr)}: pfn ${hex(page_to_pfn(page))} pte ${hex(pte!.value)} ${decode_page_flags(page)}`,
    );
  else if (swap) console.log(`${hex(addr)}: swap type ${swp_type(swap)} offset ${swp_offset(swap)}`);
  else console.log(`${hex(addr)}: not mapped`);
}

// remap_pfn_range: the process's page and the driver's buffer are one frame
const userPfn = follow_pfn(mm, dev)!;
const kernelPfn = virt_to_pfn(prog, kbuf);
console.log(`device: user ${hex(dev)} -> pfn ${hex(userPfn)}; kernel ${hex(kbuf)} -> pfn ${hex(kernelPfn)}`);
console.log(`same frame: ${userPfn === kernelPfn && follow_pfn(init_mm(prog), kbuf) === userPfn}`);
const page = virt_to_page(prog, kbuf);
console.log(
  `struct page ${hex(page.address)}: ${decode_page_flags(page)}, page_to_virt ${hex(page_to_virt(page))}`,
);
