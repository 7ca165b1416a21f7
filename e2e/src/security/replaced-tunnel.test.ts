/**
 * A process holding the attempt's agent token dials the relay for the session: its connection replaces the
 * agent's tunnel. The agent used to stop dialling for good, and once the intruder hung up the session stayed
 * READY but answered 503 forever. Now the replaced agent asks the control plane whether the session is still its
 * own, takes the tunnel back, and the IDE answers again.
 */
import { once } from "node:events";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";

import type { InteractiveSession } from "@drydock/contracts";
import { openTunnel, type TunnelClient } from "@drydock/tunnel";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { processTable, startStack, tearDown, waitFor } from "../harness.js";
import type { Stack } from "../harness.js";
import { launchInteractivePipeline, readySession } from "../interactive-pipeline.js";

let stack: Stack;
let executionId: string;
let session: InteractiveSession;

beforeAll(async () => {
  stack = await startStack();
  executionId = await launchInteractivePipeline(stack);
  session = await readySession(stack, executionId);
});

afterAll(() => tearDown({ executionId, stack }));

/** GET `path` on the session's IDE through the relay, signed in with `cookie`: the status and the body. */
function get(
  relayPort: number,
  path: string,
  cookie: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(
      {
        host: "127.0.0.1",
        port: relayPort,
        path,
        headers: { host: `${session.id}.localhost:${relayPort}`, cookie },
      },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => (body += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    )
      .on("error", reject)
      .end();
  });
}

async function signIn(relayPort: number): Promise<string> {
  const ticket = new URL(
    (await stack.api.sessions.ideTicket.mutate({ sessionId: session.id })).url,
  );
  return new Promise((resolve, reject) => {
    request(
      {
        host: "127.0.0.1",
        port: relayPort,
        path: `${ticket.pathname}${ticket.search}`,
        headers: { host: ticket.host },
      },
      (res) => {
        res.resume();
        resolve((res.headers["set-cookie"] ?? []).map((c) => c.split(";")[0]).join("; "));
      },
    )
      .on("error", reject)
      .end();
  });
}

describe("a tunnel replaced by another holder of the agent's token", () => {
  it("is taken back by the session's agent, and the IDE answers again once the intruder hangs up", async () => {
    const relayPort = Number(/relay:\s+http:\/\/[^:]+:(\d+)/.exec(stack.output())?.[1]);
    const cookie = await signIn(relayPort);
    expect((await get(relayPort, "/healthz", cookie)).status).toBe(200);

    // The agent's token, as any process of the same user can read it.
    const agent = (await processTable()).find((p) => p.cmdline.includes("agent/dist/main.js"));
    expect(agent).toBeDefined();
    const environ = (await readFile(`/proc/${agent?.pid}/environ`, "utf8")).split("\0");
    const token =
      environ
        .find((e) => e.startsWith("DRYDOCK_AGENT_TOKEN="))
        ?.slice("DRYDOCK_AGENT_TOKEN=".length) ?? "";
    expect(token).not.toBe("");

    // The intruder's tunnel leads to its own server.
    const decoy = createServer((_req, res) => res.end("decoy"));
    decoy.listen(0, "127.0.0.1");
    await once(decoy, "listening");
    let intruder: TunnelClient | undefined;
    try {
      intruder = openTunnel({
        relayUrl: `http://127.0.0.1:${relayPort}`,
        host: `${session.id}.localhost:${relayPort}`,
        token,
        target: { host: "127.0.0.1", port: (decoy.address() as AddressInfo).port },
        initialBackoffMs: 60_000,
      });
      await intruder.whenConnected();
      // The agent hears it was replaced, checks with the control plane, and dials again: the intruder is out.
      const refused = await Promise.race([
        new Promise<string>((resolve) =>
          intruder?.once("refused", (error) => resolve(error.message)),
        ),
        new Promise<string>((resolve) =>
          setTimeout(() => resolve("the intruder still holds the tunnel after 20 s"), 20_000),
        ),
      ]);
      expect(refused).toMatch(/replaced/);
    } finally {
      await intruder?.close();
      decoy.close();
    }
    const answer = await waitFor(
      "the IDE to answer through the relay again",
      async () => {
        const res = await get(relayPort, "/healthz", cookie);
        return res.status === 200 ? res : undefined;
      },
      20_000,
    );
    expect(answer.body).not.toBe("decoy");
    const { nodes } = await stack.api.executions.get.query({ id: executionId });
    expect(nodes.find((n) => n.nodeId === "n1")?.attempts.at(-1)?.session?.state).toBe("READY");
    // The task's log says what happened (its lines reach the server in batches).
    const attemptId = nodes.find((n) => n.nodeId === "n1")?.attempts.at(-1)?.id ?? "";
    await waitFor(
      "the task's log to tell of the replaced tunnel",
      async () => {
        const { text } = await stack.api.executions.logs.query({ attemptId });
        return /another connection replaced the IDE's tunnel/.test(text) ? true : undefined;
      },
      10_000,
    );
  });
});
