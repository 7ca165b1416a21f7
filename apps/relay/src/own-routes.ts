import { createHash, timingSafeEqual } from "node:crypto";

import type { FastifyInstance } from "fastify";

import type { RelayMetrics } from "./metrics.js";
import { OWN_PAGE_HEADERS } from "./pages.js";
import { queryOf, REDEEM_PATH, type TicketRedemption } from "./redeem.js";
import type { TunnelRegistry } from "./tunnels.js";

export interface OwnRoutesParts {
  redemption: TicketRedemption;
  tunnels: TunnelRegistry;
  metrics: RelayMetrics;
  /** Tokens that may read `/metrics`: the scraper's and the relay's own. */
  metricsTokens: (string | undefined)[];
}

/**
 * The routes the relay answers itself on its HTTP server: the ticket's redemption (for a connection already
 * handed there), `/healthz` for anyone, `/metrics` for a scraper with a token. Everything answered here is
 * the relay's own: never framed, no scripts, no Referer.
 */
export function registerOwnRoutes(
  app: FastifyInstance,
  { redemption, tunnels, metrics, metricsTokens }: OwnRoutesParts,
): void {
  const mayReadMetrics = metricsAccess(metricsTokens);
  app.addHook("onSend", async (_request, reply) => {
    reply.headers(OWN_PAGE_HEADERS);
  });
  app.get(REDEEM_PATH, async (request, reply) => {
    const answer = await redemption.redeem(request.headers.host, queryOf(request.url), {
      ip: request.socket.remoteAddress,
      userAgent: request.headers["user-agent"],
    });
    return reply.code(answer.status).headers(answer.headers).send(answer.body);
  });
  app.get("/healthz", () => ({ ok: true, tunnels: tunnels.size }));
  app.get("/metrics", async (request, reply) => {
    if (!mayReadMetrics(request.headers.authorization)) {
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="drydock-relay"')
        .type("text/plain; charset=utf-8")
        .send(
          "/metrics needs Authorization: Bearer <DRYDOCK_RELAY_METRICS_TOKEN or the relay token>\n",
        );
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

const digest = (token: string) => createHash("sha256").update(token).digest();

/** Whether an Authorization header carries one of `tokens` (compared as digests, in constant time). */
function metricsAccess(
  tokens: (string | undefined)[],
): (authorization: string | undefined) => boolean {
  const digests = tokens.filter((t): t is string => t !== undefined).map(digest);
  return (authorization) => {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (!given) return false;
    const candidate = digest(given);
    return digests.some((token) => timingSafeEqual(token, candidate));
  };
}
