/**
 * fallocate(2) (an extension of scenario language 1.2):
 * `P: [VAR =] fallocate FILE OFFSET LEN [keep_size] [punch_hole|zero_range|collapse_range|insert_range|unshare_range]`,
 * the flags FALLOC_FL_KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, COLLAPSE_RANGE,
 * INSERT_RANGE and UNSHARE_RANGE, passed as they are (vfs_fallocate refuses
 * the combinations Linux refuses: punch_hole alone, two modes, keep_size with
 * collapse_range or insert_range: EOPNOTSUPP). On a tmpfs file or memfd the
 * range's pages are allocated (charged to Committed_AS; ENOSPC when the
 * commit limit refuses them) or the hole's pages unmapped and freed; on a
 * disk file (ext4) a hole or a zeroed range drops the cached pages and reads
 * as zeros, a collapsed or inserted range moves the rest of the file.
 * Prints 0 or the errno, and the file's size then. docs/files.md,
 * kernel/core/fallocate.ts, kernel/mm/falloc_ext4.ts.
 */
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_ZERO_RANGE,
} from "../../../kernel/Kernel.ts";
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";

const FLAGS: Record<string, number> = {
  keep_size: FALLOC_FL_KEEP_SIZE,
  punch_hole: FALLOC_FL_PUNCH_HOLE,
  zero_range: FALLOC_FL_ZERO_RANGE,
  collapse_range: FALLOC_FL_COLLAPSE_RANGE,
  insert_range: FALLOC_FL_INSERT_RANGE,
  unshare_range: FALLOC_FL_UNSHARE_RANGE,
};
const USAGE =
  "fallocate FILE OFFSET LEN [keep_size] [punch_hole|zero_range|collapse_range|insert_range|unshare_range]";

/** `P: [VAR =] fallocate FILE OFFSET LEN [keep_size] [MODE]`: fallocate(2) by P. */
export function fallocate(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  const fileW = args[0];
  if (args.length < 3 || fileW.ident === null) c.fail(USAGE, fileW?.pos ?? s.verbPos);
  const fileName = fileW.ident;
  if (!c.files.has(fileName))
    c.fail(`no file '${fileName}' (create it with 'file ${fileName} size=...' or memfd)`, fileW.pos);
  let mode = 0;
  for (const w of args.slice(3)) {
    if (w.ident === null || !(w.ident in FLAGS) || mode & FLAGS[w.ident])
      c.fail(`fallocate takes the flags ${Object.keys(FLAGS).join(", ")}, each once`, w.pos);
    mode |= FLAGS[w.ident];
  }
  const [offset, len] = c.exprArgs([args[1], args[2]]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const f = rt.files.get(fileName)!;
    const r = rt.kernel.fallocate(
      t,
      f,
      mode,
      c.value(offset, rt, "the offset"),
      c.value(len, rt, "the length"),
    );
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : `(${fileName} is ${f.sizeBytes} bytes)`);
  };
}
