/**
 * Where piscina's threads load a sweep job from (`vmlab sweep`, `vmlab
 * worker`): the bundle's own sweepTask.mjs when vmlab runs from its bundle
 * (bin/vmlab.cjs builds both into .build/cli/), else the TypeScript source
 * through tsx (tests, `node --import tsx`). A thread that loads the bundle
 * starts in a tenth of the time tsx takes to compile the sources.
 */
export function sweepTaskModule(): { filename: string; execArgv: string[] } {
  if (import.meta.url.endsWith(".ts"))
    return {
      filename: new URL("../sweepTask.ts", import.meta.url).href,
      execArgv: ["--import", import.meta.resolve("tsx")],
    };
  return { filename: new URL("./sweepTask.mjs", import.meta.url).href, execArgv: [] };
}
