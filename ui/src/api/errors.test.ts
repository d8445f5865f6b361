import { describe, expect, it } from "vitest";
import { describeIpcError, isIpcError, toIpcError } from "./errors";

describe("IPC errors", () => {
  it("recognises only objects whose tag the backend can send", () => {
    expect(isIpcError({ type: "GatewayNotRunning", data: { reason: "port taken" } })).toBe(true);
    expect(isIpcError({ type: "Upstream", data: { message: "invalid_grant" } })).toBe(true);
    expect(isIpcError({ type: "Store" })).toBe(false);
    expect(isIpcError({ type: 3 })).toBe(false);
    expect(isIpcError("Internal")).toBe(false);
    expect(isIpcError(null)).toBe(false);
  });

  it("wraps errors, strings and unknown tags as Transport", () => {
    expect(toIpcError(new Error("boom"))).toEqual({ type: "Transport", data: "boom" });
    expect(toIpcError("no bridge")).toEqual({ type: "Transport", data: "no bridge" });
    expect(toIpcError({ type: "Store" }).type).toBe("Transport");
  });

  it("describes by tag", () => {
    expect(describeIpcError({ type: "Transport", data: "no bridge" })).toBe(
      "Could not reach the Gatehouse backend (no bridge).",
    );
    expect(
      describeIpcError({ type: "GatewayNotRunning", data: { reason: "cannot listen on 127.0.0.1:47474" } }),
    ).toBe("The gateway is not running: cannot listen on 127.0.0.1:47474");
    expect(describeIpcError({ type: "Internal", data: { message: "store locked" } })).toContain("store locked");
    expect(describeIpcError({ type: "Upstream", data: { message: "invalid_client: unknown client" } })).toBe(
      "The upstream server said: invalid_client: unknown client",
    );
  });
});
