import { z } from "zod";

import {
  ApiKeyIdInput,
  ApiKeySchema,
  CreateApiKeyInput,
  CreatedApiKeySchema,
  ProjectApiKeyInput,
  ProjectInput,
} from "../identity.js";
import { mutation, query } from "./access.js";

/** My API keys (for scripts and CI), and a project admin's view of the keys limited to the project. */
export const apiKeyProcedures = {
  /** The key's secret is in the answer, this once; only its hash is kept. */
  create: mutation("signedIn", { input: CreateApiKeyInput, output: CreatedApiKeySchema }),
  list: query("signedIn", { output: z.array(ApiKeySchema) }),
  revoke: mutation("signedIn", { input: ApiKeyIdInput, output: ApiKeySchema }),
  /** Every key limited to the project, whoever made it. */
  listProject: query("admin@project", { input: ProjectInput, output: z.array(ApiKeySchema) }),
  revokeProject: mutation("admin@project", { input: ProjectApiKeyInput, output: ApiKeySchema }),
};
