/**
 * memfd_create(2) and file seals against this machine's kernel:
 * probe_memfd.c prints, as one JSON record, the flag and name errors, the
 * seals a memfd starts with, F_SEAL_WRITE's EBUSY under a read-only shared
 * mapping, the EPERMs of each seal (write(2), a shared writable mmap,
 * ftruncate shrinking and growing, F_ADD_SEALS after F_SEAL_SEAL), F_SEAL_EXEC's
 * implied write seals, and a /dev/shm file's F_SEAL_SEAL; vmlab runs the
 * same steps through its library calls.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import {
  F_SEAL_EXEC,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_NOEXEC_SEAL,
} from "../../src/kernel/Kernel.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

function vmlabSteps(): Record<string, number> {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 2 });
  const t = k.spawn("probe")!;
  k.switchTo(0, t);
  const n = Number;
  const create = (name: string, flags: number) => k.memfdCreate(t, name, flags);
  const map = (file: ReturnType<typeof create>["file"], shared: boolean, w: boolean) =>
    k.mmap(t, { ...base, file, shared, prot: { r: true, w, x: false } });
  const base = {
    length: 8192,
    populate: false,
    locked: false,
    noreserve: false,
    addr: -1,
    fixed: false,
    privileged: true,
  };
  const bad_flag = n(create("x", 0x100).ret);
  const both = n(create("x", MFD_EXEC | MFD_NOEXEC_SEAL).ret);
  const too_long = n(create("n".repeat(250), 0).ret);
  const ok249 = n(create("n".repeat(249), MFD_CLOEXEC).ret);
  const plain = create("p", 0).file!;
  const plain_seals = n(k.getSeals(t, plain));
  const plain_add = n(k.addSeals(t, plain, F_SEAL_WRITE));
  const ne_seals = n(k.getSeals(t, create("ne", MFD_NOEXEC_SEAL).file!));
  const s = create("s", MFD_ALLOW_SEALING).file!;
  const s_seals = n(k.getSeals(t, s));
  const bad_seal = n(k.addSeals(t, s, 0x40));
  expect(k.ftruncate(t, s, 8192n)).toBe(0n);
  const ro = map(s, true, false);
  const busy = n(k.addSeals(t, s, F_SEAL_WRITE));
  expect(k.munmap(t, ro, 8192n)).toBe(0n);
  const priv = map(s, false, true) > 0n ? 1 : 0;
  const sealed = n(k.addSeals(t, s, F_SEAL_WRITE));
  const buf = k.mmap(t, { ...base, length: 4096, shared: false, prot: { r: true, w: true, x: false } });
  expect(k.userAccess(0, t, buf, Access.Write, 1).ok).toBe(true);
  const write = k.fileIo(0, s, buf, 4096, true);
  const read = k.fileIo(0, s, buf, 4096, false);
  const w = map(s, true, true);
  const shared_w = w < 0n ? n(w) : 0;
  const r2 = map(s, true, false);
  const shared_r = r2 < 0n ? n(r2) : 0;
  const g = create("g", MFD_ALLOW_SEALING).file!;
  expect(k.ftruncate(t, g, 16384n)).toBe(0n);
  k.addSeals(t, g, F_SEAL_SHRINK);
  const shrink = n(k.ftruncate(t, g, 4096n));
  const grow_ok = n(k.ftruncate(t, g, 32768n));
  k.addSeals(t, g, F_SEAL_GROW);
  const grow = n(k.ftruncate(t, g, 65536n));
  const same = n(k.ftruncate(t, g, 32768n));
  const x = create("x", MFD_ALLOW_SEALING).file!;
  const exec_add = n(k.addSeals(t, x, F_SEAL_EXEC));
  const exec_seals = n(k.getSeals(t, x));
  k.addSeals(t, x, F_SEAL_SEAL);
  const after_seal = n(k.addSeals(t, x, 0));
  const shm = k.createFile("vmlab-probe", 0, "tmpfs", false);
  const shm_add = n(k.addSeals(t, shm, F_SEAL_WRITE));
  const shm_seals = n(k.getSeals(t, shm));
  expect(checkInvariants(k)).toEqual([]);
  return {
    bad_flag,
    both,
    too_long,
    ok249,
    plain_seals,
    plain_add,
    ne_seals,
    s_seals,
    bad_seal,
    busy,
    sealed,
    write,
    read,
    shared_w,
    shared_r,
    shrink,
    grow_ok,
    grow,
    same,
    exec_add,
    exec_seals,
    after_seal,
    shm_add,
    shm_seals,
    priv,
  };
}

describe("vmlab against this machine's Linux kernel: memfd_create and seals", () => {
  const probe = buildProbe("probe_memfd.c", false);
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `memfd_create's errors and first seals, F_SEAL_WRITE's EBUSY, each seal's EPERM${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      const real = JSON.parse(hostRun((probe as { path: string }).path));
      expect(vmlabSteps()).toEqual(real);
    },
  );
});
