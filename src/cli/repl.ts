import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { excerpt, InputError } from "../base/errors.ts";
import { statementVerbs } from "../workloads/scenario/compile.ts";
import { formatWithCaret } from "../workloads/scenario/lang/parser.ts";
import { suggest } from "../workloads/scenario/lang/suggest.ts";
import { Session } from "../workloads/scenario/session.ts";
import { Legend } from "./legend.ts";
import { DEFAULT_MAX_HOST_MEMORY, formatStatements } from "./run.ts";
import { parseSize } from "./shared/size.ts";

const HELP = `The vmlab scenario language, one statement per line (docs/scenarios.md);
help STATEMENT (help mmap, help show) prints what the docs say of it:
  machine ram=256M cpus=2 pcid=on ...        first, or defaults boot at the first statement
  spawn A [uid=N] | kthread K | switch A [cpu=N] | file F size=1M [fs=tmpfs] [cached]
  kbuf = device D size=16K | reclaim [SIZE] | kswapd | khugepaged [scans=N] | ksm [run=1] [scans=N] | mthp SIZE MODE | thp shmem_enabled=MODE [size=SIZE] | drop_caches 1|2|3|4 | sync
  sysctl nr_hugepages=N [size=1G|64K|32M]     (mmap ... hugetlb [size=1G]: MAP_HUGE_1GB; arm64 64K, 32M; riscv svnapot=on 64K)
  A: buf = mmap 1M [prot=rw] [shared] [file=F|dev=D|hugetlb] [populate] [at=ADDR [fixed]]
  A: munmap ADDR SIZE | A: mprotect ADDR SIZE prot=r | A: madvise ADDR SIZE dontneed|pageout|collapse|...
  A: mlock ADDR SIZE | A: munlock ADDR SIZE | A: brk +SIZE | A: mremap ADDR OLD NEW maymove [dontunmap]
  A: mseal ADDR SIZE | sysctl max_map_count=N | A: mprotect ADDR SIZE prot=rw growsdown
  A: mlockall [current] [future] [onfault] | A: munlockall
  A: msync ADDR SIZE | A: ftruncate F SIZE | A: fork B | A: thread T | A: exit | A: setuid N
  A: fallocate F OFFSET LEN [keep_size] [punch_hole|zero_range|collapse_range|insert_range] | A: madvise ADDR SIZE remove
  A: catch SIGSEGV | A: mincore ADDR SIZE | A: fadvise F OFFSET LEN dontneed|willneed|sequential|...
  A: setrlimit as|data|stack|memlock SOFT [HARD] (sizes or unlimited) | show A limits
  A: oom_score_adj N (-1000..1000) | show A oom_score_adj | sysctl panic_on_oom=N oom_kill_allocating_task=N
  A: personality read_implies_exec|linux|query | A: prctl PR_SET_THP_DISABLE 1|0 | A: r = prctl PR_GET_THP_DISABLE | A: prctl PR_SET_TAGGED_ADDR_CTRL 1|0
  A: id = shmget private|KEY SIZE [creat] [excl] [hugetlb [size=1G]] [mode=600]
  A: s = shmat ID [at=ADDR] [rdonly] [rnd]
  A: shmdt ADDR | A: shmctl ID rmid|stat|lock|unlock|info | show ipcs | show sysvipc
  A: memfd F [allow_sealing] [cloexec] [hugetlb [size=1G]] | A: seal F write|shrink|grow|seal|future_write|exec
  A: k = pkey_alloc [disable_access] [disable_write] | A: pkey_mprotect ADDR SIZE prot=rw pkey=K
  A: pkey_free K | A: wrpkru 0x55555550          (x86-64, machine pku=on)
  A: read ADDR [SIZE] | A: write ADDR [SIZE] [value=N] | A: exec ADDR
  A: open F | A: close F | A: n = syscall read|write F BUF SIZE [offset=N] | A: n = coredump | A: n = replay "trace.u64.gz" [limit=N]
  A: n = syscall process_vm_readv|process_vm_writev|proc_mem_read|proc_mem_write B LOCAL REMOTE SIZE
  A: n = syscall process_madvise B ADDR SIZE [ADDR SIZE ...] cold|pageout|willneed|collapse
  kernel: k = kmalloc 64 | kernel: kfree k | kernel: v = vmalloc 16K | kernel: vfree v
  kernel: p = alloc_pages order=N | kernel: free_pages ADDR order=N
  kernel: read ADDR | kernel: write ADDR [value=N] | kernel: exec ADDR
  kernel: n = copy_from_user A BUF SIZE | copy_to_user A BUF SIZE | clear_user A BUF SIZE
  kernel: n = get_user A ADDR | put_user A ADDR V | strncpy_from_user A SRC N
  kernel: stac | kernel: clac | kernel: pan on|off | kernel: sum on|off
  kernel: pagefault_disable | kernel: pagefault_enable
  kernel: p = pin_user_pages A ADDR N [write] [longterm] [fast] | kernel: unpin_user_pages p
  show layout|buddyinfo|pagetypeinfo|extfrag|zoneinfo|slabinfo|meminfo|memcg|frames|vmstat|stats|tlb|tasks|pagetables
  show A maps|smaps|task|vad | show A pagetable [ADDR] | show A vtop ADDR | show kernel vtop ADDR
  show A pagemap ADDR SIZE | show kpageflags [PFN [COUNT]]
  explain A ADDR [read|write|exec] | explain kernel ADDR [read|write|exec]
  let m = tlb.misses | expect A.rss == 16 | expect pfn(A, buf) == pfn(B, buf)
machine profile=windows:
  A: a = VirtualAlloc 1M reserve|commit|reserve+commit [prot=rw+guard] [at=ADDR]
  A: VirtualFree ADDR SIZE decommit|release | A: VirtualProtect ADDR SIZE prot=r
  A: VirtualQuery ADDR | A: catch exceptions | trim A | modified_writer
  kernel: p = pool_alloc paged|nonpaged SIZE [tag=Abcd] | kernel: pool_free p | kernel: irql passive|apc|dispatch
  kernel: s = ProbeForRead A BUF SIZE | kernel: s = ProbeForWrite A BUF SIZE
  A: s = CreateFileMapping 64K [reserve] [file=F [image text=8K data=8K]] | A: v = MapViewOfFile s read|write|copy
  A: UnmapViewOfFile v | A: CloseHandle s | A: top = CreateThread [stack=1M]
  A: SetProcessWorkingSetSize 80K 400K [hard|max_disable|min_enable|min_disable] | A: SetProcessWorkingSetSize empty
  A: SetProcessInformation ProcessMemoryPriority 2 | T: SetThreadInformation ThreadMemoryPriority MEMORY_PRIORITY_LOW
  A: AdjustTokenPrivileges SeLockMemoryPrivilege | A: m = GetLargePageMinimum | A: l = VirtualAlloc 2M reserve+commit+large_pages
  A: VirtualLock ADDR SIZE | A: VirtualUnlock ADDR SIZE | A: r = VirtualAlloc 64K reset|reset_undo at=ADDR
  A: w = VirtualAlloc 1M reserve+commit+write_watch | A: n = GetWriteWatch w 1M [reset] | A: ResetWriteWatch w 1M
  A: t = VirtualAlloc 64K reserve+top_down (MEM_TOP_DOWN; other mixes of the words: 87 at run time)
  A: p = VirtualAlloc2 128K reserve+reserve_placeholder prot=none | A: VirtualFree p 64K release+preserve_placeholder
  A: VirtualFree p 128K release+coalesce_placeholders | A: a = VirtualAlloc2 64K reserve+commit+replace_placeholder at=p
  A: v = MapViewOfFile3 s prot=rw at=p replace_placeholder | A: UnmapViewOfFile2 v [preserve_placeholder]
  A: f = QueryWorkingSetEx ADDR [SIZE]
  A: n = QueryWorkingSet [cb=N]
  show A pte ADDR | show kernel pte ADDR | show pfn N | show A vad | show poolused | show A vmmap | show rammap
REPL commands: help [STATEMENT], history, save FILE (the accepted statements as a .vm file),
quit (or end of input). The exit status: 2 if a line was invalid, else 1 if an expectation
failed, else 0.`;

