/**
 * The statement table: which handler compiles each verb, for the three
 * kinds of statement (machine-wide, `P:` and `kernel[@N]:`), and
 * `compileStatement`, which checks the prefix and dispatches. A handler
 * (stmts/*.ts) checks everything first and returns the run closure; the
 * context the handlers share is context.ts.
 */
import type { Stmt } from "./lang/ast.ts";
import { didYouMean, suggest } from "./lang/suggest.ts";
import type { CompileContext, Handler, Run } from "./runtime/context.ts";
import { kernelAccess, userAccess } from "./stmts/access.ts";
import { coredump } from "./stmts/coredump.ts";
import { expect, letStmt } from "./stmts/expect.ts";
import { explain } from "./stmts/explain.ts";
import { fallocate } from "./stmts/fallocate.ts";
import { file, ftruncate } from "./stmts/files.ts";
import { pinUserPages } from "./stmts/gup.ts";
import {
  allocPages,
  device,
  free,
  kmalloc,
  pagefaultDisable,
  userAccessWindow,
  vmalloc,
} from "./stmts/kernel.ts";
import { khugepaged } from "./stmts/khugepaged.ts";
import { ksm } from "./stmts/ksm.ts";
import { memfd, seal } from "./stmts/memfd.ts";
import { brk, madvise, mlockall, mlockOrMunlock, mmap, mremap, msync, munmapOrMprotect } from "./stmts/mm.ts";
import { mthp } from "./stmts/mthp.ts";
import { dropCaches, fadvise, mincore, sync } from "./stmts/pagecache.ts";
import { pkeyAlloc, pkeyFree, pkeyMprotect, wrpkru } from "./stmts/pkeys.ts";
import {
  catchSig,
  exit,
  fork,
  kthread,
  oomScoreAdj,
  personality,
  prctl,
  setuid,
  spawn,
  switchTask,
  thread,
} from "./stmts/process.ts";
import { reclaim } from "./stmts/reclaim.ts";
import { replay } from "./stmts/replay.ts";
import { setrlimit } from "./stmts/rlimit.ts";
import { shmat, shmctl, shmdt, shmget } from "./stmts/shm.ts";
import { show } from "./stmts/show.ts";
import { sysctl } from "./stmts/sysctl.ts";
import { thp } from "./stmts/thp.ts";
import { openFile, syscall, uaccess } from "./stmts/uaccess.ts";
import { virtualAlloc, virtualFree, virtualProtect, virtualQuery } from "./stmts/windows.ts";
import { irql, modifiedWriter, poolAlloc, poolFree, probe, trim } from "./stmts/winkernel.ts";
import { adjustTokenPrivileges, getLargePageMinimum } from "./stmts/winlarge.ts";
import { getWriteWatch, resetWriteWatch, virtualLock } from "./stmts/winlock.ts";
import {
  mapViewOfFile3,
  queryWorkingSet,
  queryWorkingSetEx,
  unmapViewOfFile2,
  virtualAlloc2,
} from "./stmts/winplaceholder.ts";
import { setMemoryPriority } from "./stmts/winpriority.ts";
import {
  createFileMapping,
  createThread,
  mapViewOfFile,
  setWorkingSetSize,
  unmapOrClose,
} from "./stmts/winsection.ts";

/** Statements without a prefix. */
const STATEMENTS = new Map<string, Handler>([
  ["spawn", spawn],
  ["kthread", kthread],
  ["switch", switchTask],
  ["explain", explain],
  ["file", file],
  ["device", device],
  ["reclaim", reclaim],
  ["drop_caches", dropCaches],
  ["sync", sync],
  ["sysctl", sysctl],
  ["kswapd", reclaim],
  ["khugepaged", khugepaged],
  ["ksm", ksm],
  ["mthp", mthp],
  ["thp", thp],
  ["let", letStmt],
  ["expect", expect],
  ["show", show],
  // profile=windows: the working-set trimmer and the modified page writer
  ["trim", trim],
  ["modified_writer", modifiedWriter],
]);

