import { describe, expect, it } from "vitest";
import { describeIpcError, isIpcError, toIpcError } from "./errors";

describe("IPC errors", () => {
  it("recognises only objects with a string type tag", () => {
    expect(isIpcError({ type: "Store" })).toBe(true);
    expect(isIpcError({ type: 3 })).toBe(false);
    expect(isIpcError("Store")).toBe(false);
    expect(isIpcError(null)).toBe(false);
  });

  it("wraps errors and strings as Transport", () => {
    expect(toIpcError(new Error("boom"))).toEqual({ type: "Transport", data: "boom" });
    expect(toIpcError("no bridge")).toEqual({ type: "Transport", data: "no bridge" });
  });

  it("describes by tag, showing data only when it is text", () => {
    expect(describeIpcError({ type: "Transport", data: "no bridge" })).toBe(
      "Could not reach the Gatehouse backend (no bridge).",
    );
    expect(describeIpcError({ type: "Store", data: "locked" })).toBe("Store: locked");
    expect(describeIpcError({ type: "Store", data: { secret: "x" } })).toBe(
      "The backend reported Store.",
    );
  });
});
