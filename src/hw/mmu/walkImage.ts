import { jsonExcerpt } from "../../base/json.ts";
import { parseU64 } from "../../base/u64.ts";
/**
 * What `vmlab walk` asks of an architecture (docs/walk-image.md,
 * ../shared/spec/walk-images.md): the JSON reader (workloads/
 * pagetableImage.ts) checks what every image has (arch, regs, memory, the
 * hex bytes, FILE:LINE:COL for every mistake) and hands the rest to the
 * architecture's driver: its own keys and registers, the one-CPU machine
 * that holds the image, and a probe's report in the architecture's terms.
 */
import type { Access } from "../access.ts";

/** An image's fields, as the reader found them (values unchecked). */
export interface ImageFields {
  arch: string;
  /** the top-level keys other than arch, regs and memory */
  top: Record<string, unknown>;
  /** the registers under `regs` (names checked against the driver's list) */
  regs: Record<string, unknown>;
  /** a 64-bit value at a top-level key (hex string or integer), or a located error */
  u64(key: string): bigint;
}

/** One probe of an image: the report (`vmlab walk --json`'s object) and its text. */
export interface WalkResult {
  report: object;
  lines: string[];
}

export interface WalkSession {
  /**
   * a probe (no TLB, nothing written) of `va` for `access` at `privilege` (a
   * value of the driver's flag); `kind` is the `--access` value as given
   * (read, write, exec, or one of the driver's `accesses`)
   */
  walk(va: bigint, access: Access, privilege: string, kind: string): WalkResult;
}

export interface WalkImageDriver {
  /** the `arch` values it reads */
  readonly arches: readonly string[];
  /** its top-level keys besides arch, regs and memory */
  readonly keys: readonly string[];
  /** the register names `regs` may hold */
  readonly regs: readonly string[];
  /** the privilege option: its flag (`--cpl`), its values, and the default */
  readonly privilege: { flag: string; values: readonly string[]; default: string };
  /** `--access` values besides read, write and exec, and the access each is (ARM64: read-unpriv, an LDTR) */
  readonly accesses?: Readonly<Record<string, Access>>;
  /** checks the driver's keys and registers (`bad` throws at a key's position) */
  check(f: ImageFields, bad: (path: string, msg: string) => never): CheckedImage;
}

/** An image whose registers are checked. */
export interface CheckedImage {
  /** the physical address bits its memory must fit below */
  readonly physBits: number;
  /** the last checks (those that need the memory read first), then the machine holding the image */
  open(memory: { pa: number; bytes: Uint8Array }[], bad: (path: string, msg: string) => never): WalkSession;
}

/**
 * A register under an image's `regs`: a hex string or a non-negative safe
 * integer, null when absent; anything else is `bad` at `regs.NAME`, quoting
 * at most a short excerpt of the value. `example` is a value the message
 * offers.
 */
export function imageRegister(
  regs: Record<string, unknown>,
  name: string,
  bad: (path: string, msg: string) => never,
  example = "0x1000",
): bigint | null {
  const v = regs[name];
  if (v === undefined) return null;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === "string") {
    const n = parseU64(v);
    if (n !== null) return n;
  }
  return bad(
    `regs.${name}`,
    `must be a hex string like "${example}" or a non-negative integer, not ${jsonExcerpt(v)}`,
  );
}
