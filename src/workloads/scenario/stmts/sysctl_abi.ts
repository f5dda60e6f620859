/**
 * `[VAR =] sysctl abi.tagged_addr_disabled=0|1`: writes /proc/sys/abi/tagged_addr_disabled, arm64's
 * switch of the tagged address ABI (arch/arm64/kernel/process.c tagged_addr_sysctl_table,
 * proc_dointvec_minmax over 0..1): with 1, prctl(PR_SET_TAGGED_ADDR_CTRL, PR_TAGGED_ADDR_ENABLE)
 * is -EINVAL (set_tagged_addr_ctrl); threads that enabled the ABI before keep it. Prints the value;
 * VAR holds it. Other values, and other architectures (no such file), are errors at the value or
 * the key. An extension of scenario language 1.2 (docs/arm64.md).
 */
import type { Stmt } from "../lang/ast.ts";
import type { CompileContext, Run } from "../runtime/context.ts";
import { sysctlKnobs } from "./sysctl_knobs.ts";

export const ABI_SYSCTL_KEYS = ["abi.tagged_addr_disabled"] as const;

export function sysctlAbi(c: CompileContext, s: Stmt): Run {
  const knobs = sysctlKnobs(c, s, ABI_SYSCTL_KEYS, (_key, v) =>
    v < 0n || v > 1n ? "0 or 1 (EINVAL: proc_dointvec_minmax's range)" : null,
  );
  const keyPos = s.words.find((w) => w.kind === "kv" && w.key === ABI_SYSCTL_KEYS[0])!.pos;
  return (rt) => {
    const w = knobs.read(rt);
    const { ret, now } = rt.kernel.sysctlTaggedAddrDisabled(w["abi.tagged_addr_disabled"]);
    if (ret === -2)
      c.fail(
        "abi.tagged_addr_disabled is arm64's (CONFIG_ARM64_TAGGED_ADDR_ABI): this machine has no /proc/sys/abi/tagged_addr_disabled",
        keyPos,
      );
    c.assign(s, rt, BigInt(now), `(abi.tagged_addr_disabled ${now})`);
  };
}
