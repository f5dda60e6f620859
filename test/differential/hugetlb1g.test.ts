/**
 * 1 GiB HugeTLB pages against this machine's kernel (x86-64 with pdpe1gb,
 * a hugepages-1048576kB pool at 0): probe_hugetlb1g.c (as root) prints the
 * 1 GiB pool's sysfs counts, meminfo's Hugetlb and HugePages_Total after
 * each step (MAP_HUGE_1GB with the pool empty: ENOMEM; MAP_HUGE_16MB:
 * EINVAL; the pool's nr_overcommit_hugepages: EINVAL; nr_hugepages=1; a
 * mapping the pool cannot cover; mmap, touch and smaps; a forked child's
 * write: SIGBUS; the parent's write; munmap inside the page: EINVAL;
 * munmap; nr_hugepages=0); vmlab's library calls, on a 3 GiB machine, must
 * give the same records. When the host cannot find a free 1 GiB range
 * (fragmentation: nr_hugepages reads back 0), only the steps before it are
 * compared (the host's ENOMEM, EINVALs and its 0 read back), which stays
 * deterministic. The host's pool is written back to 0 whatever happens (the
 * probe does it too); the test is skipped when it cannot be set, or was not 0.
 *
 * Shared_Hugetlb of a singly mapped 1 GiB page on the host. smaps_hugetlb_range
 * (fs/proc/task_mmu.c, 6.12 and 6.18) counts a present hugetlb entry as
 * shared when folio_maybe_mapped_shared (6.18; 6.12's
 * folio_likely_mapped_shared: for hugetlb, map count > 1) or
 * hugetlb_pmd_shared(pte). Since "mm/hugetlb: fix hugetlb_pmd_shared()"
 * (ca1a47cd3f5f, 6.19, backported to 6.18.y and 6.12.y stable),
 * hugetlb_pmd_shared reads ptdesc_pmd_is_shared(virt_to_ptdesc(pte)): the
 * page table's pt_share_count. For a 1 GiB page `pte` is a PUD entry, so the
 * ptdesc read is the PUD table's; pt_share_count is set only by
 * pagetable_pmd_ctor (ptdesc_pmd_pts_init) and is a union with
 * pt_index/pt_mm, i.e. the struct page word that page->index held in the
 * page's last use (an x86 PGD's pt_mm, a file page's index...): the page
 * allocator does not clear it. The 1 GiB page then reads Shared_Hugetlb
 * (and pagemap's exclusive bit clears) at random: about 1 run in 3 on this
 * host, in whatever order the tests run (it first showed after
 * mthpswap.test.ts, but reproduces alone, and at a fixed address in an
 * empty PGD slot too). The order of tests does not matter; that probe leaves
 * the host as it found it (swapoff, the file deleted, hugepages-64kB back).
 * The probe therefore also prints the folio's real map count
 * (/proc/kpagecount) and pagemap's exclusive bit: when the count is 1 and
 * the page reads shared, that is the uninitialised pt_share_count, not a
 * second mapping; vmlab keeps no such stale word (its PUD tables are never
 * shared), so the host's record is read as private there, and logged.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Access } from "../../src/hw/access.ts";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { mmapArgs } from "../../src/kernel/mm/userMm.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

const DIR = "/sys/kernel/mm/hugepages/hugepages-1048576kB";
const G = 2 ** 30;

function readLong(path: string): number | null {
  try {
    return Number(readFileSync(path, "utf8").trim());
  } catch {
    return null;
  }
}

type Rec = Record<string, number | string>;

/** The probe's steps on vmlab; `untilSet`: stop after the pool's write (the host had no free range). */
function vmlabSteps(untilSet: boolean): Rec[] {
  const k = new Kernel({ ramBytes: 3 * G, cpus: 2 });
  const out: Rec[] = [];
  const report = (exp: string, ret: number | bigint) => {
    const h = k.view.hugepages();
    const m = k.view.meminfo();
    out.push({
      exp,
      ret: Number(ret),
      nr: h[`${DIR}/nr_hugepages`],
      free: h[`${DIR}/free_hugepages`],
      resv: h[`${DIR}/resv_hugepages`],
      surplus: h[`${DIR}/surplus_hugepages`],
      hugetlbKb: m.Hugetlb / 1024,
      total2m: m.HugePages_Total,
    });
  };
  const t = k.spawn("probe")!;
  k.switchTo(0, t);
  const map = (len: number, log: number) => {
    const a = k.mmap(t, mmapArgs(len, { hugetlb: true, hugetlbSizeLog: log }));
    if (a < 0n) return a;
    k.munmap(t, a, BigInt(len));
    return 0n;
  };
  report("mmap-empty", map(G, 30));
  report("mmap-16m", map(1 << 24, 24));
  report("overcommit", k.sysctlHugepages(null, 1, 1048576));
  report("set", k.sysctlHugepages(1, null, 1048576));
  if (untilSet) return out;
  report("mmap-2g", map(G + 4096, 30));
  const p = k.mmap(t, mmapArgs(G, { hugetlb: true, hugetlbSizeLog: 30 }));
  report("mmap", p < 0n ? p : p % BigInt(G));
  k.userAccess(0, t, p + 4096n, Access.Write, 0x11);
  report("touch", 0x11);
  const v = k.view.smaps(t).find((x) => BigInt(x.vma.start) === p)!;
  out.push({
    exp: "smaps",
    KernelPageSize: v.kernelPageSize / 1024,
    MMUPageSize: v.kernelPageSize / 1024,
    Rss: v.rss / 1024,
    Private_Hugetlb: v.privateHugetlb / 1024,
    Shared_Hugetlb: v.sharedHugetlb / 1024,
  });
  const c = k.fork(t, "child")!;
  k.switchTo(0, c);
  const w = k.userAccess(0, c, p, Access.Write, 0x22);
  report("child-write", !w.ok && w.signal === "SIGBUS" && w.killed ? 1 : 0);
  k.switchTo(0, t);
  k.userAccess(0, t, p, Access.Write, 0x33);
  const byte = (va: bigint) => {
    const r = k.userAccess(0, t, va, Access.Read);
    return r.ok ? r.value : -1;
  };
  report("parent-write", byte(p) + byte(p + 4096n));
  report("munmap-split", k.munmap(t, p + (2n << 20n), 2n << 20n));
  report("munmap", k.munmap(t, p, BigInt(G)));
  report("zero", k.sysctlHugepages(0, null, 1048576));
  expect(checkInvariants(k)).toEqual([]);
  return out;
}

