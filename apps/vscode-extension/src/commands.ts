/**
 * The Drydock commands of a task session. Each one's failure is logged to the Drydock output channel and
 * shown to the user once, with the message the agent client already made readable.
 */
import type { ResumeChoice } from "@drydock/contracts";
import { LAUNCH_NAMES } from "@drydock/contracts/constants";
import * as vscode from "vscode";

import type { IdeControlClient } from "./agent-client.js";
import {
  ALL_CHANGES_LABEL,
  documentKey,
  ORIGINAL_SCHEME,
  originalDocuments,
  pickLabel,
  planShowChanges,
} from "./changes.js";
import type { ChangeEntry, UriParts } from "./changes.js";
import { COMMANDS } from "./command-ids.js";
import { initialOverrideText, ORIGINAL_INPUTS_FILE, OVERRIDE_FILE } from "./override.js";
import { resumeDialog } from "./resume-dialog.js";
import type { IdleStatusBar } from "./status-bar.js";
import type { TaskViewProvider } from "./view.js";

export interface CommandDeps {
  client: IdeControlClient;
  view: TaskViewProvider;
  statusBar: IdleStatusBar;
  log: vscode.LogOutputChannel;
}

export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  const originals = new OriginalTextProvider();
  const register = (id: string, name: string, run: () => Promise<unknown>) =>
    vscode.commands.registerCommand(id, async () => {
      try {
        await run();
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        deps.log.error(`${name}: ${message}`);
        void vscode.window.showErrorMessage(`Drydock: ${message}`);
      }
    });
  return [
    vscode.workspace.registerTextDocumentContentProvider(ORIGINAL_SCHEME, originals),
    register(COMMANDS.interactiveDebugging, "Interactive Debugging", () =>
      interactiveDebugging(deps),
    ),
    register(COMMANDS.resumeTask, "Resume Task", () => resumeTask(deps, "edited")),
    register(COMMANDS.resumeOriginal, "Resume Task with Original Code", () =>
      resumeTask(deps, "original"),
    ),
    register(COMMANDS.endAsFailed, "End Task as Failed", () => resumeTask(deps, "fail")),
    register(COMMANDS.showChanges, "Show Changes", () => showChanges(deps, originals)),
    register(COMMANDS.openInConsole, "Open in Console", () => openInConsole(deps)),
    register(COMMANDS.keepAlive, "Keep Alive", () => deps.statusBar.keepAlive()),
    register(COMMANDS.refresh, "Refresh", () =>
      Promise.all([deps.view.refresh(), deps.statusBar.fetch()]),
    ),
    register(COMMANDS.editInputOverride, "Edit Input Override", () => editInputOverride(deps)),
    register(COMMANDS.clearInputOverride, "Clear Input Override", () => clearInputOverride(deps)),
  ];
}

function workspaceFolder(): vscode.WorkspaceFolder {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error("No folder is open: open the task's workspace folder first.");
  return folder;
}

async function interactiveDebugging({ view, log }: CommandDeps): Promise<void> {
  const folder = workspaceFolder();
  const override = view.overrideState;
  if (override.kind === "invalid") {
    const edit = "Edit Input Override";
    const choice = await vscode.window.showWarningMessage(
      `The input override (${OVERRIDE_FILE}) is not valid JSON input: ${override.message}. Interactive Debugging would fail on it.`,
      edit,
      "Clear Input Override",
    );
    if (choice === edit) await vscode.commands.executeCommand(COMMANDS.editInputOverride);
    else if (choice) await vscode.commands.executeCommand(COMMANDS.clearInputOverride);
    return;
  }
  log.info(
    `starting "${LAUNCH_NAMES.debug}"${override.kind === "active" ? ` with the input override (${OVERRIDE_FILE})` : ""}`,
  );
  if (!(await vscode.debug.startDebugging(folder, LAUNCH_NAMES.debug))) {
    throw new Error(
      `The launch configuration "${LAUNCH_NAMES.debug}" did not start: is .vscode/launch.json still there?`,
    );
  }
}

/**
 * Ends the session as the user chooses: the edited sources run (`edited`), or — for a paused task — the
 * registered code (`original`) or a failed node (`fail`). Each asks first; the agent has the last word.
 */
async function resumeTask(
  { client, view, statusBar, log }: CommandDeps,
  choice: ResumeChoice,
): Promise<void> {
  // A fresh context: the task may have stopped being paused (continued in the debugger) since the last one.
  const context = await view.freshContext();
  const task = context?.node.task ?? "this task";
  if (choice !== "edited" && context && !context.paused) {
    void vscode.window.showWarningMessage(
      `Drydock: task ${task} is not paused, so there is no paused run to ${choice === "original" ? "replace with the original code" : "end as failed"}. Resume Task runs the edited sources.`,
    );
    return;
  }
  const unsaved =
    choice === "edited"
      ? vscode.workspace.textDocuments.filter(
          (document) => document.isDirty && document.uri.scheme === "file",
        ).length
      : 0;
  const dialog = resumeDialog(choice, { task, paused: context?.paused, unsaved });
  const answer = await vscode.window.showWarningMessage(
    dialog.message,
    { modal: true, detail: dialog.detail },
    dialog.button,
  );
  if (answer !== dialog.button) return;
  if (unsaved > 0 && !(await vscode.workspace.saveAll(false)))
    throw new Error("Not resumed: some files could not be saved.");
  const result = await client.resume(choice);
  log.info(`resume (${choice}): ${result.accepted ? "accepted" : "refused"}: ${result.message}`);
  await statusBar.fetch();
  if (result.accepted) void vscode.window.showInformationMessage(`Drydock: ${result.message}`);
  else void vscode.window.showWarningMessage(`Drydock: ${result.message}`);
}

