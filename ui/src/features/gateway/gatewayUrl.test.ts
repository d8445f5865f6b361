import { expect, it } from "vitest";
import { gatewayUrl } from "./GatewayStatusLine";

it("builds the loopback URL clients use", () => {
  expect(gatewayUrl({ address: "127.0.0.1", port: 8707 })).toBe("http://127.0.0.1:8707");
});

it("brackets an IPv6 address", () => {
  expect(gatewayUrl({ address: "::1", port: 8707 })).toBe("http://[::1]:8707");
});
