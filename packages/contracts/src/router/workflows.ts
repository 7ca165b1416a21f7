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
  createUpload: mutation("editor@project", {
    input: CreateUploadInput,
    output: CreateUploadOutput,
  }),
  register: mutation("editor@project", {
    input: RegisterWorkflowsInput,
    output: RegisterWorkflowsOutput,
  }),
  list: query("viewer@project", {
    input: ListWorkflowsInput,
    output: z.array(WorkflowSummarySchema),
  }),
  get: query("viewer@project", { input: GetWorkflowInput, output: WorkflowVersionSchema }),
};
