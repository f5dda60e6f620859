/**
 * RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK and RLIMIT_MEMLOCK against this
 * machine's kernel: probe_rlimit.c (as root) sets each limit in a child of
 * its own, relative to its VmSize / VmData at that moment, and records the
 * result ("0" or the errno's name, "SIGSEGV" for a stack growth made in a
 * grandchild) of mmap, MAP_FIXED over an existing mapping, brk, mremap
 * growth, mprotect to writable (also over two VMAs: the first changed,
 * the second refused, VmData's growth in kB a record), stack growth, mlock and MAP_LOCKED as uid
 * 1000 and as root, and setrlimit's own rules; vmlab makes the same calls
 * through its library (a fresh process per group, limits relative to its
 * own VmSize / VmData, a fork for each stack growth) and must give the
 * same result for every record.
 *
 * One host difference is the environment's, not the kernel's: a
 * container's root may lack CAP_SYS_RESOURCE (the probe reports CapEff),
 * where vmlab's uid 0 has every capability; then root's raise of a hard
 * limit is EPERM on the host and 0 in vmlab, and that record is checked
 * against the capability rather than compared.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import { mmapArgs, type RlimitName, type TaskHandle } from "../../src/kernel/Kernel.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { buildProbe, errnoName, hostRun } from "./probeKit.ts";

const M = 1 << 20;
const K = 1024;
const INF = Number.POSITIVE_INFINITY;
const RW = { r: true, w: true, x: false };
const RO = { r: true, w: false, x: false };
const A1 = 0x200000000000;
const A2 = 0x210000000000;
const A3 = 0x220000000000;
const A4 = 0x230000000000;

function vmlabRecords(): Map<string, string> {
  const k = new Kernel({ ramBytes: 1 << 30, cpus: 1 });
  const out = new Map<string, string>();
  const r = errnoName;
  /** a process of its own for a group, current on CPU 0 */
  const proc = (uid = 0) => {
    const t = k.spawn("probe", uid)!;
    k.switchTo(0, t);
    return t;
  };
  const at = (t: TaskHandle, addr: number, size: number, opts: Parameters<typeof mmapArgs>[1] = {}) =>
    k.mmap(t, mmapArgs(size, { addr, privileged: t.uid === 0, ...opts }));
  const fixed = (t: TaskHandle, addr: number, size: number) =>
    k.mmap(t, mmapArgs(size, { addr, fixed: true }));
  const lim = (t: TaskHandle, res: RlimitName, soft: number, hard: number) => k.setrlimit(t, res, soft, hard);
  const status = (t: TaskHandle) => k.view.status(t).mem!;
  const stackEnd = (t: TaskHandle) => k.view.mm(t)!.stackTop;
  /** a write `below` bytes under the stack's end, in a forked child: "0" or "SIGSEGV" */
  const stackTouch = (t: TaskHandle, below: number) => {
    const c = k.fork(t, "child")!;
    k.switchTo(0, c);
    const ok = k.userAccess(0, c, stackEnd(t) - BigInt(below), Access.Write, 1).ok;
    const res = ok ? "0" : c.signal === "SIGSEGV" ? "SIGSEGV" : "other";
    if (c.alive) k.exit(c, "exit");
    k.switchTo(0, t);
    return res;
  };
  const B = (n: number) => BigInt(n);

  // RLIMIT_AS
  let t = proc();
  out.set("as_set", r(lim(t, "as", status(t).vmSize + 32 * M, INF)));
  out.set("as_mmap16M", r(at(t, A1, 16 * M)));
  out.set("as_mmap32M", r(at(t, A2, 32 * M)));
  out.set("as_mmap16M_readonly", r(at(t, A2, 16 * M, { prot: RO })));
  out.set("as_fixed_replace", r(fixed(t, A1, 16 * M)));
  out.set("as_fixed_more", r(fixed(t, A1, 32 * M)));
  k.munmap(t, B(A2), B(16 * M));
  out.set("as_fixed_fits", r(fixed(t, A1, 32 * M)));
  out.set("as_brk", r(k.brk(t, 4096n)));
  out.set("as_mremap", r(k.mremap(t, B(A1), B(32 * M), B(48 * M), true, -1n)));
  out.set("as_mremap_shrink", r(k.mremap(t, B(A1), B(32 * M), B(16 * M), false, -1n)));
  out.set("as_mremap_regrow", r(k.mremap(t, B(A1), B(16 * M), B(32 * M), true, -1n)));
  out.set("as_stack", stackTouch(t, 256 * K));
  k.munmap(t, B(A1), B(32 * M));
  out.set("as_stack_room", stackTouch(t, 256 * K));
  expect(checkInvariants(k)).toEqual([]);
  k.exit(t, "exit");

  // RLIMIT_DATA
  t = proc();
  out.set("data_set", r(lim(t, "data", status(t).vmData + 8 * M, INF)));
  out.set("data_mmap6M", r(at(t, A1, 6 * M)));
  out.set("data_mmap4M", r(at(t, A2, 4 * M)));
  out.set("data_shared4M", r(at(t, A2, 4 * M, { shared: true })));
  out.set("data_readonly4M", r(at(t, A3, 4 * M, { prot: RO })));
  out.set("data_mprotect_rw", r(k.mprotect(t, B(A3), B(4 * M), RW)));
  out.set("data_mprotect_rw_1M", r(k.mprotect(t, B(A3), B(M), RW)));
  out.set("data_mremap", r(k.mremap(t, B(A1), B(6 * M), B(8 * M), true, -1n)));
  out.set("data_mremap_shared", r(k.mremap(t, B(A2), B(4 * M), B(8 * M), true, -1n)));
  out.set("data_brk_vm", r(k.brk(t, B(4 * M))));
  k.munmap(t, B(A1), B(6 * M));
  k.munmap(t, B(A3), B(4 * M));
  out.set("data_brk_fits", r(k.brk(t, B(4 * M))));
  lim(t, "data", M, INF);
  out.set("data_brk_shrink_over", r(k.brk(t, -4096n)));
  lim(t, "data", INF, INF);
  out.set("data_brk_shrink", r(k.brk(t, B(-4 * M))));
  lim(t, "data", 0, INF);
  out.set("data_soft0", r(at(t, A4, M)));
  lim(t, "data", 0, 4 * M);
  out.set("data_soft0_hard4M", r(at(t, A4 + 16 * M, 8 * M)));
  lim(t, "data", INF, INF);
  // mprotect over two VMAs: mprotect_fixup accounts the first before it checks the second
  out.set("data_split_mmap4M_readonly", r(at(t, A3, 4 * M, { prot: RO })));
  out.set(
    "data_split_mprotect_rx",
    r(k.mprotect(t, B(A3 + 2 * M), B(2 * M), { r: true, w: false, x: true })),
  );
  const d0 = status(t).vmData;
  lim(t, "data", d0 + 3 * M, INF);
  out.set("data_split_mprotect_rw", r(k.mprotect(t, B(A3), B(4 * M), RW)));
  out.set("data_split_vmdata_kB", String((status(t).vmData - d0) / K));
  expect(checkInvariants(k)).toEqual([]);
  k.exit(t, "exit");

  // RLIMIT_STACK
  t = proc();
  out.set("stack_set", r(lim(t, "stack", 256 * K, INF)));
  out.set("stack_within", stackTouch(t, 200 * K));
  out.set("stack_past", stackTouch(t, 512 * K));
  lim(t, "stack", 8 * M, INF);
  out.set("stack_raised", stackTouch(t, 512 * K));
  k.exit(t, "exit");

  // RLIMIT_MEMLOCK, as uid 1000 (set by root first) and as root
  for (const uid of [1000, 0]) {
    const who = uid ? "user" : "root";
    t = proc();
    lim(t, "memlock", 64 * K, 64 * K);
    k.setUid(t, uid);
    const p = at(t, A1, M);
    const set = (name: string, v: bigint | number) => out.set(`${who}_${name}`, r(v));
    set("mlock32K", k.mlock(t, p, B(32 * K), false));
    set("mlock64K_overlap", k.mlock(t, p, B(64 * K), false));
    set("mlock128K", k.mlock(t, p, B(128 * K), false));
    set("map_locked8K", at(t, A2, 8 * K, { locked: true }));
    k.munlock(t, p, B(M));
    set("map_locked64K", at(t, A3, 64 * K, { locked: true }));
    set("mremap_locked", k.mremap(t, B(A3), B(64 * K), B(128 * K), true, -1n));
    k.munmap(t, B(A2), B(8 * K));
    k.munmap(t, B(A3), B(128 * K));
    set("set_soft_above_hard", lim(t, "memlock", 128 * K, 64 * K));
    set("set_raise_hard", lim(t, "memlock", M, M));
    lim(t, "memlock", 0, 0);
    set("mlock_limit0", k.mlock(t, p, 4096n, false));
    set("map_locked_limit0", at(t, A4, 4096, { locked: true }));
    expect(checkInvariants(k)).toEqual([]);
    k.exit(t, "exit");
  }
  return out;
}

