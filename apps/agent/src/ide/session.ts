/**
 * One interactive session, from opening to its end: the agent registers the session, lays out the
 * workspace, starts code-server where only it can reach it, carries the relay tunnel, reports activity
 * with its heartbeat, and waits for the session to end — resumed (the resume script, the console, the CLI,
 * or a paused task continued to its end in the debugger), unopened or idle (the deadline on the session
 * record passed), or stopped (the attempt was aborted). Whatever the end, code-server and its whole process
 * tree are gone before `holdSession` returns. Each part has a module of its own; this one wires them.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type {
  AttemptAssignment,
  ErrorInfo,
  InteractiveConfig,
  PauseInfo,
  RecordedResumeChoice,
} from "@drydock/contracts";
import type { Logger } from "pino";

import type { CachedBundle } from "../bundle-cache.js";
import { describeError } from "../client.js";
import type { AgentClient, ServerCall } from "../client.js";
import type { AgentConfig } from "../env.js";
import { ActivityMonitor } from "./activity-monitor.js";
import { ChangeSaver } from "./change-saver.js";
import { IdleDeadline } from "./idle-deadline.js";
import type { SessionBeat } from "./session-beat.js";
import { startSessionControl } from "./session-control.js";
import { describeEndReason, Ending, sessionLimits } from "./session-ending.js";
import type { EndReason } from "./session-ending.js";
import { launchIde, prepareIde } from "./session-ide.js";
import type { SessionPause } from "./session-pause.js";
import { SessionResources } from "./session-resources.js";
import { holdTunnel } from "./tunnel-holder.js";
import { prepareWorkspace } from "./workspace.js";

export interface HoldSessionOptions {
  config: AgentConfig;
  client: AgentClient;
  call: ServerCall;
  log: Logger;
  /** Writes one of the agent's lines into the task's log. */
  writeTaskLog: (line: string) => void;
  assignment: AttemptAssignment;
  interactive: InteractiveConfig;
  bundle: CachedBundle;
  inputs: Record<string, unknown>;
  beat: SessionBeat;
  signal: AbortSignal;
  /** With runTaskFirst: why the first run failed. */
  firstRunError?: ErrorInfo;
  /** The task's process, paused (post-mortem or a pause point): VS Code attaches to it. */
  pause?: SessionPause;
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
  | { kind: "resume"; choice: RecordedResumeChoice; workspace: string; sessionId: string }
  | { kind: "idle" | "unopened"; sessionId: string }
  | { kind: "stopped"; sessionId?: string };

export interface HeldSession {
  ending: SessionEnding;
  /** Removes the session's private directory (workspace included): call once the resumed task ran. */
  dispose(): Promise<void>;
}

