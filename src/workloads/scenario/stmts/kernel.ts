/**
 * The kernel's own allocations: `kernel[@N]:` `kmalloc`, `vmalloc`,
 * `alloc_pages` and their frees (`kfree`, `vfree`, `free_pages`, a bad
 * free being a `kernel BUG` oops), and `device`, a character device whose
 * kernel buffer comes from alloc_pages.
 */

import { Gfp, parseGfp, px } from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, kernelCpuOf, type Run } from "../runtime/context.ts";
import { sizeName } from "../runtime/format.ts";

/** `kernel[@N]: VAR = kmalloc SIZE [gfp=...]` */
export function kmalloc(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  const o = c.opts(s, ["gfp"]);
  const [size] = c.args(s, 1, 1, "a size");
  let gfp: number = Gfp.KERNEL;
  const g = o.get("gfp");
  if (g) {
    const parsed = g.ident === null ? null : parseGfp(g.ident);
    if (parsed === null) c.fail("gfp= must be kernel, atomic, nowait, dma or dma32", g.valuePos);
    gfp = parsed;
  }
  c.define(s);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const n = c.size(size, rt);
    const va = rt.kernel.kmalloc(n, gfp);
    let note = "(NULL: allocation failed)";
    if (va === 16n) note = "(ZERO_SIZE_PTR)";
    else {
      // where it landed: a large kmalloc's block of frames, or an object of a kmalloc cache's slab
      const pa = rt.kernel.directPa(va);
      const f = pa < 0 ? null : rt.view.frame(Math.floor(pa / 4096));
      if (f !== null)
        note =
          f.kind === "kmalloc-large"
            ? `(large kmalloc, order ${f.order}: pfn 0x${f.pfn.toString(16)}..0x${(f.pfn + 2 ** f.order - 1).toString(16)})`
            : `(kmalloc-${sizeName(f.slabObjectSize)}, pfn 0x${f.pfn.toString(16)})`;
    }
    c.assign(s, rt, va, note);
  };
}

/** `kernel[@N]: VAR = vmalloc SIZE` */
export function vmalloc(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.opts(s, []);
  const [size] = c.args(s, 1, 1, "a size");
  c.define(s);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const n = c.size(size, rt);
    const va = rt.kernel.vmalloc(n);
    if (va === 0n) return c.assign(s, rt, 0n, "(NULL: vmalloc failed)");
    const pfns = [];
    for (let i = 0; i < Math.ceil(n / 4096) && i < 8; i++)
      pfns.push(`0x${rt.view.kernelPfn(va + BigInt(i * 4096)).toString(16)}`);
    c.assign(
      s,
      rt,
      va,
      `(${Math.ceil(n / 4096)} pages + guard; pfns ${pfns.join(" ")}${Math.ceil(n / 4096) > 8 ? " ..." : ""})`,
    );
  };
}

/** `kernel[@N]: VAR = alloc_pages order=N [gfp=...]` */
export function allocPages(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  const o = c.opts(s, ["order", "gfp"]);
  c.args(s, 0, 0, "no positional arguments (order=N)");
  const ow = o.get("order");
  if (!ow) c.fail("alloc_pages needs order=N", s.verbPos);
  if (ow.value) c.useVars(ow.value);
  const g = o.get("gfp");
  const gfp = g ? (g.ident === null ? null : parseGfp(g.ident)) : Gfp.KERNEL;
  if (gfp === null) c.fail("gfp= must be kernel, atomic, nowait, dma or dma32", g!.valuePos);
  c.define(s);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const order = c.numOpt(ow, rt)!;
    if (order > 10) c.fail(`alloc_pages: order ${order} is above MAX_PAGE_ORDER (10)`, ow.valuePos);
    const va = rt.kernel.allocPages(order, gfp);
    const pa = rt.kernel.directPa(va);
    c.assign(
      s,
      rt,
      va,
      va === 0n
        ? "(NULL: no free block of that order)"
        : `(pfn 0x${(pa / 4096).toString(16)}, ${2 ** order} page${order ? "s" : ""})`,
    );
  };
}

/** `kernel[@N]: kfree ADDR`, `vfree ADDR`, `free_pages ADDR order=N` */
export function free(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.noTarget(s);
  const o = c.opts(s, s.verb === "free_pages" ? ["order"] : []);
  const [addr] = c.args(s, 1, 1, "an address");
  const ow = o.get("order");
  if (s.verb === "free_pages" && !ow) c.fail("free_pages needs order=N", s.verbPos);
  if (ow?.value) c.useVars(ow.value);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const va = c.value(addr, rt, "the address");
    const k = rt.kernel;
    const err =
      s.verb === "kfree"
        ? k.kfree(va)
        : s.verb === "vfree"
          ? k.vfree(va)
          : k.freePages(va, c.numOpt(ow, rt)!);
    if (err === null) {
      rt.out.push(`freed 0x${px(va)}`);
      return;
    }
    // the kernel would hit a BUG() here: an oops in the current task's context
    const r = k.bug(
      cpuId,
      err,
      s.verb === "vfree" ? "mm/vmalloc.c" : s.verb === "kfree" ? "mm/slub.c" : "mm/page_alloc.c",
    );
    rt.out.push(...r);
  };
}

