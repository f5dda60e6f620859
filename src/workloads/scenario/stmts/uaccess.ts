/**
 * The kernel/user boundary: `kernel[@N]:` `copy_from_user`,
 * `copy_to_user`, `clear_user`, `get_user`, `put_user` and
 * `strncpy_from_user` in a process's context (access_ok, user faults
 * resolved, the exception table's fixups), and a process's
 * `syscall read|write FILE BUF SIZE`, read(2)/write(2) through them.
 */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, kernelCpuOf, processOf, type Run } from "../runtime/context.ts";
import { errnoName, faultSummary } from "../runtime/format.ts";
import { REMOTE_CALLS, remoteSyscall } from "./gup.ts";
import { processMadviseStmt } from "./pmadvise.ts";

/** uaccess statements: the arguments after P, as the usage line names them */
const UACCESS_ARGS: Record<string, string> = {
  copy_from_user: "BUF SIZE",
  copy_to_user: "BUF SIZE",
  clear_user: "BUF SIZE",
  get_user: "ADDR",
  put_user: "ADDR VALUE",
  strncpy_from_user: "SRC COUNT",
};

/**
 * `kernel[@N]: VAR = copy_from_user P BUF SIZE`, `copy_to_user P BUF SIZE [value=N]`,
 * `clear_user P BUF SIZE`, `get_user P ADDR [size=N]`, `put_user P ADDR VALUE [size=N]`,
 * `strncpy_from_user P SRC COUNT`
 */
