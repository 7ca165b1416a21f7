/**
 * The Drydock view (`drydock.task`): what `tree.ts` builds from the agent's `context` and the input
 * override file, as VS Code tree items. Holds the last context for the commands that need it.
 */
import * as vscode from "vscode";

import type { IdeContext } from "@drydock/contracts/ide";

import type { IdeControlClient } from "./agent-client.js";
import { analyzeOverride, OVERRIDE_FILE } from "./override.js";
import type { OverrideState } from "./override.js";
import { buildTree } from "./tree.js";
import type { TreeInput, TreeNode } from "./tree.js";

export class TaskViewProvider implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private input: TreeInput = { kind: "loading" };
  private nodes: TreeNode[] = buildTree(this.input);
  private context: IdeContext | undefined;
  private override: OverrideState = { kind: "none" };
  private readonly changed = new vscode.EventEmitter<void>();
  private readonly fetched = new vscode.EventEmitter<IdeContext>();
  private readonly disposables: vscode.Disposable[] = [this.changed, this.fetched];
  readonly onDidChangeTreeData = this.changed.event;
  /** Every context the agent answered (a paused task's handling follows it). */
  readonly onDidFetchContext = this.fetched.event;

  constructor(
    private readonly client: IdeControlClient,
    private readonly log: vscode.LogOutputChannel,
    /** The task's workspace folder; without one there are no files to open and no override. */
    private readonly root: vscode.Uri | undefined,
  ) {
    if (root) {
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(root, OVERRIDE_FILE),
      );
      const reload = () => void this.reloadOverride();
      this.disposables.push(
        watcher,
        watcher.onDidCreate(reload),
        watcher.onDidChange(reload),
        watcher.onDidDelete(reload),
      );
      // The watcher may miss a save of a file in an excluded folder (.drydock is hidden from the explorer).
      this.disposables.push(
        vscode.workspace.onDidSaveTextDocument((document) => {
          if (document.uri.toString() === this.overrideUri()?.toString()) reload();
        }),
      );
    }
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    const hasChildren = (node.children?.length ?? 0) > 0;
    const state = !hasChildren
      ? vscode.TreeItemCollapsibleState.None
      : node.expanded
        ? vscode.TreeItemCollapsibleState.Expanded
        : vscode.TreeItemCollapsibleState.Collapsed;
    const item = new vscode.TreeItem(node.label, state);
    item.id = node.id;
    item.description = node.description;
    item.tooltip = node.tooltip;
    item.contextValue = node.contextValue;
    if (node.icon) item.iconPath = new vscode.ThemeIcon(node.icon);
    const action = node.action;
    if (action?.kind === "command") item.command = { command: action.command, title: node.label };
    if (action?.kind === "openFile" && this.root) {
      const position = new vscode.Position(
        Math.max(0, action.line - 1),
        Math.max(0, action.column - 1),
      );
      item.command = {
        command: "vscode.open",
        title: "Open",
        arguments: [
          vscode.Uri.joinPath(this.root, action.path),
          { selection: new vscode.Range(position, position) },
        ],
      };
    }
    return item;
  }

  getChildren(node?: TreeNode): TreeNode[] {
    return node ? (node.children ?? []) : this.nodes;
  }

  /** The override's state as last read. */
  get overrideState(): OverrideState {
    return this.override;
  }

  /** The override file's URI, or undefined without a workspace folder. */
  overrideUri(): vscode.Uri | undefined {
    return this.root && vscode.Uri.joinPath(this.root, OVERRIDE_FILE);
  }

  /** Fetches the context again and re-reads the override. Throws nothing: a failure shows in the view. */
  async refresh(): Promise<void> {
    try {
      this.context = await this.client.context();
      this.log.info(
        `context: execution ${this.context.execution.id}, node ${this.context.node.id}, attempt ${this.context.attempt.number}`,
      );
      this.fetched.fire(this.context);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.log.error(`context: ${message}`);
      this.context = undefined;
      this.input = { kind: "error", message };
      this.render();
      return;
    }
    await this.reloadOverride();
  }

  /** The task's context: the last one fetched, or a fresh one (throws the agent's error). */
  async taskContext(): Promise<IdeContext> {
    if (this.context) return this.context;
    await this.refresh();
    if (this.context) return this.context;
    if (this.input.kind === "error") throw new Error(this.input.message);
    throw new Error("The Drydock agent gave no context");
  }

  /** The task's context fetched again now; undefined when the agent did not answer (the view says why). */
  async freshContext(): Promise<IdeContext | undefined> {
    await this.refresh();
    return this.context;
  }

  async reloadOverride(): Promise<void> {
    const uri = this.overrideUri();
    let text: string | undefined;
    if (uri) {
      try {
        text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      } catch (error) {
        if (!(error instanceof vscode.FileSystemError && error.code === "FileNotFound"))
          this.log.warn(`reading ${OVERRIDE_FILE}: ${String(error)}`);
      }
    }
    const previous = this.override;
    this.override = analyzeOverride(text, this.context?.inputs ?? {});
    if (this.override.kind === "invalid")
      this.log.warn(`${OVERRIDE_FILE} ${this.override.message}`);
    else if (this.override.kind !== previous.kind)
      this.log.info(`input override: ${this.override.kind}`);
    if (this.context)
      this.input = {
        kind: "ready",
        context: this.context,
        override: this.override,
        workspaceRoot: this.root?.fsPath,
      };
    this.render();
  }

  private render(): void {
    this.nodes = buildTree(this.input);
    this.changed.fire();
  }

  dispose(): void {
    for (const disposable of this.disposables) disposable.dispose();
  }
}
