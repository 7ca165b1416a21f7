import { TRPCClientError } from "@trpc/client";
import { describe, expect, it } from "vitest";

import { retryUnlessRefused } from "./retry.js";

function trpcError(httpStatus: number) {
  return new TRPCClientError("failed", {
    result: { error: { message: "failed", code: -32600, data: { httpStatus } } },
  });
}

describe("retryUnlessRefused", () => {
  it("does not ask again what the server refused", () => {
    expect(retryUnlessRefused(0, trpcError(404))).toBe(false);
    expect(retryUnlessRefused(0, trpcError(401))).toBe(false);
  });

  it("asks twice more when the server or the network failed", () => {
    expect(retryUnlessRefused(0, trpcError(500))).toBe(true);
    expect(retryUnlessRefused(1, new TypeError("Failed to fetch"))).toBe(true);
    expect(retryUnlessRefused(2, trpcError(503))).toBe(false);
  });
});
