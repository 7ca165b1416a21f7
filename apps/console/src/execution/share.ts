/** The share form's model: how long a teammate may open the session, and what the panel lists. */
import { shareIsActive } from "../identity/roles.js";
import type { SessionAccess, SessionShare } from "../ui/types.js";

/** The lives a share can be given: short on purpose, a share is for pairing on one live session. */
export const SHARE_EXPIRIES = [
  { hours: 1, label: "1 hour" },
  { hours: 8, label: "8 hours" },
  { hours: 24, label: "24 hours" },
] as const;

export type ShareHours = (typeof SHARE_EXPIRIES)[number]["hours"];

export const DEFAULT_SHARE_HOURS: ShareHours = 1;

/** "8" from the expiry select → 8; anything else → the default. */
export function readShareHours(value: string): ShareHours {
  const hours = Number(value);
  return SHARE_EXPIRIES.find((e) => e.hours === hours)?.hours ?? DEFAULT_SHARE_HOURS;
}

/** The `expiresAt` of a share made at `now` for `hours`. */
export function shareExpiresAt(hours: ShareHours, now: number): string {
  return new Date(now + hours * 3_600_000).toISOString();
}

/** The shares still in force, soonest to expire first (the ones to act on). */
export function activeShares(access: SessionAccess | undefined, now: number): SessionShare[] {
  return (access?.shares ?? [])
    .filter((s) => shareIsActive(s, now))
    .sort((a, b) => Date.parse(a.expiresAt) - Date.parse(b.expiresAt));
}

/** "1 connection", "3 connections". */
export function connectionsText(count: number): string {
  return count === 1 ? "1 connection" : `${count} connections`;
}
