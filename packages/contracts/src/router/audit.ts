import { AuditPageSchema, ListAllAuditInput, ListAuditInput } from "../identity.js";
import { query } from "./access.js";

/** The append-only audit log: read, never written, through the API. */
export const auditProcedures = {
  /** One project's entries, newest first, for its admins. */
  list: query("admin@project", { input: ListAuditInput, output: AuditPageSchema }),
  /** Every entry, sign-ins and keys included, for instance admins. */
  listAll: query("instanceAdmin", { input: ListAllAuditInput, output: AuditPageSchema }),
};
