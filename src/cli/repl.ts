import { createInterface } from "node:readline";
import { InputError } from "../base/errors.ts";
import { formatWithCaret } from "../workloads/scenario/lang/parser.ts";
import { Session } from "../workloads/scenario/session.ts";
import { DEFAULT_MAX_HOST_MEMORY, formatStatements } from "./run.ts";
import { parseSize } from "./shared/size.ts";

const HELP = `The vmlab scenario language, one statement per line (docs/scenarios.md):
  machine ram=256M cpus=2 pcid=on ...        first, or defaults boot at the first statement
  spawn A | kthread K | switch A [cpu=N]
  A: buf = mmap 1M [prot=rw] [populate] [at=ADDR [fixed]]
  A: munmap ADDR SIZE | A: mprotect ADDR SIZE prot=r | A: fork B | A: exit | A: catch SIGSEGV
  A: read ADDR [SIZE] | A: write ADDR [SIZE] [value=N] | A: exec ADDR
  kernel: k = kmalloc 64 | kernel: kfree k | kernel: v = vmalloc 16K | kernel: read ADDR
  A: madvise ADDR SIZE dontneed|pageout|dontdump|... | A: n = coredump | A: mlock ADDR SIZE | A: brk +SIZE | A: mremap ADDR OLD NEW maymove
  file F size=1M [fs=tmpfs] [cached] | A: m = mmap 1M shared file=F | A: msync ADDR SIZE
  A: n = replay "trace.u64.gz" [limit=N] | A: n = syscall read|write F BUF SIZE | kernel: n = copy_from_user A BUF SIZE | copy_to_user A BUF SIZE | get_user A ADDR | put_user A ADDR V | clear_user A BUF SIZE | strncpy_from_user A SRC N
  kbuf = device D size=16K | A: u = mmap 16K shared dev=D | reclaim [SIZE] | kswapd
  show layout|buddyinfo|slabinfo|meminfo|frames|vmstat|stats|tlb | show A maps|smaps|task | show A vtop ADDR | show kernel vtop ADDR | show A pagemap ADDR SIZE | show kpageflags [PFN [COUNT]]
    explain A ADDR [read|write|exec]
  machine profile=windows: A: a = VirtualAlloc 1M reserve|commit|reserve+commit [prot=rw+guard] [at=ADDR] | A: VirtualFree ADDR SIZE decommit|release | A: VirtualProtect ADDR SIZE prot=r | A: VirtualQuery ADDR | A: catch exceptions | show A vad

  let m = tlb.misses | expect A.rss == 16 | expect pfn(A, buf) == pfn(B, buf)
REPL commands: help, history, quit (or end of input).`;

/**
 * `vmlab repl`: the scenario language line by line. An invalid line is
 * reported (with a caret) and skipped; the session goes on. At the end of
 * input the expectations are summed up: exit 1 if one failed.
 */
export async function runRepl(
  input: NodeJS.ReadableStream,
  out: (s: string) => void,
  opts: { check: boolean; trace: boolean; maxHostMemory?: string },
): Promise<number> {
  const tty = (input as { isTTY?: boolean }).isTTY === true;
  const session = new Session({
    file: "<repl>",
    checkInvariants: opts.check,
    trace: opts.trace,
    maxHostMemory: parseSize(opts.maxHostMemory ?? DEFAULT_MAX_HOST_MEMORY, "--max-host-memory"),
  });
  const rl = createInterface({
    input,
    output: tty ? process.stdout : undefined,
    terminal: tty,
    historySize: 1000,
  });
  const history: string[] = [];
  let lineNo = 0;
  if (tty) {
    out("vmlab repl: type 'help' for the statements, 'quit' to leave.\n");
    rl.setPrompt("vmlab> ");
    rl.prompt();
  }
  for await (const line of rl) {
    lineNo++;
    const cmd = line.trim();
    if (cmd === "quit" || cmd === ".exit") break;
    if (cmd === "help") out(`${HELP}\n`);
    else if (cmd === "history") {
      for (let i = 0; i < history.length; i++) out(`${String(i + 1).padStart(4)}  ${history[i]}\n`);
    } else if (cmd !== "") {
      history.push(line);
      try {
        const r = session.feed(line, lineNo);
        if (r) for (const l of formatStatements({ ...session.result, statements: [r] })) out(`${l}\n`);
        const panic = session.kernel?.view.counters().panic;
        if (panic) out(`machine halted: Kernel panic - not syncing: ${panic}\n`);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        const lines: string[] = [];
        lines[lineNo - 1] = line;
        out(`${formatWithCaret(e, lines)}\n`);
      }
    }
    if (tty) rl.prompt();
  }
  rl.close();
  if (!session.booted) return 0;
  const r = session.finish();
  out(
    `${r.statements.length} statements, ${r.expectations.length} expectations: ${r.passed} passed, ${r.failed} failed\n`,
  );
  return r.exitCode;
}
