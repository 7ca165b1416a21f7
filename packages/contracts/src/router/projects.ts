import { z } from "zod";

import { ProjectSchema } from "../common.js";
import {
  CreateProjectInput,
  MemberSchema,
  ProjectInput,
  ProjectWithRoleSchema,
  SetMemberInput,
} from "../identity.js";
import { mutation, query } from "./access.js";

export const projectProcedures = {
  /** The projects I may see (all of them for an instance admin), with my role in each. */
  list: query("signedIn", { output: z.array(ProjectWithRoleSchema) }),
  create: mutation("instanceAdmin", { input: CreateProjectInput, output: ProjectSchema }),
  members: query("admin@project", { input: ProjectInput, output: z.array(MemberSchema) }),
  /** Adds, changes or removes (`role: null`) one member; the last admin cannot be removed. */
  setMember: mutation("admin@project", { input: SetMemberInput, output: z.array(MemberSchema) }),
};
