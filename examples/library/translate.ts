/**
 * The hardware alone, without a kernel: a machine from the registry, one
 * page mapped by hand, translations on a CPU. The README shows this file
 * (library.test.ts keeps the two equal and checks what it prints). Run with
 *   node --import tsx examples/library/translate.ts
 */
import { toPfn, toVpn } from "../../src/base/units.ts";
import { Access } from "../../src/hw/access.ts";
import { hwArch } from "../../src/hw/arch/index.ts";
import { BumpFrames } from "../../src/hw/mmu/Mapper.ts";

const arch = hwArch("x86_64"); // or "x86_64-la57": 5-level paging
const m = arch.machine({ ramBytes: 256 << 20, tlb: "skylake", checkCoherence: true });
const mapper = arch.mapper(m.phys, new BumpFrames(256, m.phys.nrFrames)); // page tables from frame 256 up
const root = toPfn(mapper.newRoot());
mapper.map(root, toVpn(0x400), toPfn(0x1234), 0, { writable: true, user: true }); // a 4K page: vpn 0x400 -> pfn 0x1234
const cpu = m.cpus[0];
cpu.loadUserRoot(root, 0); // x86: MOV to CR3, PCID 0
cpu.setUserMode(true); // x86: CPL 3
if (cpu.translate(0, 0x400abc, Access.Read) === 0) console.log(cpu.pa.toString(16)); // 1234abc
cpu.translate(0, 0x400def, Access.Read); // a TLB hit: no second walk
console.log(cpu.translations, cpu.walks); // 2 1
console.log(cpu.translate(0, 0x401000, Access.Read)); // 14: a page fault (x86 #PF), nothing is mapped there
