import { describe, expect, it } from "vitest";

import { readSessionEnv } from "./env.js";

describe("readSessionEnv", () => {
  it("reads the socket and the token", () => {
    expect(
      readSessionEnv({
        DRYDOCK_CONTROL_SOCKET: "/run/a/control.sock",
        DRYDOCK_CONTROL_TOKEN: "t0k",
      }),
    ).toEqual({
      kind: "session",
      env: { socketPath: "/run/a/control.sock", token: "t0k" },
    });
  });

  it("is no session without either variable, or with both empty", () => {
    expect(readSessionEnv({})).toEqual({ kind: "none" });
    expect(readSessionEnv({ DRYDOCK_CONTROL_SOCKET: " ", DRYDOCK_CONTROL_TOKEN: "" })).toEqual({
      kind: "none",
    });
  });

  it("names the missing variable when only one is set", () => {
    expect(readSessionEnv({ DRYDOCK_CONTROL_SOCKET: "/s" })).toEqual({
      kind: "invalid",
      problem: "DRYDOCK_CONTROL_SOCKET is set but DRYDOCK_CONTROL_TOKEN is not",
    });
    expect(readSessionEnv({ DRYDOCK_CONTROL_TOKEN: "t" })).toEqual({
      kind: "invalid",
      problem: "DRYDOCK_CONTROL_TOKEN is set but DRYDOCK_CONTROL_SOCKET is not",
    });
  });
});
