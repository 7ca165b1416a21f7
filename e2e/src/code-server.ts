import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { waitFor } from "./harness.js";

export interface CodeServer {
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/**
 * A real code-server on loopback only (127.0.0.1), in its own process group with its own profile, opened
 * on `folder`. `stop()` ends the whole group and removes the profile.
 */
export async function startCodeServer(folder: string): Promise<CodeServer> {
  const profile = await mkdtemp(join(tmpdir(), "drydock-code-server-"));
  const port = await freePort();
  const child = spawn(
    "code-server",
    [
      "--bind-addr",
      `127.0.0.1:${port}`,
      "--auth",
      "none",
      "--disable-telemetry",
      "--disable-update-check",
      "--disable-workspace-trust",
      "--disable-getting-started-override",
      "--user-data-dir",
      join(profile, "data"),
      "--extensions-dir",
      join(profile, "extensions"),
      folder,
    ],
    { detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HOME: profile } },
  );
  let log = "";
  child.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-(child.pid as number), "SIGTERM");
      } catch {
        // already gone
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-(child.pid as number), "SIGKILL");
        } catch {
          // already gone
        }
      }, 5_000);
      await exited;
      clearTimeout(killer);
    }
    await rm(profile, { recursive: true, force: true });
  };
  try {
    await waitFor(
      "code-server to answer /healthz",
      async () => {
        if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}:\n${log}`);
        const res = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      60_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, process: child, stop };
}