/** Holds the attempt's session until it ends; code-server is stopped by then, whatever happened. */
export async function holdSession(options: HoldSessionOptions): Promise<HeldSession> {
  const { log, writeTaskLog, interactive, beat } = options;
  // The attempt's private directory: code-server's socket, the control socket, its profile, the workspace.
  const privateDir = await mkdtemp(join(tmpdir(), "drydock-session-"));
  const dispose = () => rm(privateDir, { recursive: true, force: true });
  const resources = new SessionResources();
  const ending = new Ending(options.signal);
  let sessionId: string | undefined;
  // A stopped attempt's agent exits as soon as this returns: nothing is left to clean up after.
  const stoppedEarly = async (): Promise<HeldSession> => {
    await resources.stopAll();
    await dispose();
    return {
      ending: { kind: "stopped", ...(sessionId ? { sessionId } : {}) },
      dispose: () => Promise.resolve(),
    };
  };
  try {
    const opened = await openSession(options);
    sessionId = opened.sessionId;
    const control = await controlAccess(privateDir);
    const workspace = await layOutWorkspace(options, privateDir, control);
    if (ending.settled) return await stoppedEarly();

    const ideOptions = { ...options, privateDir, control };
    const ide = await prepareIde(ideOptions);
    if (ending.settled) return await stoppedEarly();
    const listen = await launchIde(ideOptions, ide, workspace, resources);
    void resources.ide?.exited.then((code) => ending.settle({ kind: "crashed", code }));
    const changes = await serveSession(options, {
      tunnel: opened.tunnel,
      control,
      workspace,
      heartbeatFile: join(ide.profileDir, "data", "heartbeat"),
      listen,
      resources,
      ending,
    });
    // Only now: the paused process running to its end settles the session, which must be up by then.
    watchPause(options, opened.pause, ending);

    const why = await ending.promise;
    beat.detach();
    await resources.stopAll();
    log.info({ why }, "code-server stopped");
    writeTaskLog(`code-server stopped (${describeEndReason(why, sessionLimits(interactive))})`);
    if (why.kind === "stopped") {
      // The agent is on its way out: one quick try to save the last edits, then clean up.
      await changes.saveBeforeExit(1_000);
      return await stoppedEarly();
    }
    await endSession(options, why, changes);
    return {
      ending:
        why.kind === "resume"
          ? { kind: "resume", choice: why.choice, workspace, sessionId: opened.sessionId }
          : { kind: why.kind === "unopened" ? "unopened" : "idle", sessionId: opened.sessionId },
      dispose,
    };
  } catch (error) {
    await resources.stopAll();
    await dispose();
    throw error;
  } finally {
    options.pause?.unwatch();
    beat.detach();
    ending.dispose();
  }
}

async function openSession(options: HoldSessionOptions) {
  const { interactive } = options;
  const pause = options.pause?.current;
  const opened = await options.call("openSession", () =>
    options.client.agent.openSession.mutate({
      maxIdleSeconds: interactive.maxIdleSeconds,
      maxUnopenedSeconds: sessionLimits(interactive).maxUnopenedSeconds,
      ...(options.firstRunError ? { firstRunError: options.firstRunError } : {}),
      ...(pause ? { pause } : {}),
    }),
  );
  options.log.info({ sessionId: opened.sessionId }, "interactive session opened");
  return { ...opened, pause };
}

/**
 * The attempt's news of the paused process: paused again or no longer paused goes to the server (the console
 * and the CLI show it); run to its end successfully ends the session, continued in the debugger.
 */
function watchPause(
  options: HoldSessionOptions,
  reported: PauseInfo | undefined,
  ending: Ending,
): void {
  const { pause, log, call, client } = options;
  if (!pause) return;
  const update = (next: PauseInfo | null) =>
    void call("updateSession", () => client.agent.updateSession.mutate({ pause: next })).catch(
      (error: unknown) =>
        log.warn({ error: describeError(error) }, "could not report the paused task's state"),
    );
  pause.watch({
    updated: update,
    finished: () =>
      ending.settle({ kind: "resume", choice: "continued", by: "the debugger", decidedHere: true }),
  });
  // It changed while the session was being opened.
  if (pause.current !== reported) update(pause.current ?? null);
}

interface ControlAccess {
  socketPath: string;
  token: string;
  tokenFile: string;
}

async function layOutWorkspace(
  options: HoldSessionOptions,
  privateDir: string,
  control: ControlAccess,
): Promise<string> {
  const { assignment } = options;
  const workspace = await prepareWorkspace({
    bundleDir: options.bundle.dir,
    manifest: options.bundle.manifest,
    dir: join(privateDir, "workspace"),
    task: {
      name: assignment.task.name,
      executionId: assignment.executionId,
      nodeId: assignment.nodeId,
      attemptNumber: assignment.attemptNumber,
    },
    inputs: options.inputs,
    controlSocket: control.socketPath,
    controlTokenFile: control.tokenFile,
    nodeBin: process.execPath,
    ...(options.firstRunError ? { firstRunError: options.firstRunError } : {}),
    ...(options.pause
      ? {
          paused: {
            inspectorUrl: options.pause.inspectorUrl,
            loadedFrom: options.pause.loadedFrom,
          },
        }
      : {}),
  });
  options.writeTaskLog(`VS Code workspace: ${workspace}`);
  return workspace;
}

