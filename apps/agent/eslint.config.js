import { baseConfig, restrictEnvAccess } from "@drydock/eslint-config";

export default [
  ...baseConfig,
  ...restrictEnvAccess,
  // The workspace scripts are programs of their own, run by the user inside the session; this is their env.ts.
  { files: ["src/ide/scripts/env.ts"], rules: { "no-restricted-properties": "off" } },
];
