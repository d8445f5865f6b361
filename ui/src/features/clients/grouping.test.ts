import { describe, expect, it } from "vitest";
import { viewsState } from "../fixture";
import { clientTitle, groupGrants, redirectHost } from "./grouping";

describe("clientTitle", () => {
  it("puts the reported name in quotes", () => {
    expect(clientTitle("Claude Code")).toBe("\u201CClaude Code\u201D");
  });
  it("says Unverified MCP client when no name was reported", () => {
    expect(clientTitle(null)).toBe("Unverified MCP client");
    expect(clientTitle("   ")).toBe("Unverified MCP client");
  });
});

it("takes the host of a callback URI", () => {
  expect(redirectHost("http://127.0.0.1:33418/callback")).toBe("127.0.0.1:33418");
  expect(redirectHost("not a url")).toBe("not a url");
});

describe("groupGrants", () => {
  const base = viewsState().grants[0]!;
  const grants = [
    { ...base, id: "a", client_id: "c1", last_used_at: 1000 },
    { ...base, id: "b", client_id: "c2", last_used_at: 3000 },
    { ...base, id: "c", client_id: "c3", redirect_uri: "http://localhost:9999/cb", last_used_at: 2000 },
    { ...base, id: "d", client_id: "c4", client_name: "Cursor", last_used_at: 500 },
  ];
  const clients = ["c1", "c2", "c3", "c4"].map((id) => ({ ...viewsState().clients[0]!, client_id: id, software_id: "sw" }));

  it("groups re-registrations with the same name, software id and redirect host, most recent first", () => {
    const groups = groupGrants(grants, clients);
    expect(groups.map((g) => g.grants.map((x) => x.id))).toEqual([["b", "a"], ["c"], ["d"]]);
  });

  it("keeps apps with a different software id apart", () => {
    const other = clients.map((c) => (c.client_id === "c2" ? { ...c, software_id: "other" } : c));
    expect(groupGrants(grants, other).map((g) => g.grants.length)).toEqual([1, 1, 1, 1]);
  });
});