/** `P:` statements: a process's system calls and accesses. */
const PROCESS_STATEMENTS = new Map<string, Handler>([
  ["fork", fork],
  ["thread", thread],
  ["exit", exit],
  ["setuid", setuid],
  ["oom_score_adj", oomScoreAdj],
  ["personality", personality],
  ["prctl", prctl],
  ["catch", catchSig],
  ["mmap", mmap],
  ["munmap", munmapOrMprotect],
  ["mprotect", munmapOrMprotect],
  ["read", userAccess],
  ["write", userAccess],
  ["exec", userAccess],
  ["madvise", madvise],
  ["syscall", syscall],
  ["open", openFile],
  ["close", openFile],
  ["coredump", coredump],
  ["replay", replay],
  ["msync", msync],
  ["ftruncate", ftruncate],
  ["fallocate", fallocate],
  ["mincore", mincore],
  ["fadvise", fadvise],
  ["shmget", shmget],
  ["shmat", shmat],
  ["shmdt", shmdt],
  ["shmctl", shmctl],
  ["memfd", memfd],
  ["seal", seal],
  ["mlock", mlockOrMunlock],
  ["munlock", mlockOrMunlock],
  ["mlockall", mlockall],
  ["munlockall", mlockall],
  ["brk", brk],
  ["mremap", mremap],
  ["mseal", munmapOrMprotect],
  ["setrlimit", setrlimit],
  ["pkey_alloc", pkeyAlloc],
  ["pkey_free", pkeyFree],
  ["pkey_mprotect", pkeyMprotect],
  ["wrpkru", wrpkru],
  ["VirtualAlloc", virtualAlloc],
  ["VirtualFree", virtualFree],
  ["VirtualProtect", virtualProtect],
  ["VirtualQuery", virtualQuery],
  // profile=windows: sections and views, thread stacks, working-set sizes (extensions, docs/windows.md)
  ["CreateFileMapping", createFileMapping],
  ["MapViewOfFile", mapViewOfFile],
  ["UnmapViewOfFile", unmapOrClose],
  ["CloseHandle", unmapOrClose],
  ["CreateThread", createThread],
  ["SetProcessWorkingSetSize", setWorkingSetSize],
  // profile=windows: locked pages and write watching (extensions, docs/windows.md)
  ["VirtualLock", virtualLock],
  ["VirtualUnlock", virtualLock],
  ["GetWriteWatch", getWriteWatch],
  ["ResetWriteWatch", resetWriteWatch],
  // profile=windows: placeholders and QueryWorkingSetEx (extensions, docs/windows.md)
  ["VirtualAlloc2", virtualAlloc2],
  ["MapViewOfFile3", mapViewOfFile3],
  ["UnmapViewOfFile2", unmapViewOfFile2],
  ["QueryWorkingSetEx", queryWorkingSetEx],
  ["QueryWorkingSet", queryWorkingSet],
  // profile=windows: page priority (extensions, docs/windows.md)
  ["SetProcessInformation", setMemoryPriority],
  ["SetThreadInformation", setMemoryPriority],
  // profile=windows: large pages (extensions, docs/windows.md)
  ["AdjustTokenPrivileges", adjustTokenPrivileges],
  ["GetLargePageMinimum", getLargePageMinimum],
]);

/** `kernel[@N]:` statements, in the order the error message lists them. */
const KERNEL_STATEMENTS = new Map<string, Handler>([
  ["kmalloc", kmalloc],
  ["kfree", free],
  ["vmalloc", vmalloc],
  ["vfree", free],
  ["alloc_pages", allocPages],
  ["free_pages", free],
  ["read", kernelAccess],
  ["write", kernelAccess],
  ["exec", kernelAccess],
  ["copy_from_user", uaccess],
  ["copy_to_user", uaccess],
  ["clear_user", uaccess],
  ["get_user", uaccess],
  ["put_user", uaccess],
  ["strncpy_from_user", uaccess],
  ["pin_user_pages", pinUserPages],
  ["unpin_user_pages", pinUserPages],
  ["stac", userAccessWindow],
  ["clac", userAccessWindow],
  ["pan", userAccessWindow],
  ["sum", userAccessWindow],
  ["pagefault_disable", pagefaultDisable],
  ["pagefault_enable", pagefaultDisable],
  // profile=windows: the pools and IRQL
  ["pool_alloc", poolAlloc],
  ["pool_free", poolFree],
  ["irql", irql],
  ["ProbeForRead", probe],
  ["ProbeForWrite", probe],
]);

/**
 * Linux's memory system calls and fork: the windows profile has the
 * VirtualAlloc family instead (and no fork); `syscall` copies with Linux's
 * uaccess, which does not know VADs (the profile has kernel: ProbeForRead/ProbeForWrite).
 */
