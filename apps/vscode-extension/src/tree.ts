/**
 * The Drydock view's tree, built from what the agent said about the task and the state of the input
 * override. Pure data: `view.ts` turns the nodes into VS Code tree items and actions into commands.
 */
import type { IdeContext } from "@drydock/contracts/ide";

import type { OverrideState } from "./override.js";
import { describePause } from "@drydock/contracts/constants";
import type { PausedState } from "./paused.js";
import { workspaceFrames } from "./stack.js";

export type TreeAction =
  /** Opens a workspace file (workspace-relative path) at a 1-based line and column. */
  | { kind: "openFile"; path: string; line: number; column: number }
  | { kind: "command"; command: string };

export interface TreeNode {
  /** Unique in the tree and stable across refreshes, so VS Code keeps what the user expanded. */
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  /** A codicon id. */
  icon?: string;
  /** For the view's `viewItem` when-clauses (the override's inline actions). */
  contextValue?: string;
  action?: TreeAction;
  children?: TreeNode[];
  /** Shown expanded at first (nodes with children only). */
  expanded?: boolean;
}

export type TreeInput =
  | { kind: "loading" }
  | { kind: "error"; message: string }
  | { kind: "ready"; context: IdeContext; override: OverrideState; workspaceRoot?: string };

/** Values longer than this are cut in the label; the tooltip holds them whole. */
export const INPUT_LABEL_CHARS = 60;

export const OVERRIDE_LABELS = {
  none: "Input override: none",
  active: "Input override: active (Interactive Debugging only)",
  invalid: "Input override: invalid",
} as const;

export function buildTree(input: TreeInput): TreeNode[] {
  if (input.kind === "loading")
    return [{ id: "loading", label: "Asking the Drydock agent…", icon: "loading~spin" }];
  if (input.kind === "error") {
    return [
      {
        id: "error",
        label: "The Drydock agent cannot be reached",
        description: input.message,
        tooltip: `${input.message}\n\nClick to try again.`,
        icon: "error",
        action: { kind: "command", command: "drydock.refresh" },
      },
    ];
  }
  const { context } = input;
  const nodes: TreeNode[] = [
    {
      id: "execution",
      label: "Execution",
      description: `${context.execution.id} · ${context.execution.workflow}@${context.execution.version}`,
      tooltip: `Execution ${context.execution.id} of workflow ${context.execution.workflow}, version ${context.execution.version}`,
      icon: "symbol-event",
    },
    {
      id: "node",
      label: "Node",
      description: `${context.node.id} · ${context.node.task}`,
      tooltip: `Node ${context.node.id} runs task ${context.node.task}`,
      icon: "symbol-method",
    },
    {
      id: "attempt",
      label: "Attempt",
      description: `#${context.attempt.number}`,
      tooltip: `Attempt ${context.attempt.number} (${context.attempt.id})`,
      icon: "history",
    },
    inputsNode(context.inputs),
    upstreamNode(context.upstream),
  ];
  if (context.paused) nodes.push(pausedNode(context.paused));
  if (context.firstRunError)
    nodes.push(firstRunErrorNode(context.firstRunError, input.workspaceRoot, context.entry));
  nodes.push(overrideNode(input.override));
  return nodes;
}

function inputsNode(inputs: IdeContext["inputs"]): TreeNode {
  const names = Object.keys(inputs);
  return {
    id: "inputs",
    label: "Inputs",
    description: names.length === 0 ? "none" : String(names.length),
    tooltip: "The inputs the task received, as Interactive Debugging and Resume Task use them",
    icon: "symbol-parameter",
    expanded: true,
    children: names.map((name) => ({
      id: `inputs/${name}`,
      label: `${name} = ${shortJson(inputs[name])}`,
      tooltip: `${name} = ${JSON.stringify(inputs[name], null, 2)}`,
    })),
  };
}

function upstreamNode(upstream: IdeContext["upstream"]): TreeNode {
  return {
    id: "upstream",
    label: "Upstream",
    description:
      upstream.length === 0 ? "none: the inputs came from the launch" : String(upstream.length),
    tooltip: "The nodes whose outputs fed this one",
    icon: "arrow-up",
    expanded: true,
    children: upstream.map((node) => ({
      id: `upstream/${node.nodeId}`,
      label: node.task,
      description: node.nodeId,
      tooltip: `Node ${node.nodeId} (task ${node.task})`,
    })),
  };
}

