// The one esbuild call of the bench runners (bundled.mjs, callgrind.mjs, touch-ab.mjs): a bench
// file bundled as the CLI bundles the sources (ESM for Node 20, packages left external), so a
// `const enum` imported from another module is inlined as it is in bin/vmlab.cjs's bundle.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Bundles `entry` (absolute) into `outfile`, resolving from `tree` (a checkout: this one by default). */
export async function bundle(entry, outfile, tree = ROOT) {
  // this tree's esbuild, found by path: a tree whose node_modules is a link resolves it the same
  const { build } = await import(pathToFileURL(join(ROOT, "node_modules", "esbuild", "lib", "main.js")).href);
  // as bin/vmlab.cjs's build(): the sources' numeric constants made literals (bin/inlineConsts.cjs)
  const { inlineConsts } = createRequire(import.meta.url)("../bin/inlineConsts.cjs");
  const mode = process.env.BENCH_CONSTS ?? "inline"; // (experiments: "plain" as before, "minify" without the plugin)
  await build({
    entryPoints: [entry],
    absWorkingDir: tree,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile,
    logLevel: "warning",
    minifySyntax: mode !== "plain",
    plugins: mode === "inline" ? [inlineConsts(tree)] : [],
  });
}
