import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, request, type IncomingMessage } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

import { openTunnel, RelayTunnel, TUNNEL_PATH } from "@drydock/tunnel";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { groupAlive } from "../process-group.js";
import { defaultIdeDir, IDE_RUNTIME, runtimeName } from "./runtime.js";
import {
  CodeServerMissingError,
  findCodeServer,
  getFrom,
  startCodeServer,
  type RunningCodeServer,
} from "./code-server.js";

let dir: string;
let ide: RunningCodeServer;
const output: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "drydock-ide-"));
  await writeFile(join(dir, "task.ts"), "export const answer = 42;\n");
  const bin = await findCodeServer({ ideDir: defaultIdeDir(process.env) });
  ide = await startCodeServer({
    bin,
    listen: { socketPath: join(dir, "ide.sock") },
    workspace: dir,
    profileDir: join(dir, "profile"),
    env: { PATH: process.env.PATH },
    onOutput: (l) => output.push(l),
  });
}, 90_000);

afterAll(async () => {
  await ide?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("code-server in the task", () => {
  it("finds the pinned version, and names what is missing when it cannot", async () => {
    await expect(findCodeServer({ ideDir: join(dir, "empty") })).rejects.toThrow(
      CodeServerMissingError,
    );
    // A runtime directory holding another version (an interrupted upgrade, a hand-made copy) is not used.
    const other = join(dir, "other", runtimeName());
    await mkdir(join(other, "bin"), { recursive: true });
    await mkdir(join(other, "node_modules", "code-server"), { recursive: true });
    await writeFile(join(other, "bin", "code-server"), "#!/bin/sh\n", { mode: 0o755 });
    await writeFile(
      join(other, "node_modules", "code-server", "package.json"),
      JSON.stringify({ name: "code-server", version: "4.100.3" }),
    );
    await expect(findCodeServer({ ideDir: join(dir, "other") })).rejects.toThrow(
      new RegExp(
        `code-server ${IDE_RUNTIME.codeServer.replace(/\./g, "\\.")} is not installed in .* \\(it holds 4\\.100\\.3\\); .*drydock ide install`,
      ),
    );
  });

  it("listens on its Unix socket only, readable by the agent alone", async () => {
    expect(await getFrom(ide.listen, "/healthz")).toBe(200);
    const mode = (await stat(join(dir, "ide.sock"))).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it("is reached through a relay tunnel whose target is that socket", async () => {
    let tunnel: RelayTunnel | undefined;
    const relay = createServer((req, res) => tunnel?.forwardRequest(req, res));
    relay.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (req.url === TUNNEL_PATH) void RelayTunnel.accept(socket, head).then((t) => (tunnel = t));
    });
    relay.listen(0, "127.0.0.1");
    await once(relay, "listening");
    const port = (relay.address() as AddressInfo).port;
    const client = openTunnel({
      relayUrl: `http://127.0.0.1:${port}`,
      host: "s1.localhost",
      token: "t",
      target: { socketPath: join(dir, "ide.sock") },
    });
    try {
      await client.whenConnected();
      const res = await new Promise<IncomingMessage>((resolve, reject) =>
        request({ host: "127.0.0.1", port, path: "/" }, resolve).on("error", reject).end(),
      );
      res.resume();
      // code-server's own answer: a redirect into the folder it was opened on.
      expect(res.statusCode).toBe(302);
      expect(res.headers.location).toContain(
        `folder=${encodeURIComponent(dir).replace(/%2F/g, "/")}`,
      );
    } finally {
      await client.close();
      tunnel?.close();
      relay.close();
    }
  });

  it("stops with its whole process tree and removes its socket", async () => {
    const second = await startCodeServer({
      bin: await findCodeServer({ ideDir: defaultIdeDir(process.env) }),
      listen: { socketPath: join(dir, "second.sock") },
      workspace: dir,
      profileDir: join(dir, "profile2"),
      env: { PATH: process.env.PATH },
    });
    expect(await groupAlive(second.pid)).toBe(true);
    await second.stop();
    expect(await groupAlive(second.pid)).toBe(false);
    await expect(stat(join(dir, "second.sock"))).rejects.toThrow(/ENOENT/);
  }, 90_000);

  it("listens on 127.0.0.1 at a pinned port when asked (vscode({ port }))", async () => {
    const probe = createServer().listen(0, "127.0.0.1");
    await once(probe, "listening");
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    const pinned = await startCodeServer({
      bin: await findCodeServer({ ideDir: defaultIdeDir(process.env) }),
      listen: { host: "127.0.0.1", port },
      workspace: dir,
      profileDir: join(dir, "profile3"),
      env: { PATH: process.env.PATH },
    });
    try {
      expect(await getFrom({ host: "127.0.0.1", port }, "/healthz")).toBe(200);
    } finally {
      await pinned.stop();
    }
    expect(await getFrom({ host: "127.0.0.1", port }, "/healthz")).toBeUndefined();
  }, 90_000);

  it("ends when the agent is killed without stopping it (SIGKILL): no code-server process outlives the agent", async () => {
    const holder = spawn(
      process.execPath,
      [
        "--import",
        "tsx/esm",
        fileURLToPath(new URL("../test/hold-code-server.ts", import.meta.url)),
        dir,
      ],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    holder.stdout.on("data", (d: Buffer) => (out += d.toString()));
    const pid = await new Promise<number>((resolve, reject) => {
      holder.stdout.on("data", () => {
        const match = /pid (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      });
      holder.on("exit", (code) => reject(new Error(`the holder exited with ${code}: ${out}`)));
    });
    expect(await groupAlive(pid)).toBe(true);
    holder.kill("SIGKILL");
    const deadline = Date.now() + 15_000;
    while ((await groupAlive(pid)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(await groupAlive(pid)).toBe(false);
  }, 90_000);
});
