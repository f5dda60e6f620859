/**
 * A process's address-space system calls: `mmap`, `munmap`, `mprotect`,
 * `madvise`, `msync`, `mlock`, `munlock`, `mlockall`, `munlockall`, `brk`, `mremap` and `mseal`. Each prints
 * its return value (0, an address, or a negative errno by name) and what
 * it did (pages populated, written back, faulted in).
 */
import type { AddrExpr, Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, type Kv, processOf, type Run } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

const MADVICE = [
  "dontneed",
  "dontneed_locked",
  "free",
  "willneed",
  "pageout",
  "cold",
  "random",
  "sequential",
  "normal",
  "hugepage",
  "nohugepage",
  "mergeable",
  "unmergeable",
  "dontfork",
  "dofork",
  "wipeonfork",
  "keeponfork",
  "dontdump",
  "dodump",
  "guard_install",
  "guard_remove",
  "populate_read",
  "populate_write",
  "collapse",
  "remove",
];

const MMAP_FLAGS = [
  "private",
  "shared",
  "anon",
  "populate",
  "locked",
  "noreserve",
  "fixed",
  "noreplace",
  "hugetlb",
  "droppable",
];

/** `prot=`: none, or letters from r, w, x (default rw- when not required). */
export function prot(
  c: CompileContext,
  w: Kv | undefined,
  required: boolean,
): { r: boolean; w: boolean; x: boolean } {
  if (!w) {
    if (required) c.fail("prot= is required", { line: 0, col: 0 });
    return { r: true, w: true, x: false };
  }
  const t = w.ident;
  if (t === "none") return { r: false, w: false, x: false };
  if (t === null || !/^[rwx]+$/.test(t) || new Set(t).size !== t.length)
    c.fail("prot= is none or letters from r, w, x (e.g. rw)", w.valuePos);
  return { r: t.includes("r"), w: t.includes("w"), x: t.includes("x") };
}

/**
 * `P: VAR = mmap SIZE [prot=PROT] [private|shared] [anon|file=NAME [offset=N]|dev=NAME [offset=N]]
 * [populate] [locked] [noreserve] [hugetlb [size=HUGESIZE]] [at=ADDR [fixed|noreplace]]` (hugetlb: MAP_HUGETLB,
 * droppable: MAP_DROPPABLE, the map type in place of private or shared, Linux 6.11;
 * anonymous only; size=: MAP_HUGE_2MB, MAP_HUGE_1GB..., log2 of it << MAP_HUGE_SHIFT; noreplace:
 * MAP_FIXED_NOREPLACE, an extension)
 */
