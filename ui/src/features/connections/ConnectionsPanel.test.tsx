import { screen, waitFor, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { viewsState } from "../fixture";
import { renderView } from "../testing";
import { ConnectionsPanel } from "./ConnectionsPanel";

const card = async (name: string) =>
  (await screen.findAllByTestId("connection-card")).find((element) =>
    within(element).queryByRole("heading", { name }),
  )!;

describe("connection cards", () => {
  it("shows name, upstream URL, status in words, local URL and authorized clients", async () => {
    renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    expect(within(github).getByText("https://github.example.com/mcp")).toBeInTheDocument();
    expect(within(github).getByTestId("connection-status")).toHaveTextContent("Connected as octocat");
    expect(within(github).getByTestId("local-url")).toHaveTextContent("http://127.0.0.1:8707/mcp/github");
    expect(within(github).getByText("1 client authorized")).toBeInTheDocument();
    const linear = await card("Linear");
    expect(within(linear).getByTestId("connection-status")).toHaveTextContent("Sign-in needed");
  });

  it("says in words why a connection needs re-authorization", async () => {
    const state = viewsState();
    state.connections[1] = {
      ...state.connections[1]!,
      status: "reauth_required",
      status_detail: "The upstream refused the refresh token (invalid_grant).",
    };
    renderView(<ConnectionsPanel />, { initial: state });
    const linear = await card("Linear");
    expect(within(linear).getByTestId("connection-status")).toHaveTextContent("Re-authorization required");
    expect(within(linear).getByTestId("connection-status-detail")).toHaveTextContent("refused the refresh token");
  });

  it("copies the local URL and says Copied", async () => {
    const { user } = renderView(<ConnectionsPanel />);
    const writeText = vi.spyOn(navigator.clipboard, "writeText");
    const github = await card("GitHub");
    const copy = within(github).getByRole("button", { name: "Copy local URL of GitHub" });
    await user.click(copy);
    expect(writeText).toHaveBeenCalledWith("http://127.0.0.1:8707/mcp/github");
    expect(copy).toHaveTextContent("Copied");
  });

  it("offers ready-to-paste setup for Claude Code, VS Code, Cursor and mcp-remote", async () => {
    const { user } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: /Show setup for MCP clients/ }));
    expect(within(github).getByText("claude mcp add --transport http github http://127.0.0.1:8707/mcp/github")).toBeVisible();
    expect(within(github).getByText(/"mcp-remote",\s+"http:\/\/127\.0\.0\.1:8707\/mcp\/github"/)).toBeVisible();
    expect(within(github).getByText(/"servers"/)).toBeVisible();
    expect(within(github).getAllByText(/"mcpServers"/)).toHaveLength(2);
  });
});

