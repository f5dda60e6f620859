/**
 * `vmlab ui [FILE.vm]`: the browser view. A node:http server on 127.0.0.1
 * only (never another interface), which serves two things and nothing else:
 * the bundled app (dist/web, built by `npm run build:web`, or here on first
 * use) and the text of the scenarios it offers (the tour's, the examples,
 * and FILE when given), by id from a list made at start. The engine runs in
 * the page; nothing is written and nothing is fetched from the network.
 *
 * With --trace FILE it also serves that one trace, whole (`/api/trace-file`:
 * a zstd file decompressed here by the CLI's own reader, as the browser has
 * no zstd decoder; plain and gzip as they are), for the page's trace view,
 * which analyses it in a Web Worker.
 *
 * A request for any other path, one with `..` segments, an absolute or
 * encoded path outside dist/web, or a Host header other than the loopback
 * address (a DNS-rebinding page) is refused.
 */
import { spawn } from "node:child_process";
import {
  createReadStream,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, extname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { InputError } from "../base/errors.ts";
import { type Compression, compressionOf, openTraceFile, peekBytes } from "../workloads/trace/input.ts";

/** The package's root (where package.json, dist/ and examples/ are). */
export const PACKAGE_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const WEB_DIR = join(PACKAGE_ROOT, "dist", "web");
const EXAMPLES_DIR = join(PACKAGE_ROOT, "examples");

export interface UiOptions {
  /** a scenario to open first */
  file?: string;
  /** 0: any free port */
  port?: number;
  /** a trace for the trace view (--trace FILE) */
  trace?: string;
  /** build dist/web when it is missing (true by default) */
  build?: boolean;
}

/** A scenario the page may ask for: its id (a path under examples/, or `@NAME` for FILE), group and title. */
export interface ScenarioListing {
  id: string;
  group: string;
  title: string;
  path: string;
}

export interface UiServer {
  url: string;
  address: AddressInfo;
  server: Server;
  scenarios: ScenarioListing[];
  /** --trace FILE, resolved */
  trace: string | null;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
};

/** Every .vm below `dir`, sorted, as paths relative to it ("/"-separated). */
function vmFiles(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...vmFiles(join(dir, e.name), `${prefix}${e.name}/`));
    else if (e.name.endsWith(".vm")) out.push(`${prefix}${e.name}`);
  }
  return out.sort();
}

/** A scenario's title: its first comment line (`# Q: ...` in the tour), else its name. */
function titleOf(path: string, fallback: string): string {
  const first = readFileSync(path, "utf8")
    .split("\n")
    .find((l) => l.startsWith("#"));
  const t = first?.replace(/^#\s*(Q:\s*)?/, "").trim();
  return t ? `${fallback}: ${t}` : fallback;
}

/** The scenarios offered: FILE first (when given), then the tour's, then the other examples by folder. */
export function scenarioListing(file?: string): ScenarioListing[] {
  const out: ScenarioListing[] = [];
  if (file !== undefined) {
    const path = resolve(file);
    let ok = false;
    try {
      ok = statSync(path).isFile();
    } catch {}
    if (!ok) throw new InputError(`${file}: no such scenario file`);
    out.push({ id: `@${basename(path)}`, group: "your file", title: basename(path), path });
  }
  if (existsSync(EXAMPLES_DIR))
    for (const rel of vmFiles(EXAMPLES_DIR)) {
      const folder = rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : "examples";
      const name = rel.slice(rel.lastIndexOf("/") + 1).replace(/\.vm$/, "");
      out.push({
        id: rel,
        group: folder === "tour" ? "the tour" : `examples/${folder}`,
        title: folder === "tour" ? titleOf(join(EXAMPLES_DIR, rel), name) : name,
        path: join(EXAMPLES_DIR, rel),
      });
    }
  return out;
}

/** The newest modification time of the sources the bundle is made of (src/, tests aside). */
function newestSource(dir = join(PACKAGE_ROOT, "src")): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newestSource(p));
    else if (!e.name.includes(".test.")) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

/**
 * Builds dist/web with Vite (a devDependency) when index.html is missing,
 * or older than a source file in a checkout (a stale bundle would show an
 * older engine than `vmlab run` runs). Without Vite, a bundle that is there
 * is served as it is.
 */
