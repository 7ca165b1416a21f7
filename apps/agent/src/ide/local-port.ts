/**
 * `vscode({ port })`: the IDE on a loopback port of the task's machine as well as through the relay. code-server
 * itself stays on its private Unix socket; what listens on the port is this guard, which asks of every request
 * what the relay asks of a browser:
 * - a Host of `127.0.0.1:<port>` or `localhost:<port>`: a page whose DNS name was rebound to 127.0.0.1 sends its
 *   own name, and is refused;
 * - no foreign Origin (none at all is refused on a WebSocket upgrade);
 * - a sign-in: the session's key, once, through the link the task's log shows (`/__drydock/sign-in?key=…`),
 *   which becomes an HttpOnly, SameSite=Strict cookie, removed before the request reaches code-server.
 * Another local user, or a web page, who finds the port gets a 401 or a 403, never the IDE.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { connect, type Socket } from "node:net";
import type { Duplex } from "node:stream";

export const LOCAL_PORT_COOKIE = "drydock_port";
const SIGN_IN_PATH = "/__drydock/sign-in";

export interface LocalPort {
  /** The link that signs a browser in: give it only to the task's owner (the task's log). */
  signInUrl: string;
  /** Connections and requests taken since the guard started, and open now (the session's activity). */
  activity(): { opened: number; open: number };
  /** True once a browser signed in with the link: someone opened the IDE here. */
  signedIn(): boolean;
  close(): Promise<void>;
}

/** What every request to the port is checked against. */
interface Admission {
  port: number;
  /** The session's key, which the sign-in link carries and the cookie holds. */
  key: Buffer;
  /** The Host headers the port answers to. */
  hosts: Set<string>;
  onSignedIn: () => void;
}

/** Listens on 127.0.0.1:`port` and forwards what it admits to code-server's socket. */
export async function openLocalPort(options: {
  port: number;
  socketPath: string;
  key?: string;
}): Promise<LocalPort> {
  const { port, socketPath } = options;
  const key = Buffer.from(options.key ?? randomBytes(24).toString("hex"));
  let signedIn = false;
  const admission: Admission = {
    port,
    key,
    hosts: new Set([`127.0.0.1:${port}`, `localhost:${port}`]),
    onSignedIn: () => (signedIn = true),
  };
  const activity = new ActivityCount();

  const server = createServer((req, res) => {
    activity.track(res);
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === SIGN_IN_PATH) return signIn(admission, req, res, url);
    const refused = refusal(admission, req, false);
    if (refused) return answer(res, ...refused);
    forwardRequest(socketPath, req, res);
  });
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    activity.track(socket);
    const refused = refusal(admission, req, true);
    if (refused) return rawAnswer(socket, ...refused);
    forwardUpgrade(socketPath, req, socket, head);
  });

  await listenOnLoopback(server, port);
  return {
    signInUrl: `http://127.0.0.1:${port}${SIGN_IN_PATH}?key=${key.toString()}`,
    activity: () => ({ opened: activity.opened, open: activity.open }),
    signedIn: () => signedIn,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      server.closeAllConnections();
      await closed;
    },
  };
}

/** Counts requests and upgraded connections: how many since the start, and how many are open now. */
class ActivityCount {
  opened = 0;
  open = 0;

  track(closable: { once(event: "close", fn: () => void): unknown }): void {
    this.opened++;
    this.open++;
    closable.once("close", () => this.open--);
  }
}

function listenOnLoopback(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(
              `vscode({ port: ${port} }): 127.0.0.1:${port} is already in use on this machine`,
            )
          : error,
      ),
    );
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

/** Why this request may not pass, or undefined when it may. */
function refusal(
  { port, key, hosts }: Admission,
  req: IncomingMessage,
  upgrade: boolean,
): [number, string] | undefined {
  const host = req.headers.host?.toLowerCase();
  if (!host || !hosts.has(host))
    return [
      403,
      `this port answers only as http://127.0.0.1:${port} or http://localhost:${port} (Host: ${host ?? "none"})`,
    ];
  const origin = req.headers.origin;
  if (upgrade ? origin !== `http://${host}` : origin !== undefined && origin !== `http://${host}`) {
    return [
      403,
      `cross-origin ${upgrade ? "WebSocket" : "request"} refused (Origin: ${origin ?? "none"})`,
    ];
  }
  const signedIn = cookieValue(req.headers.cookie, LOCAL_PORT_COOKIE);
  if (signedIn === undefined || !sameSecret(Buffer.from(signedIn), key))
    return [401, "sign in with the link in the task's log (VS Code on this machine: …)"];
  return undefined;
}