describe("adding", () => {
  it("adds a connection with a header whose value is a password field", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    const dialog = screen.getByRole("dialog", { name: "Add a connection" });
    await user.type(within(dialog).getByLabelText("Slug"), "notion");
    await user.type(within(dialog).getByLabelText("Name"), "Notion");
    await user.type(within(dialog).getByLabelText("Server URL"), "https://mcp.notion.com/mcp");
    await user.click(within(dialog).getByRole("radio", { name: "A header with a key or token" }));
    expect(within(dialog).getByLabelText("Header value")).toHaveAttribute("type", "password");
    await user.type(within(dialog).getByLabelText("Header value"), "Bearer s3cret");
    await user.click(within(dialog).getByRole("button", { name: "Add connection" }));
    expect(await card("Notion")).toBeInTheDocument();
    expect(screen.queryByRole("dialog")).not.toBeInTheDocument();
    expect(api.state.connections.find((c) => c.slug === "notion")?.header_name).toBe("Authorization");
    expect(document.body.textContent).not.toContain("s3cret");
  });

  it("detects OAuth from the URL and adds the connection as Sign-in needed, with automatic registration", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    const dialog = screen.getByRole("dialog", { name: "Add a connection" });
    await user.type(within(dialog).getByLabelText("Slug"), "notion");
    await user.type(within(dialog).getByLabelText("Name"), "Notion");
    await user.type(within(dialog).getByLabelText("Server URL"), "https://mcp.notion.com/mcp");
    await user.click(within(dialog).getByRole("button", { name: "Detect sign-in" }));
    expect(await within(dialog).findByText(/asks for OAuth sign-in/)).toBeInTheDocument();
    expect(within(dialog).getByRole("radio", { name: /OAuth sign-in in your browser/ })).toBeChecked();
    expect(within(dialog).getByLabelText("Provider")).toHaveValue("");
    expect(within(dialog).getByLabelText("Client secret (optional)")).toHaveAttribute("type", "password");
    await user.click(within(dialog).getByRole("button", { name: "Add connection" }));
    const notion = await card("Notion");
    expect(within(notion).getByTestId("connection-status")).toHaveTextContent("Sign-in needed");
    expect(api.state.connections.find((c) => c.slug === "notion")?.auth_kind).toBe("oauth");
  });

  it("asks the server as soon as the URL is entered, and never overrides a header the user chose", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    const dialog = screen.getByRole("dialog", { name: "Add a connection" });
    await user.type(within(dialog).getByLabelText("Server URL"), "https://mcp.notion.com/mcp");
    const before = api.calls.detectAuth;
    await user.tab();
    expect(await within(dialog).findByText(/OAuth is selected/)).toBeInTheDocument();
    expect(within(dialog).getByRole("radio", { name: /OAuth sign-in in your browser/ })).toBeChecked();
    expect(api.calls.detectAuth).toBe(before + 1);
    // Leaving the field again with the same URL does not ask again.
    await user.click(within(dialog).getByLabelText("Server URL"));
    await user.tab();
    expect(api.calls.detectAuth).toBe(before + 1);

    await user.click(within(dialog).getByRole("radio", { name: "A header with a key or token" }));
    await user.type(within(dialog).getByLabelText("Server URL"), "/v2");
    await user.click(within(dialog).getByRole("radio", { name: "A header with a key or token" }));
    expect(await within(dialog).findByText(/Choose OAuth below to use it/)).toBeInTheDocument();
    expect(api.calls.detectAuth).toBe(before + 2);
    expect(within(dialog).getByRole("radio", { name: "A header with a key or token" })).toBeChecked();
  });

  it("says when the server does not ask for OAuth", async () => {
    const { user } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    const dialog = screen.getByRole("dialog", { name: "Add a connection" });
    await user.type(within(dialog).getByLabelText("Server URL"), "https://plain.example.com/mcp");
    await user.click(within(dialog).getByRole("button", { name: "Detect sign-in" }));
    expect(await within(dialog).findByText(/answered without credentials/)).toBeInTheDocument();
    expect(within(dialog).getByRole("radio", { name: "No sign-in" })).toBeChecked();
  });

  it("suggests a header for a server that wants credentials but publishes no OAuth metadata", async () => {
    const { user } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    const dialog = screen.getByRole("dialog", { name: "Add a connection" });
    await user.type(within(dialog).getByLabelText("Server URL"), "https://api-key.example.com/mcp");
    await user.click(within(dialog).getByRole("button", { name: "Detect sign-in" }));
    expect(await within(dialog).findByText(/publishes no OAuth metadata/)).toBeInTheDocument();
    expect(within(dialog).getByRole("radio", { name: "A header with a key or token" })).toBeChecked();
    expect(within(dialog).getByRole("radio", { name: /OAuth sign-in in your browser/ })).not.toBeChecked();
  });

  it("asks for the client ID and tenant a provider template needs before sending anything", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    const dialog = screen.getByRole("dialog", { name: "Add a connection" });
    await user.type(within(dialog).getByLabelText("Slug"), "okta-app");
    await user.type(within(dialog).getByLabelText("Name"), "Okta app");
    await user.type(within(dialog).getByLabelText("Server URL"), "https://mcp.corp.example/mcp");
    await user.click(within(dialog).getByRole("radio", { name: /OAuth sign-in in your browser/ }));
    await user.selectOptions(within(dialog).getByLabelText("Provider"), "okta");
    const calls = api.calls.addConnection;
    await user.click(within(dialog).getByRole("button", { name: "Add connection" }));
    expect(within(dialog).getByLabelText("Client ID")).toHaveAccessibleDescription(/needs the client ID/);
    await user.type(within(dialog).getByLabelText("Client ID"), "0oa123");
    await user.click(within(dialog).getByRole("button", { name: "Add connection" }));
    expect(within(dialog).getByLabelText("Client ID")).toHaveAccessibleDescription("Enter your Okta domain.");
    expect(api.calls.addConnection).toBe(calls);
    await user.type(within(dialog).getByLabelText("Okta domain"), "dev-1.okta.com");
    await user.click(within(dialog).getByRole("button", { name: "Add connection" }));
    expect(await card("Okta app")).toBeInTheDocument();
  });

  it("shows the backend's InvalidInput next to the field it names", async () => {
    const { user } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    const dialog = screen.getByRole("dialog");
    await user.type(within(dialog).getByLabelText("Slug"), "Bad Slug");
    await user.type(within(dialog).getByLabelText("Name"), "X");
    await user.type(within(dialog).getByLabelText("Server URL"), "https://x.example.com");
    await user.click(within(dialog).getByRole("button", { name: "Add connection" }));
    const slug = within(dialog).getByLabelText("Slug");
    await waitFor(() => expect(slug).toHaveAttribute("aria-invalid", "true"));
    expect(slug).toHaveAccessibleDescription(/must be lowercase letters, digits and '-'/);
  });

  it("says which required fields are empty", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    await card("GitHub");
    await user.click(screen.getByRole("button", { name: "Add connection…" }));
    await user.click(screen.getByRole("button", { name: "Add connection" }));
    expect(screen.getByLabelText("Server URL")).toHaveAccessibleDescription("Enter the server's URL.");
    expect(api.state.connections).toHaveLength(2);
  });
});

