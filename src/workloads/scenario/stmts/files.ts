/** `file NAME size=SIZE [fs=disk|tmpfs] [cached] [folio=SIZE] [huge=MODE] [nr_blocks=N] [nr_inodes=N] [mount=NAME]`: a file of deterministic contents. */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, MAX_TOUCHES, processOf, type Run } from "../runtime/context.ts";
import { errnoName, mib } from "../runtime/format.ts";

export function file(c: CompileContext, s: Stmt): Run {
  if (s.target) c.fail("'file' returns nothing to assign", s.target.pos);
  const args = argWords(s);
  const nameW = args[0];
  if (nameW?.ident == null || nameW.ident === "cached")
    c.fail(
      "file NAME size=SIZE [fs=disk|tmpfs] [cached] [folio=SIZE] [huge=MODE] [nr_blocks=N] [nr_inodes=N] [mount=NAME]",
      nameW?.pos ?? s.verbPos,
    );
  const name = nameW.ident;
  if (c.files.has(name)) c.fail(`file '${name}' already exists`, nameW.pos);
  let cached = false;
  for (const w of args.slice(1)) {
    if (w.ident !== "cached" || cached)
      c.fail(`unexpected '${w.ident ?? "argument"}' (expected 'cached')`, w.pos);
    cached = true;
  }
  const o = c.opts(s, ["size", "fs", "folio", "huge", "nr_blocks", "nr_inodes", "mount"]);
  const sizeW = o.get("size");
  if (!sizeW) c.fail("file needs size=SIZE", s.verbPos);
  if (!sizeW.value || sizeW.value.base !== null) c.fail("size= is a number", sizeW.valuePos);
  const size = sizeW.value.offset;
  if (size < 0n || size > 1n << 40n) c.fail(`size=${size}: a file is 0 .. 1T bytes here`, sizeW.valuePos);
  const fsW = o.get("fs");
  if (fsW && fsW.ident !== "disk" && fsW.ident !== "tmpfs") c.fail("fs= is disk or tmpfs", fsW.valuePos);
  const fs = fsW?.ident === "tmpfs" ? "tmpfs" : "disk";
  if (fs === "tmpfs" && cached)
    c.fail("a tmpfs file is always in memory: 'cached' applies to disk files", s.verbPos);
  const folioW = o.get("folio");
  if (folioW && folioW.value?.base !== null) c.fail("folio= is a size (4K .. 1M)", folioW.valuePos);
  const folio = folioW ? folioW.value!.offset : 4096n;
  if (folio < 4096n || folio > 1n << 30n || (folio & (folio - 1n)) !== 0n)
    c.fail(`folio=${folio}: a folio is a power of two from 4K`, folioW!.valuePos);
  if (fs === "tmpfs" && folio !== 4096n)
    c.fail(
      "tmpfs folio sizes follow shmem_enabled and the mount's huge=: folio= applies to disk files",
      folioW!.valuePos,
    );
  // huge= (extension): the tmpfs mount option (mm/shmem_huge.ts)
  const hugeW = o.get("huge");
  const HUGE = ["never", "always", "within_size", "advise"] as const;
  if (hugeW && (hugeW.ident === null || !(HUGE as readonly string[]).includes(hugeW.ident)))
    c.fail("huge= is never, always, within_size or advise (the tmpfs mount option)", hugeW.valuePos);
  if (hugeW && fs !== "tmpfs") c.fail("huge= is a tmpfs mount option: add fs=tmpfs", hugeW.valuePos);
  const huge = (hugeW?.ident ?? "never") as (typeof HUGE)[number];
  // nr_blocks= (extension): the tmpfs mount's size in pages (shmem_parse_one: "nr_blocks",
  // memparse; sbinfo->max_blocks, 0 for no limit)
  const blocksW = o.get("nr_blocks");
  if (blocksW && (!blocksW.value || blocksW.value.base !== null || blocksW.value.offset < 0n))
    c.fail("nr_blocks= is a number of pages (the tmpfs mount's size=; 0: no limit)", blocksW.valuePos);
  if (blocksW && fs !== "tmpfs") c.fail("nr_blocks= is a tmpfs mount option: add fs=tmpfs", blocksW.valuePos);
  const nrBlocks = blocksW ? blocksW.value!.offset : 0n;
  const pagesNeeded = (size + 4095n) / 4096n;
  // nr_inodes= (extension): the mount's inode limit (sbinfo->max_inodes, 0 for no limit)
  const inodesW = o.get("nr_inodes");
  if (inodesW && (!inodesW.value || inodesW.value.base !== null || inodesW.value.offset < 0n))
    c.fail("nr_inodes= is a number of inodes (the tmpfs mount's; 0: no limit)", inodesW.valuePos);
  if (inodesW && fs !== "tmpfs") c.fail("nr_inodes= is a tmpfs mount option: add fs=tmpfs", inodesW.valuePos);
  // mount=NAME (extension): the tmpfs mount the file is on, made by the first file naming it
  // (with that file's huge=, nr_blocks=, nr_inodes=) and shared by the later ones
  const mountW = o.get("mount");
  if (mountW && mountW.ident === null) c.fail("mount= names a tmpfs mount", mountW.valuePos);
  if (mountW && fs !== "tmpfs") c.fail("mount= names a tmpfs mount: add fs=tmpfs", mountW.valuePos);
  if (blocksW && nrBlocks > 0n && pagesNeeded > nrBlocks)
    c.fail(
      `nr_blocks=${nrBlocks}: the file's ${pagesNeeded} pages do not fit (its write(2) would stop at -ENOSPC)`,
      blocksW!.valuePos,
    );
  c.files.add(name);
  // the words as written (size=1T), for messages
  const sizeText = s.text.slice(sizeW.pos.col - 1).split(/\s/)[0];
  return (rt) => {
    // a cached disk file or a tmpfs file is filled page by page at once: one larger than RAM
    // cannot fit, and would only reclaim itself over and over (70 ms per MiB above RAM)
    const ram = rt.view.machine().ramBytes;
    if ((cached || fs === "tmpfs") && size > BigInt(ram))
      c.fail(
        fs === "tmpfs"
          ? `${sizeText}: a tmpfs file lives in RAM whole, and this machine has ${mib(ram)}`
          : `${sizeText}: a cached file is read into RAM whole, and this machine has ${mib(ram)} (without 'cached', pages are read on demand)`,
        sizeW.valuePos,
      );
    // filling the cache is a touch per page: the statement cap applies
    if ((cached || fs === "tmpfs") && size > BigInt(MAX_TOUCHES) * 4096n)
      c.fail(
        `a ${fs === "tmpfs" ? "tmpfs" : "cached"} file fills a page per 4K at once; vmlab caps one statement at 1,000,000 pages`,
        sizeW.valuePos,
      );
    // the machine decides the largest folio (the PMD size): the kernel's refusal, at this statement
    const folioError = rt.view.folioSizeError(fs, Number(folio));
    if (folioError !== null) c.fail(folioError, folioW!.valuePos);
    rt.files.set(
      name,
      rt.kernel.createFile(
        name,
        Number(size),
        fs,
        cached,
        Number(folio),
        hugeW ? huge : undefined,
        blocksW ? Number(nrBlocks) : undefined,
        {
          mount: mountW?.ident ?? undefined,
          nrInodes: inodesW ? Number(inodesW.value!.offset) : undefined,
        },
      ),
    );
    const f = rt.view.file(name)!;
    rt.out.push(
      `${fs} file ${name}: ${size} bytes, ${f.pages} pages${f.cached ? `, ${f.cached} in the page cache` : ", none cached"}${folio !== 4096n ? `, folios of ${folio / 1024n}K` : ""}${hugeW ? `, huge=${huge}` : ""}${blocksW ? `, nr_blocks=${nrBlocks}` : ""}${inodesW ? `, nr_inodes=${inodesW.value!.offset}` : ""}${mountW ? `, on mount ${mountW.ident}` : ""}`,
    );
  };
}

/**
 * `P: [VAR =] ftruncate FILE SIZE`: ftruncate(2) by P (scenario language 1.2).
 * Mappings of the part cut off are zapped and its page-cache pages dropped;
 * an access there is SIGBUS. Prints 0 or the errno, and the new size.
 */
export function ftruncate(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const args = argWords(s);
  const fileW = args[0];
  if (args.length !== 2 || fileW.ident === null) c.fail("ftruncate FILE SIZE", fileW?.pos ?? s.verbPos);
  const fileName = fileW.ident;
  if (!c.files.has(fileName))
    c.fail(`no file '${fileName}' (create it with 'file ${fileName} size=...')`, fileW.pos);
  const [size] = c.exprArgs([args[1]]);
  c.define(s);
  return (rt) => {
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const len = c.value(size, rt, "the size");
    const r = rt.kernel.ftruncate(t, rt.files.get(fileName)!, len);
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : `(${fileName} is ${len} bytes)`);
  };
}