describe("vmlab against this machine's Linux kernel: resource limits", () => {
  const probe = buildProbe("probe_rlimit.c", false);
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `RLIMIT_AS, RLIMIT_DATA, RLIMIT_STACK and RLIMIT_MEMLOCK refuse what the host's do${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      const lines = hostRun((probe as { path: string }).path)
        .trim()
        .split("\n");
      const host = new Map<string, string>(
        lines.map((l) => JSON.parse(l) as { exp: string; r: string }).map((o) => [o.exp, o.r]),
      );
      if (host.has("skip")) return; // the probe needs root (setuid, raising limits)
      const got = vmlabRecords();
      const capSysResource = host.get("cap_sys_resource") === "1";
      expect(host.get("cap_ipc_lock")).toBe("1");
      for (const [name, r] of got) {
        expect(host.has(name), name).toBe(true);
        if (name === "root_set_raise_hard" && !capSysResource) {
          // the container's root lacks CAP_SYS_RESOURCE: do_prlimit's -EPERM; vmlab's uid 0 has it
          expect(host.get(name)).toBe("EPERM");
          expect(r).toBe("0");
          continue;
        }
        expect(r, `${name}: host ${host.get(name)}, vmlab ${r}`).toBe(host.get(name));
      }
      expect([...got.keys()].sort()).toEqual([...host.keys()].filter((e) => !e.startsWith("cap_")).sort());
      // every limit refused something and let something through
      for (const g of ["as_", "data_", "stack_", "user_"]) {
        const rs = [...got].filter(([n]) => n.startsWith(g)).map(([, r]) => r);
        expect(rs, g).toContain("0");
        expect(rs.some((x) => x !== "0")).toBe(true);
      }
    },
  );
});
