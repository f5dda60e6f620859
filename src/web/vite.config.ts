/**
 * The browser view's production build (`npm run build:web`, and `vmlab ui`
 * when the build is missing): Preact through @preact/preset-vite, the
 * scenario engine bundled with the app (no CDN, no network). Three Node-only
 * modules the engine reaches are replaced by browser stand-ins in
 * app/shims/: node:path, and the trace readers a `replay` statement uses.
 */
import { fileURLToPath } from "node:url";
import preact from "@preact/preset-vite";
import { defineConfig, type Plugin } from "vite";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/** Redirects imports of the Node-only trace readers to the browser stand-ins. */
function browserShims(): Plugin {
  const redirects: [RegExp, string][] = [
    [/\/trace\/formats\.ts$/, here("./app/shims/traceFormats.ts")],
    [/\/trace\/readSync\.ts$/, here("./app/shims/traceRead.ts")],
  ];
  return {
    name: "vmlab-browser-shims",
    enforce: "pre",
    resolveId(source) {
      if (source === "node:path") return here("./app/shims/path.ts");
      for (const [re, target] of redirects) if (re.test(source)) return target;
      return null;
    },
  };
}

export default defineConfig({
  root: here("./app"),
  base: "./",
  logLevel: "warn",
  plugins: [browserShims(), preact()],
  // the trace view's worker (app/trace/worker.ts) is bundled with the same stand-ins
  worker: { format: "es", plugins: () => [browserShims()] },
  build: {
    outDir: here("../../dist/web"),
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 4096,
  },
});
