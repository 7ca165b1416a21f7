/**
 * A real OpenID Provider for tests (`oidc-provider`, a certified implementation) on a free loopback port: two
 * people with passwords, one confidential client, the authorization code flow with PKCE required, the device
 * flow, and its own login and consent pages. The server's tests and the e2e suite both sign in through it.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import Provider from "oidc-provider";
import type { Configuration, KoaContextWithOIDC } from "oidc-provider";

/** Someone who can sign in at the test provider. */
export interface TestOidcUser {
  /** The provider's subject (`sub`) for them. */
  subject: string;
  email: string;
  password: string;
  name: string;
}

export const TEST_OIDC_USERS: readonly TestOidcUser[] = [
  {
    subject: "alice",
    email: "alice@example.com",
    password: "alice-secret-1",
    name: "Alice Example",
  },
  { subject: "bob", email: "bob@example.com", password: "bob-secret-2", name: "Bob Example" },
];

export interface TestOidcProvider {
  /** The issuer URL, e.g. `http://127.0.0.1:41234`; discovery is at `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  clientSecret: string;
  users: readonly TestOidcUser[];
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

/**
 * Starts the provider on 127.0.0.1 with a free port. `redirectUris` are the client's registered callbacks
 * (the provider refuses any other), so a test must know its relying party's URL first.
 */
export async function startOidcProvider(options: {
  redirectUris: string[];
  clientId?: string;
  users?: readonly TestOidcUser[];
}): Promise<TestOidcProvider> {
  const users = options.users ?? TEST_OIDC_USERS;
  const clientId = options.clientId ?? "drydock-test";
  const clientSecret = randomBytes(24).toString("hex");
  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) =>
    res.writeHead(503).end();
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  // The issuer names the port, so the provider is made once the server listens.
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(
    issuer,
    providerConfiguration(users, clientId, clientSecret, options),
  );
  const callback = provider.callback();
  handle = (req, res) => {
    if (req.url?.startsWith("/interaction/"))
      interactionRoute(provider, users, req, res).catch((err: unknown) => {
        res.writeHead(500, { "content-type": "text/plain" }).end(String(err));
      });
    else void callback(req, res);
  };
  return {
    issuer,
    clientId,
    clientSecret,
    users,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The provider's settings: one signing key made now, claims by scope, and the flows Drydock uses. */
function providerConfiguration(
  users: readonly TestOidcUser[],
  clientId: string,
  clientSecret: string,
  options: { redirectUris: string[] },
): Configuration {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ["authorization_code", DEVICE_CODE_GRANT],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
      },
    ],
    jwks: {
      keys: [{ ...privateKey.export({ format: "jwk" }), kid: "test", use: "sig", alg: "RS256" }],
    },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    pkce: { required: () => true },
    ttl: {
      Interaction: 600,
      Session: 3_600,
      Grant: 3_600,
      AccessToken: 600,
      IdToken: 600,
      DeviceCode: 600,
    },
    features: {
      devInteractions: { enabled: false },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form) =>
          page(ctx, "Enter the code", `${form}${SUBMIT("op.deviceInputForm")}`),
        userCodeConfirmSource: (ctx, form, _client, _info, userCode) =>
          page(ctx, `Confirm the code ${userCode}`, `${form}${SUBMIT("op.deviceConfirmForm")}`),
        successSource: (ctx) => page(ctx, "Signed in", "<p>You can close this page.</p>"),
      },
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    findAccount: (_ctx, sub) => {
      const user = users.find((u) => u.subject === sub);
      if (!user) return undefined;
      return {
        accountId: user.subject,
        claims: () => ({
          sub: user.subject,
          email: user.email,
          email_verified: true,
          name: user.name,
        }),
      };
    },
  };
}

const SUBMIT = (form: string) => `<button type="submit" form="${form}">Continue</button>`;

