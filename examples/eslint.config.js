import { baseConfig, restrictEnvAccess } from "@drydock/eslint-config";

export default [
  ...baseConfig,
  ...restrictEnvAccess,
  // Task code as its authors write it: the SDK takes sync or async task functions, and `async` is the usual form.
  { files: ["**/workflow.ts"], rules: { "@typescript-eslint/require-await": "off" } },
];
