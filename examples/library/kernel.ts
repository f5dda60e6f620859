/**
 * A kernel on the machine: boot, a process, an anonymous mapping, a store
 * and a load through the fault path, and the page-table walk as the kernel's
 * read-only view returns it. The README shows this file (library.test.ts
 * keeps the two equal and checks what it prints). Run with
 *   node --import tsx examples/library/kernel.ts
 */
import { Access } from "../../src/hw/access.ts";
import { Kernel, mmapArgs } from "../../src/kernel/Kernel.ts";

const k = new Kernel({ ramBytes: 128 << 20 }); // x86_64 unless arch: "x86_64-la57"
const a = k.spawn("A")!;
k.switchTo(0, a);
const buf = k.mmap(a, mmapArgs(8192)); // MAP_PRIVATE | MAP_ANONYMOUS, read-write: no page yet
const w = k.userAccess(0, a, buf, Access.Write, 42); // a minor fault, then the store
const r = k.userAccess(0, a, buf, Access.Read);
console.log(w.faults, r.ok && r.value); // 1 42
const walk = k.view.walk(a, buf); // every level's entry, decoded
for (const e of walk.entries) console.log(e.levelName, e.index, e.flags.join(" "));
console.log(k.view.invariants()); // []