export function mmap(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["prot", "at", "file", "offset", "dev", "size"]);
  const devW = o.get("dev");
  if (devW && (devW.ident === null || !c.devices.has(devW.ident)))
    c.fail(
      `device '${devW.ident ?? "?"}' does not exist (register it with 'device NAME size=...')`,
      devW.valuePos,
    );
  const fileW = o.get("file");
  if (devW && fileW) c.fail("file= or dev=, not both", devW.pos);
  if (fileW && (fileW.ident === null || !c.files.has(fileW.ident)))
    c.fail(
      `file '${fileW.ident ?? "?"}' does not exist (create it with 'file NAME size=...')`,
      fileW.valuePos,
    );
  const offsetW = o.get("offset");
  if (offsetW && !fileW && !devW) c.fail("offset= needs file=NAME or dev=NAME", offsetW.pos);
  if (offsetW?.value) c.useVars(offsetW.value);
  const flags = new Set<string>();
  let size: AddrExpr | null = null;
  for (const w of s.words) {
    if (w.kind !== "arg") continue;
    if (
      w.expr &&
      (w.expr.base === null || c.defined.has(w.expr.base)) &&
      size === null &&
      !MMAP_FLAGS.includes(w.ident ?? "")
    ) {
      size = w.expr;
      continue;
    }
    const f = w.ident ?? "";
    if (!MMAP_FLAGS.includes(f)) c.fail(`unknown mmap flag '${f || w.expr?.offset}'`, w.pos);
    if (flags.has(f)) c.fail(`'${f}' given twice`, w.pos);
    flags.add(f);
  }
  if (size === null) c.fail("mmap needs a size", s.verbPos);
  c.useVars(size);
  if (flags.has("private") && flags.has("shared")) c.fail("private or shared, not both", s.verbPos);
  if (flags.has("droppable") && (flags.has("private") || flags.has("shared")))
    c.fail("droppable is the map type (MAP_DROPPABLE): not with private or shared", s.verbPos);
  if (flags.has("anon") && fileW) c.fail("anon or file=, not both", fileW.pos);
  if (flags.has("fixed") && !o.has("at")) c.fail("fixed needs at=ADDR", s.verbPos);
  if (flags.has("noreplace") && !o.has("at")) c.fail("noreplace needs at=ADDR", s.verbPos);
  if (flags.has("fixed") && flags.has("noreplace")) c.fail("fixed or noreplace, not both", s.verbPos);
  if (flags.has("hugetlb") && (fileW || devW))
    c.fail("hugetlb maps anonymous memory (MAP_HUGETLB | MAP_ANONYMOUS)", s.verbPos);
  const hugeSizeW = o.get("size");
  if (hugeSizeW && !flags.has("hugetlb"))
    c.fail("size= is the huge page size of a hugetlb mapping (MAP_HUGE_*)", hugeSizeW.pos);
  if (hugeSizeW?.value) c.useVars(hugeSizeW.value);
  const at = o.get("at");
  if (at?.value) c.useVars(at.value);
  const protection = prot(c, o.get("prot"), false);
  if (!s.target) c.fail("mmap returns an address: write 'P: VAR = mmap SIZE ...'", s.verbPos);
  c.defined.add(s.target.name);
  const sz = size;
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const length = c.value(sz, rt, "the size");
    let addr = at ? c.value(at.value!, rt, "at=") : -1n;
    const placed = flags.has("fixed") || flags.has("noreplace");
    if (length > 1n << 56n || (placed && addr > 1n << 57n)) {
      c.assign(s, rt, -12n, "(ENOMEM)");
      return;
    }
    // a hint past every TASK_SIZE is no hint (get_unmapped_area looks elsewhere), as one past this one is
    if (addr > 1n << 57n) addr = -1n;
    const hugeSize = c.numOpt(hugeSizeW, rt);
    if (hugeSize !== null && (hugeSize < 4096 || 2 ** Math.round(Math.log2(hugeSize)) !== hugeSize))
      c.fail("size= is a power of two (MAP_HUGE_SHIFT takes its log2)", hugeSizeW!.valuePos);
    const before = t.minFlt + t.majFlt;
    const offset = offsetW ? c.value(offsetW.value!, rt, "offset=") : 0n;
    if (offset >= 1n << 52n) {
      c.assign(s, rt, -75n, "(EOVERFLOW)");
      return;
    }
    const r = rt.kernel.mmap(t, {
      file: fileW ? rt.files.get(fileW.ident!)! : null,
      device: devW ? rt.view.device(devW.ident!)! : null,
      offset: Number(offset),
      length: Number(length),
      prot: protection,
      shared: flags.has("shared"),
      populate: flags.has("populate"),
      locked: flags.has("locked"),
      noreserve: flags.has("noreserve"),
      hugetlb: flags.has("hugetlb"),
      droppable: flags.has("droppable"),
      ...(hugeSize !== null ? { hugetlbSizeLog: Math.log2(hugeSize) } : {}),
      addr: Number(addr),
      fixed: flags.has("fixed"),
      noreplace: flags.has("noreplace"),
      privileged: t.uid === 0,
    });
    c.assign(
      s,
      rt,
      r,
      r < 0n
        ? `(${errnoName(r)})`
        : t.minFlt + t.majFlt > before
          ? `(${t.minFlt + t.majFlt - before} pages populated)`
          : devW
            ? `(the driver's remap_pfn_range filled ${Number(length + 4095n) >> 12} PTE${length > 4096n ? "s" : ""})`
            : fileW
              ? "(nothing is mapped until first touch)"
              : "(nothing is allocated until first touch)",
    );
  };
}

