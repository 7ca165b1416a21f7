/**
 * The web console, as the server serves it: the built SPA at `/` (any unknown GET path that wants HTML gets
 * index.html, so client routes survive a reload), and signing in and out. A one-time sign-in code (the link
 * `drydock up` or `drydock console` prints, or the sign-in page's form) becomes a server-side console session
 * in an HttpOnly cookie; sign-out revokes that session. No long-lived credential is ever in a URL.
 */
import { access } from "node:fs/promises";
import { join } from "node:path";

import type { ClientInfo } from "@drydock/contracts/router";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";

import { consoleCookieOf, sameHost } from "./auth.js";
import { landingPath } from "./identity/landing-path.js";
import type { AuditLog } from "./identity/audit-log.js";
import type { SignInCodes } from "./identity/sign-in-codes.js";
import { CONSOLE_COOKIE, setSessionCookie } from "./identity/sign-in.js";
import type { WebSessions } from "./identity/web-sessions.js";

export { CONSOLE_COOKIE };

/** What signing in and out of the console takes. */
export interface ConsoleSignIn {
  codes: SignInCodes;
  webSessions: WebSessions;
  audit: AuditLog;
}

/**
 * What the console's pages may do: load scripts, styles and images and connect (HTTP and its WebSocket) to
 * their own origin only, with no inline script; nothing may frame them; and their URL is never sent on as a
 * Referer. `'unsafe-eval'` because the launch form checks inputs with ajv,
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

const SignInBody = z.object({ code: z.string().trim().min(1, "the code is empty").max(200) });

const SPENT_CODE =
  "This sign-in link has been used or has expired. Run `drydock console` for a new one.";

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
  options: { signIn: ConsoleSignIn; dist: string | undefined },
) {
  app.addHook("onSend", async (_request, reply) => {
    reply.headers(CONSOLE_SECURITY_HEADERS);
  });
  // The Sign out button is a plain form: its (empty) urlencoded body is accepted and ignored.
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string" },
    (_request, _body, done) => done(null, {}),
  );
  signInRoutes(app, options.signIn);
  await pageRoutes(app, options.dist);
}

/** Where a request comes from, for the audit log and the session's record. */
export function clientOf(request: FastifyRequest): ClientInfo {
  const userAgent = request.headers["user-agent"];
  return { ip: request.ip, ...(userAgent ? { userAgent } : {}) };
}

/**
 * A POST from another site's page must not sign anyone in or out. Browsers say where a request comes from in
 * `Sec-Fetch-Site`; a form posted from the console's own page carries `Origin: null` (its pages send no
 * Referer), so the Origin is judged only when that header is absent (older browsers, scripts).
 */
function crossSite(request: FastifyRequest): boolean {
  const site = request.headers["sec-fetch-site"];
  if (typeof site === "string") return site !== "same-origin" && site !== "none";
  const origin = request.headers.origin;
  return origin !== undefined && !sameHost(origin, request.headers.host);
}

/** Spends a code and starts a console session for its user, with the cookie on `reply`; false if refused. */
async function signInWithCode(
  deps: ConsoleSignIn,
  code: string,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<boolean> {
  const userId = await deps.codes.spend(code);
  if (!userId) return false;
  const client = clientOf(request);
  const session = await deps.webSessions.start(userId, client);
  setSessionCookie(reply, session.cookie, request);
  await deps.audit.record(
    { principal: { kind: "user", userId, instanceAdmin: false, via: "session" }, client },
    "auth.sign_in",
    {},
    { method: "code" },
  );
  return true;
}

/**
 * `GET /auth/sign-in?code=` (the printed link: signs in, then `/` — the code leaves the address bar and is
 * spent anyway), `POST /auth/sign-in` `{code}` (the sign-in page's form), and `POST /auth/sign-out`.
 */
function signInRoutes(app: FastifyInstance, deps: ConsoleSignIn) {
  app.get<{ Querystring: { code?: string; next?: string } }>(
    "/auth/sign-in",
    async (request, reply) => {
      const code = SignInBody.safeParse({ code: request.query.code ?? "" });
      if (code.success && (await signInWithCode(deps, code.data.code, request, reply)))
        return reply.redirect(landingPath(request.query.next), 303);
      return reply
        .code(401)
        .type("text/html")
        .send(
          `<!doctype html><title>Drydock: sign-in link refused</title><h1>Sign-in link refused</h1><p>${SPENT_CODE.replace(
            "`drydock console`",
            "<code>drydock console</code>",
          )}</p>`,
        );
    },
  );

  app.post("/auth/sign-in", async (request, reply) => {
    if (crossSite(request))
      return reply.code(403).send({ message: "sign-in is refused from another site's page" });
    const body = SignInBody.safeParse(request.body);
    if (!body.success)
      return reply
        .code(400)
        .send({ message: `send {"code": "…"}: ${body.error.issues[0]?.message ?? "no code"}` });
    if (!(await signInWithCode(deps, body.data.code, request, reply)))
      return reply.code(401).send({ message: SPENT_CODE });
    return reply.code(204).send();
  });

  app.post("/auth/sign-out", async (request, reply) => {
    if (crossSite(request))
      return reply.code(403).send({ message: "sign-out is refused from another site's page" });
    const value = consoleCookieOf(request.headers);
    const userId = value ? await deps.webSessions.revoke(value) : undefined;
    if (userId)
      await deps.audit.record(
        {
          principal: { kind: "user", userId, instanceAdmin: false, via: "session" },
          client: clientOf(request),
        },
        "auth.sign_out",
      );
    return reply.clearCookie(CONSOLE_COOKIE, { path: "/" }).redirect("/", 303);
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
