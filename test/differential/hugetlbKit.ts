/**
 * What the HugeTLB differential tests (hugetlb.test.ts, hugetlbfs.test.ts)
 * share: the pool's sysctls, the probe's JSON records (HugePages_* after a
 * step; a mapping's smaps fields), why a test cannot run here, and the
 * probe's run with the host's pool written back whatever happens.
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Kernel, TaskHandle } from "../../src/kernel/Kernel.ts";
import { hostRun, underHostLock } from "./probeKit.ts";

export const HPAGE = 2n << 20n;
export const NR = "/proc/sys/vm/nr_hugepages";
export const OVER = "/proc/sys/vm/nr_overcommit_hugepages";

/** A /proc/sys value, or null when it cannot be read. */
export function readSysctl(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** /proc/meminfo's HugePages_* after a step, and the step's return value. */
export interface Step {
  exp: string;
  ret: number;
  total: number;
  free: number;
  rsvd: number;
  surp: number;
}

/** The smaps fields the probe prints for a mapping. */
export interface SmapsFields {
  exp: string;
  KernelPageSize: number;
  MMUPageSize: number;
  Rss: number;
  Shared_Hugetlb: number;
  Private_Hugetlb: number;
  VmFlags: string;
}

/** Why a pool probe cannot run here ("" when it can): the probe's build, the sysctls, root. */
export function poolSkip(probe: { path: string } | { skip: string }): string {
  if ("skip" in probe) return probe.skip;
  if (readSysctl(NR) === null || readSysctl(OVER) === null) return "no /proc/sys/vm/nr_hugepages";
  return process.getuid?.() !== 0 ? "not root (nr_hugepages cannot be set)" : "";
}

/**
 * The probe's JSON records; the host's nr_hugepages and
 * nr_overcommit_hugepages are written back afterwards whatever the probe
 * did (under the lock the probes hold).
 */
export function runPoolProbe<T>(path: string): T[] {
  const oldNr = readSysctl(NR);
  const oldOver = readSysctl(OVER);
  try {
    return hostRun(path)
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as T);
  } finally {
    underHostLock(() => {
      if (readSysctl(OVER) !== oldOver) writeFileSync(OVER, `${oldOver}\n`);
      if (readSysctl(NR) !== oldNr) writeFileSync(NR, `${oldNr}\n`);
    });
  }
}

/** vmlab's record of a step: its return and meminfo's HugePages_* after it. */
export function stepOf(k: Kernel, exp: string, ret: number | bigint): Step {
  const m = k.view.meminfo();
  return {
    exp,
    ret: Number(ret),
    total: m.HugePages_Total,
    free: m.HugePages_Free,
    rsvd: m.HugePages_Rsvd,
    surp: m.HugePages_Surp,
  };
}

/** vmlab's smaps fields of the VMA of `task` that starts at `va`, as the probe prints them (kB). */
export function smapsFieldsOf(k: Kernel, task: TaskHandle, va: bigint, exp: string): SmapsFields {
  const v = k.view.smaps(task).find((x) => x.vma.start === va)!;
  return {
    exp,
    KernelPageSize: v.kernelPageSize / 1024,
    MMUPageSize: v.kernelPageSize / 1024,
    Rss: v.rss / 1024,
    Shared_Hugetlb: v.sharedHugetlb / 1024,
    Private_Hugetlb: v.privateHugetlb / 1024,
    // soft-dirty: vmlab's x86-64 has it (VM_SOFTDIRTY on every VMA), a host without
    // CONFIG_MEM_SOFT_DIRTY shows no "sd" (test/differential/views.test.ts compares it apart)
    VmFlags: `${v.mnemonics.filter((m) => m !== "sd").join(" ")} `,
  };
}
