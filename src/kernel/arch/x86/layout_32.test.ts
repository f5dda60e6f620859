/**
 * The 32-bit layout against pgtable_32_areas.h's formulas, worked by hand
 * here for CONFIG_NR_CPUS 8: the fixmap's slots, then CPU_ENTRY_AREA_BASE,
 * LDT_BASE_ADDR, PKMAP_BASE (each rounded down to PMD_SIZE: 4 MiB, PAE
 * 2 MiB), VMALLOC_END, MAXMEM and max_low_pfn.
 */
import { describe, expect, it } from "vitest";
import { formatLayout } from "../../core/layout.ts";
import { fixToVirt, i386Layout } from "./layout_32.ts";

describe("the i386 layout", () => {
  it("2-level, 128M: everything lowmem; vmalloc from high_memory + 8M to PKMAP_BASE - 2 pages", () => {
    const l = i386Layout(false, 128 << 20, 1);
    // FIX_KMAP_BEGIN = FIX_HOLE, FIX_APIC_BASE, 128 IO-APIC slots = 130; 16 * 8 CPUs of kmap slots
    expect([l.fixKmapBegin, l.fixKmapEnd]).toEqual([130, 257]);
    // 260 permanent slots + 512 boot-time ones (no PTE-table crossing at 1024 per table)
    expect(l.endOfFixedAddresses).toBe(772);
    expect(l.fixaddrTotStart).toBe(0xfffff000 - 772 * 4096);
    expect(l.ceaBase).toBe(0xffc00000);
    expect(l.ldtBase).toBe(0xff800000);
    expect(l.pkmapBase).toBe(0xff400000);
    expect(l.lastPkmap).toBe(1024);
    expect(l.vmallocEnd32).toBe(0xff3fe000);
    expect(l.maxLowPfn).toBe(0x8000);
    expect(l.highMemory).toBe(0xc8000000);
    expect(l.vmallocStart32).toBe(0xc8800000);
    expect(fixToVirt(l.fixKmapBegin)).toBe(0xfff7d000);
  });

  it("PAE, 4G: PMD_SIZE 2 MiB alignment, LAST_PKMAP 512; lowmem capped at MAXMEM, the rest highmem", () => {
    const l = i386Layout(true, 4 * 2 ** 30, 2);
    expect(l.lastPkmap).toBe(512);
    // slots 260..771 would cross a 512-entry page table: FIX_BTMAP_END moves up to 512, 1024 slots in all
    expect(l.endOfFixedAddresses).toBe(1024);
    expect(l.fixaddrTotStart).toBe(0xffbff000);
    // (0xffbff000 - 65 pages) & ~2M, then one page below each, rounded down again
    expect(l.ceaBase).toBe(0xffa00000);
    expect(l.ldtBase).toBe(0xff800000);
    expect(l.pkmapBase).toBe(0xff600000);
    expect(l.vmallocEnd32).toBe(0xff5fe000);
    expect(l.maxmem).toBe(0xff5fe000 - 0xc0000000 - (128 << 20));
    expect(l.maxLowPfn).toBe(Math.floor(l.maxmem / 4096));
    expect(l.maxPfn).toBe(0x100000);
    expect(l.vmallocStart32).toBe(l.highMemory + (8 << 20));
    const text = formatLayout(l).join("\n");
    expect(text).toMatch(/0xc0000000 0xf75fdfff .* lowmem: .*3210 MiB of highmem/);
    expect(text).toMatch(/0xff600000 0xff7fffff .* pkmap/);
  });
});
