/**
 * Differential test against the real Linux kernel of the machine running
 * the tests: probe.c makes the same system-call sequence as the scenario
 * below and reports its own minor faults (getrusage), present pages
 * (/proc/self/pagemap) and resident pages (pagemap PFNs other than the zero
 * page); vmlab must report the same numbers. Skipped, with the reason, where
 * the machine cannot run it (no gcc, not Linux, pagemap unreadable).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { buildProbe, leastNoise } from "./probeKit.ts";

const N = 64; // pages per mapping, as in probe.c

/**
 * Runs a probe three times and keeps, per experiment, the run with the fewest
 * faults: the host adds faults of its own now and then (about one run in 30
 * shows an extra minor fault inside an mremap that touches no user page), and
 * such noise can only add.
 */
// biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
function runProbe(path: string, args: () => string[]): Map<string, any> {
  return leastNoise(path, (o) => o.faults ?? (o.minor ?? 0) + (o.major ?? 0), 3, args);
}

const scenario = (ro: string, unmapped: string, none: string, holeBefore: string) => `
machine ram=256M swap=16M
spawn A
A: catch SIGSEGV
let f = A.min_flt
A: a = mmap ${N}p
let mmap_faults = A.min_flt - f
let mmap_present = present(A, a ${N}p)
let mmap_rss = rss(A, a ${N}p)
let f = A.min_flt
A: read a ${N}p
let read_faults = A.min_flt - f
let read_present = present(A, a ${N}p)
let read_rss = rss(A, a ${N}p)
let f = A.min_flt
A: write a ${N}p
let war_faults = A.min_flt - f
let war_present = present(A, a ${N}p)
let war_rss = rss(A, a ${N}p)
A: b = mmap ${N}p
let f = A.min_flt
A: write b ${N}p
let write_faults = A.min_flt - f
let write_present = present(A, b ${N}p)
let write_rss = rss(A, b ${N}p)
let f = A.min_flt
A: c = mmap ${N}p populate
let pop_faults = A.min_flt - f
let pop_present = present(A, c ${N}p)
let pop_rss = rss(A, c ${N}p)
A: munmap b+${N / 2}p ${N / 2}p
let mh_present = present(A, b ${N / 2}p)
let mh_rss = rss(A, b ${N / 2}p)
A: fork B
B: write a ${N / 4}p
let child_faults = B.min_flt
let child_present = present(B, a ${N}p)
let child_rss = rss(B, a ${N}p)
B: exit
let f = A.min_flt
A: write a ${N}p
let parent_faults = A.min_flt - f
let parent_present = present(A, a ${N}p)
let parent_rss = rss(A, a ${N}p)
A: d = mmap ${N}p
A: write d ${N}p
A: madvise d ${N / 2}p dontneed
let dn_present = present(A, d ${N}p)
let dn_rss = rss(A, d ${N}p)
let f = A.min_flt
A: read d ${N}p
let dn_faults = A.min_flt - f
let f = A.min_flt
A: l = mmap ${N}p
A: mlock l ${N}p
let ml_faults = A.min_flt - f
let ml_present = present(A, l ${N}p)
let ml_rss = rss(A, l ${N}p)
A: m = mmap ${N}p
A: write m ${N}p
let f = A.min_flt
A: m2 = mremap m ${N}p ${4 * N}p maymove
let mr_faults = A.min_flt - f
let mr_present = present(A, m2 ${4 * N}p)
let mr_rss = rss(A, m2 ${4 * N}p)
A: p2 = mmap 2M
A: p3 = mmap 2052K
A: p4 = mmap 8M
A: madvise p4 8M hugepage
let f = A.min_flt
A: write p4
let thp_faults = A.min_flt - f
let thp_present = present(A, p4 2M)
let thp_rss = rss(A, p4 2M)
A: h = mmap 5p
A: munmap h+2p 1p
A: hr = mprotect h 5p prot=r
A: write h
expect A.si_code == ${holeBefore}
A: write h+3p value=7
let h_after = byte(A, h+3p)
A: q = mmap 4p prot=none
A: qr = mlock q 4p
let q_present = present(A, q 4p)
let f = A.min_flt
A: pn = mmap ${N}p prot=none populate
let pn_faults = A.min_flt - f
let pn_present = present(A, pn ${N}p)
A: ex = mmap ${N}p
A: write ex ${N}p
A: fork E
E: exit
A: mprotect ex ${N}p prot=r
A: mprotect ex ${N}p prot=rw
let f = A.min_flt
A: write ex ${N}p
let fem_faults = A.min_flt - f
let fem_present = present(A, ex ${N}p)
A: mprotect ex ${N}p prot=r
A: mprotect ex ${N}p prot=rw
let f = A.min_flt
A: write ex ${N}p
let mag_faults = A.min_flt - f
let mag_present = present(A, ex ${N}p)
A: fr = mmap ${N}p
A: write fr ${N}p
A: madvise fr ${N}p free
A: mprotect fr ${N}p prot=r
A: mprotect fr ${N}p prot=rw
let f = A.min_flt
A: write fr ${N}p
let fmw_faults = A.min_flt - f
let fmw_present = present(A, fr ${N}p)
A: sw = mmap ${N}p
A: write sw ${N}p
A: madvise sw ${N}p pageout
let f = A.min_flt + A.maj_flt
A: read sw ${N}p
let swr_read = A.min_flt + A.maj_flt - f
let f = A.min_flt + A.maj_flt
A: write sw ${N}p
let swr_write = A.min_flt + A.maj_flt - f
A: fp = mmap ${N}p
A: write fp ${N}p value=7
A: madvise fp ${N}p free
# drain_local: MADV_COLD on a scratch page starts with lru_add_drain, which moves the lru_lazyfree batch
A: dl = mmap 1p
A: madvise dl 1p cold
let fpo_lazyfree = lazyfree(A, fp ${N}p)
A: write fp ${N / 4}p value=9
A: fpo_ret = madvise fp ${N}p pageout
let fpo_rss = rss(A, fp ${N}p)
let f = A.min_flt
A: read fp ${N}p
let fpo_faults = A.min_flt - f
let fpo_first = byte(A, fp)
let fpo_last = byte(A, fp+${N - 1}p)
A: fs = mmap ${N}p
A: write fs ${N}p
A: fork S
A: madvise fs ${N}p free
A: madvise dl 1p cold
let fsh_lazyfree = lazyfree(A, fs ${N}p)
let fsh_present = present(A, fs ${N}p)
S: exit
A: sh = mmap ${N}p shared at=0x50000000
A: write sh ${N}p
A: fork SH
SH: read sh ${N}p
let sfa_faults = SH.min_flt
let sfa_present = present(SH, sh ${N}p)
SH: exit
A: pr = mmap 4M at=0x60000000
A: madvise pr 4M nohugepage
A: write pr 4M
let prp0 = A.pt_pages
A: madvise pr 2M dontneed
let pr_whole = A.pt_pages - prp0
let prp1 = A.pt_pages
A: madvise pr+2M 1M dontneed
A: madvise pr+3M 1M dontneed
let pr_halves = A.pt_pages - prp1
A: mprotect a 1p prot=r
A: write a
expect A.si_code == ${ro}
A: read b+${N / 2}p
expect A.si_code == ${unmapped}
A: mprotect c 1p prot=none
A: read c
expect A.si_code == ${none}
`;

