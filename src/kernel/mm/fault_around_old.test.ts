/**
 * set_pte_range's `prefault` (Linux 6.12 mm/memory.c): fault-around maps the pages other than the
 * faulting one old where arch_wants_old_prefaulted_pte() (arm64 with the hardware Access flag:
 * !arch_faults_on_old_pte, cpu_has_hw_af), so reclaim's folio_referenced does not keep an unused
 * neighbour for a used page; elsewhere young, as vm_page_prot's accessed bit makes them
 * (pte_sw_mkyoung). A later access sets AF in hardware, no fault.
 */
import { describe, it } from "vitest";
import { holds } from "../../workloads/scenario/testKit.ts";

const scenario = (arch: string, young: number) => `machine arch=${arch} ram=64M
file F size=64K cached
spawn A
A: a = mmap 64K file=F at=0x40000000
A: read a+4K
expect present(A, a 64K) == 16
expect young(A, a 64K) == ${young}
let f = A.min_flt
A: read a 64K
expect A.min_flt == f
expect young(A, a 64K) == 16
`;

describe("fault-around's prefaulted PTEs (set_pte_range, arch_wants_old_prefaulted_pte)", () => {
  it("arm64 with hardware AF: the faulting page young, its 15 neighbours old until touched (AF set without a fault)", () => {
    holds(scenario("arm64", 1));
  });
  it("x86-64 and RISC-V: all 16 young", () => {
    for (const arch of ["x86_64", "riscv-sv39"]) holds(scenario(arch, 16));
  });
  it("a tmpfs file's fault-around (shmem's map_pages is filemap_map_pages) alike on arm64", () => {
    // T's 16 pages are in its page cache (written through w); a second process's read of one maps
    //   the 16, 15 of them old
    holds(`machine arch=arm64 ram=64M
file T size=64K fs=tmpfs
spawn A
A: w = mmap 64K shared file=T at=0x40100000
A: write w 64K value=1
spawn B
B: r = mmap 64K file=T at=0x40200000
B: read r+8K
expect present(B, r 64K) == 16
expect young(B, r 64K) == 1
`);
  });
});
