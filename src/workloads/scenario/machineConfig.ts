import { InputError } from "../../base/errors.ts";
import { makeTlb } from "../../hw/mmu/Tlb.ts";
import type { KernelConfig } from "../../kernel/Kernel.ts";
import type { Stmt, Word } from "./ast.ts";

/**
 * The `machine` statement's keys, their defaults and whether vmlab models
 * them yet. One place: `vmlab run --verbose` prints this table and
 * docs/scenarios.md documents it.
 */
export const MACHINE_KEYS: { key: string; default: string; values: string; modelled: boolean }[] = [
  {
    key: "arch",
    default: "x86_64",
    values: "x86_64, x86_64-la57 (arm64, riscv-sv39, riscv-sv48, i386, i386-pae: later)",
    modelled: true,
  },
  { key: "profile", default: "linux", values: "linux (windows: later)", modelled: true },
  { key: "ram", default: "256M", values: "32M .. 64G, a multiple of 4K", modelled: true },
  { key: "swap", default: "0", values: "0 .. 64G, a multiple of 4K (one swap area)", modelled: true },
  { key: "cpus", default: "1", values: "1 .. 64", modelled: true },
  {
    key: "tlb",
    default: "skylake",
    values: "skylake, vmref, tiny, none, or L1xW,L2xW (e.g. 64x4,1536x12)",
    modelled: true,
  },
  {
    key: "policy",
    default: "linux",
    values: "linux (two-list LRU), mglru, clock, fifo, lru (exact), random",
    modelled: true,
  },
  { key: "pcid", default: "on", values: "on, off", modelled: true },
  { key: "smap", default: "on", values: "on, off", modelled: true },
  { key: "smep", default: "on", values: "on, off", modelled: true },
  { key: "pti", default: "off", values: "on, off", modelled: true },
  { key: "thp", default: "madvise", values: "never, madvise, always", modelled: true },
  { key: "thp_zero_page", default: "on", values: "on, off", modelled: true },
  { key: "mmap_min_addr", default: "65536", values: "bytes", modelled: true },
  { key: "overcommit", default: "heuristic", values: "heuristic, always, never", modelled: true },
  {
    key: "fault_around",
    default: "64K",
    values: "0 .. 2M (fault_around_bytes; rounded down to a power of two pages)",
    modelled: true,
  },
  {
    key: "readahead",
    default: "128K",
    values: "0 .. 64M (read_ahead_kb; sizes mmap read-around)",
    modelled: true,
  },
  { key: "panic_on_oops", default: "0", values: "0, 1", modelled: true },
  { key: "seed", default: "1", values: "integer", modelled: true },
  {
    key: "swappiness",
    default: "60",
    values: "0 .. 200 (vm.swappiness; a vmlab extension)",
    modelled: true,
  },
  {
    key: "page_cluster",
    default: "3",
    values: "0 .. 9 (vm.page-cluster: swap readahead of 2^N pages; a vmlab extension)",
    modelled: true,
  },
  {
    key: "psc",
    default: "off",
    values: "on, off (paging-structure caches; a vmlab extension)",
    modelled: true,
  },
  {
    key: "check_tlb",
    default: "off",
    values: "on, off (coherence checker; a vmlab extension)",
    modelled: true,
  },
  {
    key: "vmalloc_lazy",
    default: "on",
    values: "on, off (lazy vfree TLB purge; a vmlab extension)",
    modelled: true,
  },
];

/** The most RAM the kernel model boots (struct page costs host memory per frame). */
export const MAX_KERNEL_RAM = 64n << 30n;

export interface MachineSettings {
  kernel: KernelConfig;
  seed: number;
  /** every key as given or defaulted, for --verbose and --json */
  effective: Record<string, string>;
}

