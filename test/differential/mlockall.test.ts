/**
 * mlockall and munlockall against this machine's Linux kernel:
 * probe_mlockall.c (as root) runs each group in a child of its own, some as
 * uid 1000 without CAP_IPC_LOCK, and records mlockall's errors (EINVAL for
 * no flag, MCL_ONFAULT alone or an unknown bit; EPERM with RLIMIT_MEMLOCK
 * 0; ENOMEM for MCL_CURRENT when total_vm, locked pages included, passes
 * the limit), MCL_FUTURE's mlock_future_ok for mmap (EAGAIN) and brk,
 * what MCL_CURRENT locks and populates (every VMA that is not VM_SPECIAL,
 * HugeTLB or the gate VMA; a PROT_NONE one locked and empty), MCL_ONFAULT
 * (VM_LOCKONFAULT, nothing populated, not even by MAP_POPULATE or
 * MAP_LOCKED), def_flags on mmap and brk, a forked child (no locked VMA,
 * no def_flags) and munlockall. vmlab makes the same calls through its
 * library, a fresh process per group, and must give the same record for
 * every one. Skipped, with the reason, where the probe cannot run (not
 * Linux, no gcc, not root).
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import { Mcl, mmapArgs, type TaskHandle } from "../../src/kernel/Kernel.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { VmFlag } from "../../src/kernel/mm/vma.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

const PG = 4096;
const NONE = { r: false, w: false, x: false };
const ERR: Record<string, string> = {
  "-1": "EPERM",
  "-11": "EAGAIN",
  "-12": "ENOMEM",
  "-22": "EINVAL",
};
const SKIPPED = VmFlag.IO | VmFlag.PFNMAP | VmFlag.DONTEXPAND | VmFlag.HUGETLB;

function vmlabRecords(): Map<string, string> {
  const k = new Kernel({ ramBytes: 256 << 20, cpus: 1 });
  const out = new Map<string, string>();
  const res = (v: bigint | number) => (v >= 0 ? "0" : (ERR[String(v)] ?? "other"));
  const set = (exp: string, v: string | number) => out.set(exp, String(v));
  const proc = (uid = 0) => {
    const t = k.spawn("probe", uid)!;
    k.switchTo(0, t);
    return t;
  };
  const anon = (t: TaskHandle, pages: number, opts: Parameters<typeof mmapArgs>[1] = {}) =>
    k.mmap(t, mmapArgs(pages * PG, { privileged: t.uid === 0, ...opts }));
  const kb = (t: TaskHandle, f: "vmLck" | "vmSize") => k.view.status(t).mem![f] / 1024;
  const incore = (t: TaskHandle, a: bigint, n: number) => k.view.incore(t, Number(a / BigInt(PG)), n);
  const vmaOf = (t: TaskHandle, a: bigint) => k.view.vmas(t).find((v) => v.start <= a && a < v.end);
  const hasFlag = (t: TaskHandle, a: bigint, f: number) => {
    const v = vmaOf(t, a);
    return v === undefined ? -1 : v.flags & f ? 1 : 0;
  };
  const unlockedNormal = (t: TaskHandle) =>
    k.view.vmas(t).filter((v) => !(v.flags & VmFlag.LOCKED) && !(v.flags & SKIPPED)).length;
  /** the soft RLIMIT_MEMLOCK, the hard one kept (the probe's memlock()) */
  const memlock = (t: TaskHandle, bytes: number) =>
    k.setrlimit(t, "memlock", bytes, k.view.limits(t).find((l) => l.resource === "memlock")!.hard);

  // einval
  let t = proc();
  set("einval_none", res(k.mlockall(t, 0)));
  set("einval_onfault_alone", res(k.mlockall(t, Mcl.ONFAULT)));
  set("einval_unknown_bit", res(k.mlockall(t, Mcl.CURRENT | 8)));
  set("einval_vmlck_kb", kb(t, "vmLck"));
  k.exit(t, "exit");

  // eperm
  t = proc();
  k.setrlimit(t, "memlock", 0, 0);
  k.setUid(t, 1000);
  set("eperm_future", res(k.mlockall(t, Mcl.FUTURE)));
  set("eperm_current", res(k.mlockall(t, Mcl.CURRENT)));
  k.exit(t, "exit");

  // limit
  t = proc(1000);
  const a = anon(t, 8);
  set("limit_mlock4", res(k.mlock(t, a, BigInt(4 * PG), false)));
  memlock(t, kb(t, "vmSize") * 1024 - PG);
  set("limit_current_short", res(k.mlockall(t, Mcl.CURRENT | Mcl.FUTURE)));
  set("limit_vmlck_kb", kb(t, "vmLck"));
  set("limit_future_alone", res(k.mlockall(t, Mcl.FUTURE)));
  memlock(t, kb(t, "vmSize") * 1024);
  set("limit_current_fits", res(k.mlockall(t, Mcl.CURRENT)));
  set("limit_unlocked_normal", unlockedNormal(t));
  const b = anon(t, 4);
  set("limit_after_current_mmap", res(b));
  set("limit_after_current_locked", hasFlag(t, b, VmFlag.LOCKED));
  expect(checkInvariants(k)).toEqual([]);
  k.exit(t, "exit");

  // future_limit
  t = proc(1000);
  memlock(t, 8 * PG);
  set("flimit_future", res(k.mlockall(t, Mcl.FUTURE)));
  set("flimit_mmap6", res(anon(t, 6)));
  set("flimit_mmap3", res(anon(t, 3)));
  set("flimit_brk3", res(k.brk(t, BigInt(3 * PG))));
  set("flimit_brk2", res(k.brk(t, BigInt(2 * PG))));
  set("flimit_vmlck_kb", kb(t, "vmLck"));
  k.exit(t, "exit");

  // current
  t = proc();
  const c = anon(t, 16);
  const n = anon(t, 4, { prot: NONE });
  set("current", res(k.mlockall(t, Mcl.CURRENT)));
  set("current_resident", incore(t, c, 16));
  set("current_none_resident", incore(t, n, 4));
  set("current_none_locked", hasFlag(t, n, VmFlag.LOCKED));
  set("current_unlocked_normal", unlockedNormal(t));
  const later = anon(t, 8);
  set("current_later_locked", hasFlag(t, later, VmFlag.LOCKED));
  set("current_later_resident", incore(t, later, 8));
  set("current_munlockall", res(k.munlockall(t)));
  set("current_munlockall_vmlck_kb", kb(t, "vmLck"));
  set("current_munlockall_locked", hasFlag(t, c, VmFlag.LOCKED));
  expect(checkInvariants(k)).toEqual([]);
  k.exit(t, "exit");

  // onfault
  t = proc();
  const o = anon(t, 8);
  set("onfault", res(k.mlockall(t, Mcl.CURRENT | Mcl.ONFAULT)));
  set("onfault_resident", incore(t, o, 8));
  set("onfault_lo", hasFlag(t, o, VmFlag.LOCKED));
  set("onfault_lf", hasFlag(t, o, VmFlag.LOCKONFAULT));
  k.userAccess(0, t, o + BigInt(3 * PG), Access.Write, 1);
  set("onfault_touched_resident", incore(t, o, 8));
  k.exit(t, "exit");

  // future
  t = proc();
  const old = anon(t, 4);
  set("future", res(k.mlockall(t, Mcl.FUTURE)));
  set("future_old_locked", hasFlag(t, old, VmFlag.LOCKED));
  const lck0 = kb(t, "vmLck");
  const f = anon(t, 8);
  set("future_mmap_locked", hasFlag(t, f, VmFlag.LOCKED));
  set("future_mmap_resident", incore(t, f, 8));
  set("future_mmap_vmlck_kb", kb(t, "vmLck") - lck0);
  const h = k.brk(t, BigInt(4 * PG));
  set("future_brk", res(h));
  set("future_brk_resident", incore(t, h, 4));
  set("future_onfault", res(k.mlockall(t, Mcl.FUTURE | Mcl.ONFAULT)));
  const d = anon(t, 8, { populate: true });
  set("future_onfault_populate_resident", incore(t, d, 8));
  set("future_onfault_lf", hasFlag(t, d, VmFlag.LOCKONFAULT));
  const e = anon(t, 8, { locked: true });
  set("future_onfault_maplocked_resident", incore(t, e, 8));
  set("future_current", res(k.mlockall(t, Mcl.CURRENT | Mcl.FUTURE)));
  const child = k.fork(t, "child")!;
  k.switchTo(0, child);
  set("future_child_vmlck_kb", kb(child, "vmLck"));
  const cf = anon(child, 8);
  set("future_child_mmap_locked", hasFlag(child, cf, VmFlag.LOCKED));
  set("future_child_mmap_resident", incore(child, cf, 8));
  k.exit(child, "exit");
  k.switchTo(0, t);
  const g = anon(t, 8);
  set("future_parent_mmap_resident", incore(t, g, 8));
  set("future_munlockall", res(k.munlockall(t)));
  set("future_munlockall_vmlck_kb", kb(t, "vmLck"));
  const i = anon(t, 8);
  set("future_munlockall_mmap_locked", hasFlag(t, i, VmFlag.LOCKED));
  set("future_munlockall_mmap_resident", incore(t, i, 8));
  expect(checkInvariants(k)).toEqual([]);
  return out;
}

describe("vmlab against this machine's Linux kernel: mlockall and munlockall", () => {
  const probe = buildProbe("probe_mlockall.c", false);
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `errors, RLIMIT_MEMLOCK, MCL_CURRENT / MCL_FUTURE / MCL_ONFAULT on mmap, brk and fork, munlockall${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const real = new Map<string, string>();
      for (const line of hostRun((probe as { path: string }).path)
        .trim()
        .split("\n")) {
        const o = JSON.parse(line) as { exp: string; v: string };
        real.set(o.exp, o.v);
      }
      if (real.has("skip") || real.has("limit_skip")) {
        console.log(`mlockall not compared: ${real.get("skip") ?? real.get("limit_skip")}`);
        ctx.skip();
        return;
      }
      const got = vmlabRecords();
      expect(Object.fromEntries(got)).toEqual(Object.fromEntries(real));
    },
  );
});
