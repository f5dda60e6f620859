/**
 * view/procstatus.ts: /proc/PID/status's memory lines with the high-water
 * marks (update_hiwater_rss / update_hiwater_vm where Linux calls them),
 * statm, smaps_rollup and oom_score, on every architecture.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { Kernel, mmapArgs, type TaskHandle } from "../Kernel.ts";
import { formatSmapsRollup, formatStatm, formatStatus } from "./procstatus.ts";

const PAGE = 4096n;
const KB = 1024;
const ARCHS = ["x86_64", "arm64", "riscv-sv48", "i386"] as const;

function boot(arch: (typeof ARCHS)[number] = "x86_64", swapBytes = 0) {
  const k = new Kernel({ arch, ramBytes: 64 << 20, cpus: 1, swapBytes });
  const a = k.spawn("A")!;
  k.switchTo(0, a);
  return { k, a };
}

function touch(k: Kernel, a: TaskHandle, buf: bigint, pages: number, access = Access.Write) {
  for (let i = 0n; i < BigInt(pages); i++) k.userAccess(0, a, buf + i * PAGE, access, 1);
}

const mem = (k: Kernel, t: TaskHandle) => k.view.status(t).mem!;

describe.each(ARCHS)("/proc/PID/status on %s", (arch) => {
  it("VmHWM keeps the peak after munmap while VmRSS drops; VmPeak keeps the size", () => {
    const { k, a } = boot(arch);
    const buf = k.mmap(a, mmapArgs(64 * 4096));
    touch(k, a, buf, 64);
    const before = mem(k, a);
    // only grown: the marks were never recorded, the reads take the current values
    expect(before.vmHwm).toBe(before.vmRss);
    expect(before.vmPeak).toBe(before.vmSize);
    expect(k.munmap(a, buf, 32n * PAGE)).toBe(0n);
    const after = mem(k, a);
    expect(after.vmRss).toBe(before.vmRss - 32 * 4096);
    expect(after.rssAnon).toBe(before.rssAnon - 32 * 4096);
    expect(after.vmHwm).toBe(before.vmRss);
    expect(after.vmSize).toBe(before.vmSize - 32 * 4096);
    expect(after.vmPeak).toBe(before.vmSize);
    // growing again past the old size: the reads follow the current values
    const big = k.mmap(a, mmapArgs(128 * 4096));
    touch(k, a, big, 128);
    const grown = mem(k, a);
    expect(grown.vmHwm).toBe(grown.vmRss);
    expect(grown.vmPeak).toBe(grown.vmSize);
    expect(grown.vmPeak).toBeGreaterThan(before.vmPeak);
  });

  it("MADV_DONTNEED and reclaim (MADV_PAGEOUT: try_to_unmap_one) record the peak", () => {
    const { k, a } = boot(arch, 8 << 20);
    const buf = k.mmap(a, mmapArgs(32 * 4096));
    touch(k, a, buf, 32);
    const peak = mem(k, a).vmRss;
    expect(k.madvise(a, buf, 16n * PAGE, "dontneed")).toBe(0n);
    expect(mem(k, a).vmRss).toBe(peak - 16 * 4096);
    expect(mem(k, a).vmHwm).toBe(peak);
    expect(mem(k, a).vmSize).toBe(mem(k, a).vmPeak); // no VMA went
    // reclaim (MADV_PAGEOUT: try_to_unmap_one) records it as well, the pages go to swap
    touch(k, a, buf, 32);
    const peak2 = mem(k, a).vmRss;
    expect(peak2).toBe(peak);
    expect(k.madvise(a, buf, 8n * PAGE, "pageout")).toBe(0n);
    const m = mem(k, a);
    expect(m.vmRss).toBe(peak - 8 * 4096);
    expect(m.vmSwap).toBe(8 * 4096);
    expect(m.vmHwm).toBe(peak);
  });

  it("VmData, VmStk, VmLib and VmLck per mapping kind", () => {
    const { k, a } = boot(arch);
    const base = mem(k, a);
    k.mmap(a, mmapArgs(4 * 4096)); // private writable: data
    k.mmap(a, mmapArgs(2 * 4096, { prot: { r: true, w: false, x: true } })); // exec: VmLib (no text)
    k.mmap(a, mmapArgs(3 * 4096, { shared: true })); // shared writable: neither
    k.mmap(a, mmapArgs(5 * 4096, { prot: { r: true, w: false, x: false } })); // read-only: neither
    const locked = k.mmap(a, mmapArgs(6 * 4096));
    expect(k.mlock(a, locked, 6n * PAGE, false)).toBe(0n);
    const m = mem(k, a);
    expect(m.vmData - base.vmData).toBe((4 + 6) * 4096);
    expect(m.vmLib - base.vmLib).toBe(2 * 4096);
    expect(m.vmExe).toBe(0);
    expect(m.vmStk).toBe(base.vmStk);
    expect(m.vmStk).toBeGreaterThan(0);
    expect(m.vmLck - base.vmLck).toBe(6 * 4096);
    expect(m.vmSize - base.vmSize).toBe((4 + 2 + 3 + 5 + 6) * 4096);
    // mprotect moves a VMA between the counts (vm_stat_account of the old and new flags)
    const ro = k.mmap(a, mmapArgs(7 * 4096));
    expect(mem(k, a).vmData - m.vmData).toBe(7 * 4096);
    expect(k.mprotect(a, ro, 7n * PAGE, { r: true, w: false, x: false })).toBe(0n);
    expect(mem(k, a).vmData).toBe(m.vmData);
  });

  it("statm agrees with status; smaps_rollup is the sum of smaps", () => {
    const { k, a } = boot(arch);
    const f = k.createFile("f", 16 * 4096, "disk", true);
    const file = k.mmap(a, mmapArgs(16 * 4096, { file: f, prot: { r: true, w: false, x: false } }));
    touch(k, a, file, 16, Access.Read);
    const anon = k.mmap(a, mmapArgs(8 * 4096));
    touch(k, a, anon, 8);
    const sh = k.mmap(a, mmapArgs(4 * 4096, { shared: true }));
    touch(k, a, sh, 3);
    const m = mem(k, a);
    const s = k.view.statm(a)!;
    expect(s.size * 4096).toBe(m.vmSize);
    expect(s.resident * 4096).toBe(m.vmRss);
    expect(s.shared * 4096).toBe(m.rssFile + m.rssShmem);
    expect(s.data * 4096).toBe(m.vmData + m.vmStk);
    expect(m.rssFile).toBe(16 * 4096);
    expect(m.rssShmem).toBe(3 * 4096);
    expect(formatStatm(s)).toEqual([`${s.size} ${s.resident} ${s.shared} 0 0 ${s.data} 0`]);
    const r = k.view.smapsRollup(a)!;
    const smaps = k.view.smaps(a);
    const sum = (f: (x: (typeof smaps)[number]) => number) => smaps.reduce((n, x) => n + f(x), 0);
    expect(r.rss).toBe(sum((x) => x.rss));
    expect(r.rss).toBe(m.vmRss);
    expect(r.pss).toBeCloseTo(sum((x) => x.pss));
    expect(r.anonymous).toBe(sum((x) => x.anonymous));
    expect(r.privateDirty).toBe(sum((x) => x.privateDirty));
    expect(r.referenced).toBe(sum((x) => x.referenced));
    expect(r.pssAnon + r.pssFile + r.pssShmem).toBeCloseTo(r.pss);
    expect(r.pssFile).toBeGreaterThan(0);
    expect(r.pssShmem).toBeCloseTo(3 * 4096);
    expect(r.start).toBe(smaps[0].vma.start);
    expect(r.end).toBe(smaps[smaps.length - 1].vma.end);
    const text = formatSmapsRollup(r);
    expect(text[0]).toMatch(/^[0-9a-f]{8,}-[0-9a-f]{8,} ---p 00000000 00:00 0 +\[rollup\]$/);
    expect(text[0].indexOf("[rollup]")).toBe(73);
    expect(text[1]).toBe(`Rss:            ${String(r.rss / KB).padStart(8)} kB`);
    expect(text.slice(1).map((l) => l.split(":")[0])).toEqual([
      "Rss",
      "Pss",
      "Pss_Dirty",
      "Pss_Anon",
      "Pss_File",
      "Pss_Shmem",
      "Shared_Clean",
      "Shared_Dirty",
      "Private_Clean",
      "Private_Dirty",
      "Referenced",
      "Anonymous",
      "KSM",
      "LazyFree",
      "AnonHugePages",
      "ShmemPmdMapped",
      "FilePmdMapped",
      "Shared_Hugetlb",
      "Private_Hugetlb",
      "Swap",
      "SwapPss",
      "Locked",
    ]);
  });
});

describe("hiwater marks across fork, mremap and threads", () => {
  it("a fork child's marks start at its own; the parent's stay", () => {
    const { k, a } = boot();
    const buf = k.mmap(a, mmapArgs(32 * 4096));
    touch(k, a, buf, 32);
    expect(k.munmap(a, buf, 24n * PAGE)).toBe(0n);
    const b = k.fork(a, "B")!;
    const pa = mem(k, a);
    const pb = mem(k, b);
    expect(pa.vmHwm).toBeGreaterThan(pa.vmRss);
    expect(pb.vmHwm).toBe(pb.vmRss);
    expect(pb.vmPeak).toBe(pb.vmSize);
    expect(pb.vmSize).toBe(pa.vmSize);
  });

  it("mremap's move does not make the transient old + new size a peak", () => {
    const { k, a } = boot();
    const buf = k.mmap(a, mmapArgs(16 * 4096));
    touch(k, a, buf, 16);
    k.mmap(a, mmapArgs(4096, { addr: Number(buf + 16n * PAGE), fixed: true })); // blocks growth in place
    const size = mem(k, a).vmSize;
    const to = k.mremap(a, buf, 16n * PAGE, 32n * PAGE, true, -1n);
    expect(to).not.toBe(buf);
    const m = mem(k, a);
    expect(m.vmSize).toBe(size + 16 * 4096);
    expect(m.vmPeak).toBe(m.vmSize);
    expect(m.vmHwm).toBe(m.vmRss);
  });

  it("a thread's status: its own pid, the process's tgid, the shared memory lines", () => {
    const { k, a } = boot();
    const buf = k.mmap(a, mmapArgs(8 * 4096));
    touch(k, a, buf, 8);
    const t = k.thread(a, "T")!;
    const st = k.view.status(t);
    const sa = k.view.status(a);
    expect(st.tgid).toBe(sa.pid);
    expect(st.pid).not.toBe(sa.pid);
    expect(st.threads).toBe(2);
    expect(st.mem).toEqual(sa.mem);
    const kt = k.kthread("kworker/0:9");
    const sk = k.view.status(kt);
    expect(sk.mem).toBeNull();
    expect(formatStatus(sk).some((l) => l.startsWith("Vm"))).toBe(false);
    expect(k.view.oomScore(kt)).toBe(0);
    const lines = formatStatus(sa);
    const names = lines.map((l) => l.split(":")[0]);
    const i = names.indexOf("VmPeak");
    expect(names.slice(i, i + 16)).toEqual(
      "VmPeak VmSize VmLck VmPin VmHWM VmRSS RssAnon RssFile RssShmem VmData VmStk VmExe VmLib VmPTE VmSwap HugetlbPages".split(
        " ",
      ),
    );
    expect(lines[i + 5]).toBe(`VmRSS:\t${String(sa.mem!.vmRss / KB).padStart(8)} kB`);
  });
});

describe("oom_score", () => {
  it("orders processes by RSS + swap + page tables, in proc_oom_score's scale", () => {
    const { k, a } = boot();
    const b = k.spawn("B")!;
    const c = k.spawn("C")!;
    const big = k.mmap(a, mmapArgs(1024 * 4096));
    touch(k, a, big, 1024);
    k.switchTo(0, b);
    const small = k.mmap(b, mmapArgs(64 * 4096));
    touch(k, b, small, 64);
    const sa = k.view.oomScore(a);
    const sb = k.view.oomScore(b);
    const sc = k.view.oomScore(c);
    expect(sa).toBeGreaterThan(sb);
    expect(sb).toBeGreaterThan(sc);
    // an mm with nothing resident scores (1000 + small) * 2 / 3: at least 666
    expect(sc).toBeGreaterThanOrEqual(666);
    expect(sa).toBeLessThanOrEqual(1333);
    const mm = k.view.mm(a)!;
    const total = k.view.meminfo().MemTotal / 4096;
    expect(sa).toBe(
      Math.trunc(((1000 + Math.trunc(((mm.rss + mm.swapEntries + mm.ptPages) * 1000) / total)) * 2) / 3),
    );
  });
});

describe("HugetlbPages", () => {
  it("counts the huge pages the mm maps (hugetlb_usage), not in VmRSS", () => {
    const k = new Kernel({ ramBytes: 64 << 20, cpus: 1 });
    const a = k.spawn("A")!;
    k.switchTo(0, a);
    expect(k.sysctlHugepages(4)).toBe(4);
    const buf = k.mmap(a, mmapArgs(3 * (2 << 20), { hugetlb: true }));
    const before = mem(k, a);
    k.userAccess(0, a, buf, Access.Write, 1);
    k.userAccess(0, a, buf + BigInt(2 << 20), Access.Write, 1);
    const m = mem(k, a);
    expect(m.hugetlbPages).toBe(2 * (2 << 20));
    expect(before.hugetlbPages).toBe(0);
    expect(m.vmRss).toBe(before.vmRss);
    expect(m.vmSize - before.vmSize).toBe(0);
    expect(formatStatus(k.view.status(a)).at(-4)).toBe(`HugetlbPages:\t${String(4096).padStart(8)} kB`);
  });
});

describe("the marks on the other zap paths", () => {
  it("MADV_GUARD_INSTALL (zap_page_range_single) records the RSS peak", () => {
    const { k, a } = boot();
    const buf = k.mmap(a, mmapArgs(16 * 4096));
    touch(k, a, buf, 16);
    const peak = mem(k, a).vmRss;
    expect(k.madvise(a, buf, 8n * PAGE, "guard_install")).toBe(0n);
    expect(mem(k, a).vmRss).toBe(peak - 8 * 4096);
    expect(mem(k, a).vmHwm).toBe(peak);
  });

  it("ftruncate's unmap of a shared file mapping (unmap_mapping_range) records it", () => {
    const { k, a } = boot();
    const f = k.createFile("t", 32 * 4096, "tmpfs");
    const buf = k.mmap(a, mmapArgs(32 * 4096, { file: f, shared: true }));
    touch(k, a, buf, 32);
    const peak = mem(k, a).vmRss;
    expect(k.ftruncate(a, f, 8n * PAGE)).toBe(0n);
    expect(mem(k, a).vmRss).toBe(peak - 24 * 4096);
    expect(mem(k, a).vmHwm).toBe(peak);
  });
});
