/**
 * Legends for `vmlab run` and the REPL: the first time PTE flag letters (x86-64 and i386, RISC-V,
 * arm64), smaps' VmFlags mnemonics or an errno name appear, one short line before that line says what they mean. The
 * letters are the ones vmlab prints (the manuals' bit names: Intel SDM Vol. 3A 4.5 tables 4-19
 * and 4-20, the RISC-V privileged spec 4.3.1, Arm ARM D8.3); the errno texts are strerror's
 * (glibc's, shortened).
 */
const FLAGS: { kind: string; re: RegExp; legend: string }[] = [
  {
    kind: "x86",
    re: /(^|\s)P( (RW|US|A|D|XD|G|PS|PWT|PCD|PAT))+(\s|$)/,
    legend: "P present, RW writable, US user, A accessed, D dirty, XD no-execute, G global, PS large page",
  },
  {
    kind: "riscv",
    re: /(^|\s)[RWX]( [RWX])* U( [GAD])*(\s|$)|(^|\s)[RWX]( [RWX])*( [GAD])+(\s|$)/,
    legend: "R readable, W writable, X executable, U user, G global, A accessed, D dirty",
  },
  {
    kind: "arm64",
    re: /AP\[2:1\]=/,
    legend: "AP[2:1] 01 user rw, 11 user ro, 00/10 kernel only; AF accessed, nG per-ASID, PXN/UXN no-exec",
  },
];

const ERRNO: Readonly<Record<string, string>> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file",
  EINTR: "interrupted",
  EIO: "I/O error",
  EBADF: "bad file descriptor",
  EAGAIN: "try again",
  ENOMEM: "out of memory (or of address space)",
  EACCES: "permission denied",
  EFAULT: "bad address",
  EBUSY: "busy",
  EEXIST: "exists",
  ENODEV: "no such device",
  EINVAL: "invalid argument",
  EFBIG: "file too large",
  ENOSPC: "no space left",
  ENOSYS: "not implemented",
  EOVERFLOW: "value too large",
  EOPNOTSUPP: "not supported",
  ENOTSUPP: "not supported (the kernel's own 524, which leaks to user space)",
  EHWPOISON: "memory page has a hardware error",
};

/**
 * smaps' VmFlags mnemonics, in the words of Documentation/filesystems/proc.rst
 * ("VmFlags" under /proc/PID/smaps), shortened.
 */
const VMFLAGS: Readonly<Record<string, string>> = {
  rd: "readable",
  wr: "writable",
  ex: "executable",
  sh: "shared",
  mr: "may read",
  mw: "may write",
  me: "may execute",
  ms: "may share",
  gd: "grows down (stack)",
  pf: "pure PFN range",
  gu: "may hold guard regions",
  lo: "locked in memory",
  io: "memory-mapped I/O",
  sr: "sequential-read advice",
  rr: "random-read advice",
  dc: "not copied on fork",
  de: "not expanded by mremap",
  lf: "locked on fault",
  ac: "accounted (commit charge)",
  nr: "no swap reserved",
  ht: "hugetlb pages",
  wf: "wiped on fork",
  dp: "droppable (MAP_DROPPABLE)",
  dd: "not in core dumps",
  sd: "soft-dirty",
  mm: "mixed map",
  hg: "huge-page advice",
  nh: "no-huge-page advice",
  mg: "mergeable (KSM)",
  um: "userfaultfd missing",
  uw: "userfaultfd wr-protect",
  ui: "userfaultfd minor",
  sl: "sealed",
};

/** Legend lines (each at most ~100 characters) for the VmFlags mnemonics of `line` not explained yet. */
function vmflagsNotes(line: string, shown: Set<string>): string[] {
  const m = /^\s*VmFlags: (.*)$/.exec(line);
  if (!m) return [];
  const words: string[] = [];
  for (const f of m[1].trim().split(/\s+/)) {
    if (f === "" || shown.has(`vm:${f}`)) continue;
    shown.add(`vm:${f}`);
    words.push(`${f} ${Object.hasOwn(VMFLAGS, f) ? VMFLAGS[f] : "(see proc(5))"}`);
  }
  const notes: string[] = [];
  let cur = "VmFlags:";
  for (const w of words) {
    if (cur.length + w.length + 2 > 100) {
      notes.push(cur);
      cur = "VmFlags:";
    }
    cur += `${cur === "VmFlags:" ? " " : ", "}${w}`;
  }
  if (cur !== "VmFlags:") notes.push(cur);
  return notes;
}

/** A statement's own line in a run's output: its line number, then the statement. */
const STATEMENT_LINE = /^ *\d+ {2}\S/;

/** Adds the legends to a run's lines; one Legend per run, so each legend appears once. */
export class Legend {
  private readonly shown = new Set<string>();

  /**
   * `lines` with a legend line before each detail line that first shows a kind of flag or an
   * errno, or right under a statement's own line (`  12  A: r = munmap ...  -22 (EINVAL)`) when
   * that shows it: a legend above it would sit in the block of the statement before.
   */
  annotate(lines: string[]): string[] {
    const out: string[] = [];
    for (const line of lines) {
      const notes: string[] = [];
      for (const f of FLAGS)
        if (!this.shown.has(f.kind) && f.re.test(line)) {
          this.shown.add(f.kind);
          notes.push(f.legend);
        }
      notes.push(...vmflagsNotes(line, this.shown));
      for (const m of line.matchAll(/-\d+ \((E[A-Z0-9]+)\)/g)) {
        const name = m[1];
        if (this.shown.has(name)) continue;
        const first = ![...this.shown].some((k) => k.startsWith("E"));
        this.shown.add(name);
        const what = Object.hasOwn(ERRNO, name) ? `${name} ${ERRNO[name]}` : name;
        notes.push(first ? `a negative result is -errno: ${what}` : what);
      }
      const own = STATEMENT_LINE.test(line);
      if (own) out.push(line);
      for (const n of notes) out.push(`        legend: ${n}`);
      if (!own) out.push(line);
    }
    return out;
  }
}
