import { randomBytes, randomInt } from "node:crypto";

import { ServerErrors } from "../errors.js";

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";

/** Execution ids: short, lower-case, safe in URLs, file names and process tables. */
export function newExecutionId(): string {
  const bytes = randomBytes(12);
  return `x${Array.from(bytes, (b) => ALPHABET[b % ALPHABET.length]).join("")}`;
}

/** Attempt ids name their execution, node and number, so `ps` shows whose agent a process is. */
export function attemptId(executionId: string, nodeId: string, number: number): string {
  return `${executionId}.${nodeId}.a${number}`;
}

/** What an attempt id names (attemptId's inverse); undefined for an id it did not make. */
export function attemptParts(
  id: string,
): { executionId: string; nodeId: string; number: number } | undefined {
  const match = /^([^.]+)\.(.+)\.a(\d+)$/.exec(id);
  if (!match) return undefined;
  const [, executionId = "", nodeId = "", number = ""] = match;
  return { executionId, nodeId, number: Number(number) };
}

/** A fan-out element's id (`n2[1]`) as the workflow names it (`n2`); a node's own id otherwise. */
export const specNodeId = (nodeId: string) => nodeId.replace(/\[\d+\]$/, "");

/** The execution an attempt belongs to, read from its id (execution ids hold no dot). */
export function executionOfAttempt(attemptId: string): string {
  return attemptId.slice(0, Math.max(0, attemptId.indexOf(".")));
}

/** The execution of an attempt an agent or executor reports on; refuses an id that names none (ATTEMPT_NOT_FOUND). */
export function requireExecutionOfAttempt(attemptId: string): string {
  const executionId = executionOfAttempt(attemptId);
  if (!executionId) throw ServerErrors.attemptNotFound(attemptId);
  return executionId;
}

/** Session ids are one DNS label (`s` + 15 of [a-z0-9]): the relay serves each session on `<id>.<ide host>`. */
export function newSessionId(): string {
  return `s${Array.from({ length: 15 }, () => ALPHABET[randomInt(ALPHABET.length)]).join("")}`;
}
