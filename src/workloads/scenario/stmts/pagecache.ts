/**
 * The page cache's residency and advice (an extension of scenario language
 * 1.2): `P: [VAR =] mincore ADDR SIZE` (mincore(2)), `P: [VAR =] fadvise FILE
 * OFFSET LEN ADVICE` (posix_fadvise(2)) and `drop_caches 1|2|3|4` (a write to
 * /proc/sys/vm/drop_caches). docs/files.md.
 */
import type { AddrExpr, Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run, type Runtime } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

/** The vector mincore prints at most (a longer one is summed up). */
const MINCORE_PRINT_PAGES = 1024;

/**
 * `P: [VAR =] mincore ADDR SIZE`: mincore(2) by P. Prints the return (0,
 * -22 EINVAL for an unaligned address, -12 ENOMEM when a page of the range
 * has no VMA) and the vector, one digit a page (bit 0: resident), in groups
 * of 16.
 */
export function mincore(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [addr, len] = c.args(s, 2, 2, "an address and a size");
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const { ret, vec } = rt.kernel.mincore(t, c.value(addr, rt, "the address"), c.value(len, rt, "the size"));
    if (ret < 0n) return c.assign(s, rt, ret, `(${errnoName(ret)})`);
    let resident = 0;
    for (const b of vec) resident += b & 1;
    const n = vec.length;
    let digits = "";
    if (n <= MINCORE_PRINT_PAGES)
      for (let i = 0; i < n; i += 16)
        digits += `${i ? " " : ": "}${Array.from(vec.subarray(i, i + 16), (b) => b & 1).join("")}`;
    c.assign(s, rt, ret, `(${n} page${n === 1 ? "" : "s"}, ${resident} resident${digits})`);
  };
}

/** POSIX_FADV_* by name, as `fadvise` takes them. */
const FADVICE = ["normal", "random", "sequential", "willneed", "dontneed", "noreuse"];

/** A value that may be negative (fadvise's offset and length: the kernel answers a negative length with EINVAL). */
function signedValue(c: CompileContext, e: AddrExpr, rt: Runtime, what: string): bigint {
  const v = (e.base === null ? 0n : rt.vars.get(e.base)!) + e.offset;
  if (v >= 1n << 63n || v < -(1n << 63n)) c.fail(`${what} does not fit in a loff_t`, e.pos);
  return v;
}

/**
 * `P: [VAR =] fadvise FILE OFFSET LEN ADVICE`: posix_fadvise(2) by P on the
 * file's open file (vmlab has no file descriptors: one open file per file,
 * shared by every process). Prints 0 or -22 (EINVAL: a negative length) and
 * the file's pages in the page cache after it.
 */
export function fadvise(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length !== 4 || args[0].ident === null || args[3].ident === null)
    c.fail(`fadvise FILE OFFSET LEN ADVICE (${FADVICE.join(", ")})`, args[args.length - 1]?.pos ?? s.verbPos);
  const fileName = args[0].ident;
  if (!c.files.has(fileName))
    c.fail(`no file '${fileName}' (create it with 'file ${fileName} size=...')`, args[0].pos);
  const advice = args[3].ident;
  if (!FADVICE.includes(advice)) c.fail(`unknown advice '${advice}' (${FADVICE.join(", ")})`, args[3].pos);
  const [offset, len] = c.exprArgs([args[1], args[2]]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const f = rt.files.get(fileName)!;
    const r = rt.kernel.fadvise(
      t,
      f,
      signedValue(c, offset, rt, "the offset"),
      signedValue(c, len, rt, "the length"),
      advice,
    );
    const info = rt.view.file(fileName)!;
    c.assign(
      s,
      rt,
      r,
      r < 0n ? `(${errnoName(r)})` : `(${fileName}: ${info.cached} of ${info.pages} pages cached)`,
    );
  };
}

/**
 * `drop_caches MODE`: echo MODE > /proc/sys/vm/drop_caches (1: the page
 * cache's clean, unused pages; 2: slab objects through the shrinkers, of
 * which vmlab has none; 3: both; 4: only silences the kernel's log line).
 * Another MODE is an error at it (the write would fail with EINVAL).
 */
export function dropCaches(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  c.opts(s, []);
  const [mode] = c.args(s, 1, 1, "a mode (1, 2, 3 or 4)");
  if (mode.base !== null || mode.offset < 1n || mode.offset > 4n)
    c.fail("drop_caches takes 1 (page cache), 2 (slab), 3 (both) or 4 (quiet)", mode.pos);
  const m = Number(mode.offset);
  return (rt) => {
    if (rt.view.windows() !== null) c.fail("'drop_caches' is Linux's /proc/sys/vm/drop_caches", s.verbPos);
    const { dropped } = rt.kernel.dropCaches(m);
    const free = rt.view.counters().freePages;
    rt.out.push(
      m & 1
        ? `drop_caches ${m}: ${dropped} page${dropped === 1 ? "" : "s"} dropped from the page cache; free ${free} pages`
        : `drop_caches ${m}: no page cache dropped; free ${free} pages`,
    );
  };
}

/**
 * `sync` (extension): sync(2), every dirty page-cache page written and waited for (the flusher's
 * pass, WB_REASON_SYNC, and sync_inodes_sb). Prints the pages written.
 */
export function sync(c: CompileContext, s: Stmt): Run {
  c.noTarget(s);
  c.opts(s, []);
  c.args(s, 0, 0, "nothing");
  return (rt) => {
    if (rt.view.windows() !== null) c.fail("'sync' is Linux's sync(2)", s.verbPos);
    const n = rt.kernel.sync();
    rt.out.push(`sync: ${n} page${n === 1 ? "" : "s"} written back`);
  };
}
