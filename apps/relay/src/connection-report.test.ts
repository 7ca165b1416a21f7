import { openTunnel, type TunnelClient } from "@drydock/tunnel";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import {
  MemoryAuthority,
  openWebSocket,
  personCookie,
  RawConnection,
  startRelay,
  startUpstream,
  type Upstream,
} from "./__tests__/fixtures.js";
import type { Relay } from "./app.js";

let upstream: Upstream;
let relay: Relay & { port: number };
let client: TunnelClient;
const authority = new MemoryAuthority();

beforeAll(async () => {
  upstream = await startUpstream();
  relay = await startRelay(authority, { relayId: "relay-under-test" });
  authority.tokens.set("token-s1", "s1");
  client = openTunnel({
    relayUrl: `http://127.0.0.1:${relay.port}`,
    host: `s1.localhost:${relay.port}`,
    token: "token-s1",
    target: { host: "127.0.0.1", port: upstream.port },
  });
  await client.whenConnected();
});

afterAll(async () => {
  await client.close();
  await relay.close();
  await upstream.close();
});

/** The latest report's people on session s1, as `user: connections`. */
function lastReportedOnS1(): Record<string, number> | undefined {
  const last = authority.reports.at(-1);
  if (!last) return undefined;
  const s1 = last.sessions.find((s) => s.sessionId === "s1");
  return Object.fromEntries((s1?.users ?? []).map((u) => [u.userId, u.connections]));
}

describe("who is connected", () => {
  it("reports everyone connected through the relay, by session and person, and drops them when they leave", async () => {
    const alice = personCookie("s1", "alice");
    const started = Date.now();
    const aliceWs = await openWebSocket(relay.port, "s1", alice);
    const aliceKept = await RawConnection.open(relay.port);
    await aliceKept.exchange(
      `GET /kept HTTP/1.1\r\nHost: s1.localhost:${relay.port}\r\nCookie: ${alice}\r\n\r\n`,
      /"url":"\/kept"/,
    );
    const bobWs = await openWebSocket(relay.port, "s1", personCookie("s1", "bob"));

    await vi.waitFor(() => expect(lastReportedOnS1()).toEqual({ alice: 2, bob: 1 }));
    const report = authority.reports.at(-1);
    expect(report?.relayId).toBe("relay-under-test");
    for (const user of report?.sessions[0]?.users ?? []) {
      const since = Date.parse(user.since);
      expect(since).toBeGreaterThanOrEqual(started - 1);
      expect(since).toBeLessThanOrEqual(Date.now());
    }

    aliceWs.terminate();
    aliceKept.socket.destroy();
    await vi.waitFor(() => expect(lastReportedOnS1()).toEqual({ bob: 1 }));
    bobWs.terminate();
    await vi.waitFor(() => expect(authority.reports.at(-1)?.sessions).toEqual([]));
  });

  it("a failed report is logged, and the next change reports the whole picture", async () => {
    authority.failReports = 1;
    const reported = authority.reports.length;
    const first = await openWebSocket(relay.port, "s1", personCookie("s1", "carol"));
    await vi.waitFor(() => expect(authority.failReports).toBe(0));
    expect(authority.reports.length).toBe(reported);
    const second = await openWebSocket(relay.port, "s1", personCookie("s1", "carol"));
    await vi.waitFor(() => expect(lastReportedOnS1()).toEqual({ carol: 2 }));
    first.terminate();
    second.terminate();
    await vi.waitFor(() => expect(authority.reports.at(-1)?.sessions).toEqual([]));
  });
});