/** `[VAR =] device NAME size=SIZE`: a character device whose buffer its mmap handler remap_pfn_range()s */
export function device(c: CompileContext, s: Stmt): Run {
  const args = argWords(s);
  const nameW = args[0];
  if (nameW?.ident == null || args.length !== 1)
    c.fail("device NAME size=SIZE", (args[1] ?? nameW)?.pos ?? s.verbPos);
  const name = nameW.ident;
  if (c.devices.has(name)) c.fail(`device '${name}' already exists`, nameW.pos);
  const o = c.opts(s, ["size"]);
  const sizeW = o.get("size");
  if (!sizeW) c.fail("device needs size=SIZE", s.verbPos);
  if (!sizeW.value || sizeW.value.base !== null) c.fail("size= is a number", sizeW.valuePos);
  const size = sizeW.value.offset;
  if (size <= 0n || size > 4n << 20n)
    c.fail(`size=${size}: a device buffer is 1 .. 4M bytes (one alloc_pages block)`, sizeW.valuePos);
  c.devices.add(name);
  c.define(s);
  return (rt) => {
    const va = rt.kernel.registerDevice(name, Number(size));
    const d = rt.view.device(name)!;
    const what = `/dev/${name}: ${size} bytes of kernel buffer at pfn 0x${d.pfn.toString(16)}..0x${(d.pfn + d.pages - 1).toString(16)} (alloc_pages order ${d.order})`;
    if (s.target) c.assign(s, rt, va, what);
    else rt.out.push(what);
  };
}

/** x86-64, i386 and i386-pae */
function isX86(arch: string): boolean {
  return arch.startsWith("x86") || arch.startsWith("i386");
}

/** Which architectures' words each user-access window statement is, and how it reads. */
const WINDOW_VERBS: Record<string, { archs: (arch: string) => boolean; owner: string }> = {
  stac: { archs: isX86, owner: "x86's (RFLAGS.AC)" },
  clac: { archs: isX86, owner: "x86's (RFLAGS.AC)" },
  pan: { archs: (a) => a === "arm64", owner: "arm64's (PSTATE.PAN)" },
  sum: { archs: (a) => a.startsWith("riscv"), owner: "RISC-V's (sstatus.SUM)" },
};

/** What each architecture says instead. */
function windowWords(arch: string): string {
  if (arch === "arm64") return "'kernel: pan on|off'";
  if (arch.startsWith("riscv")) return "'kernel: sum on|off'";
  return "'kernel: stac' and 'kernel: clac'";
}

/**
 * `kernel[@N]: stac`, `kernel[@N]: clac` (x86: RFLAGS.AC under SMAP),
 * `kernel[@N]: pan on|off` (arm64: PSTATE.PAN) and `kernel[@N]: sum on|off`
 * (RISC-V: sstatus.SUM): they change only what a plain `kernel: read` or
 * `write` of a user address may do (a copy_*_user crosses the guard on its
 * own, and ends with it closed).
 */
export function userAccessWindow(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.noTarget(s);
  c.opts(s, []);
  const args = argWords(s);
  let open: boolean;
  if (s.verb === "pan" || s.verb === "sum") {
    const w = args[0]?.ident;
    if (args.length !== 1 || (w !== "on" && w !== "off"))
      c.fail(`${s.verb} on|off`, args[0]?.pos ?? s.verbPos);
    // PAN set closes the window; SUM set opens it
    open = s.verb === "pan" ? w === "off" : w === "on";
  } else {
    if (args.length !== 0) c.fail(`'${s.verb}' takes no arguments`, args[0].pos);
    open = s.verb === "stac";
  }
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const arch = rt.view.machine().arch;
    const verb = WINDOW_VERBS[s.verb];
    if (!verb.archs(arch))
      c.fail(`'${s.verb}' is ${verb.owner}; ${arch} says ${windowWords(arch)}`, s.verbPos);
    const name = rt.kernel.userAccessWindow(cpuId, open);
    const reg =
      arch === "arm64"
        ? `PSTATE.PAN = ${open ? 0 : 1}`
        : arch.startsWith("riscv")
          ? `sstatus.SUM = ${open ? 1 : 0}`
          : `${arch.startsWith("i386") ? "EFLAGS" : "RFLAGS"}.AC = ${open ? 1 : 0}`;
    rt.out.push(
      `cpu${cpuId}: ${name.toUpperCase()}: plain kernel accesses to user pages are ${open ? "allowed" : "refused"} (${reg})`,
    );
  };
}

/**
 * `kernel[@N]: pagefault_disable`, `kernel[@N]: pagefault_enable`: atomic
 * context for faults in the current task on CPU N (current->pagefault_disabled,
 * nestable). While it is above 0 faulthandler_disabled() is true: a fault on a
 * user address is not handled, so a copy_*_user fails at its fixup and a plain
 * access oopses. Linux: include/linux/uaccess.h.
 */
export function pagefaultDisable(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  c.noTarget(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length !== 0) c.fail(`'${s.verb}' takes no arguments`, args[0].pos);
  const disable = s.verb === "pagefault_disable";
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    if (rt.view.windows() !== null)
      c.fail(
        `'${s.verb}' is Linux's; the windows profile raises the IRQL instead ('kernel: irql dispatch')`,
        s.verbPos,
      );
    const r = rt.kernel.pagefaultDisable(cpuId, disable);
    if (r === null) {
      const cur = rt.view.cpu(cpuId).current;
      c.fail(
        `pagefault_enable without pagefault_disable: the task current on cpu${cpuId}${cur === null ? "" : ` (pid ${cur})`} has pagefault_disabled 0`,
        s.verbPos,
      );
    }
    const who = `${r.task.comm} (pid ${r.task.pid})`;
    rt.out.push(
      r.count > 0
        ? `cpu${cpuId}: ${s.verb}: ${who} pagefault_disabled = ${r.count}: faults on user addresses are not handled (a copy_*_user fails at its fixup, a plain access oopses)`
        : `cpu${cpuId}: ${s.verb}: ${who} pagefault_disabled = 0: faults are handled again`,
    );
  };
}
