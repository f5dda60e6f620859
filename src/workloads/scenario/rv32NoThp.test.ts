/**
 * RV32 Linux is built without CONFIG_TRANSPARENT_HUGEPAGE (arch/riscv/Kconfig selects
 * HAVE_ARCH_TRANSPARENT_HUGEPAGE only `if 64BIT && MMU`), so what that option brings does not
 * exist on `machine arch=riscv-sv32`: /sys/kernel/mm/transparent_hugepage (the mthp, shmem_enabled
 * and khugepaged knobs), khugepaged, tmpfs's huge= mount option (shmem_parse_one: "Unsupported
 * parameter 'huge'"), large page-cache folios (mapping_set_folio_order_range returns at once),
 * /proc/vmstat's thp_* events (vm_event_item.h) and /proc/meminfo's five THP lines
 * (fs/proc/meminfo.c), and /proc/PID/status says THP_enabled 0. Sv39, which has them all, is the control.
 */
import { describe, expect, it } from "vitest";
import { runScenario } from "./session.ts";
import { feedSession, scenarioError } from "./testKit.ts";

const rv32 = "machine arch=riscv-sv32 ram=64M\n";
const sv39 = "machine arch=riscv-sv39 ram=64M\n";

describe("riscv-sv32 has no transparent huge pages", () => {
  const refused: [string, RegExp][] = [
    ["mthp 64K always", /2:1: 'mthp': no \/sys\/kernel\/mm\/transparent_hugepage: RV32/],
    ["thp shmem_enabled=always", /2:1: 'thp': no \/sys\/kernel\/mm\/transparent_hugepage/],
    ["thp shmem_enabled=always size=64K", /2:1: 'thp': no \/sys\/kernel\/mm\/transparent_hugepage/],
    ["khugepaged", /2:1: 'khugepaged': no \/sys\/kernel\/mm\/transparent_hugepage/],
    ["show thp", /2:1: 'show thp': no \/sys\/kernel\/mm\/transparent_hugepage/],
    [
      "file F size=1M folio=64K",
      /folio=65536: the page cache has no large folios without CONFIG_TRANSPARENT_HUGEPAGE/,
    ],
    ["file T size=4M fs=tmpfs huge=always", /file T: tmpfs: Unsupported parameter 'huge'/],
  ];
  for (const [line, why] of refused)
    it(`'${line}' is an error on RV32 and runs on Sv39`, () => {
      expect(scenarioError(`${rv32}${line}\n`)).toMatch(why);
      expect(runScenario(`${sv39}${line}\n`).failed).toBe(0);
    });

  it("the transparent_hugepage knobs are not machine keys on RV32", () => {
    for (const key of ["thp_zero_page=off", "thp_shrink_underused=off", "thp_max_ptes_none=100"])
      expect(scenarioError(`machine arch=riscv-sv32 ram=64M ${key}\n`)).toMatch(
        /machine thp_\w+: RV32 Linux has no transparent huge pages .*no transparent_hugepage\/ knobs/,
      );
  });

  it("a tmpfs file with huge=never and a disk file of 4K folios are fine", () => {
    const r = runScenario(`${rv32}file T size=1M fs=tmpfs huge=never\nfile F size=1M folio=4K\n`);
    expect(r.failed).toBe(0);
  });

  it("/proc/vmstat has no thp_* events and /proc/meminfo no THP lines; the NR_*_THPS items stay", () => {
    const show = (head: string) =>
      runScenario(`${head}show vmstat\nshow meminfo\n`).statements.flatMap((s) => s.output);
    const rv = show(rv32);
    const sv = show(sv39);
    const thpEvents = (out: string[]) => out.filter((l) => /^thp_\w+ \d+$/.test(l)).length;
    const thpMeminfo = (out: string[]) =>
      out.filter((l) => /^(AnonHugePages|ShmemHugePages|ShmemPmdMapped|FileHugePages|FilePmdMapped):/.test(l))
        .length;
    expect(thpEvents(sv)).toBeGreaterThan(10);
    expect(thpMeminfo(sv)).toBe(5);
    expect(thpEvents(rv)).toBe(0);
    expect(thpMeminfo(rv)).toBe(0);
    // node_stat_item's NR_ANON_THPS & co. are not under the option: vmstat prints them on RV32 too
    for (const n of ["nr_anon_transparent_hugepages", "nr_shmem_hugepages", "nr_file_hugepages"])
      expect(rv).toContain(`${n} 0`);
  });

  it("/proc/PID/status says THP_enabled 0 (task_thp_status: IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))", () => {
    const status = (head: string) =>
      runScenario(`${head}spawn A\nshow A status\n`).statements[2].output.filter((l) =>
        l.startsWith("THP_enabled"),
      );
    expect(status(rv32)).toEqual(["THP_enabled:\t0"]);
    expect(status(sv39)).toEqual(["THP_enabled:\t1"]);
  });

  it("the library's knob setters refuse too", () => {
    const k = feedSession(rv32).kernel!;
    expect(k.noThp()).toMatch(/RV32 Linux has no transparent huge pages/);
    expect(k.mthpSet(64, "always")).toBe(false);
    expect(k.shmemEnabledSet("always")).toBe(false);
    expect(k.khugepagedSet("pages_to_scan", 100)).toBe(false);
    expect(feedSession(sv39).kernel!.noThp()).toBeNull();
  });
});
