import { defineConfig } from "tsup";

export default defineConfig({
  entry: {
    index: "src/index.ts",
    main: "src/main.ts",
    // The test OpenID provider, for the e2e suite (`@drydock/server/testing/oidc-provider`).
    "testing/oidc-provider": "src/__tests__/oidc-provider.ts",
  },
  format: ["esm"],
  dts: {
    entry: { index: "src/index.ts", "testing/oidc-provider": "src/__tests__/oidc-provider.ts" },
  },
  // A devDependency, so tsup would bundle it: the fixture loads the installed one instead.
  external: ["oidc-provider"],
  clean: true,
  sourcemap: true,
  target: "node20",
});
