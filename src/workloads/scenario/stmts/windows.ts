/**
 * The Windows profile's statements (profile=windows; docs/windows.md):
 * `VirtualAlloc`, `VirtualFree`, `VirtualProtect`, `VirtualQuery` (a vmlab
 * extension). Each prints its return value and, on
 * failure, GetLastError's code by name.
 */
import { type KernelView, MemState, PageProt, protName, WinError } from "../../../kernel/Kernel.ts";
import type { AddrExpr, Pos, Stmt } from "../lang/ast.ts";
import {
  argWords,
  type CompileContext,
  type Kv,
  processOf,
  type Run,
  type Runtime,
} from "../runtime/context.ts";

const ERROR_NAMES: Record<number, string> = {
  5: "ERROR_ACCESS_DENIED",
  6: "ERROR_INVALID_HANDLE",
  24: "ERROR_BAD_LENGTH",
  158: "ERROR_NOT_LOCKED",
  193: "ERROR_BAD_EXE_FORMAT",
  998: "ERROR_NOACCESS",
  1001: "ERROR_STACK_OVERFLOW",
  1006: "ERROR_FILE_INVALID",
  1132: "ERROR_MAPPED_ALIGNMENT",
  1224: "ERROR_USER_MAPPED_FILE",
  1314: "ERROR_PRIVILEGE_NOT_HELD",
  1450: "ERROR_NO_SYSTEM_RESOURCES",
  1453: "ERROR_WORKING_SET_QUOTA",
  // an NTSTATUS RtlNtStatusToDosError passes through (VirtualLock of a guard page)
  2147483649: "STATUS_GUARD_PAGE_VIOLATION",
  [WinError.NOT_ENOUGH_MEMORY]: "ERROR_NOT_ENOUGH_MEMORY",
  [WinError.INVALID_PARAMETER]: "ERROR_INVALID_PARAMETER",
  [WinError.INVALID_ADDRESS]: "ERROR_INVALID_ADDRESS",
  [WinError.COMMITMENT_LIMIT]: "ERROR_COMMITMENT_LIMIT",
};

/** A GetLastError value with its name. */
export function errorName(code: number): string {
  const n = code >= 0x8000_0000 ? `0x${code.toString(16).toUpperCase()}` : `${code}`;
  return `${n} ${ERROR_NAMES[code] ?? ""}`.trim();
}

const BASE_PROT: Record<string, number> = {
  none: PageProt.NOACCESS,
  r: PageProt.READONLY,
  rw: PageProt.READWRITE,
  x: PageProt.EXECUTE,
  rx: PageProt.EXECUTE_READ,
  rwx: PageProt.EXECUTE_READWRITE,
  // vmlab's words for the copy-on-write protections (refused for private memory, as Windows does)
  writecopy: PageProt.WRITECOPY,
  execute_writecopy: PageProt.EXECUTE_WRITECOPY,
};
const MODIFIERS: Record<string, number> = {
  guard: PageProt.GUARD,
  nocache: PageProt.NOCACHE,
  // an extension: PAGE_WRITECOMBINE
  writecombine: PageProt.WRITECOMBINE,
};

/**
 * `prot=` of this profile: none, r, rw, x, rx, rwx (letters in any order),
 * writecopy or execute_writecopy, with `+guard` and `+nocache`; default rw
 * (PAGE_READWRITE).
 */
export function winProt(c: CompileContext, w: Kv | undefined): number {
  if (!w) return PageProt.READWRITE;
  const words = (w.ident ?? "").split("+");
  const letters = /^[rwx]+$/.test(words[0]) && new Set(words[0]).size === words[0].length;
  const base = letters ? ["r", "w", "x"].filter((l) => words[0].includes(l)).join("") : words[0];
  let v = BASE_PROT[base];
  if (v === undefined)
    c.fail(
      "prot= is none, r, rw, x, rx, rwx, writecopy or execute_writecopy, with +guard or +nocache (Windows has no write-only protection)",
      w.valuePos,
    );
  for (const m of words.slice(1)) {
    if (!(m in MODIFIERS))
      c.fail(`unknown protection modifier '${m}' (guard, nocache, writecombine)`, w.valuePos);
    v |= MODIFIERS[m];
  }
  return v;
}

/** The profile must be windows: checked when the statement runs (the machine boots after compiling). */
export function windowsOnly(
  c: CompileContext,
  rt: Runtime,
  verb: string,
  pos: Pos,
): NonNullable<ReturnType<KernelView["windows"]>> {
  const w = rt.view.windows();
  if (w === null) c.fail(`'${verb}' is the windows profile's (machine profile=windows)`, pos);
  return w;
}

