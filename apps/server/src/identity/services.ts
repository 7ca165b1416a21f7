/** The people side of the control plane, built once and shared by the router, the console and the relays. */
import type { Db } from "../db/database.js";
import type { OidcConfig } from "../env.js";
import type { Logger } from "../logger.js";
import { ProjectAccessChecker } from "./access-checker.js";
import { ApiKeys } from "./api-keys.js";
import { AuditLog } from "./audit-log.js";
import { ConnectionRegistry } from "./connections.js";
import { ProjectService } from "./projects.js";
import { ShareService } from "./shares.js";
import { SignInCodes } from "./sign-in-codes.js";
import { SignInService } from "./sign-in.js";
import { UserStore } from "./users.js";
import { WebSessions } from "./web-sessions.js";

export type IdentityServices = ReturnType<typeof createIdentityServices>;

export function createIdentityServices(deps: {
  db: Db;
  log: Logger;
  oidc: OidcConfig | undefined;
}) {
  const { db, log, oidc } = deps;
  const users = new UserStore(db);
  const apiKeys = new ApiKeys(db);
  const audit = new AuditLog(db);
  const webSessions = new WebSessions(db);
  const connections = new ConnectionRegistry(db);
  return {
    users,
    apiKeys,
    audit,
    webSessions,
    connections,
    codes: new SignInCodes(db),
    projects: new ProjectService({ db, users }),
    shares: new ShareService({ db, users, connections, log: log.child({ component: "shares" }) }),
    signIn: new SignInService({ db, users, webSessions, apiKeys, audit, oidc }),
    checker: new ProjectAccessChecker(db),
  };
}
