#!/usr/bin/env node
// Runs a command and says how its CPU time divides between its threads (issue #20: which thread
// bounds a whole `vmlab trace` run, the main thread or the reading thread). Every 20 ms it reads
// /proc/PID/task/*/stat; at the end it writes one line to standard error:
//   threads: main M reading R other O self S
// (CPU seconds, user + system, as last sampled: up to 20 ms short; `reading` the busiest thread
// but the main one, `other` the rest: V8's and libuv's helpers; `self` this script's own CPU,
// which a caller timing the whole subtracts). Standard output and the exit code are the command's.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const [cmd, ...args] = process.argv.slice(2);
const child = spawn(cmd, args, { stdio: "inherit" });
/** CPU seconds by thread id, as last read */
const cpu = new Map();
const sample = () => {
  let tids;
  try {
    tids = readdirSync(`/proc/${child.pid}/task`);
  } catch {
    return; // gone
  }
  for (const t of tids) {
    try {
      const s = readFileSync(`/proc/${child.pid}/task/${t}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      cpu.set(Number(t), (Number(f[11]) + Number(f[12])) / 100); // utime + stime, in 1/100 s
    } catch {
      // the thread ended
    }
  }
};
const timer = setInterval(sample, 20);
child.on("exit", (code, signal) => {
  clearInterval(timer);
  const main = cpu.get(child.pid) ?? 0;
  const others = [...cpu.entries()].filter(([t]) => t !== child.pid).map(([, c]) => c);
  const reading = Math.max(0, ...others);
  const other = others.reduce((a, b) => a + b, 0) - reading;
  const u = process.cpuUsage();
  const self = (u.user + u.system) / 1e6;
  process.stderr.write(
    `threads: main ${main.toFixed(2)} reading ${reading.toFixed(2)} other ${other.toFixed(2)} self ${self.toFixed(2)}\n`,
  );
  process.exitCode = code ?? (signal ? 1 : 0);
});