/**
 * `P: [VAR =] munmap ADDR SIZE`, `P: [VAR =] mprotect ADDR SIZE prot=PROT [growsdown|growsup]`
 * (the words: PROT_GROWSDOWN, PROT_GROWSUP, an extension), and (an extension)
 * `P: [VAR =] mseal ADDR SIZE` (mseal(2), flags 0)
 */
export function munmapOrMprotect(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const v = s.verb;
  const o = c.opts(s, v === "mprotect" ? ["prot"] : []);
  // mprotect's `growsdown` / `growsup` words (PROT_GROWSDOWN, PROT_GROWSUP; an extension)
  const words = argWords(s);
  const grows = v === "mprotect" ? words.slice(2).map((w) => w.ident) : [];
  const growsdown = grows.includes("growsdown");
  const growsup = grows.includes("growsup");
  if (grows.length !== Number(growsdown) + Number(growsup) || words.length < 2)
    c.fail(
      `${v} ADDR SIZE${v === "mprotect" ? " prot=PROT [growsdown|growsup]" : ""}`,
      words[2]?.pos ?? s.verbPos,
    );
  const [addr, len] =
    grows.length > 0 ? c.exprArgs(words.slice(0, 2)) : c.args(s, 2, 2, "an address and a size");
  const p = v === "mprotect" ? prot(c, o.get("prot"), true) : null;
  const protection = p && grows.length > 0 ? { ...p, growsdown, growsup } : p;
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const a = c.value(addr, rt, "the address");
    const l = c.value(len, rt, "the size");
    const r =
      v === "munmap"
        ? rt.kernel.munmap(t, a, l)
        : v === "mseal"
          ? rt.kernel.mseal(t, a, l)
          : rt.kernel.mprotect(t, a, l, protection!);
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
  };
}

/** `P: [VAR =] madvise ADDR SIZE ADVICE` */
export function madvise(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length !== 3 || args[2].ident === null)
    c.fail("madvise ADDR SIZE ADVICE", args[args.length - 1]?.pos ?? s.verbPos);
  const advice = args[2].ident;
  if (!MADVICE.includes(advice)) c.fail(`unknown advice '${advice}' (${MADVICE.join(", ")})`, args[2].pos);
  const [addr, len] = c.exprArgs([args[0], args[1]]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const f0 = t.minFlt;
    rt.kernel.takePageoutCount(); // from zero: what this madvise reclaims
    const r = rt.kernel.madvise(t, c.value(addr, rt, "the address"), c.value(len, rt, "the size"), advice);
    c.assign(
      s,
      rt,
      r,
      r < 0n
        ? `(${errnoName(r)})`
        : t.minFlt > f0
          ? `(${t.minFlt - f0} pages populated)`
          : advice === "pageout"
            ? `(${rt.kernel.takePageoutCount()} pages reclaimed)`
            : "",
    );
  };
}

/** `P: [VAR =] msync ADDR SIZE`: writes back the dirty pages of shared disk-file mappings */
export function msync(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [addr, len] = c.args(s, 2, 2, "an address and a size");
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const out0 = rt.view.counters().pageCacheWritebacks;
    const r = rt.kernel.msync(t, c.value(addr, rt, "the address"), c.value(len, rt, "the size"));
    const n = rt.view.counters().pageCacheWritebacks - out0;
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : `(${n} page${n === 1 ? "" : "s"} written back)`);
  };
}

