/**
 * One interactive session, from opening to its end: the agent registers the session, lays out the
 * workspace, starts code-server where only it can reach it, carries the relay tunnel, reports activity
 * with its heartbeat, and waits for the session to end — resumed (the resume script, the console, the CLI),
 * idle (the deadline on the session record passed), or stopped (the attempt was aborted). Whatever the end,
 * code-server and its whole process tree are gone before `holdSession` returns.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

import type { AttemptAssignment, ErrorInfo, ExtensionProblem, InteractiveConfig, JsonValue } from "@drydock/contracts";
import type { IdeContext, IdeStatus } from "@drydock/contracts/ide";
import { openTunnel } from "@drydock/tunnel";
import type { TunnelClient } from "@drydock/tunnel";
import type { Logger } from "pino";

import type { CachedBundle } from "../bundle-cache.js";
import type { AgentClient } from "../client.js";
import { describeError } from "../client.js";
import type { AgentConfig } from "../env.js";
import { describeListen, startCodeServer } from "./code-server.js";
import type { RunningCodeServer } from "./code-server.js";
import { startControlServer } from "./control.js";
import type { ControlServer } from "./control.js";
import { installExtensions } from "./extensions.js";
import { openLocalPort } from "./local-port.js";
import type { LocalPort } from "./local-port.js";
import { ensureCodeServer } from "./provision.js";
import { prepareWorkspace, USER_SETTINGS, workspaceChanges, workspaceEdits } from "./workspace.js";

type Call = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** What the heartbeat answers about the session (see AgentHeartbeatOutput). */
export interface SessionBeatAnswer {
  idleRemainingMs: number;
  idleDeadline: string;
  resumeRequested: boolean;
}

/**
 * The heartbeat's link to the session: before each beat it asks whether the session saw activity, after
 * it hands over the server's answer. Attached while a session is held.
 */
export class SessionBeat {
  private session: { active(): boolean; tunnelDownMs(): number; answered(answer: SessionBeatAnswer | undefined): void } | undefined;

  attach(session: NonNullable<SessionBeat["session"]>): void {
    this.session = session;
  }

  detach(): void {
    this.session = undefined;
  }

  /** The heartbeat's input. */
  input(): { sessionActive?: boolean; tunnelDownMs?: number } | undefined {
    return this.session ? { sessionActive: this.session.active(), tunnelDownMs: Math.round(this.session.tunnelDownMs()) } : undefined;
  }

  /** The heartbeat's answer. */
  answered(answer: SessionBeatAnswer | undefined): void {
    this.session?.answered(answer);
  }
}

export interface HoldSessionOptions {
  config: AgentConfig;
  client: AgentClient;
  call: Call;
  log: Logger;
  /** A line in the task's log. */
  system: (line: string) => void;
  assignment: AttemptAssignment;
  interactive: InteractiveConfig;
  bundle: CachedBundle;
  inputs: Record<string, unknown>;
  beat: SessionBeat;
  signal: AbortSignal;
  /** With runTaskFirst: why the first run failed. */
  firstRunError?: ErrorInfo;
  /** Extensions every session gets, before the task's own. */
  defaultExtensions?: readonly string[];
  /** Runs once code-server has stopped, before the session is reported ended (postExecute). */
  afterStop?: (ending: SessionEnding["kind"]) => Promise<void>;
  /** Called once code-server answers and the tunnel to the relay is up (the session is about to be READY). */
  onReachable?: () => void;
  /** How often the edits are saved to the control plane while the session runs. */
  changesEveryMs?: number;
}

export type SessionEnding =
  | { kind: "resume"; workspace: string; sessionId: string }
  | { kind: "idle"; sessionId: string }
  | { kind: "stopped"; sessionId?: string };

export interface HeldSession {
  ending: SessionEnding;
  /** Removes the session's private directory (workspace included): call once the resumed task ran. */
  dispose(): Promise<void>;
}

