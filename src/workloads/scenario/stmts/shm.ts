/**
 * System V shared memory (an extension of scenario language 1.2):
 * `P: [VAR =] shmget private|KEY SIZE [creat] [excl] [hugetlb [size=HUGESIZE]] [noreserve] [mode=OCTAL]`,
 * `P: [VAR =] shmat ID [at=ADDR] [rdonly] [rnd]`, `P: [VAR =] shmdt ADDR`,
 * `P: [VAR =] shmctl ID rmid|stat|lock|unlock|info`. Each prints its
 * return (an id, an address, 0, or a negative errno by name) as the
 * neighbouring system calls do. docs/files.md, kernel/ipc/shm.ts.
 */
import {
  IPC_CREAT,
  IPC_EXCL,
  IPC_PRIVATE,
  SHM_HUGE_SHIFT,
  SHM_HUGETLB,
  SHM_NORESERVE,
  SHM_RDONLY,
  SHM_RND,
} from "../../../kernel/Kernel.ts";
import type { AddrExpr, Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run, type Runtime } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

/** An id that may be negative (a failed shmget's -errno: the kernel answers it with EINVAL). */
function idValue(c: CompileContext, e: AddrExpr, rt: Runtime): number {
  const v = (e.base === null ? 0n : rt.vars.get(e.base)!) + e.offset;
  if (v >= 1n << 31n || v < -(1n << 31n)) c.fail("the id does not fit in an int", e.pos);
  return Number(v);
}

const SHMGET_FLAG_BITS: Record<string, number> = {
  creat: IPC_CREAT,
  excl: IPC_EXCL,
  hugetlb: SHM_HUGETLB,
  noreserve: SHM_NORESERVE,
};
const SHMGET_FLAGS = Object.keys(SHMGET_FLAG_BITS);

/**
 * `P: [VAR =] shmget private|KEY SIZE [creat] [excl] [hugetlb [size=HUGESIZE]] [noreserve] [mode=OCTAL]`:
 * shmget(2) by P (creat: IPC_CREAT, excl: IPC_EXCL, hugetlb: SHM_HUGETLB, noreserve: SHM_NORESERVE;
 * size= the huge page size of a hugetlb segment, a power of two, its log2
 * << SHM_HUGE_SHIFT: SHM_HUGE_2MB, SHM_HUGE_1GB; mode= the permission
 * bits in octal, 600 when not given). Prints the id or -2 ENOENT,
 * -17 EEXIST, -22 EINVAL, -28 ENOSPC, -13 EACCES, -12 ENOMEM, -1 EPERM.
 */
export function shmget(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["mode", "size"]);
  const args = argWords(s);
  if (args.length < 2) c.fail("shmget private|KEY SIZE [creat] [excl] [mode=600]", s.verbPos);
  let flags = 0;
  for (const w of args.slice(2)) {
    if (w.ident === null || !SHMGET_FLAGS.includes(w.ident))
      c.fail(`shmget takes the flags ${SHMGET_FLAGS.join(", ")} after the size`, w.pos);
    flags |= SHMGET_FLAG_BITS[w.ident];
  }
  const hugeSizeW = o.get("size");
  if (hugeSizeW && !(flags & SHM_HUGETLB))
    c.fail("size= is the huge page size of a hugetlb segment (SHM_HUGE_*)", hugeSizeW.pos);
  if (hugeSizeW?.value) c.useVars(hugeSizeW.value);
  const modeW = o.get("mode");
  let mode = 0o600;
  if (modeW) {
    const text = modeW.value !== null && modeW.value.base === null ? String(modeW.value.offset) : "";
    if (!/^[0-7]{1,4}$/.test(text)) c.fail("mode= is octal permission bits (e.g. 600)", modeW.valuePos);
    mode = Number.parseInt(text, 8) & 0o777;
  }
  const priv = args[0].ident === "private";
  const [key, size] = priv ? [null, ...c.exprArgs([args[1]])] : c.exprArgs([args[0], args[1]]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const k = key === null ? BigInt(IPC_PRIVATE) : c.value(key, rt, "the key");
    if (k >= 1n << 32n) c.fail("the key does not fit in 32 bits", key!.pos);
    const sz = c.value(size!, rt, "the size");
    const hugeSize = c.numOpt(hugeSizeW, rt);
    if (hugeSize !== null && (hugeSize < 4096 || 2 ** Math.round(Math.log2(hugeSize)) !== hugeSize))
      c.fail("size= is a power of two (SHM_HUGE_SHIFT takes its log2)", hugeSizeW!.valuePos);
    const huge = hugeSize === null ? 0 : Math.log2(hugeSize) << SHM_HUGE_SHIFT;
    const r = rt.kernel.shmget(t, Number(BigInt.asIntN(32, k)), Number(sz), flags | mode | huge);
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
  };
}