/** `P: [VAR =] mlock ADDR SIZE [onfault]`, `P: [VAR =] munlock ADDR SIZE` */
export function mlockOrMunlock(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const v = s.verb;
  c.opts(s, []);
  const args = argWords(s);
  const onfault = args.length === 3 && args[2].ident === "onfault" && v === "mlock";
  if (args.length !== 2 && !onfault)
    c.fail(`${v} ADDR SIZE${v === "mlock" ? " [onfault]" : ""}`, args[2]?.pos ?? s.verbPos);
  const [addr, len] = c.exprArgs([args[0], args[1]]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const f0 = t.minFlt;
    const a = c.value(addr, rt, "the address");
    const l = c.value(len, rt, "the size");
    const r = v === "mlock" ? rt.kernel.mlock(t, a, l, onfault) : rt.kernel.munlock(t, a, l);
    c.assign(
      s,
      rt,
      r,
      r < 0n ? `(${errnoName(r)})` : t.minFlt > f0 ? `(${t.minFlt - f0} pages faulted in)` : "",
    );
  };
}

/** mlockall's flag words, as the MCL_* bits they stand for (Kernel's Mcl) */
const MCL_WORDS: Record<string, number> = { current: 1, future: 2, onfault: 4 };

/**
 * `P: [VAR =] mlockall [current] [future] [onfault]` (MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT; each
 * once, any order; none or `onfault` alone is the kernel's -22 EINVAL), `P: [VAR =] munlockall`
 */
export function mlockall(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const v = s.verb;
  c.opts(s, []);
  let flags = 0;
  for (const w of argWords(s)) {
    const bit = v === "mlockall" && w.ident !== null ? MCL_WORDS[w.ident] : undefined;
    if (bit === undefined || flags & bit)
      c.fail(v === "mlockall" ? "mlockall [current] [future] [onfault]" : "munlockall takes no words", w.pos);
    flags |= bit;
  }
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const f0 = t.minFlt;
    const r = v === "mlockall" ? rt.kernel.mlockall(t, flags) : rt.kernel.munlockall(t);
    const n = t.minFlt - f0;
    c.assign(
      s,
      rt,
      r,
      r < 0n ? `(${errnoName(r)})` : n > 0 ? `(${n} page${n === 1 ? "" : "s"} faulted in)` : "",
    );
  };
}

/** `P: VAR = brk +SIZE` (or `-SIZE`): the old break, as sbrk */
export function brk(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [delta] = argWords(s).map((w) => w.expr);
  if (s.words.length !== 1 || !delta || delta.base !== null)
    c.fail("brk +SIZE or brk -SIZE", s.words[0]?.pos ?? s.verbPos);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const r = rt.kernel.brk(t, delta.offset);
    c.assign(
      s,
      rt,
      r,
      r < 0n ? `(${errnoName(r)})` : `(old break; now 0x${(r + delta.offset).toString(16)})`,
    );
  };
}

/**
 * `P: VAR = mremap ADDR OLDSIZE NEWSIZE [maymove [to=ADDR]] [dontunmap]`: MREMAP_MAYMOVE,
 * MREMAP_FIXED (to=), MREMAP_DONTUNMAP (an extension: the kernel refuses it without maymove or
 * with OLDSIZE other than NEWSIZE, -22 EINVAL)
 */
export function mremap(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["to"]);
  const args = argWords(s);
  const flags = args.slice(3).map((w) => w.ident);
  const mayMove = flags.includes("maymove");
  const dontUnmap = flags.includes("dontunmap");
  if (args.length < 3 || flags.length !== Number(mayMove) + Number(dontUnmap))
    c.fail(
      "mremap ADDR OLDSIZE NEWSIZE [maymove [to=ADDR]] [dontunmap]",
      args.find((w, i) => i >= 3 && w.ident !== "maymove" && w.ident !== "dontunmap")?.pos ??
        args[3]?.pos ??
        s.verbPos,
    );
  const to = o.get("to");
  if (to && !mayMove) c.fail("to= needs maymove (MREMAP_FIXED needs MREMAP_MAYMOVE)", to.pos);
  if (to?.value) c.useVars(to.value);
  const [addr, oldSize, newSize] = c.exprArgs(args.slice(0, 3));
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const r = rt.kernel.mremap(
      t,
      c.value(addr, rt, "the address"),
      c.value(oldSize, rt, "the old size"),
      c.value(newSize, rt, "the new size"),
      mayMove,
      to ? c.value(to.value!, rt, "to=") : -1n,
      dontUnmap,
    );
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
  };
}
