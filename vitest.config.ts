import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "scripts/**/*.test.ts", "examples/**/*.test.ts", "test/**/*.test.ts"],
    reporters: ["./test/summaryReporter.ts"],
    testTimeout: 60_000,
    pool: "forks",
  },
});