const SI_CODES: Record<number, string> = { 1: "SEGV_MAPERR", 2: "SEGV_ACCERR" };

describe("vmlab against this machine's Linux kernel", () => {
  const probe = buildProbe("probe.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `fault counts, present and resident pages, signal codes${skip ? ` (skipped: ${skip})` : ""}`,
    () => {
      const path = (probe as { path: string }).path;
      const real = runProbe(path, () => []);
      const code = (exp: string) => SI_CODES[real.get(exp).si_code] ?? `si_code_${real.get(exp).si_code}`;
      const hole = real.get("mprotect-hole");
      const holeBefore = SI_CODES[hole.before] ?? `si_code_${hole.before}`;
      const r = runScenario(
        scenario(code("write-readonly"), code("unmapped"), code("prot-none"), holeBefore),
        {
          checkInvariants: true,
        },
      );
      const v = (name: string) => Number(BigInt(r.metrics[name]));
      const got = (exp: string, prefix: string) => {
        const o: Record<string, number> = { faults: v(`${prefix}_faults`), present: v(`${prefix}_present`) };
        if (real.get(exp).rss >= 0) o.rss = v(`${prefix}_rss`);
        return o;
      };
      const want = (exp: string) => {
        const o = real.get(exp);
        const w: Record<string, number> = { faults: o.faults, present: o.present };
        if (o.rss >= 0) w.rss = o.rss;
        return w;
      };
      const pairs: [string, string][] = [
        ["mmap", "mmap"],
        ["read", "read"],
        ["write-after-read", "war"],
        ["write", "write"],
        ["populate", "pop"],
        ["fork-child-write", "child"],
        ["fork-parent-write", "parent"],
        ["dontneed", "dn"],
        ["mremap-move", "mr"],
        // PageAnonExclusive: fork clears it, a reuse fault sets it, mprotect needs it (clean or dirty)
        ["fork-exit-mprotect-write", "fem"],
        ["mprotect-again-write", "mag"],
        ["free-mprotect-write", "fmw"],
        // shmem's fault-around (do_fault_around; shmem_anon_vm_ops.map_pages = filemap_map_pages)
        ["shmem-fault-around", "sfa"],
      ];
      if (real.get("mlock").ok) pairs.push(["mlock", "ml"]);
      expect(real.get("mremap-move").moved).toBe(1);
      // a huge page only when the real kernel had a free 2 MiB block; otherwise it fell back to 4K
      if (real.get("thp-write").rss === 512) pairs.push(["thp-write", "thp"]);
      else
        console.log(
          `thp-write not compared: the real kernel fell back to 4K pages (${JSON.stringify(real.get("thp-write"))})`,
        );
      for (const [exp, prefix] of pairs) expect(got(exp, prefix), exp).toEqual(want(exp));
      expect(pairs.length).toBeGreaterThanOrEqual(12);
      // the swap PTE's exclusive marker: a read swap-in maps an exclusive page writable, so the
      // write after it takes no fault (only where the machine has swap for MADV_PAGEOUT)
      const swr = real.get("swap-read-write");
      if (swr.skip !== undefined) console.log(`swap-read-write not compared: ${swr.skip}`);
      else
        expect({ read: v("swr_read"), write: v("swr_write") }, "swap-read-write").toEqual({
          read: swr.read,
          write: swr.write,
        });
      // MADV_FREE: clean lazy-free pages are discarded by MADV_PAGEOUT's reclaim without swap
      // (try_to_unmap_one), pages written again are kept; pages a forked child still maps become
      // lazy-free too (madvise_free_pte_range skips only dirty or swap-cache shared folios)
      const fpo = real.get("free-pageout");
      expect(
        { ret: v("fpo_ret"), lazyfree: v("fpo_lazyfree"), rss: v("fpo_rss"), faults: v("fpo_faults") },
        "free-pageout",
      ).toEqual({ ret: fpo.ret, lazyfree: fpo.lazyfree, rss: fpo.rss, faults: fpo.faults });
      // the first page was written again (9), the last was discarded (a zero page on the read)
      expect({ kept: fpo.kept, zero: fpo.zero }, "free-pageout reads").toEqual({
        kept: N / 4,
        zero: (3 * N) / 4,
      });
      expect({ first: v("fpo_first"), last: v("fpo_last") }, "free-pageout bytes").toEqual({
        first: 9,
        last: 0,
      });
      expect({ lazyfree: v("fsh_lazyfree"), present: v("fsh_present") }, "free-shared").toEqual({
        lazyfree: real.get("free-shared").lazyfree,
        present: real.get("free-shared").present,
      });
      // CONFIG_PT_RECLAIM: VmPTE after MADV_DONTNEED of a whole PTE table, and of two halves
      expect({ whole: v("pr_whole"), halves: v("pr_halves") }, "pt-reclaim").toEqual({
        whole: real.get("pt-reclaim").whole,
        halves: real.get("pt-reclaim").halves,
      });
      const aligned = (name: string) => BigInt(r.metrics[name]) % (2n << 20n) === 0n;
      const place = real.get("placement");
      expect({ a2m: aligned("p2"), a2m4k: aligned("p3"), a8m: aligned("p4") }).toEqual({
        a2m: place.a2m === 1,
        a2m4k: place.a2m4k === 1,
        a8m: place.a8m === 1,
      });
      expect({ present: v("mh_present"), rss: v("mh_rss") }).toEqual({
        present: real.get("munmap-half").present,
        rss: real.get("munmap-half").rss,
      });
      // a hole, PROT_NONE and population (do_mprotect_pkey, __mm_populate)
      // (the write before the hole faulted as the real one did: an expectation below)
      expect({ ret: v("hr"), afterWritable: v("h_after") === 7 }, "mprotect-hole").toEqual({
        ret: hole.ret,
        afterWritable: hole.after === 0,
      });
      const none = real.get("mlock-none");
      if (none.ret !== -1)
        expect({ ret: v("qr"), present: v("q_present") }, "mlock-none").toEqual({
          ret: none.ret,
          present: none.present,
        });
      expect({ faults: v("pn_faults"), present: v("pn_present") }, "populate-none").toEqual(
        want("populate-none"),
      );
      // the signal codes, as expectations generated from the real kernel's answers
      expect(r.expectations.filter((e) => !e.ok)).toEqual([]);
      expect(r.expectations).toHaveLength(4);
    },
  );
});

