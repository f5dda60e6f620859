/**
 * Differential test of large page-cache folios against this machine's Linux
 * kernel: probe_folio.c writes a 2 MiB file in writes of C pages (ext4 gives
 * each write a folio of its length), maps it at a 2 MiB boundary + OFF pages
 * and reports the faults and present pages of one read and of reading it all,
 * and FilePmdMapped (a 2M folio on a suitably aligned mapping is mapped by one
 * PMD, do_set_pmd); vmlab, with `file f size=2M cached folio=C*4K`, must
 * report the same. The
 * folio sizes the kernel made are checked through /proc/kpageflags where it
 * is readable. Skipped, with the reason, where the probe cannot run.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runScenario } from "../../src/workloads/scenario/session.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

/** The records of two runs, per experiment the one with the fewest faults (host noise only adds). */
// biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
function measure(path: string): Map<string, any> {
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
  const best = new Map<string, any>();
  for (let i = 0; i < 2; i++) {
    const file = join(mkdtempSync(join(tmpdir(), "vmlab-folio-")), "data");
    for (const line of hostRun(path, [file], true).trim().split("\n")) {
      const o = JSON.parse(line);
      const had = best.get(o.exp);
      if (had === undefined || o.first + o.all < had.first + had.all) best.set(o.exp, o);
    }
  }
  return best;
}

/** The probe's steps for one case on vmlab. */
const scenario = (chunk: number, off: number) => `
machine ram=64M
file f size=2M cached${chunk > 1 ? ` folio=${chunk * 4}K` : ""}
spawn A
A: a = mmap 2M prot=r shared file=f at=${0x40000000 + off * 4096}
let m = A.min_flt
A: read a+200p
let first = A.min_flt - m
let first_present = present(A, a 2M)
let m = A.min_flt
A: read a 2M
let all = A.min_flt - m
let present = present(A, a 2M)
let cached = cached(f)
let pmd_kb = meminfo.FilePmdMapped
`;

/** probe_folio.c's truncate_exp on vmlab: a 64K file in one 64K folio, mapped at a 2M boundary, cut to 5000 bytes. */
const truncateScenario = `
machine ram=64M
file t size=64K cached folio=64K
spawn A
A: m = mmap 64K prot=r shared file=t at=0x40000000
A: read m
A: read m+1p
let before = present(A, m 64K)
A: ret = ftruncate t 5000
let after = present(A, m 64K)
let cached = cached(t)
A: read m+1p
let reread = present(A, m 64K)
`;

describe("vmlab against this machine's Linux kernel: large folios in the page cache", () => {
  const probe = buildProbe("probe_folio.c");
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `folios of 4K..2M: faults, present pages and FilePmdMapped of one read and of a whole read, at and off a 2M boundary${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const real = measure((probe as { path: string }).path);
      if (real.has("skip")) {
        console.log(`large folios not compared: ${real.get("skip").why}`);
        ctx.skip();
        return;
      }
      let compared = 0;
      for (const chunk of [1, 2, 4, 16, 128, 256, 512]) {
        for (const off of [0, 1]) {
          const o = real.get(`c${chunk}-o${off}`);
          // the kernel made folios of another size (a file system without large folios): nothing to compare
          if (o.folio !== -1 && o.folio !== chunk) {
            console.log(`c${chunk}-o${off}: the kernel made folios of ${o.folio} pages, not ${chunk}`);
            continue;
          }
          const r = runScenario(scenario(chunk, off), { checkInvariants: true });
          const v = (name: string) => Number(BigInt(r.metrics[name]));
          const keys = ["first", "first_present", "all", "present", "cached", "pmd_kb"];
          const got = keys.map((k) => [k, k === "pmd_kb" ? v(k) / 1024 : v(k)]);
          const want = keys.map((k) => [k, o[k]]);
          expect(Object.fromEntries(got), `folio of ${chunk} pages, ${off} pages off 2M`).toEqual(
            Object.fromEntries(want),
          );
          compared++;
        }
      }
      expect(compared).toBeGreaterThan(0);
      // mmap read-around of a cold file allocates 4K folios on this kernel (ra->order 0), as vmlab's default
      const cold = real.get("cold");
      if (cold.folio !== -1) expect(cold.folio, "read-around folio").toBe(1);
      // ftruncate into a large folio: split (unmapping it) and the pages past the end dropped
      const t = real.get("truncate");
      if (t.folio === 16) {
        const r = runScenario(truncateScenario, { checkInvariants: true });
        const v = (name: string) => Number(BigInt(r.metrics[name]));
        const keys = ["ret", "before", "after", "cached", "reread"];
        expect(Object.fromEntries(keys.map((k) => [k, v(k)])), "truncate").toEqual(
          Object.fromEntries(keys.map((k) => [k, t[k]])),
        );
      } else console.log(`truncate not compared: the kernel made a folio of ${t.folio} pages, not 16`);
    },
  );
});
