import { z } from "zod";

import { ProjectSchema } from "../common.js";
import { query } from "./access.js";

export const projectProcedures = {
  list: query("user", { output: z.array(ProjectSchema) }),
};
