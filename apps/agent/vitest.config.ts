import { defineConfig } from "vitest/config";

// The tests start real servers and agent processes; 20 s leaves room on a loaded machine.
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    globalSetup: ["./vitest.setup.ts"],
  },
});