export function uaccess(c: CompileContext, s: Stmt): Run {
  const cpuId = kernelCpuOf(s);
  const verb = s.verb;
  const usage = `${verb} P ${UACCESS_ARGS[verb]}`;
  const sized = verb === "get_user" || verb === "put_user";
  const o = c.opts(s, verb === "copy_to_user" ? ["value"] : sized ? ["size"] : []);
  const args = argWords(s);
  const pw = args[0];
  if (pw?.ident == null || !c.procs.has(pw.ident)) c.fail(`${usage}: P is a process`, pw?.pos ?? s.verbPos);
  if (c.procs.get(pw.ident) !== "user") c.fail(`'${pw.ident}' has no user memory`, pw.pos);
  const pname = pw.ident;
  const nArgs = 1 + UACCESS_ARGS[verb].split(" ").length;
  if (args.length !== nArgs) c.fail(usage, args[nArgs]?.pos ?? s.verbPos);
  const [addrE, secondE] = c.exprArgs(args.slice(1));
  const valueW = o.get("value");
  if (valueW?.value) c.useVars(valueW.value);
  const sizeW = o.get("size");
  let width: 1 | 2 | 4 | 8 = 8;
  if (sizeW) {
    const n = sizeW.value !== null && sizeW.value.base === null ? Number(sizeW.value.offset) : Number.NaN;
    if (n !== 1 && n !== 2 && n !== 4 && n !== 8) c.fail("size= must be 1, 2, 4 or 8", sizeW.valuePos);
    width = n;
  }
  c.define(s);
  return (rt) => {
    c.checkCpu(rt, cpuId, s);
    const t = c.liveProc(rt, pname, pw.pos);
    // the access runs in P's context: CPU N switches to P first if needed
    if (rt.view.task(t).cpu !== cpuId) rt.out.push(c.doSwitch(rt, cpuId, t));
    const uva = c.value(addrE, rt, verb === "strncpy_from_user" ? "the source" : "the address");
    const k = rt.kernel;
    const min0 = t.minFlt + t.majFlt;
    const faultNote = (fixedUp: boolean, what: string) => {
      const faults = t.minFlt + t.majFlt - min0;
      return `${faults} page fault${faults === 1 ? "" : "s"} resolved${fixedUp ? `; a fault nobody could resolve: the exception table's fixup ${what}` : ""}`;
    };
    if (sized) {
      const value = verb === "put_user" ? BigInt.asUintN(8 * width, c.value(secondE, rt, "the value")) : 0n;
      const r =
        verb === "get_user" ? k.uaccess.get(cpuId, uva, width) : k.uaccess.put(cpuId, uva, width, value);
      const hex = `0x${r.value.toString(16)}`;
      const why = r.accessOkFailed
        ? "-EFAULT: not a user address; memory untouched"
        : r.ret === 0
          ? `${verb === "get_user" ? `read ${hex}` : `wrote ${hex}`} (${width} byte${width === 1 ? "" : "s"}); ${faultNote(false, "")}`
          : `-EFAULT; ${faultNote(true, verb === "get_user" ? "zeroed the value and returned -EFAULT" : "returned -EFAULT")}`;
      c.assign(s, rt, BigInt(r.ret), `(${why})`);
      return;
    }
    const len = c.value(secondE, rt, verb === "strncpy_from_user" ? "the count" : "the size");
    if (len > 1n << 40n)
      c.fail(`${verb}: size ${len} is larger than any copy vmlab models (1T)`, secondE.pos);
    if (verb === "strncpy_from_user") {
      const r = k.uaccess.strncpy(cpuId, uva, Number(len));
      const text = r.bytes
        .slice(0, Math.max(0, r.ret))
        .map((b) =>
          b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`,
        )
        .join("");
      const why = r.accessOkFailed
        ? "-EFAULT: not a user address"
        : r.ret < 0
          ? `-EFAULT; ${faultNote(true, "returned -EFAULT")}`
          : `${r.ret === Number(len) && !r.bytes.includes(0) ? "no NUL within the count; " : ""}"${text}"; ${faultNote(r.fixedUp, "went on byte at a time")}`;
      c.assign(s, rt, BigInt(r.ret), `(${why})`);
      return;
    }
    const toUser = verb !== "copy_from_user";
    const value = valueW ? c.numOpt(valueW, rt)! & 0xff : 0x5a;
    let first = -1;
    const r =
      verb === "clear_user"
        ? k.uaccess.clear(cpuId, uva, Number(len))
        : k.uaccess.copy(
            cpuId,
            uva,
            Number(len),
            toUser,
            () => value,
            (i, b) => {
              if (i === 0) first = b;
            },
          );
    const copied = Number(len) - r.notCopied;
    const how = verb === "clear_user" ? "cleared" : "copied";
    const why = r.accessOkFailed
      ? `access_ok failed: not a user range; nothing ${how}`
      : `${copied} bytes ${how}${!toUser && first >= 0 ? ` (first byte 0x${first.toString(16).padStart(2, "0")})` : ""}; ${faultNote(r.fixedUp, `ended the ${verb === "clear_user" ? "clear" : "copy"}`)}`;
    c.assign(s, rt, BigInt(r.notCopied), `(not ${how}; ${why})`);
  };
}

/**
 * `P: VAR = syscall read|write FILE BUF SIZE [offset=N]`: read(2)/write(2)
 * through copy_to/from_user; with `offset=N`, pread(2)/pwrite(2) at N; without it, at the
 * file's position (advanced) once P has said `open FILE`, else at offset 0. A read of a disk
 * file goes through readahead (mm/readahead.ts): the note says how many of the file's pages
 * are cached after it.
 */
export function syscall(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const args = argWords(s);
  const call = args[0]?.ident;
  if (call === "fsync" || call === "fdatasync") return fsync(c, s);
  if (call != null && REMOTE_CALLS.has(call)) return remoteSyscall(c, s); // stmts/gup.ts
  if (call === "process_madvise") return processMadviseStmt(c, s); // stmts/pmadvise.ts
  const o = c.opts(s, ["offset"]);
  if (call !== "read" && call !== "write")
    c.fail(
      "syscall read|write FILE BUF SIZE [offset=N], syscall fsync|fdatasync FILE, syscall process_vm_readv|process_vm_writev|proc_mem_read|proc_mem_write Q LOCAL REMOTE SIZE, or syscall process_madvise Q ADDR SIZE [ADDR SIZE ...] ADVICE",
      args[0]?.pos ?? s.verbPos,
    );
  const fw = args[1];
  if (fw?.ident == null || !c.files.has(fw.ident))
    c.fail(
      `file '${fw?.ident ?? "?"}' does not exist (create it with 'file NAME size=...')`,
      fw?.pos ?? s.verbPos,
    );
  if (args.length !== 4) c.fail("syscall read|write FILE BUF SIZE [offset=N]", args[4]?.pos ?? s.verbPos);
  const [buf, size] = c.exprArgs(args.slice(2));
  const fname = fw.ident;
  const offsetW = o.get("offset");
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    const cpu = c.runOn(rt, t);
    const len = c.value(size, rt, "the size");
    if (len > 1n << 40n) c.fail(`syscall ${call}: size ${len} is larger than vmlab models (1T)`, size.pos);
    const offset = offsetW ? c.numOpt(offsetW, rt)! : undefined;
    const f0 = t.minFlt;
    const m0 = t.majFlt;
    const file = rt.files.get(fname)!;
    const r = rt.kernel.fileIo(
      cpu,
      file,
      c.value(buf, rt, "the buffer"),
      Number(len),
      call === "write",
      offset,
    );
    const info = call === "read" && file.fs === "disk" ? rt.view.file(fname) : null;
    const cached = info ? `; ${fname}: ${info.cached} of ${info.pages} pages cached` : "";
    c.assign(
      s,
      rt,
      BigInt(r),
      r < 0
        ? `(${errnoName(BigInt(r))})`
        : `(${faultSummary(t.minFlt - f0, t.majFlt - m0)} taken by the kernel's copy${cached})`,
    );
  };
}

/**
 * `P: VAR = syscall fsync|fdatasync FILE` (extension): every dirty page of a disk file written
 * and waited for (a tmpfs file has none to write); VAR is 0, the note says how many pages.
 */
function fsync(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  const call = args[0].ident;
  const fw = args[1];
  if (args.length !== 2 || fw.ident == null) c.fail(`syscall ${call} FILE`, args[2]?.pos ?? s.verbPos);
  const fname = fw.ident;
  if (!c.files.has(fname))
    c.fail(`file '${fname}' does not exist (create it with 'file NAME size=...')`, fw.pos);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const r = rt.kernel.fsync(t, rt.files.get(fname)!);
    c.assign(s, rt, r.ret, `(${r.written} page${r.written === 1 ? "" : "s"} written)`);
  };
}

/**
 * `P: open FILE`: open(2) of FILE by P: a new struct file (position 0, fresh readahead state,
 * no advice) in P's file table; P's `syscall read|write FILE` without `offset=` then use and
 * advance its position, its mmap and fadvise of FILE use it, and a later fork shares it.
 * `P: close FILE`: close(2) of it (EBADF when P holds none).
 */
export function openFile(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  c.opts(s, []);
  const args = argWords(s);
  const fw = args[0];
  const verb = s.verb;
  if (args.length !== 1 || fw.ident === null) c.fail(`${verb} FILE`, args[1]?.pos ?? s.verbPos);
  const fname = fw.ident;
  if (!c.files.has(fname)) c.fail(`no file '${fname}' (create it with 'file ${fname} size=...')`, fw.pos);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const f = rt.files.get(fname)!;
    if (verb === "open") {
      rt.kernel.openFile(t, f);
      rt.out.push(`open ${fname}: position 0, readahead state reset`);
      return;
    }
    const r = rt.kernel.closeFile(t, f);
    rt.out.push(`close ${fname}: ${r}${r < 0 ? ` (${errnoName(BigInt(r))})` : ""}`);
  };
}
