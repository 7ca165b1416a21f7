import { z } from "zod";

import { query } from "./access.js";

/**
 * Where the server runs task attempts: `local` processes, `docker` containers of each task's image on one
 * engine, or `swarm` services of it on a Docker Swarm cluster.
 */
export const ExecutorKindSchema = z.enum(["local", "docker", "swarm"]);
export type ExecutorKind = z.infer<typeof ExecutorKindSchema>;
/**
 * How attempts are kept apart: each as its own OS user (`per-attempt-user`), each in its own container
 * (`container`), or not at all (`none`: a server that is not root runs every attempt as itself — one person only).
 */
export const IsolationSchema = z.enum(["per-attempt-user", "container", "none"]);
export type Isolation = z.infer<typeof IsolationSchema>;
export const HealthSchema = z.object({
  ok: z.literal(true),
  executor: ExecutorKindSchema,
  isolation: IsolationSchema,
  /**
   * The image registry the cluster's nodes pull task images from (`host:port`): `drydock register` names the
   * images it builds there and pushes them. Absent where tasks run on the engine that builds their images.
   */
  registry: z.string().optional(),
});

/**
 * Unauthenticated: the server is up, where it runs tasks (the CLI builds task images for `docker` and `swarm`,
 * and pushes them to `registry`), and how they are kept apart.
 */
export const healthProcedure = query("public", { output: HealthSchema });
