import { describe, expect, it } from "vitest";
import { runScenario } from "../session.ts";

describe("tasks: pids 0, 1 and 2, show tasks, show P task", () => {
  // the fork comes before K borrows A's mm on CPU 1: dup_mmap's flush_tlb_mm (freed_tables) would
  // reach the lazy CPU, which leaves for init_mm (flush_tlb_func; fork_exit_review.test.ts)
  const src =
    "machine ram=64M cpus=2\nspawn A\nA: a = mmap 8K\nA: write a\nA: thread T\nswitch T cpu=1\nA: fork B\nkthread K\nswitch K cpu=1\nshow tasks\nshow A task\nshow K task\nexpect A.ppid == 1\nexpect K.ppid == 2\nexpect B.ppid == A.pid\nexpect T.ppid == 1\nexpect K.has_mm == 0\nexpect A.has_mm == 1\n";

  it("boots swapper (pid 0 on every CPU), init (1) and kthreadd (2); spawn is init's child, kthread kthreadd's", () => {
    const r = runScenario(src, { checkInvariants: true });
    expect(r.failed).toBe(0);
    const rows = r.statements[9].output.map((l) => l.trim().split(/\s+/));
    expect(rows[0]).toEqual(["PID", "PPID", "S", "MM", "ACTIVE_MM", "CPU", "NAME"]);
    const byName = new Map(rows.slice(1).map((c) => [c[6], c]));
    expect(byName.get("[swapper/0]")?.slice(0, 3)).toEqual(["0", "0", "I"]);
    expect(byName.get("[swapper/1]")?.slice(0, 3)).toEqual(["0", "0", "I"]);
    expect(byName.get("[init]")?.slice(0, 2)).toEqual(["1", "0"]);
    expect(byName.get("[kthreadd]")?.slice(0, 2)).toEqual(["2", "0"]);
    // A runs on CPU 0 with its own mm; the thread shares it; K borrows it on CPU 1 (lazy TLB)
    const a = byName.get("A")!;
    expect(a.slice(1, 6)).toEqual(["1", "R", a[3], a[3], "0"]);
    expect(byName.get("T")?.[3]).toBe(a[3]);
    expect(byName.get("[K]")?.slice(1, 6)).toEqual(["2", "R", "-", a[3], "1"]);
    expect(byName.get("B")?.[1]).toBe(a[0]);
    expect(byName.get("B")?.[3]).not.toBe(a[3]);
  });

  it("show P task: task_struct -> mm_struct -> VMAs; a kernel thread has mm = NULL and a borrowed active_mm", () => {
    const r = runScenario(src);
    const a = r.statements[10].output;
    expect(a[0]).toMatch(/^task_struct: pid \d+, ppid 1, comm A, state R, current on CPU 0$/);
    expect(a[2]).toMatch(
      /mm_struct mm#\d+: pgd pfn 0x[0-9a-f]+, map_count 2, total_vm \d+ pages, mm_users 2, mm_cpumask \{0,1\}/,
    );
    expect(a.filter((l) => l.includes("vm_area_struct"))).toHaveLength(2);
    const k = r.statements[11].output;
    expect(k[1]).toMatch(/mm = NULL \(no user address space\), active_mm = mm#\d+ \(borrowed: lazy TLB\)/);
  });
});

describe("show P status|statm|smaps_rollup|oom_score and P.vm_hwm, P.vm_peak", () => {
  const src = [
    "machine ram=64M cpus=1",
    "spawn A",
    "A: a = mmap 1M",
    "A: write a 1M",
    "let hwm = A.vm_hwm",
    "let peak = A.vm_peak",
    "A: munmap a 512K",
    "show A status",
    "show A statm",
    "show A smaps_rollup",
    "show A oom_score",
    "kthread K",
    "show K status",
    "show K oom_score",
    "expect A.vm_hwm == hwm",
    "expect A.vm_peak == peak",
    "expect A.vm_size == peak - 512K",
    "expect A.oom_score > 0",
    "",
  ].join("\n");

  it("prints Linux's formats; the marks keep the peak after munmap", () => {
    const r = runScenario(src, { checkInvariants: true });
    expect(r.failed).toBe(0);
    const st = r.statements[7].output;
    expect(st[0]).toBe("Name:\tA");
    const line = (name: string) => st.find((l) => l.startsWith(`${name}:`))!;
    expect(line("VmHWM")).toMatch(/^VmHWM:\t +\d+ kB$/);
    const kb = (name: string) => Number(/(\d+) kB/.exec(line(name))![1]);
    expect(kb("VmHWM") - kb("VmRSS")).toBe(512);
    expect(kb("VmPeak") - kb("VmSize")).toBe(512);
    const statm = r.statements[8].output[0].split(" ").map(Number);
    expect(statm).toHaveLength(7);
    expect(statm[0] * 4).toBe(kb("VmSize"));
    expect(statm[1] * 4).toBe(kb("VmRSS"));
    const rollup = r.statements[9].output;
    expect(rollup[0]).toMatch(/ ---p 00000000 00:00 0 +\[rollup\]$/);
    expect(rollup[1]).toBe(`Rss:            ${String(kb("VmRSS")).padStart(8)} kB`);
    expect(Number(r.statements[10].output[0])).toBeGreaterThanOrEqual(666);
    expect(r.statements[12].output.some((l) => l.startsWith("Vm"))).toBe(false);
    expect(r.statements[13].output).toEqual(["0"]);
  });

  it("a kernel thread has no statm or smaps_rollup", () => {
    expect(() => runScenario("machine ram=64M\nkthread K\nshow K statm\n")).toThrow(/kernel thread/);
    expect(() => runScenario("machine ram=64M\nkthread K\nshow K smaps_rollup\n")).toThrow(/kernel thread/);
  });
});