/** Holds the attempt's session until it ends; code-server is stopped by then, whatever happened. */
export async function holdSession(options: HoldSessionOptions): Promise<HeldSession> {
  const { config, client, call, log, system, assignment, interactive } = options;
  // The attempt's private directory: code-server's socket, the control socket, its profile, the workspace.
  const privateDir = await mkdtemp(join(tmpdir(), "drydock-session-"));
  const dispose = () => rm(privateDir, { recursive: true, force: true });
  const resources: Resources = {};
  let sessionId: string | undefined;
  const ending = new Ending(options.signal);
  // A stopped attempt's agent exits as soon as this returns: nothing is left to clean up after.
  const stoppedEarly = async (): Promise<HeldSession> => {
    await stopAll(resources);
    await dispose();
    return { ending: { kind: "stopped", ...(sessionId ? { sessionId } : {}) }, dispose: async () => undefined };
  };
  try {
    const opened = await call("openSession", () =>
      client.agent.openSession.mutate({
        maxIdleSeconds: interactive.maxIdleSeconds,
        ...(options.firstRunError ? { firstRunError: options.firstRunError } : {}),
      }),
    );
    sessionId = opened.sessionId;
    log.info({ sessionId }, "interactive session opened");

    const controlSocket = join(privateDir, "control.sock");
    // The session's own processes (the Drydock extension, the resume script) reach the agent with this.
    const controlToken = randomBytes(24).toString("hex");
    const controlTokenFile = join(privateDir, "control.token");
    await writeFile(controlTokenFile, controlToken, { mode: 0o600 });
    const workspace = await prepareWorkspace({
      bundleDir: options.bundle.dir,
      manifest: options.bundle.manifest,
      dir: join(privateDir, "workspace"),
      task: { name: assignment.task.name, executionId: assignment.executionId, nodeId: assignment.nodeId, attemptNumber: assignment.attemptNumber },
      inputs: options.inputs,
      controlSocket,
      controlTokenFile,
      nodeBin: process.execPath,
      ...(options.firstRunError ? { firstRunError: options.firstRunError } : {}),
    });
    system(`VS Code workspace: ${workspace}`);
    if (ending.settled) return await stoppedEarly();

    const bin = await ensureCodeServer({ ideDir: config.ideDir, env: config.childEnv, onProgress: system, onOutput: system });
    const profileDir = join(privateDir, "profile");
    // Its temp files (the IDE's IPC sockets, the terminals' scratch) live and die with the session.
    const tmp = join(privateDir, "tmp");
    await mkdir(tmp, { mode: 0o700 });
    const env = { ...config.childEnv, DRYDOCK_CONTROL_SOCKET: controlSocket, DRYDOCK_CONTROL_TOKEN: controlToken, TMPDIR: tmp };
    const extensions = [...new Set([...(options.defaultExtensions ?? []), ...interactive.extensions])];
    let extensionsDir: string | undefined;
    if (extensions.length > 0) {
      const { installed, problems, extensionsDir: setDir } = await installExtensions({
        bin,
        extensions,
        cacheDir: config.cacheDir,
        userDataDir: join(profileDir, "data"),
        env: { ...env, HOME: profileDir },
        onProgress: system,
        signal: options.signal,
      });
      log.info({ installed, problems, extensionsDir: setDir }, "extensions installed");
      extensionsDir = setDir;
      if (problems.length > 0) await reportProblems(options, problems);
    }
    if (ending.settled) return await stoppedEarly();

    // code-server answers only on its private socket; a pinned port gets a guard in front of it (local-port.ts).
    const listen = { socketPath: join(privateDir, "code-server.sock") };
    resources.ide = await startCodeServer({
      bin,
      listen,
      workspace,
      profileDir,
      ...(extensionsDir ? { extensionsDir } : {}),
      env,
      userSettings: USER_SETTINGS,
      onOutput: (line) => log.debug({ codeServer: line }),
    });
    log.info({ pid: resources.ide.pid, listen: describeListen(listen) }, "code-server started");
    system(`code-server started (pid ${resources.ide.pid}); the VSCode (User) link appears in the console once it answers through the relay`);
    void resources.ide.exited.then((code) => ending.settle({ kind: "crashed", code }));
    if (interactive.port) {
      resources.localPort = await openLocalPort({ port: interactive.port, socketPath: listen.socketPath });
      log.info({ port: interactive.port }, "the IDE's local port is open");
      system(`VS Code on this machine (vscode port ${interactive.port}), signed in by this link: ${resources.localPort.signInUrl}`);
    }

    // Activity since the last beat: streams through the tunnel, code-server's heartbeat file, a keep-alive.
    let pendingActivity = false;
    let lastAnswer: Partial<SessionBeatAnswer> = {};
    const status = (): IdeStatus => ({
      state: ending.settled ? "ending" : "open",
      maxIdleSeconds: interactive.maxIdleSeconds,
      ...(lastAnswer.idleDeadline ? { idleDeadline: lastAnswer.idleDeadline } : {}),
      ...(lastAnswer.idleRemainingMs !== undefined ? { idleRemainingMs: lastAnswer.idleRemainingMs } : {}),
      resumeRequested: lastAnswer.resumeRequested ?? false,
    });
    resources.control = await startControlServer(controlSocket, controlToken, {
      context: async () => ideContext(options),
      status: async () => status(),
      keepAlive: async () => {
        pendingActivity = true;
        system("keep-alive from the IDE: the idle deadline moves a full maxIdleSeconds on");
        // A beat now rather than at the next tick, so the IDE shows the moved deadline at once.
        const answer = await call("heartbeat", () => client.agent.heartbeat.mutate(options.beat.input()));
        options.beat.answered(answer.session);
        return status();
      },
      resume: async () =>
        ending.settle({ kind: "resume", by: "the IDE" })
          ? { accepted: true, message: "resuming: code-server stops now and the task runs with the edited sources" }
          : { accepted: false, message: "the session is already ending" },
      changes: async () => {
        const edits = await workspaceEdits(options.bundle.dir, options.bundle.manifest, workspace);
        return {
          patch: edits.map((e) => e.patch).join(""),
          files: edits.map((e) => ({ path: e.path, original: e.before ?? null, status: e.before === undefined ? "added" : e.after === undefined ? "deleted" : "modified" })),
        };
      },
    });

    resources.tunnel = openTunnel({
      relayUrl: opened.tunnel.relayUrl,
      host: opened.tunnel.host,
      token: config.token,
      target: listen,
      // Someone else with this attempt's token took the tunnel: take it back while the attempt and session live.
      stillOurs: async () => {
        const answer = await client.agent.heartbeat.mutate(options.beat.input());
        options.beat.answered(answer.session);
        const ours = answer.proceed && answer.session !== undefined && !ending.settled;
        log.warn({ ours }, "another connection with this attempt's token replaced the session's tunnel");
        if (ours) system("another connection replaced the IDE's tunnel to the relay; this agent still holds the session and reconnects");
        return ours;
      },
    });
    resources.tunnel.on("refused", (error) => {
      log.error({ error: error.message }, "the relay refused the session's tunnel");
      system(`the relay refused the session's tunnel: ${error.message}`);
    });
    resources.tunnel.on("disconnected", (reason) => log.warn({ reason }, "tunnel lost; reconnecting"));
    if (options.onReachable) {
      // Up once the relay has the tunnel; with the relay away, a few seconds after code-server answered.
      const reachable = options.onReachable;
      const fallback = setTimeout(reachable, REACHABLE_FALLBACK_MS);
      const settle = () => {
        clearTimeout(fallback);
        reachable();
      };
      void resources.tunnel.whenConnected().then(settle, settle);
    }

    const heartbeatFile = join(profileDir, "data", "heartbeat");
    let seenStreams = 0;
    let seenHeartbeat = 0;
    const sampleActivity = async () => {
      const streams = (resources.tunnel?.activity().opened ?? 0) + (resources.localPort?.activity().opened ?? 0);
      const mtime = await stat(heartbeatFile).then((s) => s.mtimeMs, () => 0);
      if (streams !== seenStreams || mtime !== seenHeartbeat) pendingActivity = true;
      seenStreams = streams;
      seenHeartbeat = mtime;
    };
    const sampler = setInterval(() => void sampleActivity(), 500);
    options.beat.attach({
      // An open stream (a browser connected) is activity as long as it stays open.
      active: () => {
        const active = pendingActivity || (resources.tunnel?.activity().open ?? 0) + (resources.localPort?.activity().open ?? 0) > 0;
        pendingActivity = false;
        return active;
      },
      tunnelDownMs: () => resources.tunnel?.downForMs() ?? 0,
      answered: (answer) => {
        if (!answer) return;
        lastAnswer = answer;
        if (answer.resumeRequested) ending.settle({ kind: "resume", by: "a user (console or CLI)" });
        else if (answer.idleRemainingMs <= 0) ending.settle({ kind: "idle" });
      },
    });

    // The edits are saved as they are made, so `drydock changes` has them even if the agent is killed.
    let savedChanges = "";
    const saveChanges = async () => {
      const patch = await workspaceChanges(options.bundle.dir, options.bundle.manifest, workspace);
      if (patch === savedChanges) return;
      await call("updateSession", () => client.agent.updateSession.mutate({ changes: patch }));
      savedChanges = patch;
    };
    resources.timer = setInterval(
      () => void saveChanges().catch((error: unknown) => log.warn({ error: describeError(error) }, "could not save the IDE's edits")),
      options.changesEveryMs ?? 5_000,
    );

    const why = await ending.promise;
    clearInterval(sampler);
    options.beat.detach();
    await stopAll(resources);
    log.info({ why }, "code-server stopped");
    system(`code-server stopped (${describeWhy(why, interactive.maxIdleSeconds)})`);

    if (why.kind === "stopped") {
      // The agent is on its way out: one quick try to save the last edits (no retries), then clean up.
      const lastEdits = workspaceChanges(options.bundle.dir, options.bundle.manifest, workspace).then((patch) =>
        patch === savedChanges ? undefined : client.agent.updateSession.mutate({ changes: patch }),
      );
      await Promise.race([lastEdits.catch(() => undefined), sleep(1_000)]);
      return await stoppedEarly();
    }
    const kind = why.kind === "resume" ? "resume" : "idle";
    if (why.kind !== "crashed") await options.afterStop?.(kind);
    await saveChanges().catch((error: unknown) => log.warn({ error: describeError(error) }, "could not save the IDE's edits"));
    const reason = why.kind === "resume" ? "resumed" : why.kind === "idle" ? "idle" : "failed";
    await call("endSession", () => client.agent.endSession.mutate({ reason }));
    if (why.kind === "crashed") throw new Error(`code-server exited on its own (code ${String(why.code)}) before the session ended`);
    return { ending: kind === "resume" ? { kind, workspace, sessionId } : { kind: "idle", sessionId }, dispose };
  } catch (error) {
    await stopAll(resources);
    await dispose();
    throw error;
  } finally {
    options.beat.detach();
    ending.dispose();
  }
}

