/**
 * The library API, without the scenario language: boot a kernel, run two
 * processes, and watch copy-on-write from TypeScript. Run with
 *   node --import tsx examples/library/cow.ts
 */
import { Access } from "../../src/hw/access.ts";
import { Kernel } from "../../src/kernel/Kernel.ts";
import { mmapArgs } from "../../src/kernel/mm/userMm.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { pageState } from "../../src/kernel/view/procfs.ts";

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
  const vpn = k.va.vpn(buf);
  const childFrameBefore = pageState(k, b, vpn).pfn; // shared with A, write-protected
  k.switchTo(1, b);
  k.userAccess(1, b, buf, Access.Write, 2); // copy-on-write: B gets its own page
  return {
    parentFrame: pageState(k, a, vpn).pfn,
    childFrameBefore,
    childFrameAfter: pageState(k, b, vpn).pfn,
    childFaults: b.minFlt,
    problems: checkInvariants(k),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(cowDemo());
