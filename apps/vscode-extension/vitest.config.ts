import { defineConfig } from "vitest/config";

// The pure modules and the agent client only: nothing under test imports `vscode`.
export default defineConfig({ test: { include: ["src/**/*.test.ts"], environment: "node" } });
