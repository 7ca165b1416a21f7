import { baseConfig, restrictEnvAccess } from "@drydock/eslint-config";

export default [
  ...baseConfig,
  ...restrictEnvAccess,
  // The workspace scripts are programs of their own, run by the user inside the session; this is their env.ts.
  { files: ["src/ide/scripts/env.ts"], rules: { "no-restricted-properties": "off" } },
  // What main.ts reads before env.ts (and zod) load: the rest of the agent's env.ts.
  { files: ["src/env-early.ts"], rules: { "no-restricted-properties": "off" } },
];
