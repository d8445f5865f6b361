import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderView } from "../testing";
import { ConnectionsPanel } from "./ConnectionsPanel";

describe("import from a client", () => {
  it("shows which keys move and the change, never the key, and adds the connection", async () => {
    const { user, api } = renderView(<ConnectionsPanel />);
    await user.click(await screen.findByRole("button", { name: "Import from a client…" }));
    const dialog = await screen.findByRole("dialog", { name: "Import a server from a client" });
    await user.selectOptions(await within(dialog).findByLabelText("Client"), "cursor");
    expect(await within(dialog).findByText(/Moves BRAVE_API_KEY into Gatehouse/)).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Show the change" }));
    const diff = await within(dialog).findByTestId("import-diff");
    expect(diff).toHaveTextContent("[secret]");
    expect(diff).toHaveTextContent("http://127.0.0.1:8707/mcp/brave-search");
    expect(document.body.textContent).not.toContain("fake-brave-key-123");
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    expect(await within(dialog).findByTestId("import-done")).toHaveTextContent("holds no key");
    expect(within(dialog).getByTestId("import-done")).toHaveTextContent("delete it once you are happy");
    expect((await api.listConnections()).some((c) => c.slug === "brave-search" && c.transport === "stdio")).toBe(true);
  });
});