/**
 * The host's smaps record with its map count and pagemap's exclusive bit
 * checked and dropped; a singly mapped page read as shared (a PUD table's
 * stale pt_share_count: the file comment) read as private.
 */
function hostSmaps(r: Rec): Rec {
  if (r.exp !== "smaps") return r;
  const { mapcount, exclusive, ...rest } = r;
  expect(mapcount).toBe(1); // the probe's page is mapped once: folio_mapcount 1
  expect(exclusive).toBe(rest.Private_Hugetlb === 0 ? 0 : 1); // pagemap agrees with smaps (same hugetlb_pmd_shared)
  if (rest.Shared_Hugetlb === rest.KernelPageSize && rest.Private_Hugetlb === 0) {
    console.log(
      "host: the singly mapped 1 GiB page reads Shared_Hugetlb (its PUD table's uninitialised pt_share_count): read as private",
    );
    return { ...rest, Private_Hugetlb: rest.Shared_Hugetlb, Shared_Hugetlb: 0 };
  }
  return rest;
}

describe("vmlab against this machine's Linux kernel: 1 GiB HugeTLB pages", () => {
  const probe = buildProbe("probe_hugetlb1g.c", false);
  const old = readLong(`${DIR}/nr_hugepages`);
  const skip =
    "skip" in probe
      ? probe.skip
      : old === null
        ? "no hugepages-1048576kB pool (no pdpe1gb, or not x86-64)"
        : process.getuid?.() !== 0
          ? "not root (nr_hugepages cannot be set)"
          : old !== 0
            ? `the 1 GiB pool is in use (nr_hugepages ${old})`
            : "";
  it.skipIf(skip !== "")(
    `the pool, MAP_HUGE_1GB, fork's SIGBUS, munmap's split rule, smaps${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      let lines: string[];
      try {
        lines = hostRun((probe as { path: string }).path)
          .trim()
          .split("\n");
      } finally {
        // whatever the probe did, the host's 1 GiB pool is empty again
        if (readLong(`${DIR}/nr_hugepages`) !== old) writeFileSync(`${DIR}/nr_hugepages`, `${old}\n`);
      }
      const host: Rec[] = lines.map((l) => JSON.parse(l));
      if (host[0]?.exp === "skip") {
        console.log(`1 GiB HugeTLB not compared: ${host[0].why}`);
        ctx.skip();
        return;
      }
      const nospace = host.some((r) => r.exp === "nospace");
      if (nospace)
        console.log("the host found no free 1 GiB range: only the steps up to nr_hugepages=1 compared");
      const want = host.filter((r) => r.exp !== "nospace").map(hostSmaps);
      const got = vmlabSteps(nospace);
      if (nospace) {
        // the host read back 0; vmlab, on an unfragmented machine, 1: the rest of the record is compared
        expect(want.at(-1)?.ret).toBe(0);
        expect(got.slice(0, -1)).toEqual(want.slice(0, -1));
      } else expect(got).toEqual(want);
    },
  );
});
