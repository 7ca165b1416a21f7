import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // These tests start real servers, PostgreSQL and agent processes: one file at a time on 2 cores.
    fileParallelism: false,
  },
});