export async function ensureBuilt(say: (s: string) => void = () => {}): Promise<void> {
  const index = join(WEB_DIR, "index.html");
  const built = existsSync(index) ? statSync(index).mtimeMs : -1;
  if (built >= 0 && (!existsSync(join(PACKAGE_ROOT, "src")) || built >= newestSource())) return;
  let vite: typeof import("vite");
  try {
    vite = await import("vite");
  } catch {
    if (built >= 0) return;
    throw new InputError(
      "the browser view is not built and Vite is not installed: run npm ci && npm run build:web",
    );
  }
  say("vmlab ui: building the browser view (npm run build:web) ...");
  // built beside and moved in whole: a server (or test) running at the same time never sees half a bundle
  const tmp = `${WEB_DIR}.tmp-${process.pid}`;
  try {
    await vite.build({
      configFile: join(PACKAGE_ROOT, "src", "web", "vite.config.ts"),
      logLevel: "warn",
      build: { outDir: tmp, emptyOutDir: true },
    });
    rmSync(WEB_DIR, { recursive: true, force: true });
    renameSync(tmp, WEB_DIR);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // another process moved its build in first: serve that one
    if (!existsSync(join(WEB_DIR, "index.html"))) throw e;
  }
}

/**
 * The file under dist/web a URL path names, or null: a path with a `..`
 * segment, a backslash, a NUL or an empty segment, or one that resolves
 * (symbolic links followed) outside dist/web, names nothing.
 */
