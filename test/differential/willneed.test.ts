/**
 * MADV_WILLNEED on a file mapping against this machine's kernel:
 * probe_willneed.c maps a file (2 MiB; one past the cap of
 * max(io_pages, ra_pages) pages; that file's second half alone), drops its
 * cache, advises the whole mapping and prints mincore's vector once the
 * reads have ended. vmlab, given the device's read_ahead_kb, runs the same
 * steps through its library calls and must print the same vectors. The cap
 * is compared only where vmlab's io_pages (BDI_IO_PAGES) gives the host's
 * cap: where the readahead window is at least the device's request size, or
 * that size is vmlab's.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { KernelImpl as Kernel } from "../../src/kernel/KernelImpl.ts";
import { BDI_IO_PAGES } from "../../src/kernel/mm/filemap.ts";
import { mmapArgs } from "../../src/kernel/mm/userMm.ts";
import { checkInvariants } from "../../src/kernel/view/invariants.ts";
import { buildProbe, hostRun } from "./probeKit.ts";

const PG = 4096n;

// biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
function runProbe(path: string): Map<string, any> {
  const dir = mkdtempSync(`${tmpdir()}/vmlab-willneed-`);
  const out = hostRun(path, [dir], true).trim().split("\n");
  // biome-ignore lint/suspicious/noExplicitAny: JSON records of the probe
  return new Map(out.map((l) => JSON.parse(l)).map((o: any) => [o.exp, o]));
}

/** vmlab's vector after MADV_WILLNEED over `pages` of a file of `size` pages mapped from page `off`. */
function vmlabCase(raKb: number, size: number, off: number, pages: number): { ret: number; vec: string } {
  const k = new Kernel({ ramBytes: 64 << 20, cpus: 2, readaheadKb: raKb });
  const f = k.createFile("data", size * 4096, "disk", false);
  const t = k.spawn("probe")!;
  k.switchTo(0, t);
  const a = k.mmap(
    t,
    mmapArgs(pages * 4096, {
      file: f,
      shared: true,
      prot: { r: true, w: false, x: false },
      offset: off * 4096,
    }),
  );
  const ret = Number(k.madvise(t, a, BigInt(pages) * PG, "willneed"));
  const r = k.mincore(t, a, BigInt(pages) * PG);
  expect(r.ret).toBe(0n);
  expect(checkInvariants(k)).toEqual([]);
  return { ret, vec: Array.from(r.vec, (b) => b & 1).join("") };
}

describe("vmlab against this machine's Linux kernel: MADV_WILLNEED on a file mapping", () => {
  const probe = buildProbe("probe_willneed.c", false);
  const skip = "skip" in probe ? probe.skip : "";
  it.skipIf(skip !== "")(
    `the pages MADV_WILLNEED makes resident: a 2 MiB file, one past the readahead cap, its second half${skip ? ` (skipped: ${skip})` : ""}`,
    (ctx) => {
      const real = runProbe((probe as { path: string }).path);
      if (real.has("skip")) {
        console.log(`MADV_WILLNEED not compared: ${real.get("skip").why}`);
        ctx.skip();
        return;
      }
      const { ra_kb: raKb, max_sectors_kb: sectorsKb } = real.get("bdi");
      const cases: [string, number, number, number][] = [["2m", 512, 0, 512]];
      const size = real.get("size")?.pages;
      const capComparable = raKb / 4 >= sectorsKb / 4 || sectorsKb / 4 === BDI_IO_PAGES;
      if (size === undefined || !capComparable)
        console.log(`the cap not compared: read_ahead_kb ${raKb}, max_sectors_kb ${sectorsKb}`);
      else
        cases.push(
          ["big", size, 0, size],
          ["big-half", size, Math.floor(size / 2), size - Math.floor(size / 2)],
        );
      for (const [exp, sz, off, pages] of cases) {
        const o = real.get(exp);
        if (o?.skip !== undefined) {
          console.log(`${exp} not compared: ${o.skip}`);
          continue;
        }
        const got = vmlabCase(raKb, sz, off, pages);
        expect({ ret: got.ret, resident: got.vec.split("1").length - 1 }, exp).toEqual({
          ret: o.ret,
          resident: o.vec.split("1").length - 1,
        });
        expect(got.vec, exp).toBe(o.vec);
      }
    },
  );
});
