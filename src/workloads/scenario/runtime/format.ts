/**
 * How the scenario runner writes things down: values (numbers, addresses,
 * symbols), traced hardware events, sizes, errnos and fault counts. Pure
 * text; no kernel state is read here.
 */
import { accessName } from "../../../hw/access.ts";
import type { HwEvent } from "../../../hw/mmu/Mmu.ts";
import { entryHex } from "../../../hw/mmu/PagingFormat.ts";

/** What an expression or a variable holds: a 64-bit integer, or a symbol (SIGSEGV, none). */
export type Value = bigint | string;

/** A value as the runner prints it: addresses (from 0x10000) in hex, other numbers in decimal. */
export function formatValue(v: Value): string {
  if (typeof v === "string") return v;
  return v < 0n ? String(v) : v >= 0x10000n ? `0x${v.toString(16)}` : String(v);
}

/**
 * One traced hardware event (`--trace`): a TLB lookup, a walk step, a
 * fault, an invalidation, an A/D write, a change of the CPU's access state.
 * Levels, faults and tags are named as the architecture's manual names them.
 */
export function formatEvent(e: HwEvent): string {
  switch (e.type) {
    case "tlb":
      return `cpu${e.cpu} TLB ${e.hit ? `hit (L${e.level + 1})` : "miss"} vpn 0x${e.vpn.toString(16)} ${accessName(e.access)}${e.unprivileged ? " (unprivileged: checked as a user access)" : ""}`;
    case "walk-step":
      return `cpu${e.cpu}   walk ${e.levelName} [${e.index}] entry @0x${e.entryPa.toString(16)} = ${entryHex(e.hi, e.lo, e.bytes)}${e.psc ? " (from the paging-structure cache)" : ""}`;
    case "fault":
      return `cpu${e.cpu} fault: ${e.text}`;
    case "invalidate":
      return `cpu${e.cpu} ${e.op} ${e.asid < 0 ? `every ${e.asidName}` : `${e.asidName} ${e.asid}`}${e.vpn === -1 ? "" : ` vpn 0x${e.vpn.toString(16)}`} (${e.entries} entries)`;
    case "ad-write":
      return `cpu${e.cpu}   A/D update @0x${e.entryPa.toString(16)}`;
    case "state":
      return `cpu${e.cpu} ${e.text}`;
    case "ipt":
      return `cpu${e.cpu}   IPT lookup space ${e.space} vpn 0x${e.vpn.toString(16)}: HAT slot 0x${e.slot.toString(16)}, ${e.compared} ${e.compared === 1 ? "entry" : "entries"} compared: ${e.pfn < 0 ? "miss" : `frame 0x${e.pfn.toString(16)}`}`;
  }
}

/** Bytes in MiB: whole, or with one decimal. */
export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(bytes % 1048576 === 0 ? 0 : 1)} MiB`;
}

/** A kmalloc cache's object size as its name says it (kmalloc-64, kmalloc-1k). */
export function sizeName(n: number): string {
  return n >= 1024 ? `${n / 1024}k` : String(n);
}

const ERRNO_NAMES: Record<string, string> = {
  "-1": "EPERM",
  "-2": "ENOENT",
  "-3": "ESRCH",
  "-5": "EIO",
  "-9": "EBADF",
  "-11": "EAGAIN",
  "-12": "ENOMEM",
  "-13": "EACCES",
  "-14": "EFAULT",
  "-16": "EBUSY",
  "-17": "EEXIST",
  "-22": "EINVAL",
  "-27": "EFBIG",
  "-28": "ENOSPC",
  "-38": "ENOSYS",
  "-43": "EIDRM",
  "-95": "EOPNOTSUPP",
  "-524": "ENOTSUPP",
};

/** A negative errno's name (ENOMEM), or `errno N`. */
export function errnoName(r: bigint): string {
  return ERRNO_NAMES[String(r)] ?? `errno ${-r}`;
}

/** Page faults taken: "no page fault", "3 page faults (minor)", "5 page faults (3 minor, 2 major)". */
export function faultSummary(minor: number, major: number): string {
  if (minor + major === 0) return "no page fault";
  const n = minor + major;
  const kind = major === 0 ? "minor" : minor === 0 ? "major" : `${minor} minor, ${major} major`;
  return `${n} page fault${n > 1 ? "s" : ""} (${kind})`;
}