async function showChanges(
  { client, log }: CommandDeps,
  originals: OriginalTextProvider,
): Promise<void> {
  const root = workspaceFolder().uri;
  const changes = await client.changes();
  const plan = planShowChanges(changes, root.fsPath, originals.nextGeneration());
  log.info(`changes: ${changes.files.length} file(s) changed against the registered sources`);
  if (plan.kind === "none") {
    const unsaved = vscode.workspace.textDocuments.some(
      (document) => document.isDirty && document.uri.scheme === "file",
    );
    void vscode.window.showInformationMessage(
      unsaved ? `${plan.message} (unsaved edits are not included: save them first)` : plan.message,
    );
    return;
  }
  originals.add(plan.kind === "single" ? [plan.entry] : plan.entries);
  if (plan.kind === "single") return openDiff(plan.entry);
  const patchItem: vscode.QuickPickItem = {
    label: ALL_CHANGES_LABEL,
    description: "every change as one unified diff",
  };
  const items = plan.entries.map((entry) => ({ ...pickLabel(entry), entry }));
  const picked = await vscode.window.showQuickPick<vscode.QuickPickItem & { entry?: ChangeEntry }>(
    [...items, { label: "", kind: vscode.QuickPickItemKind.Separator }, patchItem],
    {
      title: "Drydock: Show Changes",
      placeHolder: `${plan.entries.length} files changed against the registered sources`,
    },
  );
  if (!picked) return;
  if (picked.entry) return openDiff(picked.entry);
  const document = await vscode.workspace.openTextDocument({
    language: "diff",
    content: plan.patch,
  });
  await vscode.window.showTextDocument(document, { preview: false });
}

async function openDiff(entry: ChangeEntry): Promise<void> {
  await vscode.commands.executeCommand(
    "vscode.diff",
    toUri(entry.original),
    toUri(entry.edited),
    entry.title,
  );
}

function toUri(parts: UriParts): vscode.Uri {
  return parts.scheme === "file"
    ? vscode.Uri.file(parts.path).with({ query: parts.query })
    : vscode.Uri.from(parts);
}

async function openInConsole({ view }: CommandDeps): Promise<void> {
  const url = (await view.taskContext()).consoleUrl;
  if (!url) {
    void vscode.window.showInformationMessage(
      "Drydock: this session does not know the console's address.",
    );
    return;
  }
  await vscode.env.openExternal(vscode.Uri.parse(url));
}

async function editInputOverride({ view, log }: CommandDeps): Promise<void> {
  const root = workspaceFolder().uri;
  const uri = vscode.Uri.joinPath(root, OVERRIDE_FILE);
  if (!(await exists(uri))) {
    const inputs = await originalInputs(view, root);
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(initialOverrideText(inputs)));
    log.info(`created ${OVERRIDE_FILE} from the task's inputs`);
    void vscode.window.showInformationMessage(
      `Drydock: Interactive Debugging now reads its inputs from ${OVERRIDE_FILE}; Resume Task keeps the inputs the task received.`,
    );
  }
  await view.reloadOverride();
  await vscode.window.showTextDocument(uri, { preview: false });
}

/** The task's inputs: from the agent, or, when it does not answer, from the copy it wrote into the workspace. */
async function originalInputs(
  view: TaskViewProvider,
  root: vscode.Uri,
): Promise<Record<string, unknown>> {
  try {
    return (await view.taskContext()).inputs;
  } catch (error) {
    const text = new TextDecoder().decode(
      await vscode.workspace.fs.readFile(vscode.Uri.joinPath(root, ORIGINAL_INPUTS_FILE)),
    );
    const inputs: unknown = JSON.parse(text);
    if (inputs === null || typeof inputs !== "object" || Array.isArray(inputs)) throw error;
    return inputs as Record<string, unknown>;
  }
}

async function clearInputOverride({ view, log }: CommandDeps): Promise<void> {
  const uri = vscode.Uri.joinPath(workspaceFolder().uri, OVERRIDE_FILE);
  if (!(await exists(uri))) {
    void vscode.window.showInformationMessage("Drydock: there is no input override to clear.");
    return;
  }
  await vscode.workspace.fs.delete(uri, { useTrash: false });
  log.info(`deleted ${OVERRIDE_FILE}`);
  await view.reloadOverride();
  void vscode.window.showInformationMessage(
    "Drydock: input override cleared; Interactive Debugging uses the inputs the task received.",
  );
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}

/** Serves the registered text of changed files as read-only `drydock-original:` documents. */
class OriginalTextProvider implements vscode.TextDocumentContentProvider {
  private readonly documents = new Map<string, string>();
  private generation = 0;

  nextGeneration(): number {
    return ++this.generation;
  }

  add(entries: readonly ChangeEntry[]): void {
    for (const [key, text] of originalDocuments(entries)) this.documents.set(key, text);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.documents.get(documentKey(uri)) ?? "";
  }
}
