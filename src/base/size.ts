import { InputError } from "./errors.ts";

/** A command-line size with an optional K, M or G suffix, in bytes (at most 64G); `what` names the flag in the error. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw new InputError(`${what}: '${text}' is not a size like 512M`);
  const v = Number(m[1]) * 1024 ** " KMG".indexOf((m[2] || " ").toUpperCase());
  if (!Number.isSafeInteger(v) || v > 2 ** 36) throw new InputError(`${what}: ${text} is more than 64G`);
  return v;
}
