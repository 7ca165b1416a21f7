/** Executions as a script sees them through the CLI (`executions get/list -o json`), and waiting on them. */
import type { ExecutionDetail, ExecutionSummary, NodeExecution } from "@drydock/contracts";
import type { Page } from "playwright-core";
import { expect } from "vitest";

import { drydock, waitFor } from "../harness.js";
import type { CliResult, Stack } from "../harness.js";

/** The id in the CLI's `execution <id> started` line. */
export function startedId(result: CliResult): string {
  const id = (result.stdout + result.stderr).match(/execution (x[a-z0-9]+) started/)?.[1];
  if (!id) throw new Error(`no "execution … started" in:\n${result.stdout}\n${result.stderr}`);
  return id;
}

/**
 * The id of the execution a command (recover, fork) made from `parentId`: its `execution <id> started` line, else
 * the one other execution id it printed.
 */
export function printedChildId(result: CliResult, parentId: string): string {
  const text = result.stdout + result.stderr;
  const started = [...text.matchAll(/execution (x[a-z0-9]+) started/g)]
    .map((m) => m[1])
    .find((id) => id !== parentId);
  const id = started ?? text.match(/\bx[a-z0-9]{12}\b/g)?.find((x) => x !== parentId);
  if (!id) throw new Error(`no new execution id in:\n${result.stdout}\n${result.stderr}`);
  return id;
}

/** `drydock executions get <id> -o json`. */
export async function detailOf(stack: Stack, id: string): Promise<ExecutionDetail> {
  const result = await drydock(["executions", "get", id, "--output", "json"], stack.env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as ExecutionDetail;
}

/** The ids `drydock executions list -o json` lists, newest first. */
export async function listedIds(stack: Stack): Promise<string[]> {
  const result = await drydock(
    ["executions", "list", "--limit", "500", "--output", "json"],
    stack.env,
  );
  expect(result.code, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as ExecutionSummary[]).map((e) => e.id);
}

export function nodeOf(detail: ExecutionDetail, nodeId: string): NodeExecution {
  const node = detail.nodes.find((n) => n.nodeId === nodeId);
  if (!node) throw new Error(`execution ${detail.execution.id} has no node ${nodeId}`);
  return node;
}

/** The execution once it is no longer RUNNING. */
export function ended(stack: Stack, id: string, timeoutMs = 90_000): Promise<ExecutionDetail> {
  return waitFor(
    `execution ${id} to end`,
    async () => {
      const detail = await stack.api.executions.get.query({ id });
      return detail.execution.status === "RUNNING" ? undefined : detail;
    },
    timeoutMs,
  );
}

/** The execution made from `parentId` (by recover or fork) that is not in `known`, once it exists. */
export function childOf(
  stack: Stack,
  parentId: string,
  known: string[] = [],
  timeoutMs = 30_000,
): Promise<string> {
  return waitFor(
    `a new execution made from ${parentId}`,
    async () => {
      const recent = await stack.api.executions.list.query({ project: "default", limit: 50 });
      return recent.find((e) => e.parent?.executionId === parentId && !known.includes(e.id))?.id;
    },
    timeoutMs,
  );
}

/** The outputs as the API gives them, to compare byte for byte. */
export const outputBytes = (node: NodeExecution) => JSON.stringify(node.outputs);

/** Opens an execution's page once it shows SUCCEEDED, and reads each node's `data-reused` mark on the DAG (null: ran). */
export async function dagReusedMarks(
  page: Page,
  stack: Stack,
  id: string,
  nodeIds: string[],
): Promise<(string | null)[]> {
  await page.goto(`${stack.url}/executions/${id}`);
  await page
    .getByTestId("execution-status")
    .and(page.locator('[data-status="SUCCEEDED"]'))
    .waitFor({ timeout: 30_000 });
  return Promise.all(
    nodeIds.map((nodeId) => page.getByTestId(`dag-node-${nodeId}`).getAttribute("data-reused")),
  );
}
