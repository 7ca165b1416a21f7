/**
 * Sharing a live session with a teammate, in Chromium against a real `drydock up` with a real OpenID provider:
 * Alice (editor) launches an interactive task; Bob (viewer) sees the execution but may not open its IDE; Alice
 * shares the session with him and he opens it; Alice revokes, and Bob's open tab loses its connection at once
 * (the time is printed) while Alice's stays, and his cookie is refused.
 */
import type { InteractiveSession } from "@drydock/contracts";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { launchChromium, tearDown, waitFor } from "../harness.js";
import { launchInteractivePipeline, readySession } from "../interactive-pipeline.js";
import { refusal, signInThroughProvider, startTeamStack } from "./people.js";
import type { SignedInPerson, TeamStack } from "./people.js";
import { openIde } from "./session-ide.js";
import type { RecordedSocket } from "./session-ide.js";

/** The acceptance bound: a revoked teammate's open tab is cut within this. */
const DISCONNECT_WITHIN_MS = 2_000;

let team: TeamStack | undefined;
let browser: Browser | undefined;
let executionId: string | undefined;
let alice: SignedInPerson;
let bob: SignedInPerson;
let session: InteractiveSession;

beforeAll(async () => {
  team = await startTeamStack();
  const { stack } = team;
  // The local admin adds both by email; each becomes that user at their first sign-in.
  await stack.api.projects.setMember.mutate({
    project: "default",
    user: team.alice.email,
    role: "editor",
  });
  await stack.api.projects.setMember.mutate({
    project: "default",
    user: team.bob.email,
    role: "viewer",
  });
  browser = await launchChromium();
  alice = await signInThroughProvider(team, await browser.newContext(), team.alice);
  bob = await signInThroughProvider(team, await browser.newContext(), team.bob);
  // Alice launches from the CLI with an API key of her own, so the execution (and its session) is hers.
  const { secret } = await alice.api.apiKeys.create.mutate({
    name: "alice's CLI",
    ceiling: "editor",
  });
  executionId = await launchInteractivePipeline({
    ...stack,
    env: { ...stack.env, DRYDOCK_ENDPOINT: stack.url, DRYDOCK_TOKEN: secret },
  });
  session = await readySession(stack, executionId);
});

afterAll(async () => {
  await tearDown({ browser, executionId, stack: team?.stack });
  await team?.closeProvider();
});

const stillOpen = (sockets: RecordedSocket[]) => sockets.filter((s) => s.closedAt === undefined);

describe("a live session shared with a teammate", () => {
  it("is Alice's: Bob, a viewer, sees the execution but gets no IDE ticket and cannot share it", async () => {
    const { execution } = await alice.api.executions.get.query({ id: executionId ?? "" });
    expect(execution.createdBy?.id).toBe(alice.id);
    const seen = await bob.api.executions.get.query({ id: executionId ?? "" });
    expect(seen.execution.status).toBe("RUNNING");
    expect(await refusal(bob.api.sessions.ideTicket.mutate({ sessionId: session.id }))).toBe(
      "FORBIDDEN",
    );
    expect(
      await refusal(
        bob.api.sessions.share.mutate({
          sessionId: session.id,
          user: bob.user.email,
          expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      ),
    ).toBe("FORBIDDEN");
  });

  it("opens for Bob once Alice shares it; when she revokes, his tab is cut within 2 s, hers stays, and his cookie is refused", async () => {
    const share = await alice.api.sessions.share.mutate({
      sessionId: session.id,
      user: bob.user.email,
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect(share.user.id).toBe(bob.id);
    expect(share.grantedBy.id).toBe(alice.id);

    const aliceSockets: RecordedSocket[] = [];
    const bobSockets: RecordedSocket[] = [];
    await openIde(alice.context, alice.api, session.id, aliceSockets);
    const bobTab = await openIde(bob.context, bob.api, session.id, bobSockets);
    const sessionOrigin = new URL(bobTab.url()).origin;
    expect(new URL(sessionOrigin).hostname).toBe(`${session.id}.localhost`);
    // The workbench's WebSockets came up through the relay for both of them.
    await waitFor("both workbenches' WebSockets", async () =>
      stillOpen(aliceSockets).length > 0 && stillOpen(bobSockets).length > 0 ? true : undefined,
    );

    // Alice sees that Bob opened it, and that he is connected now.
    const seen = await waitFor(
      "Bob among the connected",
      async () => {
        const access = await alice.api.sessions.access.query({ sessionId: session.id });
        return access.connected.some((c) => c.user.id === bob.id) ? access : undefined;
      },
      15_000,
    );
    expect(seen.owner?.id).toBe(alice.id);
    expect(seen.openedBy.map((o) => o.user.id)).toEqual(expect.arrayContaining([alice.id, bob.id]));
    expect(seen.shares.map((s) => s.user.id)).toContain(bob.id);

    const bobsOpen = stillOpen(bobSockets);
    const alicesOpen = stillOpen(aliceSockets);
    const revokedAt = Date.now();
    await alice.api.sessions.revokeShare.mutate({ sessionId: session.id, user: bob.user.email });
    await waitFor(
      "Bob's WebSockets to close",
      async () => (bobsOpen.every((s) => s.closedAt !== undefined) ? true : undefined),
      15_000,
    );
    const disconnectMs = Math.max(...bobsOpen.map((s) => (s.closedAt ?? Infinity) - revokedAt));
    process.stdout.write(
      `share revoked: Bob's ${bobsOpen.length} open WebSocket(s) closed ${disconnectMs} ms after revokeShare was called\n`,
    );
    expect(disconnectMs).toBeLessThanOrEqual(DISCONNECT_WITHIN_MS);
    // Alice, the owner, stays connected: the revocation cut Bob's connections only.
    expect(alicesOpen.filter((s) => s.closedAt !== undefined)).toEqual([]);

    // Bob's cookie is still in his browser, and refused on a new request.
    expect((await bob.context.cookies(sessionOrigin)).map((c) => c.name)).toContain("drydock_ide");
    const again = await bob.context.newPage();
    const answer = await again.goto(`${sessionOrigin}/`);
    expect(answer?.status()).toBe(401);
    expect(await again.textContent("body")).toMatch(/revoked/i);
    // He cannot get a new ticket either, and he drops out of "connected now".
    expect(await refusal(bob.api.sessions.ideTicket.mutate({ sessionId: session.id }))).toBe(
      "FORBIDDEN",
    );
    await waitFor(
      "Bob to leave the connected",
      async () => {
        const access = await alice.api.sessions.access.query({ sessionId: session.id });
        return access.connected.some((c) => c.user.id === bob.id) ? undefined : access;
      },
      15_000,
    );
    expect(stillOpen(aliceSockets).length).toBeGreaterThan(0);
  });
});
