import { DefaultReporter } from "vitest/node";

/**
 * Vitest's default output ends with `Tests  N passed (N)`, which CI does not
 * read; this adds the plain closing line `vitest: N passed, N failed, N skipped`.
 */
export default class SummaryReporter extends DefaultReporter {
  override onTestRunEnd(
    ...args: Parameters<DefaultReporter["onTestRunEnd"]>
  ): ReturnType<DefaultReporter["onTestRunEnd"]> {
    const [testModules] = args;
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
      if (mod.state() === "failed" && [...mod.children.allTests()].length === 0) failed++;
    }
    const result = super.onTestRunEnd(...args);
    process.stdout.write(`\nvitest: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
    return result;
  }
}
