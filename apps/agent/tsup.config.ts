import { defineConfig } from "tsup";

export default defineConfig({
  entry: ["src/index.ts", "src/main.ts", "src/prepare.ts", "src/process-group.ts"],
  format: ["esm"],
  dts: { entry: ["src/index.ts", "src/process-group.ts"] },
  clean: true,
  sourcemap: true,
  target: "node20",
});
