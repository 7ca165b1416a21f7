import { z } from "zod";

import {
  CreateUploadInput,
  CreateUploadOutput,
  GetWorkflowInput,
  ListWorkflowsInput,
  RegisterWorkflowsInput,
  RegisterWorkflowsOutput,
  WorkflowSummarySchema,
  WorkflowVersionSchema,
} from "../workflows.js";
import { mutation, query } from "./access.js";

export const workflowProcedures = {
  createUpload: mutation("user", { input: CreateUploadInput, output: CreateUploadOutput }),
  register: mutation("user", { input: RegisterWorkflowsInput, output: RegisterWorkflowsOutput }),
  list: query("user", { input: ListWorkflowsInput, output: z.array(WorkflowSummarySchema) }),
  get: query("user", { input: GetWorkflowInput, output: WorkflowVersionSchema }),
};
