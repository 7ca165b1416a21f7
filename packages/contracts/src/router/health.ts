import { z } from "zod";

import { query } from "./access.js";

/** Where the server runs task attempts: `local` processes, or `docker` containers of each task's image. */
export const ExecutorKindSchema = z.enum(["local", "docker"]);
export type ExecutorKind = z.infer<typeof ExecutorKindSchema>;
export const HealthSchema = z.object({ ok: z.literal(true), executor: ExecutorKindSchema });

/** Unauthenticated: the server is up, and where it runs tasks (the CLI builds task images for `docker`). */
export const healthProcedure = query("public", { output: HealthSchema });