export function staticPath(urlPath: string, root = WEB_DIR): string | null {
  let p: string;
  try {
    p = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (!p.startsWith("/") || p.includes("\0") || p.includes("\\")) return null;
  if (p === "/") p = "/index.html";
  const segs = p.slice(1).split("/");
  if (segs.some((s) => s === "" || s === "." || s === "..")) return null;
  const full = resolve(root, ...segs);
  if (relative(root, full).startsWith("..") || !full.startsWith(root + sep)) return null;
  try {
    const real = realpathSync(full);
    const realRoot = realpathSync(root);
    if (!real.startsWith(realRoot + sep) || !statSync(real).isFile()) return null;
    return real;
  } catch {
    return null;
  }
}

/** The most bytes of a trace the server hands to a page (as a replay's limit in `vmlab run`). */
const MAX_TRACE_FILE = 256 << 20;

/**
 * The trace `ID/NAME` names (both URI-encoded): the file NAME, a plain file
 * name, in the directory of the listed scenario ID, the only directory a
 * scenario's `replay` reads without --allow-read; null for anything else
 * (another directory, a link out of it, not a regular file, too large).
 */
export function tracePath(rest: string, byId: ReadonlyMap<string, ScenarioListing>): string | null {
  const parts = rest.split("/");
  if (parts.length !== 2) return null;
  let id: string;
  let name: string;
  try {
    id = decodeURIComponent(parts[0]);
    name = decodeURIComponent(parts[1]);
  } catch {
    return null;
  }
  const scenario = byId.get(id);
  if (scenario === undefined || !/^[^/\\\0]+$/.test(name) || name === "." || name === "..") return null;
  try {
    const dir = realpathSync(dirname(scenario.path));
    const real = realpathSync(join(dir, name));
    const st = statSync(real);
    if (dirname(real) !== dir || !st.isFile() || st.size > MAX_TRACE_FILE) return null;
    return real;
  } catch {
    return null;
  }
}

/** --trace FILE: a regular file, and how it is compressed; else an InputError. */
function traceFile(file: string): { path: string; size: number; compression: Compression } {
  const path = resolve(file);
  let size = -1;
  try {
    const st = statSync(path);
    if (st.isFile()) size = st.size;
  } catch {}
  if (size < 0) throw new InputError(`--trace ${file}: no such trace file`);
  return { path, size, compression: compressionOf(peekBytes(path, 4)) };
}

/**
 * Sends the --trace file: plain and gzip as they are (the page gunzips
 * with DecompressionStream), zstd decompressed here (workloads/trace/
 * input.ts, zstd-napi or the zstd command), streamed in either case.
 */
function sendTrace(
  res: ServerResponse,
  t: { path: string; size: number; compression: Compression },
  head: Record<string, string>,
  bodyToo: boolean,
): void {
  const zstd = t.compression === "zstd";
  res.writeHead(200, {
    ...head,
    "Content-Type": "application/octet-stream",
    ...(zstd ? {} : { "Content-Length": String(t.size) }),
  });
  if (!bodyToo) {
    res.end();
    return;
  }
  void (async () => {
    try {
      const input = zstd
        ? openTraceFile(t.path, "zstd", false)
        : { chunks: createReadStream(t.path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer> };
      for await (const c of input.chunks) {
        if (res.destroyed) return;
        if (!res.write(c)) await new Promise((ok) => res.once("drain", ok));
      }
      res.end();
    } catch {
      // a broken zstd stream: the page sees a cut response and says the trace could not be read
      res.destroy();
    }
  })();
}

/** Starts the server on 127.0.0.1; resolves once it listens. */
export async function startUi(opts: UiOptions = {}, say: (s: string) => void = () => {}): Promise<UiServer> {
  const scenarios = scenarioListing(opts.file);
  const trace = opts.trace !== undefined ? traceFile(opts.trace) : null;
  if (opts.build !== false) await ensureBuilt(say);
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  let port = 0;
  const headers = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy":
      "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
  };
  const send = (res: ServerResponse, code: number, type: string, body: string | Buffer): true => {
    res.writeHead(code, { ...headers, "Content-Type": type });
    res.end(body);
    return true;
  };
  const handle = (req: IncomingMessage, res: ServerResponse): true => {
    const host = req.headers.host ?? "";
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`)
      return send(res, 403, "text/plain", "vmlab ui answers only on its loopback address\n");
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
    const path = (req.url ?? "/").split("?")[0].split("#")[0];
    if (path === "/api/scenarios") {
      const list = scenarios.map(({ id, group, title }) => ({ id, group, title }));
      const initial = opts.file !== undefined ? scenarios[0].id : null;
      return send(res, 200, TYPES[".json"], JSON.stringify({ initial, scenarios: list }));
    }
    if (path.startsWith("/api/scenario/")) {
      let id: string;
      try {
        id = decodeURIComponent(path.slice("/api/scenario/".length));
      } catch {
        return send(res, 400, "text/plain", "bad scenario id\n");
      }
      const s = byId.get(id);
      if (s === undefined) return send(res, 404, "text/plain", "no such scenario\n");
      try {
        return send(res, 200, "text/plain; charset=utf-8", readFileSync(s.path, "utf8"));
      } catch {
        return send(res, 404, "text/plain", "the scenario file is gone\n");
      }
    }
    if (path === "/api/trace-info") {
      if (trace === null) return send(res, 404, "text/plain", "no --trace\n");
      const { size, compression } = trace;
      return send(
        res,
        200,
        TYPES[".json"],
        JSON.stringify({ name: basename(trace.path), size, compression }),
      );
    }
    if (path === "/api/trace-file") {
      if (trace === null) return send(res, 404, "text/plain", "no --trace\n");
      sendTrace(res, trace, headers, req.method === "GET");
      return true;
    }
    if (path.startsWith("/api/trace/")) {
      const trace = tracePath(path.slice("/api/trace/".length), byId);
      if (trace === null) return send(res, 404, "text/plain", "no such trace\n");
      // zstd decompressed here (the page has no zstd decoder); gzip and plain as they are
      const size = statSync(trace).size;
      sendTrace(
        res,
        { path: trace, size, compression: compressionOf(peekBytes(trace, 4)) },
        headers,
        req.method === "GET",
      );
      return true;
    }
    const file = staticPath(path);
    if (file === null) return send(res, 404, "text/plain", "not found\n");
    return send(res, 200, TYPES[extname(file)] ?? "application/octet-stream", readFileSync(file));
  };
  const server = createServer(handle);
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(opts.port ?? 0, "127.0.0.1", () => ok());
  });
  const address = server.address() as AddressInfo;
  port = address.port;
  return {
    url: `http://127.0.0.1:${port}/`,
    address,
    server,
    scenarios,
    trace: trace?.path ?? null,
    // server.close alone waits for every open connection: a page still reading a trace would hold it
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}

/** `vmlab ui`: starts the server, prints the URL (and the scenarios offered), opens a browser only with --open. */
export async function runUiCli(
  file: string | undefined,
  opts: { port?: string; open?: boolean; trace?: string },
  out: (s: string) => void,
): Promise<UiServer> {
  const port = opts.port === undefined ? 0 : Number(opts.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new InputError(`--port ${opts.port}: a port number 0 .. 65535`);
  const ui = await startUi({ file, port, trace: opts.trace }, (s) => out(`${s}\n`));
  const tour = ui.scenarios.filter((s) => s.group === "the tour").length;
  const at =
    opts.trace !== undefined ? "#trace" : file !== undefined ? `#${encodeURI(ui.scenarios[0].id)}` : "";
  out(
    `vmlab ui: ${ui.url}${at}\n` +
      (opts.trace !== undefined ? `  the trace view of ${opts.trace}, analysed in the page\n` : "") +
      `  ${file !== undefined ? `${file}, ` : ""}${tour} tour scenarios and ${ui.scenarios.length - tour - (file !== undefined ? 1 : 0)} examples; listening on 127.0.0.1 only; Ctrl-C stops it\n`,
  );
  if (opts.open) {
    const child = spawn("xdg-open", [`${ui.url}${at}`], { stdio: "ignore", detached: true });
    child.on("error", () => out(`vmlab ui: could not open a browser; open ${ui.url}\n`));
    child.unref();
  }
  return ui;
}
