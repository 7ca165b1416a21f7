/**
 * The event bus across server replicas on one PostgreSQL (`DRYDOCK_EVENTS=postgres`): what one replica publishes
 * reaches the watchers of every other — a browser's WebSocket may land on any of them — through PostgreSQL's
 * LISTEN/NOTIFY, so the replicas need nothing but the database they already share.
 *
 * Each replica sends on a connection of its own, one message after another, so the others receive its
 * messages in the order it published them (PostgreSQL delivers a session's notifications in commit order).
 * NOTIFY carries at most 8000 bytes: a longer message (an execution's result, an error's stack) goes in
 * numbered parts, put back together by the receiver. A replica skips its own messages, which it delivered
 * to its watchers when it published them. A lost connection is opened again; what was published meanwhile
 * is not replayed (watchers reload on reconnect, as after any gap).
 */
import { randomUUID } from "node:crypto";

import pg from "pg";

import type { Logger } from "../logger.js";
import type { BusMessage, EventBus } from "./event-bus.js";

export const BUS_CHANNEL = "drydock_bus";
/** Characters of a message per notification: under NOTIFY's 8000 bytes even as 3-byte UTF-8 or escaped twice. */
const PART_CHARS = 2_000;
const RECONNECT_MS = 1_000;

/** One notification: part `part` of `parts` of a message from replica `from` (its `seq`th). */
interface Notification {
  from: string;
  seq: number;
  part: number;
  parts: number;
  text: string;
}

export interface BusLink {
  /** Stops sending and listening; resolves once both connections are closed. */
  close(): Promise<void>;
}

/** Links `bus` to the other replicas' buses on the database at `url`; resolves once it listens. */
export async function linkBusThroughPostgres(
  bus: EventBus,
  options: { url: string; log: Logger },
): Promise<BusLink> {
  const { url, log } = options;
  const self = randomUUID();
  let closed = false;
  let seq = 0;

  // Parts of messages being received, by sender.
  const partial = new Map<string, { seq: number; texts: string[] }>();
  const receive = (payload: string | undefined) => {
    let n: Notification;
    try {
      n = JSON.parse(payload ?? "") as Notification;
    } catch {
      return;
    }
    if (n.from === self) return;
    let message = partial.get(n.from);
    if (n.part === 0 || message?.seq !== n.seq) message = { seq: n.seq, texts: [] };
    message.texts.push(n.text);
    if (message.texts.length < n.parts) {
      partial.set(n.from, message);
      return;
    }
    partial.delete(n.from);
    try {
      bus.deliver(JSON.parse(message.texts.join("")) as BusMessage);
    } catch (err) {
      log.warn({ err }, "an event from another replica could not be read");
    }
  };

  /** A connection, opened again whenever it is lost, until the link is closed. */
  const connection = (role: "listen" | "send") => {
    let current: Promise<pg.Client> | undefined;
    // Listening, a lost connection is opened again, every second until it opens or the link is closed.
    const reopen = () =>
      setTimeout(() => {
        if (!closed) void get().catch(reopen);
      }, RECONNECT_MS);
    const open = async (): Promise<pg.Client> => {
      const client = new pg.Client({ connectionString: url });
      client.on("error", (err) => log.warn({ err, role }, "the event link's connection failed"));
      client.on("end", () => {
        if (closed) return;
        current = undefined;
        if (role === "listen") reopen();
      });
      await client.connect();
      if (role === "listen") {
        client.on("notification", (n) => receive(n.payload));
        await client.query(`LISTEN ${BUS_CHANNEL}`);
      }
      return client;
    };
    const get = () => {
      current ??= open().catch((err: unknown) => {
        current = undefined;
        throw err;
      });
      return current;
    };
    return { get, end: async () => (await current?.catch(() => undefined))?.end() };
  };
  const listener = connection("listen");
  const sender = connection("send");
  await listener.get();

  let sending: Promise<void> = Promise.resolve();
  bus.forwardTo((message) => {
    const text = JSON.stringify(message);
    const parts = Math.max(1, Math.ceil(text.length / PART_CHARS));
    const n = seq++;
    sending = sending.then(async () => {
      if (closed) return;
      try {
        const client = await sender.get();
        for (let part = 0; part < parts; part++) {
          const notification: Notification = {
            from: self,
            seq: n,
            part,
            parts,
            text: text.slice(part * PART_CHARS, (part + 1) * PART_CHARS),
          };
          await client.query("SELECT pg_notify($1, $2)", [
            BUS_CHANNEL,
            JSON.stringify(notification),
          ]);
        }
      } catch (err) {
        log.warn({ err, channel: message.channel }, "an event could not reach the other replicas");
      }
    });
  });

  return {
    async close() {
      bus.forwardTo(undefined);
      await sending;
      closed = true;
      await Promise.all([listener.end(), sender.end()]);
    },
  };
}
