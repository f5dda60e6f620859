// Loaded into every child of scripts/fuzz.ts (node --import): reports the
// child's peak resident memory on its last line of stderr, for the harness.
import { writeSync } from "node:fs";

const report = () => {
  try {
    writeSync(2, `\n@@fuzz-maxrss-kb ${process.resourceUsage().maxRSS}\n`);
  } catch {
    // stderr is closed: no figure
  }
};
process.on("exit", report);
// an uncaught exception ends the process without "exit": report before Node prints it
process.on("uncaughtExceptionMonitor", report);