/** Prints a BOOL result (1 or 0 with GetLastError). */
export function boolResult(
  c: CompileContext,
  s: Stmt,
  rt: Runtime,
  ok: boolean,
  lastError: number,
  note: string,
): void {
  c.assign(s, rt, ok ? 1n : 0n, ok ? note : `(FALSE: GetLastError ${errorName(lastError)})`);
}

/** flAllocationType's words and bits (winnt.h MEM_*). */
const ALLOC_BITS: Record<string, number> = {
  commit: 0x1000,
  reserve: 0x2000,
  // VirtualAlloc2's: passed on, for NtAllocateVirtualMemory to refuse with 87
  replace_placeholder: 0x4000,
  reserve_placeholder: 0x40000,
  reset: 0x80000,
  top_down: 0x100000,
  write_watch: 0x200000,
  reset_undo: 0x1000000,
  large_pages: 0x20000000,
};

const ALLOC_TYPES =
  "the allocation type joins reserve, commit, top_down, write_watch, large_pages, reset, reset_undo (reserve_placeholder, replace_placeholder) with +";

/**
 * `P: VAR = VirtualAlloc SIZE reserve|commit|reserve+commit[+top_down][+write_watch] [prot=PROT] [at=ADDR]`,
 * `P: VAR = VirtualAlloc SIZE reset|reset_undo at=ADDR [prot=PROT]` (MEM_RESET, MEM_RESET_UNDO:
 * extensions of the form; the protection is ignored but checked). Any other mix of the words is
 * passed on as flAllocationType's bits for NtAllocateVirtualMemory to refuse (87: os/windows/alloctype.ts).
 */
export function virtualAlloc(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["prot", "at"]);
  const args = argWords(s);
  if (args.length < 2) c.fail("VirtualAlloc SIZE reserve|commit|reserve+commit", args[0]?.pos ?? s.verbPos);
  if (args.length > 2) c.fail("too many arguments to 'VirtualAlloc'", args[2].pos);
  const [sizeW, typeW] = args;
  if (sizeW.expr === null) c.fail(`expected a size, not '${sizeW.ident}'`, sizeW.pos);
  c.useVars(sizeW.expr);
  const words = (typeW.ident ?? "").split("+");
  let type = 0;
  for (const x of words) {
    const b = ALLOC_BITS[x];
    if (b === undefined || (type & b) !== 0) c.fail(ALLOC_TYPES, typeW.pos);
    type |= b;
  }
  const reset = type === ALLOC_BITS.reset || type === ALLOC_BITS.reset_undo;
  const at = o.get("at");
  if (at && at.value === null) c.fail("at= needs an address", at.valuePos);
  if (reset && !at) c.fail(`VirtualAlloc ... ${words[0]} needs at=ADDR`, typeW.pos);
  if (at?.value) c.useVars(at.value);
  const protect = winProt(c, o.get("prot"));
  if (s.target) c.defined.add(s.target.name);
  const size: AddrExpr = sizeW.expr;
  const flags = new Set(words);
  return (rt) => {
    const w = windowsOnly(c, rt, "VirtualAlloc", s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const addr = at ? c.value(at.value!, rt, "at=") : 0n;
    const len = c.value(size, rt, "the size");
    const base = rt.kernel.virtualAllocType(t, addr, len, type, protect);
    const info = w.process(t)!;
    if (base === 0n) {
      c.assign(s, rt, 0n, `(NULL: GetLastError ${errorName(info.lastError)})`);
      return;
    }
    if (reset) {
      const undo = words[0] === "reset_undo";
      const p = rt.view.windows()!.paging();
      c.assign(
        s,
        rt,
        base,
        `(${undo ? "MEM_RESET_UNDO: the data is intact" : "MEM_RESET: the contents no longer of interest"}; from 0x${base.toString(16)}; modified list ${p.modified} pages, standby ${p.standby})`,
      );
      return;
    }
    const reserve = flags.has("reserve");
    const commit = flags.has("commit");
    const q = rt.kernel.virtualQuery(t, base)!;
    const what = `${reserve ? (commit ? "reserved and committed" : "reserved") : "committed"}${flags.has("top_down") && (reserve || addr === 0n) ? " top-down" : ""}`;
    c.assign(
      s,
      rt,
      base,
      `(${what}; region 0x${q.baseAddress.toString(16)}+${q.regionSize / 4096n} pages ${q.state === MemState.COMMIT ? protName(q.protect) : "MEM_RESERVE"}; commit charge ${w.commit().total} pages)`,
    );
  };
}

const FREE_BITS: Record<string, number> = {
  coalesce_placeholders: 0x1,
  preserve_placeholder: 0x2,
  decommit: 0x4000,
  release: 0x8000,
};

/**
 * VirtualFree's type word as dwFreeType bits: `decommit`, `release`,
 * `release+preserve_placeholder`, `release+coalesce_placeholders` (any other
 * combination of these words is passed on, for NtFreeVirtualMemory to refuse
 * with 87). -1: a word that is none of them.
 */
