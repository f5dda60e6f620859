/**
 * Memory protection keys (x86-64, `machine pku=on`): a process's
 * `pkey_alloc`, `pkey_free`, `pkey_mprotect` and `wrpkru` (the language's
 * forms, scenario-language.md §"More statements"; `pkey_free` and
 * pkey_alloc's `disable_access`, `disable_write` and `flags=` are vmlab's
 * compatible extensions, docs/scenarios.md).
 */
import type { Stmt } from "../lang/ast.ts";
import { argWords, type CompileContext, processOf, type Run, type Runtime } from "../runtime/context.ts";
import { errnoName } from "../runtime/format.ts";
import { prot } from "./mm.ts";

/** Protection keys are modelled on x86-64 only (arm64's POE and others are not). */
function checkArch(c: CompileContext, rt: Runtime, s: Stmt): void {
  const arch = rt.view.machine().arch;
  if (arch !== "x86_64" && arch !== "x86_64-la57")
    c.fail(`'${s.verb}' is x86-64's (protection keys, PKRU); ${arch} has none modelled`, s.verbPos);
}

const hex32 = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, "0")}`;

/**
 * `P: VAR = pkey_alloc [disable_access] [disable_write] [flags=N]`: the
 * lowest free key (PKEY_DISABLE_ACCESS / PKEY_DISABLE_WRITE are its initial
 * rights in P's PKRU), or -ENOSPC, -EINVAL.
 */
export function pkeyAlloc(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["flags"]);
  const flagsW = o.get("flags");
  if (flagsW?.value) c.useVars(flagsW.value);
  let rights = 0;
  for (const w of argWords(s)) {
    const bit = w.ident === "disable_access" ? 1 : w.ident === "disable_write" ? 2 : 0;
    if (bit === 0)
      c.fail(`pkey_alloc takes disable_access, disable_write and flags=N, not '${w.ident ?? "?"}'`, w.pos);
    if (rights & bit) c.fail(`'${w.ident}' given twice`, w.pos);
    rights |= bit;
  }
  c.define(s);
  return (rt) => {
    checkArch(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const r = rt.kernel.pkeyAlloc(t, c.numOpt(flagsW, rt) ?? 0, rights);
    const pkru = rt.view.task(t).pkru;
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : `(PKRU ${hex32(pkru)})`);
  };
}

/** `P: [VAR =] pkey_free N`: 0, or -EINVAL for a key P's mm has not allocated. */
export function pkeyFree(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.opts(s, []);
  const [key] = c.args(s, 1, 1, "a protection key");
  c.define(s);
  return (rt) => {
    checkArch(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const r = rt.kernel.pkeyFree(t, c.size(key, rt, "the key"));
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
  };
}

/** `P: [VAR =] pkey_mprotect ADDR SIZE prot=PROT pkey=N`: mprotect that also gives the VMAs key N. */
export function pkeyMprotect(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  const o = c.opts(s, ["prot", "pkey"]);
  const [addr, len] = c.args(s, 2, 2, "an address and a size");
  const protection = prot(c, o.get("prot"), true);
  const keyW = o.get("pkey");
  if (keyW === undefined) c.fail("pkey_mprotect needs pkey=N", s.verbPos);
  if (keyW.value) c.useVars(keyW.value);
  c.define(s);
  return (rt) => {
    checkArch(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    c.runOn(rt, t);
    const pkey = c.numOpt(keyW, rt)!;
    const r = rt.kernel.pkeyMprotect(
      t,
      c.value(addr, rt, "the address"),
      c.value(len, rt, "the size"),
      protection,
      Math.min(pkey, 2 ** 31 - 1),
    );
    c.assign(s, rt, r, r < 0n ? `(${errnoName(r)})` : "");
  };
}

/** `P: wrpkru VALUE`: P's PKRU becomes VALUE (a 32-bit value); SIGILL where the CPU has no keys. */
export function wrpkru(c: CompileContext, s: Stmt): Run {
  const { name, pos } = processOf(s);
  c.noTarget(s);
  c.opts(s, []);
  const [value] = c.args(s, 1, 1, "a 32-bit PKRU value");
  return (rt) => {
    checkArch(c, rt, s);
    const t = c.liveProc(rt, name, pos);
    const cpu = c.runOn(rt, t);
    const v = c.value(value, rt, "the PKRU value");
    if (v >= 1n << 32n) c.fail(`PKRU is 32 bits: 0x${v.toString(16)} does not fit`, value.pos);
    if (rt.kernel.wrpkru(t, Number(v)))
      rt.out.push(
        `cpu${cpu}: WRPKRU: PKRU = ${hex32(Number(v))} (checked on every data access, TLB hit or walk)`,
      );
    else
      rt.out.push(
        `cpu${cpu}: WRPKRU is #UD without CR4.PKE (machine pku=off): SIGILL (ILL_ILLOPN)${rt.view.task(t).alive ? ", caught" : `: ${name} killed`}`,
      );
  };
}