/** The paused process: where it stopped; a click opens that line (the attached debugger shows it too). */
function pausedNode(paused: PausedState): TreeNode {
  const where = describePause(paused);
  // `file` is relative to the bundle's root, which the workspace is a copy of.
  const file = paused.file;
  return {
    id: "paused",
    label: "Paused",
    description: where,
    tooltip: [
      `The task's process is ${where}. "${paused.attachConfiguration}" (Run and Debug) shows its stack and variables; Resume Task, Resume Task with Original Code or End Task as Failed ends the session.`,
      paused.stack ?? "",
    ]
      .filter(Boolean)
      .join("\n\n"),
    icon: "debug-pause",
    action:
      file && !file.startsWith("/") && !file.startsWith("..")
        ? { kind: "openFile", path: file, line: paused.line ?? 1, column: 1 }
        : undefined,
  };
}

function firstRunErrorNode(
  error: NonNullable<IdeContext["firstRunError"]>,
  workspaceRoot: string | undefined,
  entry: string,
): TreeNode {
  const headline = `${error.name ?? "Error"}: ${firstLine(error.message)}`;
  const frames =
    error.stack && workspaceRoot ? workspaceFrames(error.stack, { workspaceRoot, entry }) : [];
  const children: TreeNode[] = [
    { id: "first-run/message", label: headline, tooltip: error.stack ?? headline, icon: "error" },
  ];
  frames.forEach((frame, i) => {
    children.push({
      id: `first-run/frame/${i}`,
      label: frame.fn ?? "(anonymous)",
      description: `${frame.path}:${frame.line}${i === 0 ? " · top frame" : ""}`,
      tooltip: `${frame.path}:${frame.line}:${frame.column}`,
      icon: i === 0 ? "debug-stackframe-focused" : "debug-stackframe",
      action: { kind: "openFile", path: frame.path, line: frame.line, column: frame.column },
    });
  });
  if (frames.length === 0)
    children.push({
      id: "first-run/no-frames",
      label: "No frame of the stack lies in the workspace",
      tooltip: error.stack ?? headline,
    });
  return {
    id: "first-run",
    label: "First run failed",
    description: firstLine(error.message),
    tooltip: `The task ran first (runTaskFirst) and failed, which is why this IDE opened.\n\n${error.stack ?? headline}`,
    icon: "error",
    expanded: true,
    children,
  };
}

/**
 * The override's node has an id per state: VS Code remembers a node's expansion by id, and a node that had
 * no children when the override was absent would otherwise stay collapsed once it has some.
 */
function overrideNode(state: OverrideState): TreeNode {
  const edit: TreeAction = { kind: "command", command: "drydock.editInputOverride" };
  if (state.kind === "none") {
    return {
      id: "override/none",
      label: OVERRIDE_LABELS.none,
      tooltip:
        "Interactive Debugging uses the inputs the task received. Click to edit a copy it uses instead; Resume Task always uses the originals.",
      icon: "edit",
      contextValue: "drydock.override.none",
      action: edit,
    };
  }
  if (state.kind === "invalid") {
    return {
      id: "override/invalid",
      label: OVERRIDE_LABELS.invalid,
      tooltip: `.drydock/inputs.override.json ${state.message}. Interactive Debugging fails on it until it is fixed or cleared.`,
      icon: "warning",
      contextValue: "drydock.override.invalid",
      action: edit,
      expanded: true,
      children: [
        { id: "override/invalid/error", label: state.message, icon: "error", action: edit },
      ],
    };
  }
  const children: TreeNode[] = [
    ...state.changed.map((key) => ({
      id: `override/active/changed/${key}`,
      label: `${key} = ${shortJson(state.values[key])}`,
      description: "changed",
      tooltip: `${key} = ${JSON.stringify(state.values[key], null, 2)}`,
      icon: "diff-modified",
    })),
    ...state.missing.map((key) => ({
      id: `override/active/missing/${key}`,
      label: key,
      description: "missing: the task gets no value",
      icon: "diff-removed",
    })),
    ...state.extra.map((key) => ({
      id: `override/active/extra/${key}`,
      label: `${key} = ${shortJson(state.values[key])}`,
      description: "not an input of the task",
      icon: "diff-added",
    })),
  ];
  if (children.length === 0)
    children.push({ id: "override/active/same", label: "Same values as the original inputs" });
  return {
    id: "override/active",
    label: OVERRIDE_LABELS.active,
    description: state.changed.length > 0 ? state.changed.join(", ") : undefined,
    tooltip:
      "Interactive Debugging reads .drydock/inputs.override.json instead of the inputs the task received; Resume Task never does.",
    icon: "edit",
    contextValue: "drydock.override.active",
    action: edit,
    expanded: true,
    children,
  };
}

/** A JSON value in one line of at most `max` characters. */
export function shortJson(value: unknown, max = INPUT_LABEL_CHARS): string {
  const text = JSON.stringify(value) ?? "undefined";
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? text;
}
