/**
 * The x86-64 kernel's virtual layout, 4-level and 5-level.
 * Linux: Documentation/arch/x86/x86_64/mm.rst, arch/x86/include/asm/page_64_types.h,
 * pgtable_64_types.h (without KASLR: every base is at its default).
 */
import type { Layout } from "../../core/layout.ts";

const TB = 1n << 40n;
const PB = 1n << 50n;

/** x86-64, 4-level paging (Linux defaults, no KASLR). */
export const X86_64_LAYOUT: Layout = mk(4, {
  userEnd: 0x0000_8000_0000_0000n,
  directMap: 0xffff_8880_0000_0000n,
  directSize: 64n * TB,
  vmallocStart: 0xffff_c900_0000_0000n,
  vmallocSize: 32n * TB,
  vmemmap: 0xffff_ea00_0000_0000n,
  vmemmapSize: 1n * TB,
});

/** x86-64, 5-level paging (LA57). */
export const X86_64_LA57_LAYOUT: Layout = mk(5, {
  userEnd: 0x0100_0000_0000_0000n,
  directMap: 0xff11_0000_0000_0000n,
  directSize: 32n * PB,
  vmallocStart: 0xffa0_0000_0000_0000n,
  vmallocSize: 12800n * TB,
  vmemmap: 0xffd4_0000_0000_0000n,
  vmemmapSize: PB / 2n,
});

function mk(
  levels: 4 | 5,
  p: {
    userEnd: bigint;
    directMap: bigint;
    directSize: bigint;
    vmallocStart: bigint;
    vmallocSize: bigint;
    vmemmap: bigint;
    vmemmapSize: bigint;
  },
): Layout {
  const kernelMap = 0xffff_ffff_8000_0000n;
  const modulesStart = 0xffff_ffff_a000_0000n;
  const modulesEnd = 0xffff_ffff_ff00_0000n;
  const fixaddrTop = 0xffff_ffff_ff7f_f000n;
  const vmallocEnd = p.vmallocStart + p.vmallocSize;
  return {
    profile: levels === 4 ? "linux x86_64 (4-level)" : "linux x86_64 (5-level, LA57)",
    levels,
    userEnd: p.userEnd,
    taskSize: p.userEnd - 4096n,
    // with LA57, STACK_TOP and mmap_base stay in the 4-level window unless a hint asks for more
    ...(levels === 5 ? { defaultMapWindow: (1n << 47n) - 4096n } : {}),
    directMap: p.directMap,
    vmallocStart: p.vmallocStart,
    vmallocEnd,
    vmemmap: p.vmemmap,
    kernelMap,
    modulesStart,
    modulesEnd,
    fixaddrTop,
    regions: [
      { name: "user", start: 0n, end: p.userEnd, what: "user-space virtual memory, different per mm" },
      {
        name: "direct map",
        start: p.directMap,
        end: p.directMap + p.directSize,
        what: "all physical memory (page_offset_base)",
      },
      {
        name: "vmalloc",
        start: p.vmallocStart,
        end: vmallocEnd,
        what: "vmalloc/ioremap space (vmalloc_base)",
      },
      {
        name: "vmemmap",
        start: p.vmemmap,
        end: p.vmemmap + p.vmemmapSize,
        what: "struct page array (vmemmap_base)",
      },
      {
        name: "kernel text",
        start: kernelMap,
        end: modulesStart,
        what: "kernel image, mapped from physical 0 (__START_KERNEL_map)",
      },
      { name: "modules", start: modulesStart, end: modulesEnd, what: "module mapping space" },
      {
        name: "fixmap",
        start: fixaddrTop - 0x20_0000n,
        end: fixaddrTop + 0x1000n,
        what: "compile-time fixed mappings (FIXADDR_TOP grows down)",
      },
    ],
  };
}
