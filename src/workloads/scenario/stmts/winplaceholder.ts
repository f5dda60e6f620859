/**
 * The Windows profile's placeholder and working-set query statements
 * (vmlab extensions; docs/windows.md "Placeholders", "QueryWorkingSetEx"):
 * `VirtualAlloc2`, `MapViewOfFile3`, `UnmapViewOfFile2`,
 * `QueryWorkingSetEx`, `QueryWorkingSet`; VirtualFree's placeholder flags are windows.ts's. Each prints its return value and, on failure,
 * GetLastError's code by name.
 */
import { MemState, PageProt, protName } from "../../../kernel/Kernel.ts";
import type { AddrExpr, Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { boolResult, errorName, winProt } from "./windows.ts";
import { exprOpt, mapViewRun, optValue, windowsOnly } from "./winsection.ts";

const ALLOC2_WORDS = new Set([
  "reserve",
  "commit",
  "write_watch",
  "reserve_placeholder",
  "replace_placeholder",
  "top_down",
]);

/**
 * `P: VAR = VirtualAlloc2 SIZE TYPE [prot=PROT] [at=ADDR]`: TYPE joins with
 * `+` reserve, commit, write_watch, top_down (MEM_TOP_DOWN), reserve_placeholder
 * (MEM_RESERVE_PLACEHOLDER), replace_placeholder (MEM_REPLACE_PLACEHOLDER).
 */
export function virtualAlloc2(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["prot", "at"]);
  const args = argWords(s);
  const usage =
    "VirtualAlloc2 SIZE reserve|commit|reserve+commit|reserve+reserve_placeholder|reserve[+commit]+replace_placeholder [prot=PROT] [at=ADDR]";
  if (args.length !== 2 || args[0].expr === null) c.fail(usage, args[0]?.pos ?? s.verbPos);
  const words = (args[1].ident ?? "").split("+");
  if (words.some((x) => !ALLOC2_WORDS.has(x)) || new Set(words).size !== words.length)
    c.fail(
      "the allocation type joins reserve, commit, write_watch, top_down, reserve_placeholder and replace_placeholder with +",
      args[1].pos,
    );
  const has = (x: string) => words.includes(x);
  const size: AddrExpr = args[0].expr!;
  c.useVars(size);
  const at = o.get("at");
  exprOpt(c, at);
  const protect = winProt(c, o.get("prot"));
  if (s.target) c.defined.add(s.target.name);
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const base = rt.kernel.virtualAlloc2(
      t,
      optValue(c, rt, at, 0n),
      c.value(size, rt, "the size"),
      {
        reserve: has("reserve"),
        commit: has("commit"),
        writeWatch: has("write_watch"),
        reservePlaceholder: has("reserve_placeholder"),
        replacePlaceholder: has("replace_placeholder"),
        topDown: has("top_down"),
      },
      protect,
    );
    if (base === 0n) {
      c.assign(s, rt, 0n, `(NULL: GetLastError ${errorName(w.process(t)!.lastError)})`);
      return;
    }
    const q = rt.kernel.virtualQuery(t, base)!;
    const what = has("reserve_placeholder")
      ? "a placeholder"
      : has("replace_placeholder")
        ? "the placeholder replaced"
        : "allocated";
    c.assign(
      s,
      rt,
      base,
      `(${what}; region 0x${q.baseAddress.toString(16)}+${q.regionSize / 4096n} pages ${q.state === MemState.COMMIT ? protName(q.protect) : "MEM_RESERVE"}; commit charge ${w.commit().total} pages)`,
    );
  };
}

/** MapViewOfFile3's PageProtection as the FILE_MAP_* access it asks of the section. */
const VIEW_ACCESS: Record<number, { access: "read" | "write" | "copy"; execute: boolean }> = {
  [PageProt.READONLY]: { access: "read", execute: false },
  [PageProt.READWRITE]: { access: "write", execute: false },
  [PageProt.WRITECOPY]: { access: "copy", execute: false },
  [PageProt.EXECUTE_READ]: { access: "read", execute: true },
  [PageProt.EXECUTE_READWRITE]: { access: "write", execute: true },
  [PageProt.EXECUTE_WRITECOPY]: { access: "copy", execute: true },
};

/** `P: V = MapViewOfFile3 H [prot=PROT] [offset=N] [size=N] [at=ADDR] [replace_placeholder]` */
export function mapViewOfFile3(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["prot", "offset", "size", "at"]);
  const args = argWords(s);
  const usage =
    "MapViewOfFile3 H [prot=r|rw|writecopy|rx|rwx|execute_writecopy] [offset=N] [size=N] [at=ADDR] [replace_placeholder]";
  if (args.length < 1 || args.length > 2 || args[0].expr === null) c.fail(usage, args[0]?.pos ?? s.verbPos);
  const replace = args.length === 2;
  if (replace && args[1].ident !== "replace_placeholder")
    c.fail(`expected 'replace_placeholder', not '${args[1].ident ?? "?"}'`, args[1].pos);
  const hE = args[0].expr!;
  c.useVars(hE);
  const protW = o.get("prot");
  const view = VIEW_ACCESS[winProt(c, protW)];
  if (view === undefined)
    c.fail("a view's prot= is r, rw, writecopy, rx, rwx or execute_writecopy", protW?.valuePos ?? s.verbPos);
  for (const k of ["offset", "size", "at"]) exprOpt(c, o.get(k));
  if (replace && !o.has("at"))
    c.fail("replace_placeholder needs at=ADDR (the placeholder's base)", args[1].pos);
  if (!s.target) c.fail("MapViewOfFile3 returns an address: write 'P: V = MapViewOfFile3 ...'", s.verbPos);
  c.define(s);
  return mapViewRun(c, s, name, pos, hE, o, view.access, view.execute, replace);
}