/** A plain page for the device flow's steps (the defaults load web fonts, which a test machine cannot). */
function page(ctx: KoaContextWithOIDC, title: string, body: string): void {
  ctx.type = "html";
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`;
}

/**
 * The provider's own login and consent pages: GET `/interaction/<uid>` shows the form the prompt needs, POST
 * `/interaction/<uid>/login` checks the email and password, POST `/interaction/<uid>/consent` grants what the
 * client asked for.
 */
async function interactionRoute(
  provider: Provider,
  users: readonly TestOidcUser[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const path = new URL(req.url ?? "/", "http://provider").pathname;
  const base = `/interaction/${details.uid}`;
  if (req.method === "GET" && path === base) {
    if (details.prompt.name === "login") return sendHtml(res, 200, loginPage(base, ""));
    return sendHtml(res, 200, consentPage(base));
  }
  if (req.method === "POST" && path === `${base}/login`) {
    const form = new URLSearchParams(await readBody(req));
    const user = users.find(
      (u) => u.email === form.get("email") && u.password === form.get("password"),
    );
    if (!user) return sendHtml(res, 401, loginPage(base, "Wrong email or password."));
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.subject } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  if (req.method === "POST" && path === `${base}/consent`) {
    await grantConsent(provider, details, req, res);
    return;
  }
  sendHtml(res, 404, "<p>No such page.</p>");
}

type InteractionDetails = Awaited<ReturnType<Provider["interactionDetails"]>>;

/** Grants every scope and claim the prompt says is missing, as a person pressing "Allow" would. */
async function grantConsent(
  provider: Provider,
  details: InteractionDetails,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { prompt, params, session, grantId } = details;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId: session?.accountId, clientId: String(params.client_id) });
  if (!grant) throw new Error(`grant ${grantId} is gone`);
  const missing = prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  await provider.interactionFinished(
    req,
    res,
    { consent: { grantId: await grant.save() } },
    { mergeWithLastSubmission: true },
  );
}

function loginPage(base: string, problem: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Test provider: sign in</title></head><body>
<h1>Sign in to the test provider</h1>${problem ? `<p class="problem">${problem}</p>` : ""}
<form method="post" action="${base}/login">
<label>Email <input type="email" name="email" autofocus></label>
<label>Password <input type="password" name="password"></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

function consentPage(base: string): string {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Test provider: allow access</title></head><body>
<h1>Allow Drydock to know who you are?</h1>
<form method="post" action="${base}/consent"><button type="submit">Allow</button></form>
</body></html>`;
}

function sendHtml(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" }).end(body);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
      if (body.length > 64 * 1024) req.destroy(new Error("form too large"));
    });
    req.on("end", () => resolve(body));
    req.on("error", reject);
  });
}

/** A page the form browser landed on, or where a redirect took it off the provider. */
export interface FormPage {
  url: URL;
  status: number;
  html: string;
  /** Set when a redirect pointed away from the provider (e.g. to the relying party's callback). */
  leftTo?: URL;
}

/**
 * A minimal browser for the provider's pages with `fetch`: a cookie jar by hand (name, path, expiry), redirects
 * followed while they stay on the provider, and forms submitted with their hidden fields. It lets a test walk the
 * provider's real login, consent and device pages without Chromium.
 */
export class FormBrowser {
  private readonly jar = new Map<string, { name: string; value: string; path: string }>();

  constructor(private readonly origin: string) {}

  /** GETs (or POSTs a form to) `url` and follows redirects until a page, or until one leaves the provider. */
  async open(url: string | URL, form?: URLSearchParams): Promise<FormPage> {
    let target = new URL(url);
    let body = form;
    for (let hops = 0; hops < 20; hops++) {
      if (target.origin !== this.origin)
        return { url: target, status: 0, html: "", leftTo: target };
      const res = await fetch(target, {
        method: body ? "POST" : "GET",
        redirect: "manual",
        headers: {
          ...(body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
          cookie: this.cookieHeader(target),
        },
        ...(body ? { body: body.toString() } : {}),
      });
      this.keep(res.headers.getSetCookie(), target);
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        target = new URL(location, target);
        body = undefined;
        continue;
      }
      return { url: target, status: res.status, html: await res.text() };
    }
    throw new Error(`more than 20 redirects from ${String(url)}`);
  }