/** What the Drydock extension shows about the task (see IdeContext). */
function ideContext(options: HoldSessionOptions): IdeContext {
  const { assignment, firstRunError } = options;
  return {
    execution: { id: assignment.executionId, workflow: assignment.workflow?.name ?? "", version: assignment.workflow?.version ?? "" },
    node: { id: assignment.nodeId, task: assignment.task.name },
    attempt: { id: assignment.attemptId, number: assignment.attemptNumber },
    inputs: options.inputs as Record<string, JsonValue>,
    upstream: assignment.upstream ?? [],
    ...(firstRunError ? { firstRunError } : {}),
    ...(assignment.consoleUrl ? { consoleUrl: assignment.consoleUrl } : {}),
    entry: options.bundle.manifest.entry,
  };
}

async function reportProblems(options: HoldSessionOptions, problems: ExtensionProblem[]): Promise<void> {
  for (const problem of problems) options.system(`extension ${problem.extension} was not installed: ${problem.message}`);
  await options
    .call("updateSession", () => options.client.agent.updateSession.mutate({ extensionProblems: problems }))
    .catch((error: unknown) => options.log.warn({ error: describeError(error) }, "could not report the extension problems"));
}

/** Stops what the session started; what it stopped is forgotten, so calling it again does nothing. */
type Resources = { ide?: RunningCodeServer; tunnel?: TunnelClient; control?: ControlServer; localPort?: LocalPort; timer?: NodeJS.Timeout };