/** The same reads as probe_file.c, on a vmlab machine with the real device's read_ahead_kb. */
const fileScenario = (raKb: number) => `
machine ram=256M readahead=${raKb}K
file f size=2M
spawn A
A: ubuf = mmap 16K
A: robuf = mmap 4K prot=r
let mi = A.min_flt
A: pread_ret = syscall read f ubuf 16K
let pread_minor = A.min_flt - mi
let mi = A.min_flt
A: ro_ret = syscall read f robuf 100
let ro_minor = A.min_flt - mi
A: munmap ubuf 16K
A: munmap robuf 4K
A: a = mmap 2M prot=r shared file=f at=0x40000000
${["cold:200", "same-block:201", "next-block:210"].map(step).join("\n")}
file g size=2M
A: b = mmap 2M prot=r shared file=g at=0x40400000
A: madvise b 2M random
${["random:300", "random-next:301"].map((s) => step(s).replaceAll("(A, a 2M)", "(A, b 2M)").replaceAll("read a+", "read b+").replaceAll("cached(f)", "cached(g)")).join("\n")}
`;

function step(spec: string): string {
  const [name, page] = spec.split(":");
  const v = name.replace("-", "_");
  return `let mi = A.min_flt
let ma = A.maj_flt
A: read a+${page}p
let ${v}_minor = A.min_flt - mi
let ${v}_major = A.maj_flt - ma
let ${v}_present = present(A, a 2M)
let ${v}_cached = cached(f)`;
}

