import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/router.ts", "src/dag.ts", "src/ide.ts"],
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
});
