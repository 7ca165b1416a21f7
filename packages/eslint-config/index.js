// Shared flat config. `baseConfig` for every package and app: eslint + typescript-eslint's type-checked
// recommendations, no import cycles. `restrictEnvAccess` keeps process.env inside env.ts.
// `packageBoundaries` is for packages/*: a package never imports an app (apps may import packages).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import js from "@eslint/js";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import importX from "eslint-plugin-import-x";
import tseslint from "typescript-eslint";

export const baseConfig = tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".turbo/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      // Type information for every file a package's tsconfig includes; config files outside it use a default project.
      parserOptions: {
        projectService: { allowDefaultProject: ["*.js", "*.mjs"] },
        tsconfigRootDir: process.cwd(),
      },
    },
    plugins: { "import-x": importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      "import-x/resolver-next": [createTypeScriptImportResolver()],
    },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "@typescript-eslint/consistent-type-imports": [
        "error",
        { fixStyle: "separate-type-imports" },
      ],
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      "no-restricted-syntax": [
        "error",
        { selector: "ThrowStatement > Literal", message: "Throw an Error, never a string." },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["**/*.test.ts", "**/*.test.tsx", "**/bench/**", "**/test/**", "**/__tests__/**"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      // Test doubles implement async interfaces with plain values; `async` says so more plainly than Promise.resolve.
      "@typescript-eslint/require-await": "off",
    },
  },
);

/** Forbids process.env outside src/env.ts (config is read once, validated, passed down). */
export const restrictEnvAccess = tseslint.config({
  files: ["src/**/*.ts"],
  ignores: ["src/env.ts", "**/*.test.ts", "src/test/**"],
  rules: {
    "no-restricted-properties": [
      "error",
      {
        object: "process",
        property: "env",
        message: "Read configuration in src/env.ts and pass it down.",
      },
    ],
  },
});

/** The workspace's apps, by package name: read from apps/*\/package.json so a new app is covered at once. */
export function appPackageNames(appsDir = join(import.meta.dirname, "..", "..", "apps")) {
  return readdirSync(appsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      try {
        return [JSON.parse(readFileSync(join(appsDir, entry.name, "package.json"), "utf8")).name];
      } catch {
        return [];
      }
    });
}

/** For packages/*: importing an app (by name or by a relative path into apps/) is an error. */
export const packageBoundaries = tseslint.config({
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          {
            group: appPackageNames().flatMap((name) => [name, `${name}/*`]),
            message:
              "A package must not depend on an app (apps depend on packages, never the reverse).",
          },
          {
            group: ["**/apps/*", "**/apps/**"],
            message: "A package must not reach into an app's files.",
          },
        ],
      },
    ],
  },
});
