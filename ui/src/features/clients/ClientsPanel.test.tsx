import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { viewsState } from "../fixture";
import { renderView } from "../testing";
import { ClientsPanel } from "./ClientsPanel";
import { UNNAMED_TIP, UNVERIFIED_TIP } from "./GrantCard";

const cards = () => screen.findAllByTestId("grant-card");
const card = async (title: string) =>
  (await cards()).find((element) => within(element).queryByRole("heading", { name: title }))!;

describe("grant cards", () => {
  it("titles a card with the reported name in quotes, or Unverified MCP client", async () => {
    renderView(<ClientsPanel />);
    expect(await cards()).toHaveLength(2);
    expect(screen.getByRole("heading", { name: "\u201CClaude Code\u201D" })).toBeInTheDocument();
    expect(screen.getByRole("heading", { name: "Unverified MCP client" })).toBeInTheDocument();
    expect(screen.getAllByRole("article")).toHaveLength(2);
  });

  it("shows the client ID and the Reported name label under the title", async () => {
    renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    expect(within(claude).getByText("Reported name")).toBeInTheDocument();
    expect(within(claude).getAllByText("4f7c2a9e-claude-code")[0]).toBeInTheDocument();
  });

  it("shows the program the OS saw beside the reported name, or says it was not seen", async () => {
    const state = viewsState();
    state.grants[0] = { ...state.grants[0]!, caller: { exe: "/usr/bin/claude", pid: 4242 } };
    renderView(<ClientsPanel />, { initial: { grants: state.grants } });
    const claude = await card("\u201CClaude Code\u201D");
    expect(within(claude).getByTestId("grant-program")).toHaveTextContent(
      "Seen on this computer · /usr/bin/claude (pid 4242)",
    );
    const unnamed = await card("Unverified MCP client");
    expect(within(unnamed).getByTestId("grant-program")).toHaveTextContent("Program not seen by Gatehouse");
  });

  it("makes the shield a focusable tooltip trigger explaining the name is unverified", async () => {
    const { user } = renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    const shield = within(claude).getByRole("button", { name: "About this name" });
    expect(shield).toHaveAccessibleDescription(UNVERIFIED_TIP);
    await user.click(screen.getAllByRole("checkbox")[0]!);
    await user.tab();
    expect(shield).toHaveFocus();
    expect(within(claude).getByRole("tooltip")).toHaveAttribute("data-open", "true");
    await user.keyboard("{Escape}");
    expect(within(claude).getByRole("tooltip")).toHaveAttribute("data-open", "false");
    const unnamed = await card("Unverified MCP client");
    expect(within(unnamed).getByRole("button", { name: "About this name" })).toHaveAccessibleDescription(UNNAMED_TIP);
  });

  it("says where and on whose behalf, and links the connection", async () => {
    const showConnection = vi.fn();
    const { user } = renderView(<ClientsPanel />, { navigation: { showConnection } });
    const claude = await card("\u201CClaude Code\u201D");
    await waitFor(() =>
      expect(within(claude).getByText(/Authorized to use/)).toHaveTextContent(
        "Authorized to use GitHub on behalf of octocat",
      ),
    );
    await user.click(within(claude).getByRole("button", { name: "GitHub" }));
    expect(showConnection).toHaveBeenCalledWith("conn-github");
    const unnamed = await card("Unverified MCP client");
    expect(within(unnamed).getByText(/Authorized to use/)).toHaveTextContent("on behalf of you");
  });

  it("calls out what mcp:access grants, with the tool allow-list when set", async () => {
    renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    const callout = within(claude).getByRole("region", { name: "What this grants" });
    expect(callout).toHaveTextContent("every tool, resource and prompt of GitHub");
    const unnamed = await card("Unverified MCP client");
    expect(within(unnamed).getByRole("region", { name: "What this grants" })).toHaveTextContent(
      "Only these tools: list_issues, create_issue",
    );
  });

  it("has no callout without the broad scope", async () => {
    const state = viewsState();
    state.grants = [{ ...state.grants[0]!, scopes: ["read"] }];
    renderView(<ClientsPanel />, { initial: state });
    const only = (await cards())[0]!;
    expect(within(only).queryByRole("region", { name: "What this grants" })).not.toBeInTheDocument();
  });

  it("shows token health and the muted footer", async () => {
    renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    expect(within(claude).getByText("Valid")).toBeInTheDocument();
    expect(within(claude).getByTestId("grant-times")).toHaveTextContent(/Authorized .* · Last used 3 minutes ago/);
    const unnamed = await card("Unverified MCP client");
    expect(within(unnamed).getByTestId("grant-times")).toHaveTextContent(/· Not used yet$/);
  });

  it("hides technical details behind a disclosure", async () => {
    const { user } = renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    const toggle = within(claude).getByRole("button", { name: /Show technical details/ });
    expect(toggle).toHaveAttribute("aria-expanded", "false");
    expect(within(claude).queryByText("grant-1")).not.toBeVisible();
    await user.click(toggle);
    expect(toggle).toHaveAttribute("aria-expanded", "true");
    expect(toggle).toHaveTextContent("Hide technical details");
    expect(within(claude).getByText("grant-1")).toBeVisible();
    expect(within(claude).getByText("http://127.0.0.1:33418/callback")).toBeVisible();
    expect(within(claude).getByText("mcp:access")).toBeVisible();
    expect(within(claude).getByText("All tools")).toBeVisible();
  });
});

