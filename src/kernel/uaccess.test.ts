/**
 * copy_to_user / copy_from_user: access_ok, STAC/CLAC around the copy, user
 * faults resolved in the task's context, the exception-table fixup.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../hw/access.ts";
import type { Cpu } from "../hw/arch/x86_64/Cpu.ts";
import type { X86Tlb } from "./arch/x86/tlb.ts";
import { COPY_USER_IP } from "./Kernel.ts";
import { KernelImpl as Kernel } from "./KernelImpl.ts";
import { mmapArgs } from "./mm/userMm.ts";
import { checkInvariants } from "./view/invariants.ts";

function setup(smap = true) {
  const k = new Kernel<Cpu, X86Tlb>({ ramBytes: 64 << 20, cpus: 1, smap, swapBytes: 1 << 20 });
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
    const r = k.uaccess.copy(
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
    const r = k.uaccess.copy(0, buf + 100n, 2 * 4096, true, (i) => i & 0xff);
    expect([r.notCopied, r.faults, t.minFlt]).toEqual([0, 3, 3]);
    const back = k.userAccess(0, t, buf + 100n + 4097n, Access.Read);
    expect(back.ok && back.value).toBe(4097 & 0xff);
    expect(checkInvariants(k)).toEqual([]);
  });

  it("stop at a fault nobody can resolve and return the bytes not copied, through the exception table", () => {
    const { k, t, buf } = setup();
    k.mprotect(t, buf + 4096n, 4096n, { r: true, w: false, x: false });
    const r = k.uaccess.copy(0, buf + 4000n, 1000, true, () => 1);
    expect([r.notCopied, r.fixedUp]).toEqual([1000 - 96, true]);
    expect(t.alive).toBe(true);
    expect(k.oopses.length).toBe(0);
    // without its exception-table entry the same fault is a broken invariant, not a silent success
    k.extable.delete(COPY_USER_IP);
    expect(() => k.uaccess.copy(0, buf + 4000n, 1000, true, () => 1)).toThrow(/exception-table entry/);
  });

  it("refuse kernel addresses and wrapping ranges (access_ok) without touching anything", () => {
    const { k, buf } = setup();
    for (const [va, len] of [
      [0xffff888000000000n, 8],
      [0x7ffffffff000n, 8192],
      [buf, -1],
    ] as const) {
      const r = k.uaccess.copy(0, va, len, false, () => 0);
      expect(r.accessOkFailed, `0x${va.toString(16)} ${len}`).toBe(true);
      expect(r.faults).toBe(0);
    }
  });

  it("swap a swapped-out buffer back in (a major fault of the task)", () => {
    const { k, t, buf } = setup();
    k.userAccess(0, t, buf, Access.Write, 0x77);
    k.madvise(t, buf, 4096n, "pageout");
    let first = -1;
    const r = k.uaccess.copy(
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

describe("get_user, put_user, clear_user, strncpy_from_user", () => {
  const putString = (k: Kernel, t: ReturnType<typeof setup>["t"], at: bigint, text: string) => {
    for (let i = 0; i < text.length; i++)
      k.userAccess(0, t, at + BigInt(i), Access.Write, text.charCodeAt(i));
  };

  it("get_user and put_user move 1, 2, 4 and 8 little-endian bytes, faulting pages in", () => {
    const { k, t, buf } = setup();
    for (const size of [1, 2, 4, 8] as const) {
      const value = 0x0807060504030201n & ((1n << BigInt(8 * size)) - 1n);
      const at = buf + BigInt(16 * size);
      expect(k.uaccess.put(0, at, size, value).ret).toBe(0);
      const g = k.uaccess.get(0, at, size);
      expect([g.ret, g.value]).toEqual([0, value]);
    }
    expect(t.minFlt).toBe(1); // the first put_user faulted the page in
    // an 8-byte access across a page boundary needs both pages: the second is faulted in too
    const r = k.uaccess.put(0, buf + 4096n - 4n, 8, 0x1122334455667788n);
    expect([r.ret, r.faults, t.minFlt]).toEqual([0, 1, 2]);
    expect(k.userAccess(0, t, buf + 4096n, Access.Read)).toMatchObject({ ok: true, value: 0x44 });
    expect(k.machine.cpus[0].rflagsAc).toBe(false);
  });

  it("get_user zeroes the value and returns -EFAULT through its fixup; put_user writes nothing", () => {
    const { k, t, buf } = setup();
    k.userAccess(0, t, buf + 8192n, Access.Write, 0x99);
    k.munmap(t, buf + 8192n, 4096n); // buf+8K is now a hole, buf+4K untouched
    const g = k.uaccess.get(0, buf + 8192n, 4);
    expect([g.ret, g.value, g.fixedUp]).toEqual([-14, 0n, true]);
    k.mprotect(t, buf, 4096n, { r: true, w: false, x: false });
    const before = k.userAccess(0, t, buf, Access.Read);
    const p = k.uaccess.put(0, buf, 8, 0xffn);
    expect([p.ret, p.fixedUp]).toEqual([-14, true]);
    expect(before.ok).toBe(true);
    expect(k.userAccess(0, t, buf, Access.Read)).toMatchObject({
      ok: true,
      value: before.ok ? before.value : -1,
    });
    // a kernel address fails the range check: no fault at all
    const kg = k.uaccess.get(0, 0xffff888000001000n, 8);
    expect([kg.ret, kg.faults, kg.accessOkFailed]).toEqual([-14, 0, true]);
    expect(t.alive && k.oopses.length === 0).toBe(true);
  });

  it("clear_user zeroes up to a fault and returns the bytes not cleared", () => {
    const { k, t, buf } = setup();
    k.uaccess.copy(0, buf, 8192, true, () => 0xee);
    k.mprotect(t, buf + 4096n, 4096n, { r: true, w: false, x: false });
    const r = k.uaccess.clear(0, buf + 4000n, 200);
    expect([r.notCopied, r.fixedUp]).toEqual([200 - 96, true]);
    expect(k.userAccess(0, t, buf + 4095n, Access.Read)).toMatchObject({ value: 0 });
    expect(k.userAccess(0, t, buf + 3999n, Access.Read)).toMatchObject({ value: 0xee });
    expect(k.userAccess(0, t, buf + 4096n, Access.Read)).toMatchObject({ value: 0xee });
    expect(k.uaccess.clear(0, 0xffff888000000000n, 16)).toMatchObject({
      notCopied: 16,
      accessOkFailed: true,
    });
  });

  it("strncpy_from_user returns the length, the count when no NUL comes, or -EFAULT", () => {
    const { k, t, buf } = setup();
    putString(k, t, buf, "hello, kernel\0");
    const r = k.uaccess.strncpy(0, buf, 100);
    expect(r.ret).toBe(13);
    expect(String.fromCharCode(...r.bytes.slice(0, 13))).toBe("hello, kernel");
    expect(k.uaccess.strncpy(0, buf, 5).ret).toBe(5); // no NUL within 5 bytes: count
    expect(k.uaccess.strncpy(0, buf, 0).ret).toBe(0);
    expect(k.uaccess.strncpy(0, 0xffff888000000000n, 10)).toMatchObject({ ret: -14, accessOkFailed: true });
  });

  it("strncpy_from_user: a word reaching into a hole falls back to bytes; a string running into it is -EFAULT", () => {
    const { k, t, buf } = setup();
    k.munmap(t, buf + 4096n, 8192n); // only the first page is left
    putString(k, t, buf + 4093n, "ab\0"); // ends two bytes before the hole
    const ok = k.uaccess.strncpy(0, buf + 4093n, 64);
    expect([ok.ret, ok.fixedUp]).toEqual([2, true]); // the 8-byte word faulted; byte at a time found the NUL
    putString(k, t, buf + 4093n, "abc"); // no NUL before the hole
    const bad = k.uaccess.strncpy(0, buf + 4093n, 64);
    expect(bad.ret).toBe(-14);
    expect(t.alive).toBe(true);
  });

  it("strncpy_from_user: a word reaching into an untouched page faults it in, even past the NUL", () => {
    const { k, t, buf } = setup();
    putString(k, t, buf + 4090n, "xy\0");
    const r = k.uaccess.strncpy(0, buf + 4090n, 64);
    expect([r.ret, r.fixedUp]).toEqual([2, false]);
    expect(t.minFlt).toBe(2); // the page of the string, and the next one the word load touched
  });
});
