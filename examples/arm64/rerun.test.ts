import { describe, expect, it } from "vitest";
import { type NotPortable, rerunExamples, rewriteX86Scenario } from "../rerunKit.ts";

/**
 * Every x86 example rerun on arm64 (issue #13): the machine line gets
 * `arch=arm64`, and what x86 words one way and arm64 another is translated
 * to the arm64 equivalent: x86's level names to Linux's (pml4 -> pgd,
 * pdpt -> pud, pd -> pmd, pt -> pte: the same levels), `smap=on` to
 * `pan=on` (the same guard) and `pcid=on` dropped (arm64 always tags the
 * TLB). Each example must then hold on arm64 unchanged, or be listed below
 * with its arm64 counterpart (examples/arm64/, arm64's figures) or the
 * reason it cannot run there. A listed example that has become portable is
 * reported, so the list stays true.
 */
const NOT_PORTABLE: NotPortable = {
  "examples/kernel/fragmentation.vm": { counterpart: "examples/arm64/fragmentation.vm" },
  "examples/kernel/kmalloc-contiguous.vm": { counterpart: "examples/arm64/kmalloc-contiguous.vm" },
  "examples/kernel/vmalloc-scatter.vm": { counterpart: "examples/arm64/vmalloc-scatter.vm" },
  "examples/process/cow-fork.vm": { counterpart: "examples/arm64/cow-fork.vm" },
  "examples/process/demand-paging.vm": { counterpart: "examples/arm64/demand-paging.vm" },
  "examples/process/thp.vm": { counterpart: "examples/arm64/thp.vm" },
  "examples/process/context-switch-nopcid.vm": {
    reason: "pcid=off: arm64 has no switch to turn ASIDs off (see examples/tour/13-arm64-asid.vm)",
  },
  "examples/process/shootdown.vm": { counterpart: "examples/arm64/broadcast-tlbi.vm" },
  "examples/process/signals.vm": { counterpart: "examples/arm64/signals.vm" },
  "examples/process/stack-growth.vm": { counterpart: "examples/arm64/stack-growth.vm" },
  "examples/pkeys/protection-keys.vm": {
    reason: "protection keys are x86-64's (PKRU); arm64's POE (FEAT_S1POE, POR_EL0) is not modelled",
  },
};

/** An x86 scenario as arm64 words it. */
function onArm64(source: string): string {
  return rewriteX86Scenario(source, "arm64", (w) =>
    w === "pcid=on" ? null : w === "smap=on" ? "pan=on" : w,
  );
}

rerunExamples(
  "the x86 examples rerun on arm64 (invariant checker on)",
  "arm64",
  "arm64",
  "x86's own",
  NOT_PORTABLE,
  onArm64,
  "examples/arm64/",
);

describe("onArm64", () => {
  it("puts arch=arm64 on the machine line and words x86's settings and levels as arm64's", () => {
    const src = "machine ram=64M smap=on pcid=on\nexpect table(A, a, pml4) != table(B, b+4K, pt)\n";
    expect(onArm64(src)).toBe(
      "machine arch=arm64 ram=64M pan=on\nexpect table(A, a, pgd) != table(B, b+4K, pte)\n",
    );
  });
});