/** The docs' lines about a statement: the bullets of docs/scenarios.md whose forms name it. */
export function statementHelp(word: string): string[] {
  const docs = readFileSync(fileURLToPath(new URL("../../docs/scenarios.md", import.meta.url)), "utf8");
  const bullets = docs.split("\n").filter((l) => l.startsWith("- `"));
  // a bullet's forms: its code spans before the description (which follows `: or ): )
  const forms = (l: string) => {
    const end = l.search(/`: |\): /);
    return [...(end < 0 ? l : l.slice(0, end + 1)).matchAll(/`([^`]*)`/g)].map((m) => m[1]);
  };
  // the verb: the first word after the prefix (P:, kernel[@N]:) and the variable (VAR =, [VAR =])
  const verb = (form: string) =>
    form
      .replace(/^(P|kernel(\[@N\])?): /, "")
      .replace(/^\[?VAR =\]? /, "")
      .split(/[\s|[]/)[0];
  const byVerb = bullets.filter((l) => forms(l).some((f) => verb(f) === word));
  if (byVerb.length > 0) return byVerb.map(tidyBullet);
  // else a word of the forms (help pagetable: show P pagetable)
  const w = new RegExp(`(^|[\\s|])${word.replace(/[^A-Za-z0-9_]/g, "")}($|[\\s|\\]])`);
  return word === "" ? [] : bullets.filter((l) => forms(l).some((f) => w.test(f))).map(tidyBullet);
}

/** A docs bullet in lines of at most 100 columns, the first six (the docs have the rest). */
function tidyBullet(l: string): string {
  const lines: string[] = [];
  let cur = "";
  for (const word of l.split(" ")) {
    if (cur !== "" && cur.length + 1 + word.length > 100) {
      lines.push(cur);
      cur = `  ${word}`;
    } else cur = cur === "" ? word : `${cur} ${word}`;
  }
  lines.push(cur);
  return lines.length <= 6 ? lines.join("\n") : `${lines.slice(0, 6).join("\n")} ... (docs/scenarios.md)`;
}

/** `help WORD`: what the docs say of the statement, or a "did you mean". */
function helpFor(word: string): string {
  const found = statementHelp(word);
  if (found.length > 0) return `${found.join("\n")}\n`;
  const v = statementVerbs();
  const guess = suggest(word, [...v.plain, ...v.process, ...v.kernel]);
  return `no statement '${excerpt(word)}'${guess !== null ? `: did you mean '${guess}'? (help ${guess})` : " (help lists them)"}\n`;
}

/**
 * `vmlab repl`: the scenario language line by line. An invalid line is
 * reported (with a caret) and skipped; the session goes on. At the end of
 * input the expectations are summed up: exit 2 if a line was invalid, else
 * 1 if an expectation failed.
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
  // what was typed (numbered as the statements are: by line) and the statements accepted
  const history: { line: number; text: string }[] = [];
  const accepted: string[] = [];
  let invalid = false;
  let lineNo = 0;
  const legend = new Legend();
  if (tty) {
    out("vmlab repl: type 'help' for the statements, 'quit' to leave.\n");
    rl.setPrompt("vmlab> ");
    rl.prompt();
  }
  for await (const line of rl) {
    lineNo++;
    const cmd = line.trim();
    const word = /^(help|save)(\s+(.*))?$/.exec(cmd);
    if (cmd === "quit" || cmd === ".exit") break;
    if (cmd === "help") out(`${HELP}\n`);
    else if (word?.[1] === "help") out(helpFor(word[3]));
    else if (word?.[1] === "save") {
      const file = word[3];
      if (file === undefined) {
        out("save FILE: the file to write the session's statements to\n");
        invalid = true;
      } else {
        try {
          writeFileSync(file, `# vmlab repl session\n${accepted.map((l) => `${l}\n`).join("")}`);
          out(`saved ${accepted.length} statements to ${file} (vmlab run ${file})\n`);
        } catch (e) {
          out(`save: ${file}: cannot write: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
          invalid = true;
        }
      }
    } else if (cmd === "history") {
      for (const h of history) out(`${String(h.line).padStart(4)}  ${h.text}\n`);
    } else if (cmd !== "") {
      history.push({ line: lineNo, text: line });
      try {
        const r = session.feed(line, lineNo);
        accepted.push(line);
        if (r)
          for (const l of legend.annotate(
            formatStatements({
              ...session.result,
              statements: [r],
              log: session.kernel?.view.log(0) ?? [],
            }),
          ))
            out(`${l}\n`);
        const panic = session.kernel?.view.counters().panic;
        if (panic) out(`machine halted: Kernel panic - not syncing: ${panic}\n`);
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        invalid = true;
        const lines: string[] = [];
        lines[lineNo - 1] = line;
        out(`${formatWithCaret(e, lines)}\n`);
      }
    }
    if (tty) rl.prompt();
  }
  rl.close();
  if (!session.booted) return invalid ? 2 : 0;
  const r = session.finish();
  out(
    `${r.statements.length} statements, ${r.expectations.length} expectations: ${r.passed} passed, ${r.failed} failed\n`,
  );
  return invalid ? 2 : r.exitCode;
}