/**
 * `P: [VAR =] shmat ID [at=ADDR] [rdonly] [rnd]`: shmat(2) by P (rdonly:
 * SHM_RDONLY, rnd: SHM_RND). Prints the address or -22 EINVAL, -13 EACCES.
 */
export function shmat(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["at"]);
  const args = argWords(s);
  if (args.length < 1) c.fail("shmat ID [at=ADDR] [rdonly] [rnd]", s.verbPos);
  let flags = 0;
  for (const w of args.slice(1)) {
    if (w.ident !== "rdonly" && w.ident !== "rnd")
      c.fail("shmat takes the flags rdonly, rnd after the id", w.pos);
    flags |= w.ident === "rdonly" ? SHM_RDONLY : SHM_RND;
  }
  const [id] = c.exprArgs([args[0]]);
  const atW = o.get("at");
  if (atW && atW.value === null) c.fail("at= is an address", atW.valuePos);
  const at = atW?.value ?? null;
  if (at) c.exprArgs([{ kind: "arg", expr: at, ident: null, pos: atW!.valuePos }]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const addr = at === null ? 0n : c.value(at, rt, "the address");
    const r = rt.kernel.shmat(t, idValue(c, id, rt), addr, flags);
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
  };
}

/** `P: [VAR =] shmdt ADDR`: shmdt(2) by P; 0 or -22 EINVAL. */
export function shmdt(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [addr] = c.args(s, 1, 1, "an address");
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const r = rt.kernel.shmdt(t, c.value(addr, rt, "the address"));
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
  };
}

const SHMCTL_CMDS = ["rmid", "stat", "lock", "unlock", "info"];

/**
 * `P: [VAR =] shmctl ID rmid|stat|lock|unlock|info`: shmctl(2) by P. Prints
 * 0 (info: the highest index in use) or -22 EINVAL, -1 EPERM, -13 EACCES,
 * -12 ENOMEM; stat adds the segment's size, nattch, mode and pids, info
 * the pages of all segments.
 */
export function shmctl(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length !== 2 || args[1].ident === null || !SHMCTL_CMDS.includes(args[1].ident))
    c.fail(`shmctl ID ${SHMCTL_CMDS.join("|")}`, args[1]?.pos ?? args[0]?.pos ?? s.verbPos);
  const cmd = args[1].ident;
  const [id] = c.exprArgs([args[0]]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const r = rt.kernel.shmctl(t, idValue(c, id, rt), cmd);
    let note = r.ret < 0n ? `(${errnoName(r.ret)})` : "";
    if (r.stat)
      note = `(key 0x${(r.stat.key >>> 0).toString(16).padStart(8, "0")}, ${r.stat.segsz} bytes, nattch ${r.stat.nattch}, mode ${r.stat.mode.toString(8)}, cpid ${r.stat.cpid}, lpid ${r.stat.lpid})`;
    if (r.info)
      note = `(${r.info.usedIds} segments, ${r.info.shmTot} pages, ${r.info.shmRss} resident, ${r.info.shmSwp} swapped)`;
    c.assign(s, rt, r.ret, note);
  };
}
