/**
 * copy_to_user / copy_from_user: access_ok, STAC/CLAC around the copy, user
 * faults resolved in the task's context, the exception-table fixup.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import { checkInvariants } from "./invariants.ts";
import { COPY_USER_IP, Kernel } from "./Kernel.ts";
import { mmapArgs } from "./mm/userMm.ts";

function setup(smap = true) {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 1, smap, swapBytes: 1 << 20 });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  const buf = k.mmap(t, mmapArgs(3 * 4096));
  return { k, t, buf };
}

describe("copy_to_user and copy_from_user", () => {
  it("copy a present page under SMAP (STAC lifts it for the copy only) and leave AC clear", () => {
    const { k, t, buf } = setup();
    k.userAccess(0, t, buf, Access.Write, 0x11);
    const seen: number[] = [];
    const r = k.copyUser(
      0,
      buf,
      16,
      false,
      () => 0,
      (_i, b) => seen.push(b),
    );
    expect([r.notCopied, r.faults, r.fixedUp]).toEqual([0, 0, false]);
    expect(seen[0]).toBe(0x11);
    expect(k.machine.cpus[0].rflagsAc).toBe(false);
    // the same address by a plain kernel read: an SMAP oops
    const plain = k.kernelAccess(0, buf, Access.Read);
    expect(plain.ok).toBe(false);
    expect(k.oopses.length).toBe(1);
  });

  it("fault untouched pages in, counted against the task, and copy across page boundaries", () => {
    const { k, t, buf } = setup();
    const r = k.copyUser(0, buf + 100n, 2 * 4096, true, (i) => i & 0xff);
    expect([r.notCopied, r.faults, t.minFlt]).toEqual([0, 3, 3]);
    const back = k.userAccess(0, t, buf + 100n + 4097n, Access.Read);
    expect(back.ok && back.value).toBe(4097 & 0xff);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("stop at a fault nobody can resolve and return the bytes not copied, through the exception table", () => {
    const { k, t, buf } = setup();
    k.mprotect(t, buf + 4096n, 4096n, { r: true, w: false, x: false });
    const r = k.copyUser(0, buf + 4000n, 1000, true, () => 1);
    expect([r.notCopied, r.fixedUp]).toEqual([1000 - 96, true]);
    expect(t.alive).toBe(true);
    expect(k.oopses.length).toBe(0);
    // without its exception-table entry the same fault is a broken invariant, not a silent success
    k.extable.delete(COPY_USER_IP);
    expect(() => k.copyUser(0, buf + 4000n, 1000, true, () => 1)).toThrow(/exception-table entry/);
  });

  it("refuse kernel addresses and wrapping ranges (access_ok) without touching anything", () => {
    const { k, buf } = setup();
    for (const [va, len] of [
      [0xffff888000000000n, 8],
      [0x7ffffffff000n, 8192],
      [buf, -1],
    ] as const) {
      const r = k.copyUser(0, va, len, false, () => 0);
      expect(r.accessOkFailed, `0x${va.toString(16)} ${len}`).toBe(true);
      expect(r.faults).toBe(0);
    }
  });

  it("swap a swapped-out buffer back in (a major fault of the task)", () => {
    const { k, t, buf } = setup();
    k.userAccess(0, t, buf, Access.Write, 0x77);
    k.madvise(t, buf, 4096n, "pageout");
    let first = -1;
    const r = k.copyUser(
      0,
      buf,
      8,
      false,
      () => 0,
      (i, b) => {
        if (i === 0) first = b;
      },
    );
    expect([r.notCopied, t.majFlt, first]).toEqual([0, 1, 0x77]);
  });
});