describe("changes that revoke grants", () => {
  it("asks before deleting, with the number of grants it revokes", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: "Delete…" }));
    const dialog = await screen.findByRole("dialog", { name: "Delete GitHub?" });
    expect(dialog).toHaveTextContent("This revokes 1 grant");
    await user.click(within(dialog).getByRole("button", { name: "Keep connection" }));
    expect(api.state.connections).toHaveLength(2);
    await user.click(within(github).getByRole("button", { name: "Delete…" }));
    await user.click(await screen.findByRole("button", { name: "Delete connection" }));
    await waitFor(() => expect(screen.getAllByTestId("connection-card")).toHaveLength(1));
    expect(screen.getByTestId("connections-announcement")).toHaveTextContent("Deleted GitHub. 1 grant was revoked.");
  });

  it("asks before a material edit, with the count, and not for a rename", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: "Edit…" }));
    let dialog = screen.getByRole("dialog", { name: "Edit GitHub" });
    const url = within(dialog).getByLabelText("Server URL");
    await user.clear(url);
    await user.type(url, "https://api.github.example.com/mcp");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    dialog = await screen.findByRole("dialog", { name: "Save changes to GitHub?" });
    expect(dialog).toHaveTextContent("This revokes 1 grant");
    await user.click(within(dialog).getByRole("button", { name: "Save and revoke 1" }));
    await waitFor(() => expect(api.state.connections[0]!.upstream_url).toBe("https://api.github.example.com/mcp"));
    expect(api.state.grants.find((g) => g.id === "grant-1")?.status).toBe("revoked");

    const linear = await card("Linear");
    await user.click(within(linear).getByRole("button", { name: "Edit…" }));
    const name = screen.getByLabelText("Name");
    await user.clear(name);
    await user.type(name, "Linear (work)");
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect(await card("Linear (work)")).toBeInTheDocument();
  });

  it("switches a header connection to OAuth and edits its settings, keeping the stored secret", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: "Edit…" }));
    let dialog = screen.getByRole("dialog", { name: "Edit GitHub" });
    await user.click(within(dialog).getByRole("radio", { name: /OAuth sign-in in your browser/ }));
    await user.selectOptions(within(dialog).getByLabelText("Provider"), "okta");
    await user.type(within(dialog).getByLabelText("Okta domain"), "dev-1.okta.com");
    await user.type(within(dialog).getByLabelText("Client ID"), "0oa1");
    await user.type(within(dialog).getByLabelText("Client secret (optional)"), "s3cret-okta");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    dialog = await screen.findByRole("dialog", { name: "Save changes to GitHub?" });
    await user.click(within(dialog).getByRole("button", { name: "Save and revoke 1" }));
    await waitFor(() => expect(within(github).getByTestId("connection-status")).toHaveTextContent("Sign-in needed"));
    expect(api.state.connections[0]!.oauth).toMatchObject({
      template: "okta",
      tenant: "dev-1.okta.com",
      client_id: "0oa1",
      has_client_secret: true,
    });
    expect(document.body.textContent).not.toContain("s3cret-okta");

    await user.click(within(github).getByRole("button", { name: "Edit…" }));
    dialog = screen.getByRole("dialog", { name: "Edit GitHub" });
    expect(within(dialog).getByRole("radio", { name: /Keep as it is/ })).toBeChecked();
    await user.click(within(dialog).getByRole("radio", { name: /OAuth sign-in in your browser \(change its settings\)/ }));
    expect(within(dialog).getByLabelText("Provider")).toHaveValue("okta");
    expect(within(dialog).getByLabelText("Okta domain")).toHaveValue("dev-1.okta.com");
    expect(within(dialog).getByLabelText("Client ID")).toHaveValue("0oa1");
    expect(within(dialog).getByLabelText("Client secret (optional)")).toHaveValue("");
    expect(within(dialog).getByLabelText("Client secret (optional)")).toHaveAccessibleDescription(
      "A secret is stored for 0oa1; leave this empty to keep it.",
    );
    await user.type(within(dialog).getByLabelText("Scopes (optional)"), "openid offline_access");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    await waitFor(() => expect(api.state.connections[0]!.oauth?.scopes).toBe("openid offline_access"));
    expect(api.state.connections[0]!.oauth?.has_client_secret).toBe(true);
  });

  it("asks before disabling, since that revokes grants too", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    const github = await card("GitHub");
    await user.click(within(github).getByRole("button", { name: "Disable…" }));
    const dialog = await screen.findByRole("dialog", { name: "Disable GitHub?" });
    expect(dialog).toHaveTextContent("This revokes 1 grant");
    await user.click(within(dialog).getByRole("button", { name: "Disable" }));
    await waitFor(() => expect(within(github).getByTestId("connection-status")).toHaveTextContent("Disabled"));
    expect(api.state.connections[0]!.enabled).toBe(false);
    await user.click(within(github).getByRole("button", { name: "Enable" }));
    await waitFor(() => expect(within(github).getByTestId("connection-status")).toHaveTextContent("Connected as octocat"));
  });
});

