/** Spans and instants as people type them on a command line: `8h`, `7d`, `2026-12-01`. */
import { CliError } from "./errors.js";

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;
const SPAN = /^(\d+)\s*([smhdw])$/;

/** `30m`, `8h`, `7d`, `2w` in milliseconds; a usage error naming `flag` otherwise. */
export function parseSpan(text: string, flag: string): number {
  const match = SPAN.exec(text.trim());
  const amount = Number(match?.[1]);
  if (!match || !Number.isSafeInteger(amount) || amount <= 0)
    throw new CliError(
      `${flag} must be a span like 30m, 8h, 7d or 2w (s, m, h, d, w), not "${text}"`,
    );
  return amount * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/**
 * An instant as an ISO timestamp: an ISO date or date-time (`2026-12-01`, `2026-12-01T09:00:00Z`), or a span
 * back from `now` (`24h`: a day ago).
 */
export function parseInstant(text: string, flag: string, now = Date.now()): string {
  const trimmed = text.trim();
  if (SPAN.test(trimmed)) return new Date(now - parseSpan(trimmed, flag)).toISOString();
  const at = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(trimmed)
    ? Date.parse(trimmed)
    : NaN;
  if (Number.isNaN(at))
    throw new CliError(
      `${flag} must be an ISO date or time (2026-12-01, 2026-12-01T09:00:00Z) or a span back from now (24h, 7d), not "${text}"`,
    );
  return new Date(at).toISOString();
}
