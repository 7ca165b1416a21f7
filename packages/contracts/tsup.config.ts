import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    router: "src/router/index.ts",
    dag: "src/dag.ts",
    ide: "src/ide.ts",
    constants: "src/constants.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  sourcemap: true,
  target: "node20",
});