/** The sign-in link: the session's key, once, becomes the cookie that admits this browser from now on. */
function signIn(
  { port, key, hosts, onSignedIn }: Admission,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) {
  const host = req.headers.host?.toLowerCase();
  if (!host || !hosts.has(host))
    return answer(
      res,
      403,
      `this port answers only as http://127.0.0.1:${port} or http://localhost:${port}`,
    );
  const given = url.searchParams.get("key") ?? "";
  if (!sameSecret(Buffer.from(given), key))
    return answer(
      res,
      401,
      "this sign-in link is not the session's: copy it again from the task's log",
    );
  onSignedIn();
  res.writeHead(303, {
    "set-cookie": `${LOCAL_PORT_COOKIE}=${key.toString()}; Path=/; HttpOnly; SameSite=Strict`,
    location: "/",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
  });
  res.end();
}

/** Passes an admitted request on to code-server's socket, and its reply back. */
function forwardRequest(socketPath: string, req: IncomingMessage, res: ServerResponse): void {
  const upstream = request(
    { socketPath, method: req.method, path: req.url, headers: forwardedHeaders(req) },
    (reply) => {
      res.writeHead(reply.statusCode ?? 502, reply.rawHeaders);
      reply.pipe(res);
    },
  );
  upstream.on("error", (error) =>
    res.headersSent
      ? res.destroy()
      : answer(res, 502, `the IDE is not answering: ${error.message}`),
  );
  res.on("close", () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** Replays an admitted WebSocket upgrade on code-server's socket, then pipes both ways. */
function forwardUpgrade(
  socketPath: string,
  req: IncomingMessage,
  socket: Socket,
  head: Buffer,
): void {
  const upstream = connect(socketPath);
  upstream.on("connect", () => {
    let lines = `${req.method ?? "GET"} ${req.url ?? "/"} HTTP/1.1\r\n`;
    const headers = forwardedHeaders(req);
    for (const [name, value] of Object.entries(headers)) {
      for (const one of Array.isArray(value) ? value : [value])
        if (one !== undefined) lines += `${name}: ${one}\r\n`;
    }
    upstream.write(`${lines}\r\n`);
    if (head.length > 0) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  upstream.on("error", () => rawAnswer(socket, 502, "the IDE is not answering"));
  upstream.on("close", () => socket.destroy());
  socket.on("close", () => upstream.destroy());
}

/** The request's headers as code-server gets them: without the guard's cookie. */
function forwardedHeaders(req: IncomingMessage): IncomingMessage["headers"] {
  const headers = { ...req.headers };
  const cookie = withoutCookie(req.headers.cookie, LOCAL_PORT_COOKIE);
  if (cookie) headers.cookie = cookie;
  else delete headers.cookie;
  return headers;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const at = part.indexOf("=");
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

function withoutCookie(header: string | undefined, name: string): string {
  return (header ?? "")
    .split(";")
    .map((part) => part.trim())
    .filter((part) => part && part.split("=")[0]?.trim() !== name)
    .join("; ");
}

function sameSecret(given: Buffer, key: Buffer): boolean {
  return given.length === key.length && timingSafeEqual(given, key);
}

function answer(res: ServerResponse, status: number, message: string) {
  if (res.headersSent) return void res.destroy();
  res.writeHead(status, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
  });
  res.end(`${message}\n`);
}

function rawAnswer(socket: Duplex, status: number, message: string) {
  if (socket.destroyed) return;
  const text = { 401: "Unauthorized", 403: "Forbidden", 502: "Bad Gateway" }[status] ?? "Error";
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message) + 1}\r\nConnection: close\r\n\r\n${message}\n`,
  );
}
