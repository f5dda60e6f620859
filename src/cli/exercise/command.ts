/**
 * `vmlab exercise` and its eleven generators as commands (the generators
 * themselves are in index.ts, loaded when one runs: main.ts loads no
 * command's code at start-up).
 */
import type { Command } from "commander";
import { DEFAULT_EXERCISE_POLICIES } from "../../analysis/exercise/policy.ts";
import { TABLES_EXERCISE_ARCHES } from "../../workloads/exercise/tables.ts";
import { walkExerciseArches } from "../../workloads/exercise/walk.ts";
import type {
  BuddyExerciseFlags,
  CacheExerciseFlags,
  EatExerciseFlags,
  FlushExerciseFlags,
  IptExerciseFlags,
  KmemExerciseFlags,
  PolicyExerciseFlags,
  ScenarioExerciseFlags,
  TablesExerciseFlags,
  TlbExerciseFlags,
  WalkExerciseFlags,
} from "./index.ts";

/** Registers `vmlab exercise` and its eleven generators. */
export function addExerciseCommand(program: Command, write: (s: string) => void): void {
  const exercise = program
    .command("exercise")
    .description(
      "generated problems to hand out (walk, tables, tlb, eat, policy, buddy, kmem, ipt, scenario, flush, cache): one per seed, the same everywhere; --solve adds the answers",
    );
  const common = (c: Command): Command =>
    c
      .option("-s, --seed <n>", "the problem's seed (0..4294967295)", "0")
      .option("-c, --solve", "print the answers too, each computed by vmlab", false);

  common(
    exercise
      .command("walk")
      .description(
        "a page-table image (vmlab walk's format) and accesses: translation or fault (#PF error code, ESR_EL1, scause)?",
      )
      .option("--arch <a>", `the image's architecture: ${walkExerciseArches().join(", ")}`)
      .option("--granule <g>", "arm64's translation granule: 4K (default), 16K or 64K (TCR_EL1.TG0/TG1)")
      .option("-n <n>", "accesses to ask about", "8")
      .option("--out <file>", "write the image there (else it is printed in the problem)"),
  ).action(async (o: WalkExerciseFlags) => write((await import("./index.ts")).runWalkExercise(o)));

  common(
    exercise
      .command("tables")
      .description(
        "a process's regions on an architecture: how many page tables of each level, their bytes, with and without large pages",
      )
      .option("--arch <a>", `the architecture: ${TABLES_EXERCISE_ARCHES.join(", ")}`),
  ).action(async (o: TablesExerciseFlags) => write((await import("./index.ts")).runTablesExercise(o)));

  common(
    exercise
      .command("tlb")
      .description("a reference string of virtual pages through a small LRU TLB: hits, misses, evictions")
      .option("-n <n>", "references", "14")
      .option("--entries <n>", "TLB entries", "4")
      .option("--ways <n>", "ways per set (default: fully associative)")
      .option("--pages <n>", "distinct pages each process touches", "8")
      .option(
        "--processes <n>",
        "address spaces taking turns (1..6); a switch flushes the TLB unless --pcid",
        "1",
      )
      .option("--pcid", "tag entries with a PCID per process: switches flush nothing", false),
  ).action(async (o: TlbExerciseFlags) => write((await import("./index.ts")).runTlbExercise(o)));

  common(
    exercise
      .command("eat")
      .description(
        "effective access time: a process's references through the TLB, the walks and demand paging, each one's cost, then the EAT",
      )
      .option("--arch <a>", "the machine's arch= (default x86_64)")
      .option("-n <n>", "references (1..100)", "12")
      .option("--entries <n>", "TLB entries, fully associative (1..64)", "4")
      .option("--psc", "paging-structure caches: walks may start below the root", false)
      .option(
        "--times <t,m,f>",
        "ns of a TLB lookup, a memory access, a fault's service (default: the seed picks)",
      ),
  ).action(async (o: EatExerciseFlags) => write((await import("./index.ts")).runEatExercise(o)));

  common(
    exercise
      .command("policy")
      .description(
        "a reference string and a frame count: hits, misses and evictions per reference under each policy",
      )
      .option("-n <n>", "references", "15")
      .option("--pages <n>", "distinct pages (0..N-1)", "7")
      .option("--frames <n>", "frames (default: 3 or 4, from the seed)")
      .option("--policy <list>", "policies, comma-separated, or all", DEFAULT_EXERCISE_POLICIES.join(","))
      .option(
        "--belady",
        "a string where FIFO misses more with one frame more (Belady's anomaly): FIFO and LRU at F and F+1 frames",
        false,
      ),
  ).action(async (o: PolicyExerciseFlags) => write((await import("./index.ts")).runPolicyExercise(o)));

  common(
    exercise
      .command("buddy")
      .description(
        "a buddy allocator of 2^k frames and a string of allocations and frees: where each block lands, the free lists after each step",
      )
      .option("-n <n>", "operations", "10")
      .option("--frames <n>", "frames managed: a power of two from 16 to 1024", "64"),
  ).action(async (o: BuddyExerciseFlags) => write((await import("./index.ts")).runBuddyExercise(o)));

  common(
    exercise
      .command("kmem")
      .description(
        "kmalloc against vmalloc: a string of kernel allocations and frees; caches, orders, frames taken and given back, contiguity",
      )
      .option("--arch <a>", "the machine's arch= (default x86_64)")
      .option("-n <n>", "steps (1..30)", "10")
      .option("--cpus <n>", "CPUs (SLUB's slab sizes depend on them: calculate_order)", "1"),
  ).action(async (o: KmemExerciseFlags) => write((await import("./index.ts")).runKmemExercise(o)));

  common(
    exercise
      .command("ipt")
      .description(
        "a hashed inverted page table (entries, hash anchor table, chains) and lookups and edits: slot, entries compared, address or fault",
      )
      .option("-n <n>", "steps (lookups and the OS's edits)", "10")
      .option("--frames <n>", "frames, one IPT entry each (8..64)", "16")
      .option("--spaces <n>", "address spaces (1..4)", "2"),
  ).action(async (o: IptExerciseFlags) => write((await import("./index.ts")).runIptExercise(o)));

  common(
    exercise
      .command("scenario")
      .description(
        "a generated .vm scenario with questions (minor faults, Rss, mapcount); --solve runs it and reads the answers",
      )
      .option("--arch <a>", "the machine's arch= (default x86_64)")
      .option("--out <file>", "also write the scenario there"),
  ).action(async (o: ScenarioExerciseFlags) => write((await import("./index.ts")).runScenarioExercise(o)));

  common(
    exercise
      .command("flush")
      .description(
        "threads on several CPUs, then munmap/mprotect/MADV_DONTNEED of ranges: each CPU's TLB invalidations, full flushes and IPIs",
      )
      .option("--arch <a>", "the machine's arch= (default x86_64)")
      .option("-n <n>", "changes to ask about (1..8)", "3")
      .option("--out <file>", "also write the scenario there"),
  ).action(async (o: FlushExerciseFlags) => write((await import("./index.ts")).runFlushExercise(o)));

  common(
    exercise
      .command("cache")
      .description(
        "an L1 data cache (VIVT, VIPT, PIPT) and loads and stores through two mappings of a page: sets, colours, hits, stale data",
      )
      .option("--kind <k>", "the cache's kind: vivt, vipt or pipt (default: the seed picks)")
      .option("-n <n>", "accesses to ask about (1..16)", "8")
      .option("--out <file>", "also write the scenario there"),
  ).action(async (o: CacheExerciseFlags) => write((await import("./index.ts")).runCacheExercise(o)));
}
