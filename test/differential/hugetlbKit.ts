/**
 * What the HugeTLB differential tests (hugetlb.test.ts, hugetlbfs.test.ts)
 * share: the pool's sysctls, the probe's JSON records (HugePages_* after a
 * step; a mapping's smaps fields), why a test cannot run here, and the
 * probe's run with the host's pool written back whatever happens.
 */
import { readFileSync, writeFileSync } from "node:fs";
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
