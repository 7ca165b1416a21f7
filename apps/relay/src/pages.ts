/**
 * The relay's own answers — refusals, the ticket's redirect, health and metrics — as opposed to the IDE's,
 * which pass through untouched. Each carries the same guard headers: nothing of the relay's may be framed,
 * run a script or leak its URL (a redeem link holds a ticket) in a Referer.
 */
import type { Refusal } from "./authority.js";

export const OWN_PAGE_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

/** One answer of the relay's own, written by fastify or on a raw socket. */
export interface OwnAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const STATUS_TEXT: Record<number, string> = {
  303: "See Other",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/** `answer` as HTTP/1.1 bytes; `close` says the connection ends after it, otherwise it stays open for the next request. */
export function rawAnswer(answer: OwnAnswer, close: boolean): string {
  let head = `HTTP/1.1 ${answer.status} ${STATUS_TEXT[answer.status] ?? "Error"}\r\n`;
  for (const [name, value] of Object.entries(answer.headers)) head += `${name}: ${value}\r\n`;
  return `${head}Content-Length: ${Buffer.byteLength(answer.body)}\r\nConnection: ${close ? "close" : "keep-alive"}\r\n\r\n${answer.body}`;
}

/** A refusal as the browser shows it: a small page saying what is wrong (503 retries by itself). */
export function refusalAnswer(refusal: Refusal): OwnAnswer {
  return {
    status: refusal.status,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-store",
      ...(refusal.status === 503 ? { "Retry-After": "2" } : {}),
      ...OWN_PAGE_HEADERS,
    },
    body: refusalPage(refusal),
  };
}

const escape = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function refusalPage(refusal: Refusal): string {
  const title = refusal.status === 503 ? "Reconnecting…" : "Drydock IDE";
  const refresh = refusal.status === 503 ? `<meta http-equiv="refresh" content="2">` : "";
  return `<!doctype html><html><head><meta charset="utf-8">${refresh}<title>${title}</title></head><body><h1>${title}</h1><p>${escape(refusal.message)}</p></body></html>\n`;
}