  /** Submits the page's first form: its fields (hidden or with a value) with `fields` set over them. */
  submit(page: FormPage, fields: Record<string, string> = {}): Promise<FormPage> {
    const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(page.html);
    if (!form) throw new Error(`no form on ${page.url.href} (${page.status}):\n${page.html}`);
    const action = attribute(form[1] ?? "", "action") ?? page.url.href;
    const data = new URLSearchParams();
    for (const input of (form[2] ?? "").matchAll(/<input\b([^>]*)>/gi)) {
      const name = attribute(input[1] ?? "", "name");
      const value = attribute(input[1] ?? "", "value");
      if (name && value !== undefined) data.set(name, value);
    }
    for (const [name, value] of Object.entries(fields)) data.set(name, value);
    return this.open(new URL(action, page.url), data);
  }

  private cookieHeader(url: URL): string {
    return [...this.jar.values()]
      .filter((c) => url.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
  }

  private keep(setCookies: string[], url: URL): void {
    for (const line of setCookies) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (key: string) =>
        attributes.find((a) => a.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
      const path = attr("path") ?? url.pathname.replace(/\/[^/]*$/, "/");
      const expires = attr("expires");
      const gone =
        value === "" ||
        attr("max-age") === "0" ||
        (expires !== undefined && Date.parse(expires) <= Date.now());
      if (gone) this.jar.delete(`${name};${path}`);
      else this.jar.set(`${name};${path}`, { name, value, path });
    }
  }
}

function attribute(attributes: string, name: string): string | undefined {
  const match = new RegExp(`\\b${name}="([^"]*)"`, "i").exec(attributes);
  return match?.[1]
    ?.replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

/**
 * Walks an authorization request through the provider as `user` would: the login form, then consent. Resolves to
 * the URL the provider sends the browser back to (the relying party's callback, with `code` and `state`).
 */
export async function signInAtProvider(
  provider: TestOidcProvider,
  authorizationUrl: string,
  user: TestOidcUser,
  browser = new FormBrowser(provider.issuer),
): Promise<URL> {
  let page = await browser.open(authorizationUrl);
  for (let step = 0; step < 5 && !page.leftTo; step++)
    page = await browser.submit(page, fillLogin(page, user));
  if (!page.leftTo) throw new Error(`the provider did not send the browser back:\n${page.html}`);
  return page.leftTo;
}

/**
 * Approves a device sign-in at the provider as `user` (or refuses it: `approve: false`): the verification page with
 * the code filled in, confirming it, then the login and consent pages. Resolves once the provider says it is done.
 */
export async function approveDeviceAtProvider(
  provider: TestOidcProvider,
  verificationUriComplete: string,
  user: TestOidcUser,
  options: { approve?: boolean } = {},
): Promise<void> {
  const browser = new FormBrowser(provider.issuer);
  // The page with the code auto-submits it (a script does in a browser); then comes the confirmation.
  const confirm = await browser.submit(await browser.open(verificationUriComplete));
  if (options.approve === false) {
    const aborted = await browser.submit(confirm, { abort: "yes" });
    if (aborted.status >= 500) throw new Error(`refusing failed:\n${aborted.html}`);
    return;
  }
  let page = await browser.submit(confirm);
  for (let step = 0; step < 5 && !page.html.includes("<h1>Signed in</h1>"); step++)
    page = await browser.submit(page, fillLogin(page, user));
  if (!page.html.includes("<h1>Signed in</h1>"))
    throw new Error(`the device sign-in did not finish:\n${page.html}`);
}

function fillLogin(page: FormPage, user: TestOidcUser): Record<string, string> {
  return page.html.includes('name="password"')
    ? { email: user.email, password: user.password }
    : {};
}
