/**
 * What the session answers on its control socket (control.ts) to the Drydock extension and the resume
 * script: the task's context, the idle status, keep-alives, resume, and the edits so far.
 */
import type { AttemptAssignment, ErrorInfo, JsonValue } from "@drydock/contracts";
import type { IdeContext } from "@drydock/contracts/ide";

import type { CachedBundle } from "../bundle-cache.js";
import type { ActivityMonitor } from "./activity-monitor.js";
import { startControlServer } from "./control.js";
import type { ControlServer } from "./control.js";
import type { IdleDeadline } from "./idle-deadline.js";
import type { Ending } from "./session-ending.js";
import { workspaceEdits } from "./workspace.js";

export interface SessionControlOptions {
  socketPath: string;
  token: string;
  assignment: AttemptAssignment;
  bundle: CachedBundle;
  inputs: Record<string, unknown>;
  firstRunError?: ErrorInfo;
  workspace: string;
  ending: Ending;
  idle: IdleDeadline;
  activity: ActivityMonitor;
  /** A heartbeat now (retried while the server is unreachable), so a keep-alive's moved deadline shows at once. */
  beatNow: () => Promise<unknown>;
  writeTaskLog: (line: string) => void;
}

export function startSessionControl(options: SessionControlOptions): Promise<ControlServer> {
  const { ending, idle, bundle, workspace } = options;
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
    resume: () =>
      ending.settle({ kind: "resume", by: "the IDE" })
        ? {
            accepted: true,
            message: "resuming: code-server stops now and the task runs with the edited sources",
          }
        : { accepted: false, message: "the session is already ending" },
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

/** What the Drydock extension shows about the task (see IdeContext). */
function ideContext(options: SessionControlOptions): IdeContext {
  const { assignment, firstRunError } = options;
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
  };
}