export function freeTypeBits(word: string): number {
  let bits = 0;
  for (const w of word.split("+")) {
    const b = FREE_BITS[w];
    if (b === undefined || (bits & b) !== 0) return -1;
    bits |= b;
  }
  return bits;
}

/**
 * `P: [VAR =] VirtualFree ADDR SIZE decommit|release`, with the placeholder
 * flags `release+preserve_placeholder`, `release+coalesce_placeholders`
 * (an extension: winplaceholder.ts)
 */
export function virtualFree(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length !== 3) c.fail("VirtualFree ADDR SIZE decommit|release", args[0]?.pos ?? s.verbPos);
  const [addrW, sizeW, typeW] = args;
  for (const w of [addrW, sizeW]) {
    if (w.expr === null) c.fail(`expected an address or size, not '${w.ident}'`, w.pos);
    c.useVars(w.expr);
  }
  const bits = freeTypeBits(typeW.ident ?? "");
  if (bits < 0)
    c.fail("decommit or release (release+preserve_placeholder, release+coalesce_placeholders)", typeW.pos);
  c.define(s);
  const release = typeW.ident === "release";
  const plain = typeW.ident === "release" || typeW.ident === "decommit";
  return (rt) => {
    const w = windowsOnly(c, rt, "VirtualFree", s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const before = w.commit().total;
    const addr = c.value(addrW.expr!, rt, "the address");
    const size = c.value(sizeW.expr!, rt, "the size");
    const ok = plain
      ? rt.kernel.virtualFree(t, addr, size, release)
      : rt.kernel.virtualFreeEx(t, addr, size, bits);
    const returned = before - w.commit().total;
    boolResult(
      c,
      s,
      rt,
      ok,
      w.process(t)!.lastError,
      `(${plain ? (release ? "released" : "decommitted") : typeW.ident!.includes("coalesce") ? "MEM_COALESCE_PLACEHOLDERS" : "MEM_PRESERVE_PLACEHOLDER"}; ${returned} pages of commit returned)`,
    );
  };
}

/** `P: [VAR =] VirtualProtect ADDR SIZE prot=PROT` */
export function virtualProtect(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["prot"]);
  if (!o.has("prot")) c.fail("VirtualProtect needs prot=PROT", s.verbPos);
  const protect = winProt(c, o.get("prot"));
  const [addr, size] = c.args(s, 2, 2, "an address and a size");
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, "VirtualProtect", s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const old = rt.kernel.virtualProtect(
      t,
      c.value(addr, rt, "the address"),
      c.value(size, rt, "the size"),
      protect,
    );
    boolResult(c, s, rt, old >= 0, w.process(t)!.lastError, `(old protection ${protName(old)})`);
  };
}

const TYPE_NAMES: Record<number, string> = {
  [MemState.PRIVATE]: "MEM_PRIVATE",
  [MemState.MAPPED]: "MEM_MAPPED",
  [MemState.IMAGE]: "MEM_IMAGE",
};

const STATE_NAMES: Record<number, string> = {
  [MemState.COMMIT]: "MEM_COMMIT",
  [MemState.RESERVE]: "MEM_RESERVE",
  [MemState.FREE]: "MEM_FREE",
};

/**
 * `P: [VAR =] VirtualQuery ADDR` (a vmlab extension): prints
 * MEMORY_BASIC_INFORMATION; VAR is what VirtualQuery returns, the bytes
 * written (sizeof(MEMORY_BASIC_INFORMATION): 48 on x64, 28 on x86), or 0.
 */
export function virtualQuery(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [addr] = c.args(s, 1, 1, "an address");
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, "VirtualQuery", s.verbPos);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const q = rt.kernel.virtualQuery(t, c.value(addr, rt, "the address"));
    if (q === null) {
      c.assign(s, rt, 0n, `(GetLastError ${errorName(w.process(t)!.lastError)})`);
      return;
    }
    const wide = rt.view.machine().arch === "x86_64";
    c.assign(s, rt, wide ? 48n : 28n, "(sizeof MEMORY_BASIC_INFORMATION)");
    const hex = (v: bigint) => `0x${v.toString(16)}`;
    rt.out.push(
      `BaseAddress ${hex(q.baseAddress)}, AllocationBase ${hex(q.allocationBase)}, AllocationProtect ${protName(q.allocationProtect)}, RegionSize ${hex(q.regionSize)} (${q.regionSize / 4096n} page${q.regionSize === 4096n ? "" : "s"}), State ${STATE_NAMES[q.state]}, Protect ${protName(q.protect)}, Type ${TYPE_NAMES[q.type] ?? "0"}`,
    );
  };
}
