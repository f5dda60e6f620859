/**
 * The library API, without the scenario language: boot a kernel, run two
 * processes, and watch copy-on-write from TypeScript. Run with
 *   node --import tsx examples/library/cow.ts
 */
import { Access } from "../../src/hw/access.ts";
import { Kernel, mmapArgs } from "../../src/kernel/Kernel.ts";

export function cowDemo(): {
  parentFrame: number;
  childFrameBefore: number;
  childFrameAfter: number;
  childFaults: number;
  problems: string[];
} {
  const k = new Kernel({ ramBytes: 128 << 20, cpus: 2 });
  const a = k.spawn("A")!;
  k.switchTo(0, a);
  const buf = k.mmap(a, mmapArgs(64 * 1024)); // MAP_PRIVATE | MAP_ANONYMOUS, read-write
  k.userAccess(0, a, buf, Access.Write, 1); // first touch: a minor fault, a private page
  const b = k.fork(a, "B")!;
  const vpn = k.view.address(buf).vpn;
  const childFrameBefore = k.view.page(b, vpn).pfn; // shared with A, write-protected
  k.switchTo(1, b);
  k.userAccess(1, b, buf, Access.Write, 2); // copy-on-write: B gets its own page
  return {
    parentFrame: k.view.page(a, vpn).pfn,
    childFrameBefore,
    childFrameAfter: k.view.page(b, vpn).pfn,
    childFaults: k.view.task(b).minFlt,
    problems: k.view.invariants(),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(cowDemo());
