import { describe, expect, it } from "vitest";
import { viewsState } from "../fixture";
import { clientTitle, groupGrants, redirectHostname } from "./grouping";

describe("clientTitle", () => {
  it("puts the reported name in quotes", () => {
    expect(clientTitle("Claude Code")).toBe("\u201CClaude Code\u201D");
  });
  it("says Unverified MCP client when no name was reported", () => {
    expect(clientTitle(null)).toBe("Unverified MCP client");
    expect(clientTitle("   ")).toBe("Unverified MCP client");
  });
});

it("takes the host of a callback URI without its port", () => {
  expect(redirectHostname("http://127.0.0.1:33418/callback")).toBe("127.0.0.1");
  expect(redirectHostname("not a url")).toBe("not a url");
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

describe("groupGrants with the program the OS saw", () => {
  const base = viewsState().grants[0]!;
  const claude = { exe: "/usr/bin/claude", pid: 4242 };
  it("groups one program's registrations whatever callback port each sign-in used", () => {
    const grants = [
      { ...base, id: "a", client_id: "c1", redirect_uri: "http://localhost:53122/callback", caller: claude, last_used_at: 1 },
      { ...base, id: "b", client_id: "c2", redirect_uri: "http://localhost:61001/callback", caller: { ...claude, pid: 5151 }, last_used_at: 2 },
    ];
    const groups = groupGrants(grants, []);
    expect(groups.map((g) => g.grants.map((x) => x.id))).toEqual([["b", "a"]]);
    expect(groups[0]!.program).toBe("/usr/bin/claude");
  });
  it("keeps apart two programs that report the same name", () => {
    const grants = [
      { ...base, id: "a", client_id: "c1", caller: claude },
      { ...base, id: "b", client_id: "c2", caller: { exe: "/tmp/impostor", pid: 6 } },
    ];
    expect(groupGrants(grants, []).map((g) => g.grants.length)).toEqual([1, 1]);
  });
});
