/**
 * The agent's control socket for one session: a Unix socket in the attempt's private directory (mode 0600)
 * serving the IDE contract (`@drydock/contracts/ide`) over tRPC. Its clients are the session's own
 * processes — the Drydock extension and the generated resume script — which find the socket and the
 * session's control token in their environment (DRYDOCK_CONTROL_SOCKET, DRYDOCK_CONTROL_TOKEN).
 */
import { timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import type { Server } from "node:http";
import { chmod, rm } from "node:fs/promises";

import { createIdeRouter } from "@drydock/contracts/ide";
import type { IdeHandlers } from "@drydock/contracts/ide";
import { createHTTPHandler } from "@trpc/server/adapters/standalone";

export interface ControlServer {
  socketPath: string;
  close(): Promise<void>;
}

/** Listens on `socketPath` (mode 0600) until closed; every call must carry `token` as a bearer token. */
export async function startControlServer(
  socketPath: string,
  token: string,
  handlers: IdeHandlers,
): Promise<ControlServer> {
  await rm(socketPath, { force: true });
  const expected = Buffer.from(`Bearer ${token}`);
  const handler = createHTTPHandler({
    router: createIdeRouter(handlers),
    createContext: ({ req }) => {
      const given = Buffer.from(req.headers.authorization ?? "");
      return { authorized: given.length === expected.length && timingSafeEqual(given, expected) };
    },
  });
  const server: Server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path: socketPath, readableAll: false, writableAll: false }, () => resolve());
  });
  // A socket is created under the process's umask; its directory is private already, this says so twice.
  await chmod(socketPath, 0o600);
  return {
    socketPath,
    close: async () => {
      // A call being answered (the resume that ends the session) gets its answer; idle connections go now.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), 1_000);
      await closed;
      clearTimeout(timer);
      await rm(socketPath, { force: true });
    },
  };
}
