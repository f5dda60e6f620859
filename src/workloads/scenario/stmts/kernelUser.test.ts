/**
 * A plain kernel dereference of a user address, as Linux handles it: where
 * SMAP/PAN/SUM let it through, do_user_addr_fault (arm64 and RISC-V
 * do_page_fault) resolves it like any fault in the current mm; it oopses
 * for a kernel thread (no mm), under pagefault_disable, or with no VMA.
 * And `kernel: pagefault_disable|enable` (include/linux/uaccess.h).
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../../base/errors.ts";
import { runScenario } from "../session.ts";

/** The machine line, and the statement that opens plain kernel access to user pages, per architecture. */
const ARCHS: [string, string, string][] = [
  ["x86_64", "machine arch=x86_64 ram=64M swap=16M", "kernel: stac"],
  ["i386", "machine arch=i386 ram=64M swap=16M", "kernel: stac"],
  ["arm64", "machine arch=arm64 ram=64M swap=16M", "kernel: pan off"],
  ["riscv", "machine arch=riscv-sv39 ram=64M swap=16M", "kernel: sum on"],
];

/** The InputError a scenario stops with, as the CLI prints it (FILE:LINE:COL: message). */
function failure(src: string, file: string): string {
  try {
    runScenario(src, { file });
  } catch (e) {
    if (e instanceof InputError) return e.format();
    throw e;
  }
  return "no error";
}

function out(r: ReturnType<typeof runScenario>, i: number): string {
  return r.statements[i].output.join("\n");
}

describe.each(ARCHS)("%s: a plain kernel access to a user address", (_name, machine, open) => {
  it("is resolved by the fault handler in the current mm, a swapped page included", () => {
    const r = runScenario(
      [
        machine,
        "spawn A",
        "A: a = mmap 16K",
        "A: write a+4K 4K value=9",
        "A: madvise a+4K 4K pageout",
        open,
        "kernel: write a value=7", // 6: never touched: handle_mm_fault allocates it
        "kernel: read a+4K", // 7: swapped out: do_swap_page brings it back
        "expect byte(A, a) == 7",
        "expect A.min_flt + A.maj_flt == 3",
        "expect A.signal == none",
      ].join("\n"),
    );
    expect(r.failed).toBe(0);
    expect(r.expectations).toHaveLength(3);
    expect(out(r, 6)).toMatch(/byte 0x07, 1 page fault \(minor\) handled in the current mm/);
    expect(out(r, 7)).toMatch(/byte 0x09, 1 page fault \(major\) handled in the current mm/);
    expect(r.log.join("\n")).not.toMatch(/Oops|Unable to handle/);
  });

  it("oopses under pagefault_disable, with no VMA, and in a kernel thread", () => {
    const r = runScenario(
      [
        machine,
        "spawn A",
        "A: a = mmap 16K",
        open,
        "kernel: pagefault_disable",
        "kernel: read a", // 5: faulthandler_disabled(): no_context
        "spawn B",
        "B: b = mmap 16K",
        open,
        "kernel: read b+64K", // 9: no VMA
        "kthread K",
        "switch K",
        open,
        "kernel: read b", // 13: a kernel thread has no mm
        "expect A.alive == 0",
        "expect B.alive == 0",
      ].join("\n"),
    );
    expect(r.failed).toBe(0);
    for (const i of [5, 9, 13]) expect(out(r, i)).toMatch(/Oops|Unable to handle kernel|Internal error/);
  });
});

describe("pagefault_disable and pagefault_enable", () => {
  it("nest, make copy_to_user fail at its fixup, and are undone by as many enables", () => {
    const r = runScenario(
      [
        "machine arch=x86_64 ram=64M",
        "spawn A",
        "A: a = mmap 16K",
        "kernel: pagefault_disable",
        "kernel: pagefault_disable",
        "kernel: copy_to_user A a 8", // 5: not copied
        "kernel: pagefault_enable",
        "kernel: copy_to_user A a 8", // 7: still disabled (count 1)
        "kernel: pagefault_enable",
        "kernel: copy_to_user A a 8", // 9: copied
        "expect A.min_flt == 1",
      ].join("\n"),
    );
    expect(r.failed).toBe(0);
    expect(out(r, 4)).toMatch(/pagefault_disabled = 2/);
    expect(out(r, 5)).toMatch(/^8 \(not copied; 0 bytes copied/);
    expect(out(r, 7)).toMatch(/^8 \(not copied/);
    expect(out(r, 8)).toMatch(/pagefault_disabled = 0: faults are handled again/);
    expect(out(r, 9)).toMatch(/^0 \(not copied; 8 bytes copied; 1 page fault resolved/);
  });

  it("explain says why a fault is not handled", () => {
    const r = runScenario(
      [
        "machine arch=x86_64 ram=64M smap=off",
        "spawn A",
        "A: a = mmap 16K",
        "kernel: pagefault_disable",
        "explain kernel a read",
      ].join("\n"),
    );
    expect(out(r, 4)).toMatch(
      /A is in pagefault_disable \(faulthandler_disabled\(\)\): bad_area_nosemaphore/,
    );
    const k = runScenario(
      ["machine arch=x86_64 ram=64M smap=off", "kthread K", "switch K", "explain kernel 0x1000 read"].join(
        "\n",
      ),
    );
    expect(out(k, 3)).toMatch(/K is a kernel thread \(no mm\)/);
  });

  it("refuse an enable with nothing disabled, at its line and column, and the windows profile", () => {
    expect(failure("machine ram=64M\nspawn A\nkernel: pagefault_enable\n", "f.vm")).toMatch(
      /f\.vm:3:9: pagefault_enable without pagefault_disable/,
    );
    expect(failure("machine ram=64M profile=windows\nkernel: pagefault_disable\n", "w.vm")).toMatch(
      /w\.vm:2:9: 'pagefault_disable' is Linux's/,
    );
    expect(failure("machine ram=64M\nkernel: pagefault_disable 3\n", "a.vm")).toMatch(
      /a\.vm:2:27: 'pagefault_disable' takes no arguments/,
    );
  });
});
