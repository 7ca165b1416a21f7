import { z } from "zod";

/** Project slugs scope every workflow and execution. */
export const ProjectId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "a project is lower-case letters, digits and dashes");
export { DEFAULT_PROJECT } from "./constants.js";

/** Names of tasks, workflows and inputs: identifiers an author can type on a command line. */
export const EntityName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/,
    "a name starts with a letter or _ and holds letters, digits, _ . -",
  );

export const Sha256 = z.string().regex(/^[a-f0-9]{64}$/, "a lower-case hex sha256");
export const Timestamp = z.string().datetime({ offset: true });

/** Any JSON value: what flows between tasks. */
export type JsonValue =
  string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([
    z.string(),
    z.number(),
    z.boolean(),
    z.null(),
    z.array(JsonValueSchema),
    z.record(z.string(), JsonValueSchema),
  ]),
);

/** A JSON Schema document (draft 2020-12), as produced by zod's toJSONSchema. */
export const JsonSchemaSchema = z.record(z.string(), z.unknown());
export type JsonSchema = z.infer<typeof JsonSchemaSchema>;

/** An error as a task or the platform reported it. */
export const ErrorInfoSchema = z.object({
  message: z.string(),
  name: z.string().optional(),
  stack: z.string().optional(),
  /** Stable machine code where the platform raised it (`AGENT_LOST`, `TIMED_OUT`, …). */
  code: z.string().optional(),
});
export type ErrorInfo = z.infer<typeof ErrorInfoSchema>;

export const ProjectSchema = z.object({ id: ProjectId, name: z.string(), createdAt: Timestamp });
export type Project = z.infer<typeof ProjectSchema>;
