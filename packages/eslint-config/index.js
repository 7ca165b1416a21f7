// Shared flat config. `baseConfig` for every package; `restrictEnvAccess` keeps process.env inside env.ts.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export const baseConfig = tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".turbo/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "separate-type-imports" }],
      "@typescript-eslint/no-non-null-assertion": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-syntax": [
        "error",
        { selector: "ThrowStatement > Literal", message: "Throw an Error, never a string." },
      ],
    },
  },
  {
    files: ["**/*.test.ts", "**/bench/**", "**/test/**"],
    rules: { "@typescript-eslint/no-non-null-assertion": "off" },
  },
);

/** Forbids process.env outside src/env.ts (config is read once, validated, passed down). */
export const restrictEnvAccess = tseslint.config({
  files: ["src/**/*.ts"],
  ignores: ["src/env.ts", "**/*.test.ts", "src/test/**"],
  rules: {
    "no-restricted-properties": [
      "error",
      { object: "process", property: "env", message: "Read configuration in src/env.ts and pass it down." },
    ],
  },
});
