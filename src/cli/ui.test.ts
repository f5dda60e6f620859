import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import { basename, join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../base/errors.ts";
import { PACKAGE_ROOT, scenarioListing, startUi, staticPath, type UiServer } from "./ui.ts";

let ui: UiServer;
let file: string;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), "vmlab-ui-"));
  file = join(dir, "mine.vm");
  writeFileSync(file, "spawn A\nA: x = mmap 4K\n");
  ui = await startUi({ file });
}, 120_000);

afterAll(async () => {
  await ui?.close();
});

/** A GET with the path sent exactly as written (no URL normalisation), and the Host header given. */
function get(
  path: string,
  host = `127.0.0.1:${ui.address.port}`,
  method = "GET",
): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    const req = request(
      { host: "127.0.0.1", port: ui.address.port, path, method, headers: { Host: host } },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => ok({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", fail);
    req.end();
  });
}

describe("vmlab ui's server", () => {
  it("listens on the IPv4 loopback address only", async () => {
    expect(ui.address.address).toBe("127.0.0.1");
    expect(ui.url).toBe(`http://127.0.0.1:${ui.address.port}/`);
    // the same port on any other address of this machine refuses the connection
    const others = Object.values(networkInterfaces())
      .flat()
      .filter((a) => a !== undefined && !a.internal && a.family === "IPv4")
      .map((a) => a!.address);
    for (const host of others) {
      const refused = await new Promise<boolean>((ok) => {
        const s = connect({ host, port: ui.address.port });
        s.on("connect", () => {
          s.destroy();
          ok(false);
        });
        s.on("error", () => ok(true));
      });
      expect(refused, host).toBe(true);
    }
  });

  it("serves the app and the text of every scenario it lists, and nothing it does not list", async () => {
    const index = await get("/");
    expect(index.status).toBe(200);
    expect(index.body).toContain('<div id="app">');
    const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(index.body)![1];
    expect((await get(`/${script}`)).status).toBe(200);
    const list = JSON.parse((await get("/api/scenarios")).body) as {
      initial: string;
      scenarios: { id: string }[];
    };
    expect(list.initial).toBe("@mine.vm");
    expect(list.scenarios.map((s) => s.id)).toContain("tour/01-first-touch.vm");
    for (const s of ui.scenarios.slice(0, 5)) {
      const r = await get(`/api/scenario/${encodeURIComponent(s.id)}`);
      expect(r.status).toBe(200);
      expect(r.body).toBe(readFileSync(s.path, "utf8"));
    }
    // a .vm file next to the listed one, but not listed itself
    writeFileSync(join(file, "..", "other.vm"), "spawn B\n");
    expect((await get("/api/scenario/other.vm")).status).toBe(404);
    expect((await get(`/api/scenario/${encodeURIComponent(join(file, "..", "other.vm"))}`)).status).toBe(404);
  });

  it("refuses ../ and absolute paths, however encoded", async () => {
    const pkg = readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8");
    for (const path of [
      "/../package.json",
      "/../../package.json",
      "/assets/../../package.json",
      "/%2e%2e/package.json",
      "/..%2fpackage.json",
      "/%2e%2e%2f%2e%2e%2fpackage.json",
      "/..%5cpackage.json",
      "//etc/passwd",
      "/%2Fetc%2Fpasswd",
      `/${encodeURIComponent(join(PACKAGE_ROOT, "package.json"))}`,
      "/api/scenario/..%2F..%2Fpackage.json",
      "/api/scenario/%2Fetc%2Fpasswd",
      `/api/scenario/${encodeURIComponent(join(PACKAGE_ROOT, "examples", "tour", "01-first-touch.vm"))}`,
      "/index.html%00.js",
      "/%ff",
    ]) {
      const r = await get(path);
      expect([400, 403, 404], path).toContain(r.status);
      expect(r.body, path).not.toContain(pkg.slice(0, 40));
      expect(r.body, path).not.toContain("root:");
    }
  });

  it("serves a trace only from a listed scenario's own directory", async () => {
    const tour = encodeURIComponent("tour/09-real-program.vm");
    const gz = await new Promise<Buffer>((ok, fail) => {
      request(
        { host: "127.0.0.1", port: ui.address.port, path: `/api/trace/${tour}/gzip-start.u64.gz` },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (c: Buffer) => parts.push(c));
          res.on("end", () => ok(Buffer.concat(parts)));
        },
      )
        .on("error", fail)
        .end();
    });
    expect(gz.equals(readFileSync(join(PACKAGE_ROOT, "examples", "tour", "gzip-start.u64.gz")))).toBe(true);
    const dir = join(file, "..");
    symlinkSync("/etc/passwd", join(dir, "passwd"));
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "t.u64"), "12345678");
    for (const path of [
      `/api/trace/${tour}/..%2F..%2Fpackage.json`,
      `/api/trace/${tour}/..`,
      `/api/trace/${tour}/%2Fetc%2Fpasswd`,
      `/api/trace/${tour}/gzip-start.u64.gz/x`,
      "/api/trace/tour%2Fnot-listed.vm/gzip-start.u64.gz",
      "/api/trace/%40mine.vm/passwd",
      "/api/trace/%40mine.vm/sub",
      "/api/trace/%40mine.vm/sub%2Ft.u64",
    ]) {
      const r = await get(path);
      expect(r.status, path).toBe(404);
      expect(r.body, path).not.toContain("root:");
    }
    expect((await get("/api/trace/%40mine.vm/other.vm")).status).toBe(200);
  });

  it("serves the --trace file whole (a zstd one decompressed), and nothing without --trace", async () => {
    expect((await get("/api/trace-info")).status).toBe(404);
    expect((await get("/api/trace-file")).status).toBe(404);
    const gz = join(PACKAGE_ROOT, "examples", "tour", "gzip-start.u64.gz");
    const raw = gunzipSync(readFileSync(gz));
    const dir = mkdtempSync(join(tmpdir(), "vmlab-ui-trace-"));
    writeFileSync(join(dir, "t.u64"), raw);
    expect(spawnSync("zstd", ["-q", join(dir, "t.u64"), "-o", join(dir, "t.u64.zst")]).status).toBe(0);
    for (const [path, compression, body] of [
      [gz, "gzip", readFileSync(gz)],
      [join(dir, "t.u64.zst"), "zstd", raw],
    ] as const) {
      const t = await startUi({ trace: path, build: false });
      try {
        const info = await (await fetch(`${t.url}api/trace-info`)).json();
        expect(info).toEqual({ name: basename(path), size: statSync(path).size, compression });
        const got = Buffer.from(await (await fetch(`${t.url}api/trace-file`)).arrayBuffer());
        expect(got.equals(body)).toBe(true);
      } finally {
        await t.close();
      }
    }
    const bin = join(PACKAGE_ROOT, "bin", "vmlab.mjs");
    const bad = spawnSync(process.execPath, [bin, "ui", "--trace", join(dir, "none.u64")], {
      encoding: "utf8",
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("no such trace file");
  });

  it("answers only requests for its loopback name, and only GET", async () => {
    expect((await get("/", "evil.example:80")).status).toBe(403);
    expect((await get("/api/scenarios", `attacker.test:${ui.address.port}`)).status).toBe(403);
    expect((await get("/", `localhost:${ui.address.port}`)).status).toBe(200);
    expect((await get("/api/scenarios", undefined, "POST")).status).toBe(405);
  });

  it("follows no symbolic link out of its directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "vmlab-ui-root-"));
    const root = join(dir, "web");
    mkdirSync(root);
    writeFileSync(join(root, "a.js"), "ok");
    writeFileSync(join(dir, "secret"), "no");
    symlinkSync(join(dir, "secret"), join(root, "link.js"));
    expect(staticPath("/a.js", root)).toBe(join(root, "a.js"));
    expect(staticPath("/link.js", root)).toBeNull();
    expect(staticPath("/../secret", root)).toBeNull();
    expect(staticPath("/nothing.js", root)).toBeNull();
  });

  it("lists the tour and the examples, and refuses a file that is not there", () => {
    const list = scenarioListing();
    const tour = list.filter((s) => s.group === "the tour");
    expect(tour.length).toBeGreaterThan(0);
    expect(tour.every((s) => s.id.startsWith("tour/") && s.title.includes(":"))).toBe(true);
    expect(list.some((s) => s.group.startsWith("examples/"))).toBe(true);
    expect(() => scenarioListing(join(tmpdir(), "no-such-file.vm"))).toThrow(InputError);
  });

  it("is in vmlab --help, and vmlab ui --port rejects a bad port", () => {
    const bin = join(PACKAGE_ROOT, "bin", "vmlab.mjs");
    const help = spawnSync(process.execPath, [bin, "--help"], { encoding: "utf8" });
    expect(help.stdout).toMatch(/^\s+ui \[options\] \[file\]/m);
    const bad = spawnSync(process.execPath, [bin, "ui", "--port", "70000"], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--port 70000");
  });
});