/** Reads a `machine` statement (or none: all defaults). */
export function machineSettings(stmt: Stmt | null, file: string): MachineSettings {
  const given = new Map<string, Word & { kind: "kv" }>();
  for (const w of stmt?.words ?? []) {
    if (w.kind !== "kv") throw new InputError("machine takes key=value settings only", { file, ...w.pos });
    if (!MACHINE_KEYS.some((k) => k.key === w.key)) {
      throw new InputError(
        `unknown machine key '${w.key}' (known: ${MACHINE_KEYS.map((k) => k.key).join(", ")})`,
        { file, ...w.pos },
      );
    }
    if (given.has(w.key)) throw new InputError(`machine key '${w.key}' given twice`, { file, ...w.pos });
    given.set(w.key, w as Word & { kind: "kv" });
  }
  const bad = (key: string, msg: string): never => {
    const w = given.get(key)!;
    throw new InputError(`machine ${key}: ${msg}`, { file, ...w.valuePos });
  };
  const text = (key: string): string => {
    const w = given.get(key);
    if (!w) return MACHINE_KEYS.find((k) => k.key === key)!.default;
    if (w.ident !== null && w.value?.offset === 0n) return w.ident;
    if (w.value && w.value.base === null) return String(w.value.offset);
    return bad(key, "expected a value");
  };
  const num = (key: string): bigint => {
    const w = given.get(key);
    if (!w) {
      const d = MACHINE_KEYS.find((k) => k.key === key)!.default;
      const m = /^(\d+)([KMG]?)$/.exec(d)!;
      return BigInt(m[1]) * (m[2] === "K" ? 1024n : m[2] === "M" ? 1n << 20n : m[2] === "G" ? 1n << 30n : 1n);
    }
    if (!w.value || w.value.base !== null) return bad(key, "expected a number");
    return w.value.offset;
  };
  const onOff = (key: string): boolean => {
    const v = text(key);
    if (v === "on" || v === "1") return true;
    if (v === "off" || v === "0") return false;
    return bad(key, `expected on or off, not '${v}'`);
  };
  const oneOf = (key: string, allowed: string[], later: string[] = []): string => {
    const v = text(key);
    if (later.includes(v)) bad(key, `'${v}' is not supported by this version of vmlab yet`);
    if (!allowed.includes(v)) bad(key, `expected one of ${allowed.join(", ")}, not '${v}'`);
    return v;
  };

  const arch = oneOf(
    "arch",
    ["x86_64", "x86_64-la57"],
    ["arm64", "riscv-sv39", "riscv-sv48", "i386", "i386-pae"],
  );
  oneOf("profile", ["linux"], ["windows"]);
  const ram = num("ram");
  if (ram <= 0n || ram % 4096n !== 0n)
    bad("ram", `must be a positive multiple of the 4 KiB page size, not ${ram}`);
  if (ram < 32n << 20n)
    bad(
      "ram",
      `${ram} bytes is too small: the kernel image is loaded at 16 MiB, so vmlab boots with at least 32M`,
    );
  if (ram > MAX_KERNEL_RAM) bad("ram", `${ram} bytes is more than the 64G vmlab's kernel model boots`);
  const cpus = num("cpus");
  if (cpus < 1n || cpus > 64n) bad("cpus", `must be 1..64, not ${cpus}`);
  const tlb = text("tlb");
  try {
    makeTlb(tlb);
  } catch (e) {
    if (given.has("tlb")) bad("tlb", (e as Error).message);
    throw e;
  }
  const panic = text("panic_on_oops");
  if (panic !== "0" && panic !== "1") bad("panic_on_oops", `expected 0 or 1, not '${panic}'`);
  const thp = oneOf("thp", ["never", "madvise", "always"]) as "never" | "madvise" | "always";
  const overcommit = oneOf("overcommit", ["heuristic", "always", "never"]) as
    | "heuristic"
    | "always"
    | "never";
  for (const k of ["swap", "mmap_min_addr", "fault_around", "readahead", "seed"]) num(k);
  onOff("thp_zero_page");
  const faultAround = num("fault_around");
  if (faultAround < 0n || faultAround > 2n << 20n)
    bad("fault_around", `must be 0 .. 2M (at most one page table's 512 pages), not ${faultAround}`);
  const swap = num("swap");
  if (swap < 0n || swap > 64n << 30n || swap % 4096n !== 0n)
    bad("swap", `must be a multiple of 4K from 0 to 64G, not ${swap}`);
  if (swap > 0n && swap < 8192n) bad("swap", "a swap area needs its header page and at least one page (8K)");
  const pageCluster = num("page_cluster");
  if (pageCluster < 0n || pageCluster > 9n) bad("page_cluster", `must be 0 .. 9, not ${pageCluster}`);
  const swappiness = num("swappiness");
  if (swappiness < 0n || swappiness > 200n) bad("swappiness", `must be 0 .. 200, not ${swappiness}`);
  const readahead = num("readahead");
  if (readahead < 0n || readahead > 64n << 20n) bad("readahead", `must be 0 .. 64M, not ${readahead}`);
  const seed = num("seed");
  const effective: Record<string, string> = {};
  for (const k of MACHINE_KEYS) effective[k.key] = given.has(k.key) ? text(k.key) : k.default;
  return {
    seed: Number(seed & 0xffffffffn),
    effective,
    kernel: {
      ramBytes: Number(ram),
      cpus: Number(cpus),
      arch: arch as "x86_64" | "x86_64-la57",
      tlb,
      pcid: onOff("pcid"),
      pti: onOff("pti"),
      smap: onOff("smap"),
      smep: onOff("smep"),
      panicOnOops: panic === "1",
      psc: onOff("psc"),
      checkCoherence: onOff("check_tlb"),
      vmallocLazy: onOff("vmalloc_lazy"),
      mmapMinAddr: Number(num("mmap_min_addr")),
      thp,
      thpZeroPage: onOff("thp_zero_page"),
      overcommit,
      faultAroundBytes: Number(faultAround),
      readaheadKb: Number(readahead / 1024n),
      swapBytes: Number(swap),
      swappiness: Number(swappiness),
      pageCluster: Number(pageCluster),
      policy: oneOf("policy", ["linux", "mglru", "clock", "fifo", "lru", "random"]) as KernelConfig["policy"],
      seed: Number(num("seed") & 0xffffffffn),
    },
  };
}
