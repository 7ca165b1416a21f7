import type { ClientHttp2Stream } from "node:http2";
import type { Socket } from "node:net";

import type { Refusal } from "../authority.js";
import type { SessionGrant } from "../cookies.js";
import type { OwnAnswer } from "../pages.js";
import type { RedeemingClient } from "../redeem.js";

/** A plain request, or one that asks to upgrade (a WebSocket): counted and refused apart. */
export type RequestKind = "http" | "upgrade";

/** What a connection needs from the relay. */
export interface ConnectionHooks {
  /** The session a Host header names, if any. */
  sessionOf(host: string | undefined): string | undefined;
  /** Checks one request of the session: whom it is for, or a refusal that ends the connection with its status. */
  admit(
    sessionId: string,
    cookie: string | undefined,
    origin: string | undefined,
    upgrade: boolean,
  ): SessionGrant | Refusal;
  /** The connection carries requests admitted for `grant`'s person now: a revocation of their access cuts it. */
  admitted(socket: Socket, grant: SessionGrant): void;
  /** Finds the session's tunnel (waiting a little for a reconnecting agent) and opens a byte stream through it. */
  open(
    sessionId: string,
    authority: string,
    socket: Socket,
    ready: (stream: ClientHttp2Stream) => void,
    refuse: (refusal: Refusal) => void,
  ): void;
  /** A header's value as it may cross, or null to drop it (the relay's cookie). */
  rewrite(name: string, value: string): string | null;
  /** Counts a request that crossed. */
  forwarded(kind: RequestKind): void;
  /** Answers on the socket with a refusal and closes it. */
  refuse(socket: Socket, refusal: Refusal, kind: RequestKind): void;
  /** Gives the connection to the relay's HTTP server, replaying `bytes` first. */
  handOff(socket: Socket, bytes: Buffer): void;
  /**
   * Answers a request for the relay's own route `url` on a session host here, the connection staying with
   * the fast path (the ticket's redemption); undefined hands the connection to the relay's HTTP server.
   * `client` is the browser that asks, for the control plane's record.
   */
  answer(
    host: string | undefined,
    method: string,
    url: string,
    client: RedeemingClient,
  ): Promise<OwnAnswer> | undefined;
  /** The connection's first request passed `admit`: it has signed in. */
  signedIn(socket: Socket): void;
  /** A complete head arrived that the relay answers itself; `awaitingHead` once that answer is written. */
  headArrived(socket: Socket): void;
  awaitingHead(socket: Socket): void;
  /** Largest request head, in bytes: a larger one is refused with 431, however it was split into reads. */
  maxHeaderSize: number;
}

/** Largest request head, on the fast path and in the relay's HTTP server alike. */
export const MAX_HEAD_BYTES = 16 * 1024;
