import { expect, it } from "vitest";
import { formatRelative } from "./time";

const NOW = Date.UTC(2026, 2, 12, 12, 0, 0);

it("says just now under a minute", () => {
  expect(formatRelative(NOW - 20_000, NOW)).toBe("just now");
});

it("counts minutes, hours and days back", () => {
  expect(formatRelative(NOW - 3 * 60_000, NOW)).toBe("3 minutes ago");
  expect(formatRelative(NOW - 2 * 3600_000, NOW)).toBe("2 hours ago");
  expect(formatRelative(NOW - 24 * 3600_000, NOW)).toBe("yesterday");
});