const LINUX_ONLY = new Set([
  "oom_score_adj",
  "personality",
  "prctl",
  "mmap",
  "munmap",
  "mprotect",
  "madvise",
  "msync",
  "ftruncate",
  "fallocate",
  "mincore",
  "fadvise",
  "shmget",
  "shmat",
  "shmdt",
  "shmctl",
  "memfd",
  "seal",
  "mlock",
  "munlock",
  "mlockall",
  "munlockall",
  "brk",
  "mremap",
  "mseal",
  "pkey_alloc",
  "pkey_free",
  "pkey_mprotect",
  "fork",
  "syscall",
  "open",
  "close",
  "coredump",
]);

/** A Linux-only statement refuses to run in the windows profile (known once the machine has booted). */
function linuxOnly(c: CompileContext, s: Stmt, run: Run): Run {
  return (rt) => {
    if (rt.view.windows() !== null)
      c.fail(
        `'${s.verb}' is Linux's; the windows profile has VirtualAlloc, VirtualFree, VirtualProtect and VirtualQuery`,
        s.verbPos,
      );
    run(rt);
  };
}

/** Checks one statement against what the lines before it defined, and returns what runs it. */
export function compileStatement(c: CompileContext, s: Stmt): Run {
  if (s.verb === "machine") c.fail("'machine' may appear only once, as the first statement", s.verbPos);
  if (s.prefix?.kind === "process") {
    const name = s.prefix.name;
    const kind = c.procs.get(name);
    if (kind === undefined) c.fail(`process '${name}' does not exist`, s.prefix.pos);
    if (kind === "kthread")
      c.fail(
        `'${name}' is a kernel thread: it has no user address space (use 'kernel:' statements, after 'switch ${name}')`,
        s.prefix.pos,
      );
    const h = PROCESS_STATEMENTS.get(s.verb);
    if (h !== undefined) return LINUX_ONLY.has(s.verb) ? linuxOnly(c, s, h(c, s)) : h(c, s);
    if (STATEMENTS.has(s.verb))
      c.fail(`'${s.verb}' takes no prefix: write it without '${name}:'`, s.prefix.pos);
    return c.fail(
      `unknown process statement '${s.verb}'${didYouMean(s.verb, PROCESS_STATEMENTS.keys())}`,
      s.verbPos,
    );
  }
  if (s.prefix?.kind === "kernel") {
    const h = KERNEL_STATEMENTS.get(s.verb);
    if (h !== undefined) return h(c, s);
    if (STATEMENTS.has(s.verb))
      c.fail(`'${s.verb}' takes no prefix: write it without 'kernel:'`, s.prefix.pos);
    return c.fail(
      `unknown kernel statement '${s.verb}'${didYouMean(s.verb, KERNEL_STATEMENTS.keys())} (known: ${[...KERNEL_STATEMENTS.keys()].join(", ")})`,
      s.verbPos,
    );
  }
  const h = STATEMENTS.get(s.verb);
  if (h !== undefined) return h(c, s);
  if (KERNEL_STATEMENTS.has(s.verb))
    c.fail(
      `'${s.verb}' needs a prefix: 'kernel: ${s.verb} ...' (or 'P: ${s.verb} ...' for a process)`,
      s.verbPos,
    );
  if (PROCESS_STATEMENTS.has(s.verb))
    c.fail(`'${s.verb}' is a process's statement: 'P: ${s.verb} ...', with P a process's name`, s.verbPos);
  return c.fail(`unknown statement '${s.verb}'${topLevelSuggestion(s.verb)}`, s.verbPos);
}

/** For a word without a prefix: a statement, else a process's (`P: mmap`) or the kernel's. */
function topLevelSuggestion(verb: string): string {
  const top = suggest(verb, [...STATEMENTS.keys(), "machine"]);
  if (top !== null) return `: did you mean '${top}'?`;
  const proc = didYouMean(verb, PROCESS_STATEMENTS.keys(), "P: ");
  return proc !== "" ? proc : didYouMean(verb, KERNEL_STATEMENTS.keys(), "kernel: ");
}

/** Every statement's verb, by prefix (the REPL's help and its "did you mean"). */
export function statementVerbs(): { plain: string[]; process: string[]; kernel: string[] } {
  return {
    plain: ["machine", ...STATEMENTS.keys()],
    process: [...PROCESS_STATEMENTS.keys()],
    kernel: [...KERNEL_STATEMENTS.keys()],
  };
}
