import { createHash, createHmac, timingSafeEqual } from "node:crypto";

import { parse } from "cookie";

/** The relay's cookie: host-only, so each session's origin has its own. */
export const SESSION_COOKIE = "drydock_ide";

export interface SessionGrant {
  sessionId: string;
  userId: string;
  /** Seconds since the epoch. */
  expires: number;
}

/** Signs and checks the session cookie: `v1.<session>.<user>.<expires>.<hmac>`, stateless across relays. */
export class CookieSigner {
  private readonly key: Buffer;
  /** Values whose MAC checked out: a value is its own proof, so a hit skips the HMAC (expiry is still checked). */
  private readonly verified = new Map<string, SessionGrant>();
  /** Cookie headers already parsed: a browser sends the same one request after request. */
  private readonly parsed = new Map<string, string | undefined>();
  private static readonly MAX_VERIFIED = 10_000;

  constructor(secret: string) {
    this.key = createHash("sha256").update(`drydock-relay-cookie:${secret}`).digest();
  }

  sign(grant: SessionGrant): string {
    if (!Number.isSafeInteger(grant.expires))
      throw new Error(`a cookie's expiry is whole seconds since the epoch, not ${grant.expires}`);
    const body = `v1.${grant.sessionId}.${Buffer.from(grant.userId).toString("base64url")}.${grant.expires}`;
    return `${body}.${this.mac(body)}`;
  }

  /** The grant in a Cookie header, or why there is none that counts. */
  read(
    cookieHeader: string | undefined,
    nowSeconds: number,
  ): SessionGrant | { problem: "missing" | "invalid" | "expired" } {
    const value = cookieHeader ? this.sessionValue(cookieHeader) : undefined;
    if (!value) return { problem: "missing" };
    const known = this.verified.get(value);
    if (known) return known.expires > nowSeconds ? known : { problem: "expired" };
    const [version, sessionId, user, expiresText, mac, ...rest] = value.split(".");
    if (
      version !== "v1" ||
      sessionId === undefined ||
      user === undefined ||
      expiresText === undefined ||
      mac === undefined ||
      rest.length > 0
    ) {
      return { problem: "invalid" };
    }
    const given = Buffer.from(mac);
    const wanted = Buffer.from(this.mac(`v1.${sessionId}.${user}.${expiresText}`));
    if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
      return { problem: "invalid" };
    const expires = Number(expiresText);
    if (!(expires > nowSeconds)) return { problem: "expired" };
    const grant = { sessionId, userId: Buffer.from(user, "base64url").toString(), expires };
    if (this.verified.size >= CookieSigner.MAX_VERIFIED) this.verified.clear();
    this.verified.set(value, grant);
    return grant;
  }

  /** The relay's cookie in a Cookie header; headers up to 2 KB are remembered (at most 1,000 of them: ≤ 2 MB). */
  private sessionValue(header: string): string | undefined {
    if (this.parsed.has(header)) return this.parsed.get(header);
    const value = parse(header)[SESSION_COOKIE];
    if (header.length <= 2_048) {
      if (this.parsed.size >= 1_000) this.parsed.clear();
      this.parsed.set(header, value);
    }
    return value;
  }

  private mac(body: string): string {
    return createHmac("sha256", this.key).update(body).digest("base64url");
  }
}

/** The Cookie header without the relay's own cookie, so the IDE never sees it; null when nothing is left. */
export function withoutSessionCookie(header: string): string | null {
  if (!header.includes(SESSION_COOKIE)) return header;
  const kept = header
    .split(";")
    .map((pair) => pair.trim())
    .filter((pair) => pair.length > 0 && !pair.startsWith(`${SESSION_COOKIE}=`));
  return kept.length > 0 ? kept.join("; ") : null;
}

/** A request header's value as it may cross to the IDE: the Cookie header loses the relay's cookie; null drops the header. */
export function requestHeaderForIde(name: string, value: string): string | null {
  return name === "cookie" ? withoutSessionCookie(value) : value;
}