describe("signing in", () => {
  const oauthState = () => {
    const state = viewsState();
    state.connections = [
      { ...state.connections[1]!, auth_kind: "oauth", status: "needs_auth", account_label: null },
      {
        ...state.connections[0]!,
        id: "conn-notion",
        slug: "notion",
        name: "Notion",
        auth_kind: "oauth",
        header_name: null,
        status: "connected",
        account_label: "ada@example.com",
      },
    ];
    return state;
  };

  it("starts the browser sign-in from the card and the card turns connected when it completes", async () => {
    const { user, api } = renderView(<ConnectionsPanel />, { initial: oauthState() });
    const linear = await card("Linear");
    expect(within(linear).queryByRole("button", { name: "Sign out…" })).not.toBeInTheDocument();
    await user.click(within(linear).getByRole("button", { name: "Sign in…" }));
    expect(await screen.findByTestId("connections-announcement")).toHaveTextContent(
      "Continue in your browser to sign in to Linear.",
    );
    expect(api.calls.startSignin).toBe(1);
    // The fake completes the sign-in a moment later, as the gateway's callback would, and says so.
    await waitFor(() => expect(within(linear).getByTestId("connection-status")).toHaveTextContent("Connected as"), {
      timeout: 3000,
    });
    // The announcement follows in the effect that sees the new status (a render later).
    await waitFor(() =>
      expect(screen.getByTestId("connections-announcement")).toHaveTextContent(
        "Signed in to Linear as you@example.com.",
      ),
    );
  });

  it("asks before signing out, and Stay signed in changes nothing", async () => {
    const { user, api } = renderView(<ConnectionsPanel />, { initial: oauthState() });
    const notion = await card("Notion");
    expect(within(notion).queryByRole("button", { name: "Sign in…" })).not.toBeInTheDocument();
    await user.click(within(notion).getByRole("button", { name: "Sign out…" }));
    const dialog = screen.getByRole("dialog", { name: "Sign out of Notion?" });
    expect(dialog).toHaveTextContent("keep their authorization");
    await user.click(within(dialog).getByRole("button", { name: "Stay signed in" }));
    expect(api.calls.signOut).toBe(0);
    await user.click(within(notion).getByRole("button", { name: "Sign out…" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Sign out" }));
    await waitFor(() => expect(within(notion).getByTestId("connection-status")).toHaveTextContent("Sign-in needed"));
    expect(within(notion).getByRole("button", { name: "Sign in…" })).toBeInTheDocument();
    expect(screen.getByTestId("connections-announcement")).toHaveTextContent("Signed out of Notion.");
  });

  it("asks before a sign-in that could replace the account its clients were approved for", async () => {
    const state = oauthState();
    const notion = state.connections.find((c) => c.name === "Notion")!;
    notion.status = "needs_auth";
    notion.account_label = null;
    notion.grants_account = "ada@example.com";
    notion.authorized_clients = 2;
    const { user, api } = renderView(<ConnectionsPanel />, { initial: state });
    const card_ = await card("Notion");
    await user.click(within(card_).getByRole("button", { name: "Sign in…" }));
    const dialog = screen.getByRole("dialog", { name: "Sign in to Notion?" });
    expect(dialog).toHaveTextContent(
      "Its 2 authorized clients were approved while Gatehouse acted as ada@example.com.",
    );
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(api.calls.startSignin).toBe(0);
    await user.click(within(card_).getByRole("button", { name: "Sign in…" }));
    await user.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(api.calls.startSignin).toBe(1));
  });

  it("offers Sign in again when re-authorization is required", async () => {
    const state = oauthState();
    state.connections[0]!.status = "reauth_required";
    renderView(<ConnectionsPanel />, { initial: state });
    const linear = await card("Linear");
    expect(within(linear).getByRole("button", { name: "Sign in again…" })).toBeInTheDocument();
  });
});

it("turns the form into the backend's request shapes", async () => {
  const { toChanges, toNewConnection } = await import("./ConnectionsPanel");
  const values = {
    slug: " gh ",
    name: "GitHub ",
    upstreamUrl: "https://x/mcp",
    auth: "header" as const,
    headerName: "X-Key",
    headerValue: "k",
    oauthTemplate: "",
    clientId: " id ",
    clientSecret: "",
    tenant: "",
    scopes: " ",
    clientCredentials: false,
    legacyDiscovery: false,
    accountName: " ",
  };
  expect(toNewConnection(values)).toEqual({
    slug: "gh",
    name: "GitHub",
    upstream_url: "https://x/mcp",
    header: { name: "X-Key", value: "k" },
    oauth: null,
    account_name: null,
  });
  expect(toNewConnection({ ...values, accountName: " ada " }).account_name).toBe("ada");
  expect(toNewConnection({ ...values, auth: "none" }).header).toBeNull();
  expect(toNewConnection({ ...values, auth: "oauth" })).toMatchObject({
    header: null,
    oauth: {
      template: null,
      client_id: "id",
      client_secret: null,
      tenant: null,
      scopes: null,
      client_credentials: false,
      legacy_discovery: false,
    },
  });
  const existing = viewsState().connections[0]!;
  const same = { ...values, name: "GitHub", upstreamUrl: existing.upstream_url, accountName: "octocat" };
  expect(toChanges(existing, { ...same, auth: "keep" })).toEqual({
    name: null,
    upstream_url: null,
    header: null,
  });
  expect(toChanges(existing, { ...same, auth: "keep", accountName: "" })).toMatchObject({ account_name: "" });
  expect(toChanges(existing, { ...values, name: "GitHub", upstreamUrl: existing.upstream_url, auth: "none" })).toMatchObject({
    header: null,
    remove_header: true,
  });
  expect(toChanges(existing, { ...same, auth: "oauth", oauthTemplate: "okta", tenant: " dev.okta.com " })).toMatchObject({
    header: null,
    oauth: { template: "okta", tenant: "dev.okta.com", client_id: "id", client_secret: null },
  });
});

it("highlights and focuses the connection it was sent to", async () => {
  renderView(<ConnectionsPanel />, { navigation: { highlightedConnection: "conn-linear" } });
  const linear = await card("Linear");
  expect(linear).toHaveAttribute("data-highlighted", "true");
  expect(linear).toHaveFocus();
});

it("explains what a connection is when there is none", async () => {
  const state = viewsState();
  state.connections = [];
  renderView(<ConnectionsPanel />, { initial: state });
  expect(await screen.findByRole("heading", { name: "No connections yet" })).toBeInTheDocument();
  expect(screen.getByText("gatehoused connections add")).toBeInTheDocument();
});
