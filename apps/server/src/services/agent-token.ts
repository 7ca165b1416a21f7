/** Agent tokens are stored only as their SHA-256: a leaked database row cannot act as an agent. */
import { createHash } from "node:crypto";

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/**
 * Agent token hash → the attempt it names. A token names one attempt forever, so a hit needs no query; whether
 * the attempt may still act is decided for every call by AgentAccess. The scheduler records the tokens it
 * mints, so a warm agent's first call with a handed-over token costs no lookup either. Bounded: the oldest
 * entries go first.
 */
export class AgentTokens {
  private readonly attempts = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  attemptOf(hash: string): string | undefined {
    return this.attempts.get(hash);
  }

  remember(hash: string, attemptId: string): void {
    if (this.attempts.size >= this.max)
      this.attempts.delete(this.attempts.keys().next().value as string);
    this.attempts.set(hash, attemptId);
  }
}