describe("revoking", () => {
  it("asks first, showing the exact callback URI and client ID, and what stops working", async () => {
    const { user } = renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    await user.click(within(claude).getByRole("button", { name: "Revoke access…" }));
    const dialog = screen.getByRole("dialog", { name: "Revoke access for \u201CClaude Code\u201D?" });
    expect(dialog).toHaveAttribute("aria-modal", "true");
    expect(within(dialog).getByTestId("revoke-redirect-uri").textContent).toBe("http://127.0.0.1:33418/callback");
    expect(within(dialog).getByTestId("revoke-client-id").textContent).toBe("4f7c2a9e-claude-code");
    expect(within(dialog).getByTestId("revoke-client-id").closest("pre")).not.toBeNull();
    expect(dialog).toHaveTextContent("tokens stop working at once");
    expect(dialog).toHaveTextContent("will have to ask you for access again");
    expect(within(dialog).getByRole("button", { name: "Keep access" })).toHaveFocus();
  });

  it("closes on Escape without revoking and returns focus", async () => {
    const { user, api } = renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    const revoke = within(claude).getByRole("button", { name: "Revoke access…" });
    await user.click(revoke);
    await user.keyboard("{Escape}");
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(revoke).toHaveFocus();
    expect(api.state.grants.every((g) => g.status === "active")).toBe(true);
  });

  it("traps focus inside the dialog", async () => {
    const { user } = renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    await user.click(within(claude).getByRole("button", { name: "Revoke access…" }));
    const keep = screen.getByRole("button", { name: "Keep access" });
    const revoke = screen.getByRole("button", { name: "Revoke access" });
    await user.tab();
    expect(revoke).toHaveFocus();
    await user.tab();
    expect(keep).toHaveFocus();
    await user.tab({ shift: true });
    expect(revoke).toHaveFocus();
  });

  it("revokes on confirmation and the card goes away", async () => {
    const { user, api } = renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    await user.click(within(claude).getByRole("button", { name: "Revoke access…" }));
    await user.click(screen.getByRole("button", { name: "Revoke access" }));
    await waitFor(() => expect(screen.queryAllByTestId("grant-card")).toHaveLength(1));
    expect(api.state.grants.find((g) => g.id === "grant-1")?.status).toBe("revoked");
    expect(screen.getByTestId("clients-announcement")).toHaveTextContent(
      "Revoked access for \u201CClaude Code\u201D on GitHub.",
    );
  });

  it("leaves focus on the tab panel, not on nothing, once the revoked card is gone", async () => {
    const { user } = renderView(
      <div role="tabpanel" tabIndex={0} aria-label="Authorized clients">
        <ClientsPanel />
      </div>,
    );
    const claude = await card("\u201CClaude Code\u201D");
    await user.click(within(claude).getByRole("button", { name: "Revoke access…" }));
    await user.click(screen.getByRole("button", { name: "Revoke access" }));
    await waitFor(() => expect(screen.queryAllByTestId("grant-card")).toHaveLength(1));
    await waitFor(() => expect(screen.getByRole("tabpanel")).toHaveFocus());
  });

  it("drops what a filter hides from the selection", async () => {
    const { user } = renderView(<ClientsPanel />);
    await cards();
    for (const box of screen.getAllByRole("checkbox")) await user.click(box);
    expect(screen.getByText("2 selected")).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Connection"), "GitHub");
    expect(await screen.findByText("1 selected")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Revoke selected…" }));
    expect(screen.getByRole("dialog", { name: /Revoke access for/ })).toHaveTextContent("on GitHub");
    expect(screen.getAllByTestId("revoke-item")).toHaveLength(1);
  });

  it("says so and keeps the dialog when revoking fails", async () => {
    const { user, api } = renderView(<ClientsPanel />);
    const claude = await card("\u201CClaude Code\u201D");
    await user.click(within(claude).getByRole("button", { name: "Revoke access…" }));
    api.failWith({ type: "Internal", data: { message: "store locked" } });
    await user.click(screen.getByRole("button", { name: "Revoke access" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("Nothing was revoked");
    expect(screen.getByRole("dialog")).toBeInTheDocument();
  });

  it("bulk-revokes a selection after one confirmation listing each", async () => {
    const { user, api } = renderView(<ClientsPanel />);
    await cards();
    const bulk = screen.getByRole("button", { name: "Revoke selected…" });
    expect(bulk).toBeDisabled();
    for (const box of screen.getAllByRole("checkbox")) await user.click(box);
    expect(bulk).toBeEnabled();
    await user.click(bulk);
    const dialog = screen.getByRole("dialog", { name: "Revoke access for 2 clients?" });
    expect(within(dialog).getAllByTestId("revoke-item")).toHaveLength(2);
    expect(within(dialog).getAllByTestId("revoke-client-id").map((e) => e.textContent)).toEqual(
      expect.arrayContaining(["4f7c2a9e-claude-code", "9b1d-unnamed"]),
    );
    await user.click(within(dialog).getByRole("button", { name: "Revoke access" }));
    expect(await screen.findByRole("heading", { name: "No client is authorized" })).toBeInTheDocument();
    expect(api.state.grants.every((g) => g.status === "revoked")).toBe(true);
  });
});

describe("filters and grouping", () => {
  it("filters by connection and by client", async () => {
    const { user } = renderView(<ClientsPanel />);
    await cards();
    await user.selectOptions(screen.getByLabelText("Connection"), "Linear");
    expect(screen.getAllByTestId("grant-card")).toHaveLength(1);
    expect(screen.getByRole("heading", { name: "Unverified MCP client" })).toBeInTheDocument();
    await user.selectOptions(screen.getByLabelText("Connection"), "All connections");
    await user.selectOptions(screen.getByLabelText("Client"), "\u201CClaude Code\u201D (127.0.0.1)");
    expect(screen.getAllByTestId("grant-card")).toHaveLength(1);
    expect(screen.getByRole("heading", { name: "\u201CClaude Code\u201D" })).toBeInTheDocument();
  });

  it("groups re-registrations of one app under a heading with a count", async () => {
    const state = viewsState();
    const base = state.grants[0]!;
    state.grants = [0, 1, 2, 3].map((i) => ({ ...base, id: `g${i}`, client_id: `claude-${i}` }));
    state.clients = state.grants.map((g) => ({ ...state.clients[0]!, client_id: g.client_id }));
    const { user } = renderView(<ClientsPanel />, { initial: state });
    const group = await screen.findByTestId("grant-group");
    expect(within(group).getByRole("heading", { level: 3 })).toHaveTextContent("\u201CClaude Code\u201D · 4 authorizations");
    expect(within(group).getAllByTestId("grant-card")).toHaveLength(1);
    await user.click(within(group).getByRole("button", { name: "Show the other 3" }));
    expect(within(group).getAllByTestId("grant-card")).toHaveLength(4);
    await user.click(within(group).getByRole("checkbox", { name: "Select all 4" }));
    expect(screen.getByText("4 selected")).toBeInTheDocument();
  });
});

it("shows one registration's grants on several connections as cards of their own, not a folded group", async () => {
  const state = viewsState();
  const base = state.grants[0]!;
  state.grants = [
    base,
    { ...base, id: "grant-1b", connection_id: "conn-linear", connection_slug: "linear", connection_name: "Linear" },
  ];
  renderView(<ClientsPanel />, { initial: state });
  expect(await cards()).toHaveLength(2);
  expect(screen.queryByTestId("grant-group")).not.toBeInTheDocument();
});

it("is honest when nothing is authorized", async () => {
  const state = viewsState();
  state.grants = [];
  renderView(<ClientsPanel />, { initial: state });
  expect(await screen.findByRole("heading", { name: "No client is authorized" })).toBeInTheDocument();
  expect(screen.queryByRole("button")).not.toBeInTheDocument();
});

it("updates when the backend says grants changed, without polling", async () => {
  const { api } = renderView(<ClientsPanel />);
  expect(await cards()).toHaveLength(2);
  api.state.grants[0]!.status = "revoked";
  api.emitChange("grants");
  await waitFor(() => expect(screen.getAllByTestId("grant-card")).toHaveLength(1));
});

it("never shows a token value", async () => {
  renderView(<ClientsPanel />);
  await cards();
  expect(document.body.textContent).not.toMatch(/Bearer|access_token|refresh_token/i);
});