async function stopAll(resources: Resources) {
  const { ide, tunnel, control, localPort, timer } = resources;
  clearInterval(timer);
  for (const key of ["ide", "tunnel", "control", "localPort", "timer"] as const) delete resources[key];
  await Promise.all([tunnel?.close(), control?.close(), localPort?.close(), ide?.stop(3_000)]);
}

/** How long `onReachable` waits for the tunnel after code-server answered, when the relay cannot be reached. */
const REACHABLE_FALLBACK_MS = 3_000;

type Why = { kind: "resume"; by: string } | { kind: "idle" } | { kind: "stopped" } | { kind: "crashed"; code: number | null };

function describeWhy(why: Why, maxIdleSeconds: number): string {
  switch (why.kind) {
    case "resume":
      return `resume asked for by ${why.by}`;
    case "idle":
      return `no activity for ${maxIdleSeconds} s`;
    case "stopped":
      return "the attempt was stopped";
    case "crashed":
      return `it exited on its own with code ${String(why.code)}`;
  }
}

/** The first reason the session ends wins; the attempt's stop signal is one. */
class Ending {
  settled: Why | undefined;
  readonly promise: Promise<Why>;
  private resolve!: (why: Why) => void;
  private readonly onAbort = () => this.settle({ kind: "stopped" });

  constructor(private readonly signal: AbortSignal) {
    this.promise = new Promise((resolve) => (this.resolve = resolve));
    if (signal.aborted) this.onAbort();
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  /** True when this reason ended the session; false when it was already ending. */
  settle(why: Why): boolean {
    if (this.settled) return false;
    this.settled = why;
    this.resolve(why);
    return true;
  }

  dispose(): void {
    this.signal.removeEventListener("abort", this.onAbort);
  }
}
