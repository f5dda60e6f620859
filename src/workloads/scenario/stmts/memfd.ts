/**
 * memfd_create(2) and file seals (an extension of scenario language 1.2):
 * `P: memfd NAME [allow_sealing] [cloexec] [noexec_seal] [exec] [hugetlb [size=HUGESIZE]]`
 * makes a tmpfs file NAME of size 0 (hugetlb: MFD_HUGETLB, a hugetlbfs
 * file of huge pages from the pool; size= its huge page size, log2 of it
 * << MFD_HUGE_SHIFT: MFD_HUGE_2MB, MFD_HUGE_1GB) that the file statements then name (ftruncate,
 * mmap file=, fadvise); `P: [VAR =] seal NAME SEAL...` adds seals
 * (fcntl F_ADD_SEALS: seal, shrink, grow, write, future_write, exec) and
 * prints 0 or -1 EPERM, -16 EBUSY, -22 EINVAL and the seals then.
 * docs/files.md, kernel/core/memfd.ts.
 */
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGE_SHIFT,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
} from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

const MFD_FLAGS: Record<string, number> = {
  allow_sealing: MFD_ALLOW_SEALING,
  cloexec: MFD_CLOEXEC,
  noexec_seal: MFD_NOEXEC_SEAL,
  exec: MFD_EXEC,
  hugetlb: MFD_HUGETLB,
};

const SEALS: Record<string, number> = {
  seal: F_SEAL_SEAL,
  shrink: F_SEAL_SHRINK,
  grow: F_SEAL_GROW,
  write: F_SEAL_WRITE,
  future_write: F_SEAL_FUTURE_WRITE,
  exec: F_SEAL_EXEC,
};

/** The seals by name, as `seal` prints them ("none" for none). */
function sealNames(seals: number): string {
  const names = Object.entries(SEALS)
    .filter(([, bit]) => seals & bit)
    .map(([n]) => n);
  return names.length ? names.join(" ") : "none";
}

/** `P: memfd NAME [allow_sealing] [cloexec] [noexec_seal] [exec] [hugetlb [size=HUGESIZE]]`: memfd_create(2) by P. */
export function memfd(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  if (s.target) c.fail("'memfd' names its file: P: memfd NAME [allow_sealing] ...", s.target.pos);
  const o = c.opts(s, ["size"]);
  const args = argWords(s);
  const nameW = args[0];
  if (nameW?.ident == null)
    c.fail("memfd NAME [allow_sealing] [cloexec] [noexec_seal] [exec]", nameW?.pos ?? s.verbPos);
  const fileName = nameW.ident;
  if (c.files.has(fileName)) c.fail(`file '${fileName}' already exists`, nameW.pos);
  let flags = 0;
  for (const w of args.slice(1)) {
    if (w.ident === null || !(w.ident in MFD_FLAGS))
      c.fail(`memfd takes the flags ${Object.keys(MFD_FLAGS).join(", ")}`, w.pos);
    flags |= MFD_FLAGS[w.ident];
  }
  const hugeSizeW = o.get("size");
  if (hugeSizeW && !(flags & MFD_HUGETLB))
    c.fail("size= is the huge page size of a hugetlb memfd (MFD_HUGE_*)", hugeSizeW.pos);
  if (hugeSizeW?.value) c.useVars(hugeSizeW.value);
  if (flags & MFD_EXEC && flags & MFD_NOEXEC_SEAL)
    c.fail("exec and noexec_seal together: memfd_create would fail with EINVAL", s.verbPos);
  c.files.add(fileName);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const hugeSize = c.numOpt(hugeSizeW, rt);
    if (hugeSize !== null && (hugeSize < 4096 || 2 ** Math.round(Math.log2(hugeSize)) !== hugeSize))
      c.fail("size= is a power of two (MFD_HUGE_SHIFT takes its log2)", hugeSizeW!.valuePos);
    const huge = hugeSize === null ? 0 : Math.log2(hugeSize) * 2 ** MFD_HUGE_SHIFT;
    const r = rt.kernel.memfdCreate(t, fileName, flags + huge);
    if (r.file === null) c.fail(`memfd_create failed: ${r.ret} (${errnoName(r.ret)})`, nameW.pos);
    rt.files.set(fileName, r.file);
    const fs = flags & MFD_HUGETLB ? "hugetlbfs" : "tmpfs";
    rt.out.push(
      `memfd:${fileName}: ${fs}, 0 bytes; seals ${sealNames(Number(rt.kernel.getSeals(t, r.file)))}`,
    );
  };
}

/** `P: [VAR =] seal NAME SEAL...`: fcntl(F_ADD_SEALS) by P on the file. */
export function seal(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  if (args.length < 2 || args[0].ident === null)
    c.fail(`seal FILE SEAL... (${Object.keys(SEALS).join(", ")})`, args[0]?.pos ?? s.verbPos);
  const fileName = args[0].ident;
  if (!c.files.has(fileName)) c.fail(`no file '${fileName}'`, args[0].pos);
  let seals = 0;
  for (const w of args.slice(1)) {
    if (w.ident === null || !(w.ident in SEALS)) c.fail(`seals: ${Object.keys(SEALS).join(", ")}`, w.pos);
    seals |= SEALS[w.ident];
  }
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const f = rt.files.get(fileName)!;
    const r = rt.kernel.addSeals(t, f, seals);
    const now = rt.kernel.getSeals(t, f);
    const after = now < 0n ? "" : `; seals ${sealNames(Number(now))}`;
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)}${after})` : `(${after.slice(2)})`);
  };
}
