/**
 * What the session answers on its control socket (control.ts) to the Drydock extension and the resume
 * script: the task's context (where its process is paused, if it is), the deadline's status, keep-alives,
 * resume with a choice, and the edits so far.
 */
import { LAUNCH_NAMES } from "@drydock/contracts";
import type { AttemptAssignment, ErrorInfo, JsonValue, ResumeChoice } from "@drydock/contracts";
import type { IdeContext } from "@drydock/contracts/ide";

import type { CachedBundle } from "../bundle-cache.js";
import type { ActivityMonitor } from "./activity-monitor.js";
import { startControlServer } from "./control.js";
import type { ControlServer } from "./control.js";
import type { IdleDeadline } from "./idle-deadline.js";
import type { Ending } from "./session-ending.js";
import type { SessionPause } from "./session-pause.js";
import { workspaceEdits } from "./workspace.js";

export interface SessionControlOptions {
  socketPath: string;
  token: string;
  assignment: AttemptAssignment;
  bundle: CachedBundle;
  inputs: Record<string, unknown>;
  firstRunError?: ErrorInfo;
  /** The task's paused process, in a post-mortem or pause point session. */
  pause?: SessionPause;
  workspace: string;
  ending: Ending;
  idle: IdleDeadline;
  activity: ActivityMonitor;
  /** A heartbeat now (retried while the server is unreachable), so a keep-alive's moved deadline shows at once. */
  beatNow: () => Promise<unknown>;
  writeTaskLog: (line: string) => void;
}

export function startSessionControl(options: SessionControlOptions): Promise<ControlServer> {
  const { idle, bundle, workspace } = options;
  return startControlServer(options.socketPath, options.token, {
    context: () => ideContext(options),
    status: () => idle.status(),
    keepAlive: async () => {
      options.activity.keepAlive();
      options.writeTaskLog(
        "keep-alive from the IDE: the idle deadline moves a full maxIdleSeconds on",
      );
      await options.beatNow();
      return idle.status();
    },
    resume: (input) => resume(options, input?.choice ?? "edited"),
    changes: async () => {
      const edits = await workspaceEdits(bundle.dir, bundle.manifest, workspace);
      return {
        patch: edits.map((e) => e.patch).join(""),
        files: edits.map((e) => ({
          path: e.path,
          original: e.before ?? null,
          status: e.before === undefined ? "added" : e.after === undefined ? "deleted" : "modified",
        })),
      };
    },
  });
}

/** Ends the session with the IDE's choice; `original` and `fail` are for a paused task only. */
function resume(
  options: SessionControlOptions,
  choice: ResumeChoice,
): { accepted: boolean; message: string } {
  const { pause, ending } = options;
  if (choice !== "edited" && !pause)
    return {
      accepted: false,
      message: `resuming with ${choice === "original" ? "the original code" : "the task ended as failed"} is only for a paused task, and this session's task is not paused; Resume Task runs the edited sources`,
    };
  if (!ending.settle({ kind: "resume", choice, by: "the IDE", decidedHere: true }))
    return { accepted: false, message: "the session is already ending" };
  return { accepted: true, message: acceptedMessage(choice, pause?.heldBefore ?? false) };
}

function acceptedMessage(choice: ResumeChoice, heldBefore: boolean): string {
  switch (choice) {
    case "edited":
      return "resuming: code-server stops now and the task runs with the edited sources";
    case "original":
      return heldBefore
        ? "resuming with the original code: code-server stops now and the task runs as registered"
        : "running the original code again: code-server stops now, this attempt ends and a new one runs the registered code";
    case "fail":
      return "ending the task as failed: code-server stops now and the node fails with the original error; downstream does not run";
  }
}

/** What the Drydock extension shows about the task (see IdeContext). */
function ideContext(options: SessionControlOptions): IdeContext {
  const { assignment, firstRunError } = options;
  const paused = options.pause?.current;
  return {
    execution: {
      id: assignment.executionId,
      workflow: assignment.workflow?.name ?? "",
      version: assignment.workflow?.version ?? "",
    },
    node: { id: assignment.nodeId, task: assignment.task.name },
    attempt: { id: assignment.attemptId, number: assignment.attemptNumber },
    inputs: options.inputs as Record<string, JsonValue>,
    upstream: assignment.upstream ?? [],
    ...(firstRunError ? { firstRunError } : {}),
    ...(assignment.consoleUrl ? { consoleUrl: assignment.consoleUrl } : {}),
    entry: options.bundle.manifest.entry,
    ...(paused ? { paused: { ...paused, attachConfiguration: LAUNCH_NAMES.attach } } : {}),
  };
}
