import { describe, expect, it } from "vitest";

import type { ApiKey } from "../ui/types.js";
import { apiKeyInput, apiKeyState, EMPTY_API_KEY_DRAFT } from "./api-key-form.js";

describe("apiKeyInput", () => {
  it("makes the input from what was typed, leaving out what was left empty", () => {
    expect(apiKeyInput({ ...EMPTY_API_KEY_DRAFT, name: "  ci  " })).toEqual({
      ok: true,
      input: { name: "ci", ceiling: "editor" },
    });
    expect(
      apiKeyInput({ name: "deploy", ceiling: "viewer", project: "ops", expiresInDays: "30" }),
    ).toEqual({
      ok: true,
      input: { name: "deploy", ceiling: "viewer", project: "ops", expiresInDays: 30 },
    });
  });

  it("names the field that is wrong", () => {
    expect(apiKeyInput({ ...EMPTY_API_KEY_DRAFT, name: " " })).toMatchObject({
      ok: false,
      field: "name",
    });
    for (const days of ["0", "1.5", "367", "soon"]) {
      expect(apiKeyInput({ ...EMPTY_API_KEY_DRAFT, name: "k", expiresInDays: days })).toMatchObject(
        { ok: false, field: "expiresInDays" },
      );
    }
  });
});

describe("apiKeyState", () => {
  const key: ApiKey = {
    id: "k1",
    name: "ci",
    prefix: "ddk_ab12",
    owner: { id: "u-ada", name: "Ada" },
    ceiling: "editor",
    createdAt: "2030-01-01T00:00:00.000Z",
  };
  const now = Date.parse("2030-01-02T00:00:00.000Z");

  it("tells active, expired and revoked keys apart", () => {
    expect(apiKeyState(key, now)).toBe("active");
    expect(apiKeyState({ ...key, expiresAt: "2030-01-01T12:00:00.000Z" }, now)).toBe("expired");
    expect(apiKeyState({ ...key, revokedAt: "2030-01-01T12:00:00.000Z" }, now)).toBe("revoked");
  });
});
