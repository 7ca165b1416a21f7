/**
 * What an attempt's code tries, to show it is shut in: reading the server's files and another attempt's
 * token, listing their directories, connecting to another session's sockets; and writing its own work dir.
 * Used by isolation.test.ts through a stand-in agent, and runnable from a session's terminal:
 * `node --import tsx apps/server/src/executor/isolation-probe.ts targets.json` prints one JSON line per
 * probe and exits 1 if anything that should be refused was reached (or the own dir could not be written).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

import { z } from "zod";

export const ProbeTargetsSchema = z.object({
  /** Files that must not be readable: `<dataDir>/secrets.json`, `/proc/<other agent>/environ`, … */
  unreadable: z.array(z.string()).default([]),
  /** Directories that must not be listable: the data directory, another attempt's work dir, … */
  unlistable: z.array(z.string()).default([]),
  /** Unix sockets that must refuse a connection: another session's code-server and control sockets. */
  sockets: z.array(z.string()).default([]),
  /** A directory the attempt must be able to write (its own work dir). */
  writable: z.string().optional(),
});
export type ProbeTargets = z.input<typeof ProbeTargetsSchema>;

export interface ProbeResult {
  kind: "read" | "list" | "connect" | "write";
  target: string;
  /** Whether the attempt got through (read the file, listed the dir, connected, wrote). */
  reached: boolean;
  /** The error code when it did not (EACCES, ENOENT, …). */
  code?: string;
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException).code ?? String(error);

/** Tries each of `targets` from this process, as whatever user it runs as. */
export async function probeIsolation(targets: ProbeTargets): Promise<ProbeResult[]> {
  const t = ProbeTargetsSchema.parse(targets);
  const attempt = async (
    kind: ProbeResult["kind"],
    target: string,
    act: () => Promise<unknown>,
  ): Promise<ProbeResult> => {
    try {
      await act();
      return { kind, target, reached: true };
    } catch (error) {
      return { kind, target, reached: false, code: codeOf(error) };
    }
  };
  return Promise.all([
    ...t.unreadable.map((file) => attempt("read", file, () => readFile(file))),
    ...t.unlistable.map((dir) => attempt("list", dir, () => readdir(dir))),
    ...t.sockets.map((socket) => attempt("connect", socket, () => connectTo(socket))),
    ...(t.writable
      ? [
          attempt("write", t.writable, async () => {
            const file = join(t.writable ?? "", `.probe-${randomBytes(4).toString("hex")}`);
            await writeFile(file, "written by the isolation probe\n");
            await rm(file);
          }),
        ]
      : []),
  ]);
}

/** Connects to a Unix socket and hangs up; rejects with the connect error (EACCES when its dir is closed). */
function connectTo(socketPath: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection({ path: socketPath });
    socket.once("connect", () => {
      socket.destroy();
      resolvePromise();
    });
    socket.once("error", reject);
  });
}

/**
 * Listens the way a session does: on `control.sock` in a private dir made in the temp directory (`TMPDIR`,
 * the attempt's own), so that another attempt's probe has a live socket to try.
 */
export async function listenLikeASession(): Promise<{ socketPath: string; server: Server }> {
  const dir = await mkdtemp(join(tmpdir(), "drydock-session-"));
  const socketPath = join(dir, "control.sock");
  const server = createServer((connection) => connection.end("control\n"));
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolvePromise);
  });
  return { socketPath, server };
}

/** From a terminal: probe the targets in the JSON file named by the first argument. */
async function main(file: string | undefined): Promise<number> {
  if (!file) {
    console.error("usage: isolation-probe <targets.json>");
    return 2;
  }
  const results = await probeIsolation(JSON.parse(await readFile(file, "utf8")) as ProbeTargets);
  for (const result of results) console.log(JSON.stringify(result));
  const broken = results.some((r) => (r.kind === "write" ? !r.reached : r.reached));
  return broken ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href)
  process.exitCode = await main(process.argv[2]);
