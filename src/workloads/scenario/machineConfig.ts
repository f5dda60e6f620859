import { excerpt, InputError, tidyMessage } from "../../base/errors.ts";
import {
  MACHINE_KEYS,
  MachineKeyError,
  type MachineSettings,
  machineConfig,
} from "../../kernel/core/config.ts";
import type { Stmt, Word } from "./lang/ast.ts";

export type { MachineSettings } from "../../kernel/core/config.ts";

/**
 * Reads a `machine` statement (or none: all defaults). This is the
 * statement's syntax: key=value words, known keys given once, numbers and
 * sizes, words, on/off. The values are checked by kernel/config.ts
 * (machineConfig); its errors are reported here at the key's value.
 */
export function machineSettings(stmt: Stmt | null, file: string): MachineSettings {
  const given = new Map<string, Word & { kind: "kv" }>();
  for (const w of stmt?.words ?? []) {
    if (w.kind !== "kv") throw new InputError("machine takes key=value settings only", { file, ...w.pos });
    if (!MACHINE_KEYS.some((k) => k.key === w.key)) {
      throw new InputError(
        `unknown machine key '${excerpt(w.key)}' (known: ${MACHINE_KEYS.map((k) => k.key).join(", ")})`,
        { file, ...w.pos },
      );
    }
    if (given.has(w.key))
      throw new InputError(`machine key '${excerpt(w.key)}' given twice`, { file, ...w.pos });
    given.set(w.key, w as Word & { kind: "kv" });
  }
  const bad = (key: string, msg: string): never => {
    const w = given.get(key)!;
    throw new InputError(tidyMessage(`machine ${key}: ${msg}`), { file, ...w.valuePos });
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
  try {
    return machineConfig({ given: (key) => given.has(key), word: text, number: num, onOff });
  } catch (e) {
    if (e instanceof MachineKeyError && given.has(e.key)) bad(e.key, e.reason);
    throw e;
  }
}
