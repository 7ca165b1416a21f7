import { defineConfig } from "vitest/config";

// The examples live in folders of their own (hello/, pipeline/, …), with their test at the root.
export default defineConfig({
  test: { include: ["**/*.test.ts"], exclude: ["**/node_modules/**"] },
});