describe("vmlab against this machine's Linux kernel: file mappings", () => {
  const probe = buildProbe("probe_file.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `cold read, fault-around, MADV_RANDOM, ftruncate: major and minor faults, present and cached pages, SIGBUS past EOF${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const path = (probe as { path: string }).path;
      const real = runProbe(path, () => [join(mkdtempSync(join(tmpdir(), "vmlab-file-")), "data")]);
      if (real.has("skip")) {
        console.log(`file mappings not compared: ${real.get("skip").why}`);
        ctx.skip();
        return;
      }
      const r = runScenario(fileScenario(real.get("device").read_ahead_kb), { checkInvariants: true });
      const v = (name: string) => Number(BigInt(r.metrics[name]));
      // read(2) into an untouched buffer, and into a read-only one (EFAULT)
      expect({ minor: v("pread_minor"), ret: v("pread_ret") }, "pread").toEqual({
        minor: real.get("pread").minor,
        ret: real.get("pread").ret,
      });
      expect({ minor: v("ro_minor"), ret: v("ro_ret") }, "pread-readonly").toEqual({
        minor: real.get("pread-readonly").minor,
        ret: real.get("pread-readonly").ret,
      });
      for (const exp of ["cold", "same-block", "next-block", "random", "random-next"]) {
        const o = real.get(exp);
        const p = exp.replace("-", "_");
        const want: Record<string, number> = { minor: o.minor, major: o.major, present: o.present };
        const got: Record<string, number> = {
          minor: v(`${p}_minor`),
          major: v(`${p}_major`),
          present: v(`${p}_present`),
        };
        // page-cache residency is compared where read-ahead cannot still be in flight: MADV_RANDOM reads one page
        if (exp.startsWith("random")) {
          want.cached = o.cached;
          got.cached = v(`${p}_cached`);
        }
        expect(got, exp).toEqual(want);
      }
      // ftruncate of a mapped file (truncate_pagecache, unmap_mapping_range with even_cows)
      const t = real.get("truncate");
      if (t === undefined || t.skip !== undefined)
        console.log(`truncate not compared: ${t?.skip ?? "no record"}`);
      else {
        const tr = runScenario(truncateScenario, { checkInvariants: true });
        const tv = (name: string) => Number(BigInt(tr.metrics[name]));
        expect(
          {
            ret: tv("tr_ret"),
            shared_present: tv("tr_sp"),
            private_present: tv("tr_pp"),
            // SIGBUS at the address read (the scenario's two expectations, in order)
            bus_shared: Number(tr.expectations[0].ok && tv("tr_bs_addr") === tv("m") + 8192),
            bus_private: Number(tr.expectations[1].ok && tv("tr_bp_addr") === tv("q") + 12288),
            tail: tv("tr_tail"),
            ret2: tv("tr_ret2"),
            regrow: tv("tr_regrow"),
          },
          "truncate",
        ).toEqual({
          ret: t.ret,
          shared_present: t.shared_present,
          private_present: t.private_present,
          bus_shared: t.bus_shared,
          bus_private: t.bus_private,
          tail: t.tail,
          ret2: t.ret2,
          regrow: t.regrow,
        });
      }
    },
  );
});

/** The same steps as probe_file.c's truncate_exp. */
const truncateScenario = `
machine ram=64M
file t size=16K
spawn A
A: catch SIGBUS
A: m = mmap 16K shared file=t
A: q = mmap 16K private file=t
A: read m 16K
A: write q+12K value=5
A: tr_ret = ftruncate t 5000
let tr_sp = present(A, m 16K)
let tr_pp = present(A, q 16K)
let tr_tail = byte(A, m+5000)
A: read m+8K
let tr_bs_addr = A.si_addr
expect A.signal == SIGBUS
A: read q+12K
let tr_bp_addr = A.si_addr
expect A.signal == SIGBUS
A: tr_ret2 = ftruncate t 16K
A: read m+12K
let tr_regrow = byte(A, m+12K)
`;
