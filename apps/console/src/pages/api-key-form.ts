/** The API key form's model: what was typed → `apiKeys.create`'s input, or the field that is wrong and why. */
import { MAX_API_KEY_DAYS } from "@drydock/contracts/constants";

import type { ApiKey, CreateApiKeyInput, Role } from "../ui/types.js";

export { MAX_API_KEY_DAYS };

export interface ApiKeyDraft {
  name: string;
  ceiling: Role;
  /** A project id, or "" for every project I am in. */
  project: string;
  /** Days as typed, or "" for a key that lives until revoked. */
  expiresInDays: string;
}

export const EMPTY_API_KEY_DRAFT: ApiKeyDraft = {
  name: "",
  ceiling: "editor",
  project: "",
  expiresInDays: "",
};

export type ApiKeyDraftResult =
  | { ok: true; input: CreateApiKeyInput }
  | { ok: false; field: "name" | "expiresInDays"; message: string };

/** Checks the draft as the server will, so the form says what is wrong before anything is sent. */
export function apiKeyInput(draft: ApiKeyDraft): ApiKeyDraftResult {
  const name = draft.name.trim();
  if (name === "") return { ok: false, field: "name", message: "Give the key a name." };
  if (name.length > 100)
    return { ok: false, field: "name", message: "A key's name is at most 100 characters." };
  const input: CreateApiKeyInput = { name, ceiling: draft.ceiling };
  if (draft.project) input.project = draft.project;
  const days = draft.expiresInDays.trim();
  if (days !== "") {
    const n = Number(days);
    if (!Number.isInteger(n) || n < 1 || n > MAX_API_KEY_DAYS) {
      return {
        ok: false,
        field: "expiresInDays",
        message: `Expiry is a whole number of days from 1 to ${MAX_API_KEY_DAYS}, or empty for none.`,
      };
    }
    input.expiresInDays = n;
  }
  return { ok: true, input };
}

/** Where a key stands: "revoked", "expired" or "active". */
export function apiKeyState(key: ApiKey, now: number): "revoked" | "expired" | "active" {
  if (key.revokedAt) return "revoked";
  if (key.expiresAt && Date.parse(key.expiresAt) <= now) return "expired";
  return "active";
}
