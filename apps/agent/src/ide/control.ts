/**
 * The agent's control socket for one session: a Unix socket in the attempt's private directory that the
 * session's own processes use — the generated resume script (`POST /resume`), and the Drydock extension
 * (`POST /keep-alive`, `GET /status`). Only processes of this user on this machine can reach it.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { rm } from "node:fs/promises";

export interface ControlHandlers {
  /** A resume was asked for; false when the session is already ending (the answer is then 409). */
  resume(): boolean;
  keepAlive(): void;
  status(): Record<string, unknown>;
}

export interface ControlServer {
  socketPath: string;
  close(): Promise<void>;
}

/** Listens on `socketPath` (mode 0600) until closed. */
export async function startControlServer(socketPath: string, handlers: ControlHandlers): Promise<ControlServer> {
  await rm(socketPath, { force: true });
  const server: Server = createServer((req, res) => route(handlers, req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ path: socketPath, readableAll: false, writableAll: false }, () => resolve());
  });
  return {
    socketPath,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(socketPath, { force: true });
    },
  };
}

function route(handlers: ControlHandlers, req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": typeof body === "string" ? "text/plain; charset=utf-8" : "application/json" });
    res.end(typeof body === "string" ? `${body}\n` : JSON.stringify(body));
  };
  const key = `${req.method ?? ""} ${new URL(req.url ?? "/", "http://control").pathname}`;
  switch (key) {
    case "POST /resume":
      if (handlers.resume()) send(202, "resuming: code-server stops now and the task runs with the edited sources");
      else send(409, "the session is already ending");
      return;
    case "POST /keep-alive":
      handlers.keepAlive();
      send(200, handlers.status());
      return;
    case "GET /status":
      send(200, handlers.status());
      return;
    default:
      send(404, `no such control endpoint: ${key}; there are POST /resume, POST /keep-alive and GET /status`);
  }
}
