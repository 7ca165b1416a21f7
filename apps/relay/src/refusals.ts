/**
 * How the relay says no: a refusal page on an HTTP response, the same page (or a plain status, for upgrades
 * and tunnel dials) on a raw socket, and the end of a connection that did not sign in in time. Each refusal
 * of a browser request is counted by kind and outcome.
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

import { Refusal } from "./authority.js";
import type { RelayMetrics } from "./metrics.js";
import { OWN_PAGE_HEADERS, rawAnswer, refusalAnswer } from "./pages.js";
import type { PendingEnd } from "./pending.js";

export type RequestKind = "http" | "upgrade";

/** The `outcome` label of a refusal in `drydock_relay_requests_total`. */
export function outcomeOf(refusal: Refusal): string {
  return {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    408: "timeout",
    431: "too_large",
    503: "unavailable",
  }[refusal.status];
}

/** Answers an HTTP request with the refusal's page, unless an answer is already under way. */
export function refuseResponse(metrics: RelayMetrics, res: ServerResponse, refusal: Refusal): void {
  metrics.requests.inc({ kind: "http", outcome: outcomeOf(refusal) });
  if (res.headersSent || res.destroyed) return;
  const answer = refusalAnswer(refusal);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** Answers on a raw socket and closes it: a plain status for an upgrade, the refusal's page for a request. */
export function refuseSocket(
  metrics: RelayMetrics,
  socket: Duplex,
  refusal: Refusal,
  kind: RequestKind,
): void {
  metrics.requests.inc({ kind, outcome: outcomeOf(refusal) });
  if (kind === "upgrade") writeStatus(socket, refusal.status, refusal.message);
  else if (!socket.destroyed) socket.end(rawAnswer(refusalAnswer(refusal), true));
}

/** A plain-text answer written on a raw socket (upgrades, tunnel dials), then the socket is closed. */
export function writeStatus(socket: Duplex, status: number, message: string): void {
  if (socket.destroyed) return;
  const body = message.endsWith("\n") ? message : `${message}\n`;
  socket.end(
    rawAnswer(
      {
        status,
        headers: { "Content-Type": "text/plain; charset=utf-8", ...OWN_PAGE_HEADERS },
        body,
      },
      true,
    ),
  );
}

/**
 * Ends a connection that did not sign in. One whose head is under way is told why (408, as Node's own
 * server does); an idle or evicted one is closed without a word, as a browser expects of a spare connection.
 */
export function endPendingConnection(
  metrics: RelayMetrics,
  headTimeoutMs: number,
): (socket: Socket, why: PendingEnd) => void {
  const seconds = headTimeoutMs / 1000;
  return (socket, why) => {
    metrics.pendingClosed.inc({ reason: why });
    if (why === "slow" && socket.writable && !socket.writableEnded) {
      const refusal = new Refusal(
        408,
        `no complete request head within ${seconds} s of connecting or of the last answer`,
      );
      socket.end(rawAnswer(refusalAnswer(refusal), true), () => socket.destroy());
    } else {
      socket.destroy();
    }
  };
}
