import type { Socket } from "node:net";

export interface PendingLimits {
  /** How long a connection may take to send a complete request head, from connecting or from its last answer. */
  headTimeoutMs: number;
  /** Connections not yet signed in, at most. */
  max: number;
  /** The same, per client address. */
  maxPerAddress: number;
}

/**
 * Why a pending connection was ended: its head began but did not finish in time (`slow`), nothing came in time
 * (`idle`: a browser's spare connection, say), or it made room for a newer one (`evicted`).
 */
export type PendingEnd = "slow" | "idle" | "evicted";

interface Pending {
  address: string;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Connections that have not signed in yet (no request with a valid cookie, no accepted tunnel). Each must
 * send a complete request head within `headTimeoutMs`, and few are held: past a limit the oldest (of that
 * address) makes room. A browser sends its head at once, so it is the slow clients that go, and a slow
 * client can hold open at most `maxPerAddress` connections, each for at most `headTimeoutMs`.
 */
export class PendingConnections {
  /** In arrival order, so the first is the oldest. */
  private readonly pending = new Map<Socket, Pending>();
  private readonly byAddress = new Map<string, Set<Socket>>();

  constructor(
    private readonly limits: PendingLimits,
    private readonly end: (socket: Socket, why: PendingEnd) => void,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A new connection: it waits for its first request head. */
  add(socket: Socket): void {
    const address = socket.remoteAddress ?? "unknown";
    const sameAddress = this.byAddress.get(address);
    if (sameAddress && sameAddress.size >= this.limits.maxPerAddress)
      this.evict(sameAddress.values().next().value);
    if (this.pending.size >= this.limits.max) this.evict(this.pending.keys().next().value);
    const fromAddress = this.byAddress.get(address) ?? new Set<Socket>();
    this.byAddress.set(address, fromAddress.add(socket));
    this.pending.set(socket, { address, timer: undefined });
    socket.once("close", () => this.forget(socket));
    this.awaitHead(socket);
  }

  /** The connection is waiting for a request head (again, after an answer): the clock runs. */
  awaitHead(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (!entry) return;
    clearTimeout(entry.timer);
    const readBefore = socket.bytesRead;
    entry.timer = setTimeout(() => {
      this.forget(socket);
      this.end(socket, socket.bytesRead > readBefore ? "slow" : "idle");
    }, this.limits.headTimeoutMs).unref();
  }

  /** A complete head arrived and is being answered: the clock stops until the answer is done. */
  headArrived(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (!entry) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  /** The connection proved itself: it is no longer pending, and no clock runs for it. */
  signedIn(socket: Socket): void {
    this.forget(socket);
  }

  private forget(socket: Socket): void {
    const entry = this.pending.get(socket);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.pending.delete(socket);
    const fromAddress = this.byAddress.get(entry.address);
    fromAddress?.delete(socket);
    if (fromAddress?.size === 0) this.byAddress.delete(entry.address);
  }

  private evict(socket: Socket | undefined): void {
    if (!socket) return;
    this.forget(socket);
    this.end(socket, "evicted");
  }
}