interface ServedSession {
  tunnel: { relayUrl: string; host: string };
  control: ControlAccess;
  workspace: string;
  heartbeatFile: string;
  listen: { socketPath: string };
  resources: SessionResources;
  ending: Ending;
}

/**
 * With code-server up: the control socket, the tunnel, the activity the heartbeat reports and the edits
 * saved as they are made. Resolves to the change saver, for the last save at the end.
 */
async function serveSession(
  options: HoldSessionOptions,
  session: ServedSession,
): Promise<ChangeSaver> {
  const { config, client, call, log, writeTaskLog, beat, bundle } = options;
  const { resources, ending, workspace } = session;
  const idle = new IdleDeadline(ending, options.interactive.maxIdleSeconds);
  const activity = new ActivityMonitor(session.heartbeatFile, () => [
    resources.tunnel,
    resources.localPort,
  ]);
  resources.activity = activity;
  resources.control = await startSessionControl({
    socketPath: session.control.socketPath,
    token: session.control.token,
    assignment: options.assignment,
    bundle,
    inputs: options.inputs,
    firstRunError: options.firstRunError,
    ...(options.pause ? { pause: options.pause } : {}),
    workspace,
    ending,
    idle,
    activity,
    beatNow: () => call("heartbeat", () => beat.sendNow(client)),
    writeTaskLog,
  });
  resources.tunnel = holdTunnel({
    relayUrl: session.tunnel.relayUrl,
    host: session.tunnel.host,
    token: config.token,
    target: session.listen,
    beatNow: () => beat.sendNow(client),
    ending,
    log,
    writeTaskLog,
    onReachable: options.onReachable,
  });
  activity.start();
  beat.attach({
    active: () => activity.takeActivity(),
    tunnelDownMs: () => resources.tunnel?.downForMs() ?? 0,
    opened: () => resources.localPort?.signedIn() ?? false,
    answered: (answer) => idle.answered(answer),
  });
  const changes = new ChangeSaver({
    bundleDir: bundle.dir,
    manifest: bundle.manifest,
    workspace,
    client,
    call,
    log,
  });
  resources.changes = changes;
  changes.start(options.changesEveryMs ?? 5_000);
  return changes;
}

/** The control socket's path and the session's control token, also in a file only this user can read (for the resume script run by hand). */
async function controlAccess(privateDir: string): Promise<ControlAccess> {
  const socketPath = join(privateDir, "control.sock");
  // The session's own processes (the Drydock extension, the resume script) reach the agent with this.
  const token = randomBytes(24).toString("hex");
  const tokenFile = join(privateDir, "control.token");
  await writeFile(tokenFile, token, { mode: 0o600 });
  return { socketPath, token, tokenFile };
}

/** After code-server stopped: postExecute, the last edits saved, and the end reported; a crash throws. */
async function endSession(
  options: HoldSessionOptions,
  why: Exclude<EndReason, { kind: "stopped" }>,
  changes: ChangeSaver,
): Promise<void> {
  if (why.kind !== "crashed") await options.afterStop?.(why.kind);
  await changes.save();
  const reason = why.kind === "resume" ? "resumed" : why.kind === "crashed" ? "failed" : why.kind;
  // A resume the server asked for is recorded there already, with who asked.
  const resume =
    why.kind === "resume" && why.decidedHere ? { choice: why.choice, by: why.by } : undefined;
  await options.call("endSession", () =>
    options.client.agent.endSession.mutate({ reason, ...(resume ? { resume } : {}) }),
  );
  if (why.kind === "crashed")
    throw new Error(
      `code-server exited on its own (code ${String(why.code)}) before the session ended`,
    );
}
