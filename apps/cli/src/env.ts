import { homedir } from "node:os";
import { join } from "node:path";

import { z } from "zod";

/** What the CLI takes from its environment, read once. */
const CliEnvSchema = z.object({
  endpoint: z.string().url().optional(),
  token: z.string().optional(),
  project: z.string().optional(),
  /** Where `drydock up` saves the endpoint and token it serves with. */
  home: z.string(),
  isTTY: z.boolean(),
  /** The base of task images whose ImageSpec names no baseImage (DRYDOCK_TASK_BASE_IMAGE); drydock/agent:latest when absent. */
  taskBaseImage: z.string().min(1).optional(),
});
export type CliEnv = z.infer<typeof CliEnvSchema>;

export function readCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  return CliEnvSchema.parse({
    endpoint: env.DRYDOCK_ENDPOINT || undefined,
    token: env.DRYDOCK_TOKEN || undefined,
    project: env.DRYDOCK_PROJECT || undefined,
    home: env.DRYDOCK_HOME || join(homedir(), ".drydock"),
    isTTY: Boolean(process.stderr.isTTY) && env.CI !== "true",
    taskBaseImage: env.DRYDOCK_TASK_BASE_IMAGE || undefined,
  });
}

/** The process environment, for the one command (`drydock up`) that hands it to the server's config reader. */
export const processEnv = (): NodeJS.ProcessEnv => process.env;