/** `P: [VAR =] UnmapViewOfFile2 ADDR [preserve_placeholder]` */
export function unmapViewOfFile2(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length < 1 || args.length > 2 || args[0].expr === null)
    c.fail("UnmapViewOfFile2 ADDR [preserve_placeholder]", args[0]?.pos ?? s.verbPos);
  const preserve = args.length === 2;
  if (preserve && args[1].ident !== "preserve_placeholder")
    c.fail(`expected 'preserve_placeholder', not '${args[1].ident ?? "?"}'`, args[1].pos);
  const e = args[0].expr!;
  c.useVars(e);
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const ok = rt.kernel.unmapViewOfFile(t, c.value(e, rt, "the address"), preserve);
    const note = preserve ? "(unmapped; the range is a placeholder again)" : "(unmapped)";
    boolResult(c, s, rt, ok, w.process(t)!.lastError, note);
  };
}

/**
 * `P: [VAR =] QueryWorkingSetEx ADDR [SIZE]`: one PSAPI_WORKING_SET_EX_BLOCK
 * a page (at most 64); VAR is the first page's Flags word.
 */
export function queryWorkingSetEx(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [addrE, sizeE] = c.args(s, 1, 2, "an address and an optional size");
  c.define(s);
  return (rt) => {
    windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const addr = c.value(addrE, rt, "the address");
    const size = sizeE ? c.value(sizeE, rt, "the size") : 1n;
    const first = addr - (addr % 4096n);
    const n = Number((addr + (size > 0n ? size : 1n) - 1n) / 4096n - first / 4096n) + 1;
    if (n > 64) c.fail("QueryWorkingSetEx: at most 64 pages here", sizeE?.pos ?? addrE.pos);
    const hex = (v: number) => `0x${v.toString(16)}`;
    const lines: string[] = [];
    let flags0 = 0;
    for (let i = 0; i < n; i++) {
      const va = first + BigInt(i) * 4096n;
      const b = rt.kernel.queryWorkingSetEx(t, va);
      if (i === 0) flags0 = b.flags;
      lines.push(
        b.valid
          ? `0x${va.toString(16)}: Flags ${hex(b.flags)}: Valid 1, ShareCount ${b.shareCount}, Win32Protection ${protName(b.win32Protection)}, Shared ${+b.shared}, Node ${b.node}, Locked ${+b.locked}, LargePage ${+b.largePage}, Priority ${b.priority}, Bad ${+b.bad}`
          : `0x${va.toString(16)}: Flags ${hex(b.flags)}: Valid 0 (Invalid: Shared ${+b.shared}, Location ${b.location}, Priority ${b.priority}, ModifiedList ${+b.modifiedList}, Bad ${+b.bad})`,
      );
    }
    c.assign(s, rt, BigInt(flags0), `(VirtualAttributes.Flags of 0x${first.toString(16)})`);
    rt.out.push(...lines);
  };
}

/** The blocks QueryWorkingSet prints before it summarizes the rest. */
const WS_LIST_SHOWN = 64;

/**
 * `P: [VAR =] QueryWorkingSet [cb=N]`: PSAPI_WORKING_SET_INFORMATION, the working-set
 * list (docs/windows.md "QueryWorkingSet"); VAR is NumberOfEntries. One
 * PSAPI_WORKING_SET_BLOCK a line, the first 64. `cb=` is the buffer's size
 * in bytes: too small, the call fails (ERROR_BAD_LENGTH) with NumberOfEntries
 * written and no block.
 */
export function queryWorkingSet(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const cbW = c.opts(s, ["cb"]).get("cb");
  exprOpt(c, cbW);
  c.args(s, 0, 0, "no arguments");
  c.define(s);
  return (rt) => {
    const w = windowsOnly(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const cb = cbW ? Number(optValue(c, rt, cbW, 0n)) : undefined;
    const info = rt.kernel.queryWorkingSet(t, cb);
    if (!info.ok) {
      c.assign(
        s,
        rt,
        BigInt(info.numberOfEntries),
        `(FALSE: GetLastError ${errorName(w.process(t)!.lastError)}; NumberOfEntries, no block)`,
      );
      return;
    }
    c.assign(s, rt, BigInt(info.numberOfEntries), "(NumberOfEntries)");
    for (const b of info.workingSetInfo.slice(0, WS_LIST_SHOWN))
      rt.out.push(
        `0x${(BigInt(b.virtualPage) * 4096n).toString(16)}: Flags 0x${b.flags.toString(16)}: Protection ${b.protection} (${protName(b.win32Protection)}), ShareCount ${b.shareCount}, Shared ${+b.shared}, VirtualPage 0x${b.virtualPage.toString(16)}`,
      );
    if (info.numberOfEntries > WS_LIST_SHOWN) rt.out.push(`(${info.numberOfEntries - WS_LIST_SHOWN} more)`);
  };
}
