import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { statementVerbs } from "../workloads/scenario/compile.ts";
import { ROOT, vmlab } from "./testkit.ts";

const dir = mkdtempSync(join(tmpdir(), "vmlab-voice-"));
/** Writes a scenario to a file of its own and returns its path. */
function scenario(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("a clearer voice: sizes and addresses", () => {
  it("takes lower-case size suffixes as the command line does", () => {
    const f = scenario(
      "lower.vm",
      "machine ram=64m\nspawn A\nA: b = mmap 64k\nA: write b 64k\nexpect A.rss == 16\nA: c = mmap 1m\nA: write c 1m\nexpect A.rss == 272\n",
    );
    const r = vmlab(["run", f]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/booted: 64 MiB RAM/);
    expect(r.stdout).toMatch(/2 expectations: 2 passed, 0 failed/);
    expect(r.code).toBe(0);
  });

  it("says an address without 0x looks like hex, at FILE:LINE:COL", () => {
    const f = scenario("bare.vm", "machine ram=64M\nspawn A\nA: read 7fff0000\n");
    const r = vmlab(["run", f]);
    expect(r.stderr).toContain(`${f}:3:9: '7fff0000' looks like a hex number: write 0x7fff0000`);
    expect(r.stderr).not.toMatch(/suffix/);
    expect(r.code).toBe(2);
  });
});

describe("a clearer voice: the tour", () => {
  it("lists its questions, numbered as the tour numbers them", () => {
    const r = vmlab(["tour", "--list"]);
    expect(r.code).toBe(0);
    const nums = [...r.stdout.matchAll(/^ ?(\d+)\. /gm)].map((m) => Number(m[1]));
    expect(nums.length).toBeGreaterThan(20);
    expect(nums).toEqual(nums.map((_, i) => i + 1));
    expect(r.stdout).toMatch(/^ 1\. A page walk\.$/m);
    expect(r.stdout).toMatch(
      /^10\. Does malloc allocate memory\? {3}\(examples\/tour\/01-first-touch\.vm\)$/m,
    );
  });

  it("runs one question alone, and refuses a number it does not have", () => {
    const r = vmlab(["tour", "10"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^10\. Does malloc allocate memory\?/);
    expect(r.stdout).toMatch(/-> (\d+) of \1 expectations hold\n$/);
    expect(r.stdout).not.toMatch(/^(9|11)\. /m);
    const three = vmlab(["tour", "3"]);
    expect(three.stdout).toMatch(/^3\. A TLB hit still enforces protection/);
    expect(three.stdout).toMatch(/#PF error_code/);
    expect(three.stdout).not.toMatch(/^(2|4)\. /m);
    const bad = vmlab(["tour", "999"]);
    expect(bad.stderr).toMatch(
      /^vmlab: tour: no question '999': the questions are 1 to \d+ \(vmlab tour --list\)\n$/,
    );
    expect(bad.code).toBe(2);
  });

  it("ends with hints that run exactly as printed", { timeout: 180_000 }, () => {
    const r = vmlab(["tour"]);
    expect(r.code).toBe(0);
    const hints = r.stdout
      .split("Next")[1]
      .split("\n")
      .filter((l) => l.startsWith("  npx vmlab "));
    expect(hints.length).toBeGreaterThan(3);
    for (const hint of hints) {
      // the shell expands examples/*/*.vm, as a user's would; npx vmlab is bin/vmlab.cjs, which bin/vmlab.mjs loads
      const cmd = hint.trim().replace(/^npx vmlab /, `"${process.execPath}" bin/vmlab.mjs `);
      const h = spawnSync("sh", ["-c", cmd], { cwd: ROOT, encoding: "utf8", input: "", timeout: 120_000 });
      expect({ hint, status: h.status, stderr: h.stderr }).toEqual({ hint, status: 0, stderr: "" });
    }
  });

  it("runs several scenario files in turn, each under a header, the exit status the worst", () => {
    const ok = scenario("ok.vm", "machine ram=64M\nexpect oops == 0\n");
    const failing = scenario("fail.vm", "machine ram=64M\nexpect oops == 1\n");
    const invalid = scenario("invalid.vm", "machine ram=64M\nfrobnicate\n");
    const two = vmlab(["run", ok, failing]);
    expect(two.stdout).toMatch(new RegExp(`^==> ${ok} <==\\n`));
    expect(two.stdout).toMatch(new RegExp(`\\n\\n==> ${failing} <==\\n`));
    expect(two.stdout).toMatch(/1 passed, 0 failed[\s\S]*0 passed, 1 failed/);
    expect(two.code).toBe(1);
    const three = vmlab(["run", invalid, ok, failing]);
    expect(three.stderr).toMatch(/invalid\.vm:2:1: unknown statement 'frobnicate'/);
    expect(three.stdout).toMatch(/0 passed, 1 failed/); // the later files still ran
    expect(three.code).toBe(2);
    const json = vmlab(["run", "--json", ok, failing]);
    const docs = JSON.parse(json.stdout) as { passed: number; failed: number }[];
    expect(docs.map((d) => [d.passed, d.failed])).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });
});

describe("a clearer voice: policy mode", () => {
  const refs = "7,0,1,2,0,3,0,4,2,3,0,3,2,1,2,0,1,7,0,1";
  /** The policy the run names in its JSON. */
  const policyOf = (args: string[]) => {
    const r = vmlab(["policy", "--refs", refs, "--frames", "3", "--json", ...args]);
    expect(r.code).toBe(0);
    return (JSON.parse(r.stdout) as { policy: string }).policy;
  };

  it("takes the names as the field spells them (s3fifo, belady), and says so in --help", () => {
    expect(policyOf(["--policy", "belady"])).toBe("opt");
    expect(policyOf(["--policy", "s3fifo"])).toBe("s3-fifo");
    const belady = JSON.parse(
      vmlab(["policy", "--refs", refs, "--frames", "3", "--json", "--policy", "belady"]).stdout,
    );
    const opt = JSON.parse(
      vmlab(["policy", "--refs", refs, "--frames", "3", "--json", "--policy", "opt"]).stdout,
    );
    expect(belady).toEqual(opt);
    const help = vmlab(["policy", "--help"]).stdout.replace(/\s+/g, " ");
    expect(help).toMatch(/s3fifo = s3-fifo/);
    expect(help).toMatch(/belady = opt/);
    const trace = vmlab([
      "trace",
      "examples/tour/gzip-start.u64.gz",
      "--mode",
      "policy",
      "--policy",
      "belady",
      "--frames",
      "16",
    ]);
    expect(trace.code).toBe(0);
    expect(trace.stdout).toMatch(/policy mode: 16 frames, policy opt/);
  });

  it("gives a JSON row for every reference, past the text table's 200", () => {
    // a stream of 1,000 references over 37 pages, as OSTEP's paging-policy makes them
    const long = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 37);
    const r = vmlab(["policy", "--refs", long.join(","), "--frames", "8", "--policy", "fifo", "--json"]);
    const doc = JSON.parse(r.stdout) as { accesses: { page: number; hit: boolean }[]; hits: number };
    expect(doc.accesses.map((a) => a.page)).toEqual(long);
    expect(doc.accesses.filter((a) => a.hit).length).toBe(doc.hits);
    // every policy too (250 references: the whole document stays under spawnSync's 1 MB)
    const some = long.slice(0, 250).join(",");
    const all = JSON.parse(
      vmlab(["policy", "--refs", some, "--frames", "4", "--policy", "all", "--json"]).stdout,
    ) as {
      accesses: unknown[];
    }[];
    expect(all.length).toBeGreaterThan(10);
    for (const d of all) expect(d.accesses.length).toBe(250);
  });
});

describe("a clearer voice: comments in place", () => {
  it("run --narrate prints each comment between the statements around it; without it, none", () => {
    const f = scenario(
      "narrate.vm",
      "# Q: does mmap allocate?\nmachine ram=64M\nspawn A\n# nothing yet:\nA: b = mmap 16K\nexpect A.rss == 0   # a trailing note\n  # the first touch allocates\nA: write b 4K\n# the end\n",
    );
    const r = vmlab(["run", "--narrate", f]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    expect(lines[0]).toBe("   1  # Q: does mmap allocate?");
    expect(at(/^ {3}4 {2}# nothing yet:$/)).toBeGreaterThan(at(/^ {3}3 {2}spawn A/));
    expect(at(/^ {3}4 {2}# nothing yet:$/)).toBeLessThan(at(/^ {3}5 {2}A: b = mmap 16K/));
    expect(at(/^ {3}7 {2}# the first touch allocates$/)).toBeGreaterThan(at(/^ {3}6 {2}expect A\.rss == 0/));
    expect(at(/^ {3}7 {2}#/)).toBeLessThan(at(/^ {3}8 {2}A: write b 4K/));
    expect(at(/^ {3}9 {2}# the end$/)).toBeGreaterThan(at(/^ {3}8 {2}/));
    expect(at(/^ {3}9 {2}# the end$/)).toBeLessThan(at(/statements, 1 expectations/));
    const plain = vmlab(["run", f]);
    expect(plain.stdout).not.toMatch(/^ +\d+ {2}#/m);
  });

  it("the tour keeps a comment below the header where the file has it", () => {
    const r = vmlab(["tour", "12"]);
    const lines = r.stdout.split("\n");
    const note = lines.findIndex((l) => /^ +\d+ {2}# no page walk happened/.test(l));
    expect(note).toBeGreaterThan(lines.findIndex((l) => /expect A\.signal == SIGSEGV/.test(l)));
    expect(note).toBeLessThan(lines.findIndex((l) => /expect tlb\.misses == misses/.test(l)));
  });
});

describe("a clearer voice: the REPL", () => {
  it("help lists every statement, show P pagetable and smaps among them", () => {
    const r = vmlab(["repl"], "help\n");
    expect(r.code).toBe(0);
    const v = statementVerbs();
    for (const verb of [...v.plain, ...v.process, ...v.kernel])
      expect(r.stdout, verb).toMatch(new RegExp(`(^|[\\s|:])${verb}([\\s|]|$)`, "m"));
    expect(r.stdout).toMatch(/show A pagetable \[ADDR\]/);
    expect(r.stdout).toMatch(/show A maps\|smaps/);
  });

  it("help STATEMENT prints what docs/scenarios.md says of it", () => {
    const r = vmlab(["repl"], "help mmap\nhelp pagetable\nhelp malloc\n");
    expect(r.stdout).toMatch(/^- `P: VAR = mmap SIZE/m);
    expect(r.stdout).toMatch(/^- `show P maps`, `show P smaps`, `show P pagetable \[ADDR\]`/m);
    expect(r.stdout).toMatch(/^no statement 'malloc': did you mean 'mmap'\? \(help mmap\)$/m);
    for (const line of r.stdout.split("\n")) expect(line.length).toBeLessThanOrEqual(130);
  });

  it("says what an unknown word likely meant: malloc -> mmap, memset -> write, a typo -> the word", () => {
    const r = vmlab(
      ["repl"],
      "machine ram=64M\nspwan A\nspawn A\nA: b = malloc 16K\nA: b = mmap 16K\nA: memset b 16K\nmemset 4K\nkernel: k = kmaloc 64\n",
    );
    expect(r.stdout).toMatch(/<repl>:2:1: unknown statement 'spwan': did you mean 'spawn'\?/);
    expect(r.stdout).toMatch(/<repl>:4:8: unknown process statement 'malloc': did you mean 'mmap'\?/);
    expect(r.stdout).toMatch(/<repl>:6:4: unknown process statement 'memset': did you mean 'write'\?/);
    expect(r.stdout).toMatch(/<repl>:7:1: unknown statement 'memset': did you mean 'P: write'\?/);
    expect(r.stdout).toMatch(/<repl>:8:13: unknown kernel statement 'kmaloc': did you mean 'kmalloc'\?/);
    expect(r.code).toBe(2);
  });

  it("save FILE writes the accepted statements as a scenario that vmlab run runs alike", () => {
    const file = join(dir, "saved.vm");
    const r = vmlab(
      ["repl"],
      `machine ram=64M\nspawn A\nA: b = malloc 16K\nA: b = mmap 16K\n\nhelp\nA: write b 8K\nexpect A.rss == 2\nhistory\nsave ${file}\n`,
    );
    expect(r.stdout).toMatch(new RegExp(`saved 5 statements to ${file}`));
    // history numbers are the statements' numbers (the blank line and help count as lines)
    expect(r.stdout).toMatch(/^ {3}7 {2}A: write b 8K +write 2 pages/m);
    expect(r.stdout).toMatch(/^ {3}7 {2}A: write b 8K$/m);
    const saved = readFileSync(file, "utf8");
    expect(saved).not.toMatch(/malloc|help|history/);
    const run = vmlab(["run", file]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/A: write b 8K +write 2 pages; 2 page faults \(minor\)/);
    expect(run.stdout).toMatch(/5 statements, 1 expectations: 1 passed, 0 failed/);
  });

  it("exits 0 when every line was valid and every expectation held", () => {
    const r = vmlab(["repl"], "machine ram=64M\nspawn A\nexpect A.rss == 0\n");
    expect(r.code).toBe(0);
  });
});

describe("a clearer voice: legends and pipes", () => {
  it("explains PTE flag letters and errno names once, by the first line that shows them", () => {
    const f = scenario(
      "legend.vm",
      "machine ram=64M\nspawn A\nA: b = mmap 16K\nA: write b 8K\nshow A pagetable\nexplain A b write\nA: r = munmap 0x1001 4K\nA: s = munmap 0x1003 4K\nA: t = mremap b 4K 8K\n",
    );
    const r = vmlab(["run", f]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    const first = (re: RegExp) => lines.findIndex((l) => re.test(l));
    const flags = first(/legend: P present, RW writable, US user/);
    expect(flags).toBeGreaterThan(0);
    expect(flags).toBe(first(/ P RW US A D/) - 1);
    expect(lines.filter((l) => /legend: P present/.test(l)).length).toBe(1);
    const errno = first(/legend: a negative result is -errno: EINVAL invalid argument/);
    // under the statement's own line that shows it, not above it in the block of the one before
    expect(errno).toBe(first(/-22 \(EINVAL\)/) + 1);
    expect(lines[errno - 1]).toMatch(/^ +\d+ {2}A: r = munmap/);
    expect(lines.filter((l) => /legend: .*EINVAL/.test(l)).length).toBe(1);
    expect(first(/legend: ENOMEM out of memory/)).toBe(first(/-12 \(ENOMEM\)/) + 1);
    for (const l of lines.filter((x) => x.includes("legend:"))) expect(l.length).toBeLessThanOrEqual(110);
  });

  it("explains smaps' VmFlags mnemonics once each, before the first line that shows them", () => {
    const f = scenario(
      "vmflags.vm",
      "machine ram=64M\nspawn A\nA: b = mmap 16K\nshow A smaps\nA: madvise b 16K hugepage\nshow A smaps\n",
    );
    const r = vmlab(["run", f]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    const vmflags = lines.findIndex((l) => l.trim().startsWith("VmFlags:"));
    const firstLegend = lines.findIndex((l) => l.includes("legend: VmFlags:"));
    expect(lines[firstLegend]).toMatch(/^ +legend: VmFlags: rd readable, wr writable, mr may read/);
    // the legend lines come right before the first VmFlags line
    expect(lines.slice(firstLegend, vmflags).every((l) => l.includes("legend: VmFlags:"))).toBe(true);
    expect(firstLegend).toBeLessThan(vmflags);
    const legends = lines.filter((l) => l.includes("legend: VmFlags:"));
    // every mnemonic once: hg (added by the madvise) only in a later legend, before the second smaps
    expect(legends.join(" ").match(/\brd readable/g)).toHaveLength(1);
    expect(legends.join(" ").match(/\bhg huge-page advice/g)).toHaveLength(1);
    expect(lines.findIndex((l) => l.includes("hg huge-page advice"))).toBeGreaterThan(vmflags);
    for (const l of legends) expect(l.length).toBeLessThanOrEqual(110);
  });

  it("names the other architectures' letters: RISC-V's and arm64's", () => {
    const body = "spawn A\nA: b = mmap 16K\nA: write b 4K\nshow A pagetable\n";
    const rv = vmlab(["run", scenario("rv.vm", `machine ram=64M arch=riscv-sv39\n${body}`)]);
    expect(rv.stdout).toMatch(/legend: R readable, W writable, X executable, U user.*\n.* R W U A D/);
    const arm = vmlab(["run", scenario("arm.vm", `machine ram=64M arch=arm64\n${body}`)]);
    expect(arm.stdout).toMatch(/legend: AP\[2:1\] .*AF accessed.*\n.*AP\[2:1\]=01 AF/);
  });

  it("vmlab run of several files | head -1 ends quietly, exit 0", () => {
    const r = spawnSync(
      "bash",
      [
        "-c",
        `"${process.execPath}" bin/vmlab.mjs run --narrate examples/tour/*.vm 2>/tmp/vmlab-voice-err.$$ | head -1 >/dev/null; s=\${PIPESTATUS[0]}; cat /tmp/vmlab-voice-err.$$ >&2; rm -f /tmp/vmlab-voice-err.$$; exit $s`,
      ],
      { cwd: ROOT, encoding: "utf8", timeout: 60_000 },
    );
    expect(r.stderr).not.toMatch(/EPIPE|Unhandled|\n\s+at /);
    expect(r.status).toBe(0);
  });
});
