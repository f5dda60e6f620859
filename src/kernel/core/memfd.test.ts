/**
 * memfd_create(2) and file seals as mm/memfd.c and mm/shmem.c check them:
 * the flags, the name's length, F_SEAL_SEAL by default, EBUSY for
 * F_SEAL_WRITE while a shared mapping may write, and each seal's EPERM.
 */
import { describe, expect, it } from "vitest";
import { Access } from "../../hw/access.ts";
import { expectationFailures } from "../../workloads/scenario/testKit.ts";
import { fileOf } from "../fs/file.ts";
import { KernelImpl as Kernel } from "../KernelImpl.ts";
import { mmapArgs } from "../mm/userMm.ts";
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_NOEXEC_SEAL,
} from "./memfd.ts";

function boot() {
  const k = new Kernel({ ramBytes: 64 << 20 });
  const t = k.spawn("A")!;
  k.switchTo(0, t);
  return { k, t };
}

describe("memfd_create", () => {
  it("flags: unknown, MFD_EXEC with MFD_NOEXEC_SEAL, a huge page size without MFD_HUGETLB and a name past 249 bytes are EINVAL", () => {
    const { k, t } = boot();
    expect(k.memfdCreate(t, "x", 0x100).ret).toBe(-22n);
    expect(k.memfdCreate(t, "x", MFD_EXEC | MFD_NOEXEC_SEAL).ret).toBe(-22n);
    expect(k.memfdCreate(t, "x", 21 << 26).ret).toBe(-22n);
    expect(k.memfdCreate(t, "x", MFD_HUGETLB | (21 << 26)).ret).toBe(0n); // memfd_hugetlb.test.ts
    expect(k.memfdCreate(t, "n".repeat(250), 0).ret).toBe(-22n);
    expect(k.memfdCreate(t, "n".repeat(249), MFD_CLOEXEC).ret).toBe(0n);
  });

  it("seals: F_SEAL_SEAL without MFD_ALLOW_SEALING; none with it; MFD_NOEXEC_SEAL seals F_SEAL_EXEC; a disk file has none (EINVAL)", () => {
    const { k, t } = boot();
    const plain = k.memfdCreate(t, "p", 0).file!;
    expect(k.getSeals(t, plain)).toBe(BigInt(F_SEAL_SEAL));
    expect(k.addSeals(t, plain, F_SEAL_WRITE)).toBe(-1n);
    const s = k.memfdCreate(t, "s", MFD_ALLOW_SEALING).file!;
    expect(k.getSeals(t, s)).toBe(0n);
    const ne = k.memfdCreate(t, "ne", MFD_NOEXEC_SEAL).file!;
    expect(k.getSeals(t, ne)).toBe(BigInt(F_SEAL_EXEC));
    const disk = k.createFile("d", 4096, "disk", false);
    expect(k.addSeals(t, disk, F_SEAL_WRITE)).toBe(-22n);
    expect(k.getSeals(t, disk)).toBe(-22n);
    expect(k.addSeals(t, s, 0x40)).toBe(-22n);
    // two memfds of one name are two files
    const a = k.memfdCreate(t, "same", 0).file!;
    const b = k.memfdCreate(t, "same", 0).file!;
    expect(a).not.toBe(b);
  });

  it("F_SEAL_WRITE: EBUSY while a shared mapping may write (even PROT_READ), then write(2) and a shared writable mmap are EPERM", () => {
    const { k, t } = boot();
    const f = k.memfdCreate(t, "w", MFD_ALLOW_SEALING).file!;
    expect(k.ftruncate(t, f, 8192n)).toBe(0n);
    const ro = k.mmap(
      t,
      mmapArgs(8192, { file: fileOf(f), shared: true, prot: { r: true, w: false, x: false } }),
    );
    expect(k.addSeals(t, f, F_SEAL_WRITE)).toBe(-16n);
    expect(k.munmap(t, ro, 8192n)).toBe(0n);
    const priv = k.mmap(t, mmapArgs(8192, { file: fileOf(f), shared: false }));
    expect(k.addSeals(t, f, F_SEAL_WRITE)).toBe(0n); // a private mapping does not write the file
    const buf = k.mmap(t, mmapArgs(8192));
    expect(k.userAccess(0, t, buf, Access.Write, 1).ok).toBe(true);
    expect(k.fileIo(0, f, buf, 4096, true)).toBe(-1);
    expect(k.fileIo(0, f, buf, 4096, false)).toBe(4096);
    expect(k.mmap(t, mmapArgs(8192, { file: fileOf(f), shared: true }))).toBe(-1n);
    expect(
      k.mmap(t, mmapArgs(8192, { file: fileOf(f), shared: true, prot: { r: true, w: false, x: false } })),
    ).toBeGreaterThan(0n);
    expect(priv).toBeGreaterThan(0n);
  });

  it("F_SEAL_SHRINK, F_SEAL_GROW: ftruncate EPERM the way each forbids; F_SEAL_FUTURE_WRITE forbids write(2); F_SEAL_EXEC on an executable memfd adds the write seals", () => {
    const { k, t } = boot();
    const f = k.memfdCreate(t, "g", MFD_ALLOW_SEALING).file!;
    expect(k.ftruncate(t, f, 16384n)).toBe(0n);
    expect(k.addSeals(t, f, F_SEAL_SHRINK)).toBe(0n);
    expect(k.ftruncate(t, f, 4096n)).toBe(-1n);
    expect(k.ftruncate(t, f, 32768n)).toBe(0n);
    expect(k.addSeals(t, f, F_SEAL_GROW)).toBe(0n);
    expect(k.ftruncate(t, f, 65536n)).toBe(-1n);
    expect(k.ftruncate(t, f, 32768n)).toBe(0n); // the same size: neither
    const fw = k.memfdCreate(t, "fw", MFD_ALLOW_SEALING).file!;
    expect(k.ftruncate(t, fw, 4096n)).toBe(0n);
    expect(k.addSeals(t, fw, F_SEAL_FUTURE_WRITE)).toBe(0n);
    const buf = k.mmap(t, mmapArgs(4096));
    expect(k.userAccess(0, t, buf, Access.Write, 1).ok).toBe(true);
    expect(k.fileIo(0, fw, buf, 4096, true)).toBe(-1);
    const x = k.memfdCreate(t, "x", MFD_ALLOW_SEALING).file!;
    expect(k.addSeals(t, x, F_SEAL_EXEC)).toBe(0n);
    expect(k.getSeals(t, x)).toBe(
      BigInt(F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE),
    );
    expect(k.addSeals(t, x, F_SEAL_SEAL)).toBe(0n);
    expect(k.addSeals(t, x, 0)).toBe(-1n);
  });

  it("in a scenario: memfd, ftruncate, a shared mapping, seal", () => {
    expect(
      expectationFailures(`machine ram=64M
spawn A
A: memfd buf allow_sealing
A: ftruncate buf 64K
A: m = mmap 64K shared file=buf
A: write m 8K value=9
A: busy = seal buf write
expect busy == -16
A: munmap m 64K
A: ok = seal buf write shrink
expect ok == 0
A: t = ftruncate buf 4K
expect t == -1
A: ro = mmap 64K shared prot=r file=buf
A: read ro+4K
expect byte(A, ro+4K) == 9
expect meminfo.Shmem == 8K
`),
    ).toEqual([]);
  });
});
