/**
 * The Drydock extension's entry: in a Drydock task session (the agent set DRYDOCK_CONTROL_SOCKET and
 * DRYDOCK_CONTROL_TOKEN), the task view, the countdown and the commands, all talking to the agent, and
 * for a paused task the debugger attached to it; in any other window, a view and commands that say this is
 * not a session.
 */
import * as vscode from "vscode";

import { createIdeControlClient } from "./agent-client.js";
import { COMMANDS, VIEW_ID } from "./command-ids.js";
import { registerCommands } from "./commands.js";
import { readSessionEnv, SOCKET_VARIABLE } from "./env.js";
import { PausedTask } from "./paused.js";
import { IdleStatusBar } from "./status-bar.js";
import { TaskViewProvider } from "./view.js";

export const NOT_A_SESSION = "This window is not a Drydock task session";

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel("Drydock", { log: true });
  context.subscriptions.push(log);
  const session = readSessionEnv();
  if (session.kind !== "session") {
    const message =
      session.kind === "none" ? NOT_A_SESSION : `${NOT_A_SESSION}: ${session.problem}`;
    log.info(message);
    const empty: vscode.TreeDataProvider<never> = {
      getTreeItem: (node) => node,
      getChildren: () => [],
    };
    const treeView = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: empty });
    treeView.message = message;
    context.subscriptions.push(
      treeView,
      ...Object.values(COMMANDS).map((id) =>
        vscode.commands.registerCommand(
          id,
          () => void vscode.window.showInformationMessage(`Drydock: ${message}.`),
        ),
      ),
    );
    return;
  }

  log.info(`Drydock task session: agent on ${session.env.socketPath} (${SOCKET_VARIABLE})`);
  const client = createIdeControlClient(session.env);
  const folder = vscode.workspace.workspaceFolders?.[0];
  const view = new TaskViewProvider(client, log, folder?.uri);
  const treeView = vscode.window.createTreeView(VIEW_ID, {
    treeDataProvider: view,
    showCollapseAll: true,
  });
  const statusBar = new IdleStatusBar(client, log);
  const paused = new PausedTask({
    startDebugging: async (name) => {
      if (!folder) throw new Error("no folder is open, so there is no launch configuration");
      return vscode.debug.startDebugging(folder, name);
    },
    showInformation: (message) => void vscode.window.showInformationMessage(message),
    showWarning: (message) => void vscode.window.showWarningMessage(message),
    setContext: async (key, value) => {
      await vscode.commands.executeCommand("setContext", key, value);
    },
    log,
  });
  context.subscriptions.push(
    view,
    treeView,
    statusBar,
    view.onDidFetchContext((taskContext) => {
      paused
        .apply(taskContext)
        .catch((error: unknown) => log.error(`paused task: ${String(error)}`));
    }),
    ...registerCommands({ client, view, statusBar, log }),
  );
  void view.refresh();
  void statusBar.fetch();
}

export function deactivate(): void {
  // Everything the extension made is in context.subscriptions, disposed by VS Code.
}
