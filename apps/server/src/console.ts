/**
 * The web console, as the server serves it: the built SPA at `/` (any unknown GET path that wants HTML gets
 * index.html, so client routes survive a reload), and local-mode sign-in. Signing in trades the user token
 * for an HttpOnly cookie: `POST /login` from the sign-in page, or any console URL carrying `?token=` (what
 * `drydock up` prints), which sets the cookie and redirects to the same URL without the token.
 */
import { createHash } from "node:crypto";
import { access } from "node:fs/promises";
import { join } from "node:path";

import { Signer } from "@fastify/cookie";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { parse } from "cookie";
import { z } from "zod";

/** The console's cookie (host-only; the relay's IDE cookie lives on each session's own origin). */
export const CONSOLE_COOKIE = "drydock_console";
/** How long a console sign-in lasts. */
export const CONSOLE_SESSION_SECONDS = 7 * 24 * 3_600;

/**
 * Issues and checks the console's session cookie: `local.<expires>`, signed (@fastify/cookie's Signer) with a key
 * derived from the signing secret and the user token, so a new token signs every browser out.
 */
export class ConsoleSessions {
  /** Signs the cookie (handed to @fastify/cookie, which sets it) and checks it here. */
  readonly signer: Signer;

  constructor(
    signingSecret: string,
    userToken: string,
    private readonly isUserToken: (token: string) => boolean,
  ) {
    this.signer = new Signer(
      createHash("sha256")
        .update(`drydock-console-cookie:${signingSecret}:${userToken}`)
        .digest("hex"),
    );
  }

  /** Whether `token` is the user token; if so, the cookie value to set. */
  signIn(token: string, nowSeconds = Date.now() / 1_000): string | undefined {
    if (!this.isUserToken(token)) return undefined;
    return `local.${Math.floor(nowSeconds) + CONSOLE_SESSION_SECONDS}`;
  }

  /** The user of an unsigned cookie value, unless it expired. */
  userOf(value: string, nowSeconds = Date.now() / 1_000): string | undefined {
    const match = /^(local)\.(\d+)$/.exec(value);
    if (!match?.[1] || Number(match[2]) <= nowSeconds) return undefined;
    return match[1];
  }

  /**
   * The user a request's cookie signs in, if the request comes from the console's own page: a cross-site
   * page's request (its Origin names another host) gets nothing, so it can neither act nor open the
   * WebSocket as the user. Reads the headers itself: tRPC's WebSocket requests are not decorated by plugins.
   */
  userOfRequest(headers: {
    cookie?: string | undefined;
    origin?: string | undefined;
    host?: string | undefined;
  }): string | undefined {
    if (!headers.cookie?.includes(CONSOLE_COOKIE)) return undefined;
    const raw = parse(headers.cookie)[CONSOLE_COOKIE];
    if (!raw) return undefined;
    if (headers.origin !== undefined && !sameHost(headers.origin, headers.host)) return undefined;
    const unsigned = this.signer.unsign(raw);
    return unsigned.valid && unsigned.value ? this.userOf(unsigned.value) : undefined;
  }
}

function sameHost(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/**
 * What the console's pages may do: load scripts, styles and images and connect (HTTP and its WebSocket) to
 * their own origin only, with no inline script; nothing may frame them; and their URL, which can carry the
 * user token, is never sent on as a Referer. `'unsafe-eval'` because the launch form checks inputs with ajv,
 * which compiles each JSON Schema to a function.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": [
    "default-src 'self'",
    "script-src 'self' 'unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
};

const LoginBody = z.object({ token: z.string().min(1, "the token is empty") });

/** The built console's folder (its index.html), or undefined when it was not built. */
export async function consoleDist(dir: string | undefined): Promise<string | undefined> {
  if (!dir) return undefined;
  return access(join(dir, "index.html")).then(
    () => dir,
    () => undefined,
  );
}

export async function consoleRoutes(
  app: FastifyInstance,
  options: { sessions: ConsoleSessions; dist: string | undefined },
) {
  app.addHook("onSend", async (_request, reply) => {
    reply.headers(CONSOLE_SECURITY_HEADERS);
  });
  signInRoutes(app, options.sessions);
  await pageRoutes(app, options.dist);
}

function setSessionCookie(request: FastifyRequest, reply: FastifyReply, value: string) {
  return reply.setCookie(CONSOLE_COOKIE, value, {
    signed: true,
    httpOnly: true,
    sameSite: "lax",
    secure: request.protocol === "https",
    path: "/",
    maxAge: CONSOLE_SESSION_SECONDS,
  });
}

/** Signing in with the server's token (a form, or `?token=` on any page) and out again. */
function signInRoutes(app: FastifyInstance, sessions: ConsoleSessions) {
  app.post("/login", async (request, reply) => {
    const body = LoginBody.safeParse(request.body);
    if (!body.success)
      return reply
        .code(400)
        .send({ message: `send {"token": "…"}: ${body.error.issues[0]?.message ?? "no token"}` });
    const value = sessions.signIn(body.data.token.trim());
    if (!value)
      return reply.code(401).send({
        message:
          "That is not this server's token. Use the one `drydock up` printed (also in ~/.drydock/context.json).",
      });
    setSessionCookie(request, reply, value);
    return reply.code(204).send();
  });

  app.post("/logout", async (_request, reply) =>
    reply.clearCookie(CONSOLE_COOKIE, { path: "/" }).redirect("/", 303),
  );

  // `?token=` on any console page: sign in, then show the same page without the token in the address bar.
  app.addHook("onRequest", async (request, reply) => {
    if (
      request.method !== "GET" ||
      request.url.startsWith("/trpc") ||
      request.url.startsWith("/blobs")
    )
      return;
    const url = new URL(request.url, "http://console.invalid");
    const token = url.searchParams.get("token");
    if (token === null) return;
    url.searchParams.delete("token");
    const value = sessions.signIn(token);
    if (value) setSessionCookie(request, reply, value);
    return reply.redirect(`${url.pathname}${url.search}`, 303);
  });
}

/** The console's pages from its build, or one page saying to build it. */
async function pageRoutes(app: FastifyInstance, dist: string | undefined) {
  if (!dist) {
    app.get("/", async (_request, reply) =>
      reply
        .type("text/html")
        .send(
          "<!doctype html><title>Drydock</title><h1>Drydock control plane</h1><p>The API is up at <code>/trpc</code>, but the web console was not built: run <code>pnpm build</code>.</p>",
        ),
    );
    return;
  }
  // Hashed assets never change under their name; index.html must be fresh to point at the current ones.
  await app.register(fastifyStatic, {
    root: dist,
    wildcard: false,
    index: false,
    setHeaders: (reply, path) => {
      reply.header(
        "cache-control",
        path.includes("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      );
    },
  });
  const page = (_request: FastifyRequest, reply: FastifyReply) =>
    reply.header("cache-control", "no-cache").sendFile("index.html", dist);
  app.get("/", page);
  app.setNotFoundHandler((request, reply) => {
    const wantsPage =
      request.method === "GET" &&
      (request.headers.accept ?? "").includes("text/html") &&
      !request.url.startsWith("/trpc");
    if (wantsPage) return page(request, reply);
    return reply
      .code(404)
      .send({ message: `no route for ${request.method} ${request.url.split("?")[0]}` });
  });
}
