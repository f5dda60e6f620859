/**
 * bin/vmlab.cjs's code cache (issue #20, start-up): a cache is given to V8
 * only with the bundle file it was made from (V8 checks no more than the
 * source's length), and one made from another file is replaced after a
 * successful run. And the bundle itself: never run once a source it was
 * made from has changed or gone.
 */
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, vmlab } from "./testkit.ts";

const BUNDLE = join(ROOT, ".build", "cli", "vmlab.cjs");

/** The identity a cache of the current bundle starts with (inode, size, mtime as three doubles). */
function bundleIdentity(): Buffer {
  const st = statSync(BUNDLE);
  return Buffer.from(new Float64Array([st.ino, st.size, st.mtimeMs]).buffer);
}

describe.skipIf(process.env.VMLAB_TSX === "1")("the bundle's code cache", () => {
  it("gives V8 a cache only with the bundle file it came from, and replaces one from another file", () => {
    const first = vmlab(["tour", "--list"]);
    expect(first.code).toBe(0);
    const cache = `${BUNDLE}.tour.v8cache`;
    const made = readFileSync(cache);
    expect(made.subarray(0, 24).equals(bundleIdentity())).toBe(true);
    // the same bytecode said to come from another file (V8 would take it: only its header differs)
    const other = Buffer.from(made);
    other.writeDoubleLE(other.readDoubleLE(0) + 1, 0);
    writeFileSync(cache, other);
    expect(vmlab(["tour", "--list"])).toEqual(first);
    expect(readFileSync(cache).subarray(0, 24).equals(bundleIdentity())).toBe(true);
    // bytes that are no cache at all, under the right header: V8 rejects them, the run is the same
    writeFileSync(cache, Buffer.concat([bundleIdentity(), Buffer.alloc(4096, 0xa5)]));
    expect(vmlab(["tour", "--list"])).toEqual(first);
  });
});

describe.skipIf(process.env.VMLAB_TSX === "1")("the bundle's staleness check", () => {
  it("rebuilds when a source is edited in place or removed, and not otherwise", () => {
    // a checkout of three sources beside copies of bin/vmlab.cjs, bin/vmlab.mjs and the plugin build() loads (esbuild from this one's node_modules)
    const root = mkdtempSync(join(tmpdir(), "vmlab-stale-"));
    try {
      mkdirSync(join(root, "bin"));
      mkdirSync(join(root, "src", "cli"), { recursive: true });
      for (const f of ["vmlab.cjs", "vmlab.mjs", "inlineConsts.cjs"])
        copyFileSync(join(ROOT, "bin", f), join(root, "bin", f));
      symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
      writeFileSync(join(root, "package.json"), "{}");
      const word = join(root, "src", "cli", "word.ts");
      writeFileSync(word, 'export const word: string = "one";\n');
      writeFileSync(
        join(root, "src", "cli", "main.ts"),
        'import { word } from "./word.ts";\nexport async function main(): Promise<number> {\n  console.log(word);\n  return 0;\n}\n',
      );
      writeFileSync(join(root, "src", "cli", "sweepTask.ts"), "export const task = 1;\n");
      // the launcher's third bundle (the reading job started before the CLI's: speculate.ts)
      mkdirSync(join(root, "src", "workloads", "trace"), { recursive: true });
      writeFileSync(
        join(root, "src", "workloads", "trace", "speculate.ts"),
        "export function speculate(): boolean {\n  return false;\n}\n",
      );
      const bundle = join(root, ".build", "cli", "vmlab.cjs");
      const run = (bin = "vmlab.cjs") => {
        const r = spawnSync(process.execPath, [join(root, "bin", bin), "x"], {
          cwd: root,
          encoding: "utf8",
          timeout: 30_000,
        });
        return `${r.status}:${r.stdout.trim()}`;
      };
      expect(run()).toBe("0:one");
      const made = statSync(bundle).mtimeMs;
      expect(run()).toBe("0:one");
      expect(statSync(bundle).mtimeMs).toBe(made); // fresh: not made again
      expect(run("vmlab.mjs")).toBe("0:one"); // the ES module name, which loads the same launcher
      expect(statSync(bundle).mtimeMs).toBe(made);
      // a bundle not made as this launcher makes them (no function around it; dated after every
      // source): made again, not run, nor left to tsx
      const wrapped = readFileSync(bundle, "latin1");
      const plain = wrapped.slice(wrapped.indexOf("{") + 1, wrapped.lastIndexOf("})"));
      writeFileSync(bundle, plain, "latin1");
      utimesSync(bundle, made / 1000, made / 1000);
      expect(run()).toBe("0:one");
      expect(readFileSync(bundle, "latin1")).toBe(wrapped);
      // edited in place (the same inode, the directory's time unchanged), saved after the bundle was made
      writeFileSync(word, 'export const word: string = "two";\n');
      utimesSync(word, made / 1000 + 2, made / 1000 + 2);
      expect(run()).toBe("0:two");
      // a source gone: the bundle is not run (the sources through tsx say what is missing)
      rmSync(word);
      expect(run()).not.toMatch(/^0:/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe.skipIf(process.env.VMLAB_TSX === "1")("what `vmlab trace FILE` loads on the main thread", () => {
  it("lists only files among the bundle's inputs: a run after a build builds nothing", () => {
    expect(vmlab(["--version"]).code).toBe(0);
    const made = statSync(BUNDLE).mtimeMs;
    const inputs = JSON.parse(readFileSync(join(ROOT, ".build", "cli", "inputs.json"), "utf8")) as string[];
    for (const f of inputs) expect(statSync(join(ROOT, f)).isFile(), f).toBe(true);
    expect(vmlab(["--version"]).code).toBe(0);
    expect(statSync(BUNDLE).mtimeMs).toBe(made);
  });

  it("a zstd trace named .u64.zst: no node:child_process, node:zlib nor zstd's binding (the reading thread's)", () => {
    const dir = mkdtempSync(join(tmpdir(), "vmlab-loads-"));
    try {
      const trace = join(dir, "t.u64.zst");
      expect(vmlab(["gen", "hotcold", "--pages", "64", "--refs", "100000", "--out", trace]).code).toBe(0);
      expect([...readFileSync(trace).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd]); // zstd's magic
      // a preload that says, at exit, what this thread loaded (Node's builtins; the packages' files)
      const preload = join(dir, "loads.cjs");
      writeFileSync(
        preload,
        'process.on("exit", () => process.stderr.write("LOADS " + JSON.stringify([...process.moduleLoadList, ...Object.keys(require.cache)]) + "\\n"));\n',
      );
      const loads = (file: string) => {
        const r = spawnSync(
          process.execPath,
          ["-r", preload, join(ROOT, "bin", "vmlab.cjs"), "trace", file, "--json"],
          {
            cwd: ROOT,
            encoding: "utf8",
            timeout: 60_000,
          },
        );
        expect(r.status).toBe(0);
        expect(JSON.parse(r.stdout).accesses).toBe(100000);
        return JSON.parse(/^LOADS (.*)$/m.exec(r.stderr)![1]) as string[];
      };
      const main = loads(trace);
      expect(main.filter((m) => /child_process|zlib|zstd-napi/.test(m))).toEqual([]);
      // the same records under a name that says no format: the head is decompressed here to guess it
      const unnamed = join(dir, "t.zst");
      copyFileSync(trace, unnamed);
      expect(loads(unnamed).some((m) => m.includes("zstd-napi"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
