import { act, screen, within } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { SAMPLE_GATEWAY_STATUS } from "./api";
import { renderApp } from "./test/render";

describe("Gatehouse window", () => {
  it("has the Gatehouse heading", () => {
    renderApp();
    expect(screen.getByRole("heading", { level: 1, name: "Gatehouse" })).toBeInTheDocument();
  });

  it("has the two main tabs first, then Requests, Activity and Settings, Connections selected first", () => {
    renderApp({ initial: { pending: [] } });
    const tablist = screen.getByRole("tablist");
    const tabs = within(tablist).getAllByRole("tab");
    expect(tabs.map((tab) => tab.textContent)).toEqual([
      "Connections",
      "Authorized clients",
      "Requests",
      "Activity",
      "Settings",
    ]);
    expect(screen.getByRole("tab", { name: "Connections" })).toHaveAttribute("aria-selected", "true");
    expect(screen.getByRole("tab", { name: "Authorized clients" })).toHaveAttribute(
      "aria-selected",
      "false",
    );
  });

  it("counts the requests waiting and opens them for whoever comes from the notification", async () => {
    const { api } = renderApp();
    expect(await screen.findByRole("tab", { name: "Requests (1)" })).toHaveAttribute("aria-selected", "false");
    const focus = vi.spyOn(document, "hasFocus");
    focus.mockReturnValue(true);
    act(() => api.emitConsentRequested({ client_name: "Cursor", connection_name: "GitHub" }));
    expect(screen.getByRole("tab", { name: "Requests (1)" })).toHaveAttribute("aria-selected", "false");
    focus.mockReturnValue(false);
    act(() => api.emitConsentRequested({ client_name: "Cursor", connection_name: "GitHub" }));
    expect(screen.getByRole("tab", { name: "Requests (1)" })).toHaveAttribute("aria-selected", "true");
    focus.mockRestore();
  });

  it("shows the panel of the selected tab, labelled by that tab", async () => {
    const { user } = renderApp();
    expect(screen.getByRole("tabpanel", { name: "Connections" })).toBeVisible();
    expect(screen.queryByRole("tabpanel", { name: "Authorized clients" })).not.toBeInTheDocument();

    await user.click(screen.getByRole("tab", { name: "Authorized clients" }));

    expect(screen.getByRole("tab", { name: "Authorized clients" })).toHaveAttribute(
      "aria-selected",
      "true",
    );
    expect(screen.getByRole("tabpanel", { name: "Authorized clients" })).toBeVisible();
    expect(screen.queryByRole("tabpanel", { name: "Connections" })).not.toBeInTheDocument();
  });

  it("moves between tabs with ArrowRight and ArrowLeft, wrapping at the ends", async () => {
    const { user } = renderApp();
    const connections = screen.getByRole("tab", { name: "Connections" });
    const clients = screen.getByRole("tab", { name: "Authorized clients" });

    await user.tab();
    expect(connections).toHaveFocus();

    await user.keyboard("{ArrowRight}");
    expect(clients).toHaveFocus();
    expect(clients).toHaveAttribute("aria-selected", "true");
    expect(screen.getByRole("tabpanel", { name: "Authorized clients" })).toBeVisible();

    await user.keyboard("{ArrowLeft}");
    expect(connections).toHaveFocus();
    expect(connections).toHaveAttribute("aria-selected", "true");

    const settings = screen.getByRole("tab", { name: "Settings" });
    await user.keyboard("{ArrowLeft}");
    expect(settings).toHaveFocus();
    expect(settings).toHaveAttribute("aria-selected", "true");

    await user.keyboard("{ArrowRight}");
    expect(connections).toHaveFocus();
  });

  it("keeps only the selected tab in the Tab order", async () => {
    const { user } = renderApp();
    await user.click(screen.getByRole("tab", { name: "Authorized clients" }));
    expect(screen.getByRole("tab", { name: "Connections" })).toHaveAttribute("tabindex", "-1");
    expect(screen.getByRole("tab", { name: "Authorized clients" })).toHaveAttribute("tabindex", "0");
    // Tab from the selected tab goes into its panel, not to the other tab.
    await user.tab();
    expect(screen.getByRole("tabpanel", { name: "Authorized clients" })).toHaveFocus();
  });

  it("reports the gateway address and key source from the backend", async () => {
    renderApp({
      initial: {
        gatewayStatus: {
          ...SAMPLE_GATEWAY_STATUS,
          address: "127.0.0.1",
          port: 48123,
          key_source: { kind: "KeyFile", detail: "key file /tmp/gh/master.key" },
        },
      },
    });
    const status = screen.getByTestId("gateway-status");
    expect(status).toHaveAttribute("role", "status");
    expect(await screen.findByText(/Gateway running at/)).toBeInTheDocument();
    expect(status).toHaveTextContent(
      "Gateway running at http://127.0.0.1:48123 · Keys: key file /tmp/gh/master.key",
    );
    expect(status).not.toHaveTextContent("Preview");
  });

  it("says it is checking before the backend answers", () => {
    renderApp();
    expect(screen.getByTestId("gateway-status")).toHaveTextContent("Checking the gateway…");
  });

  it("shows the error when the backend call fails", async () => {
    renderApp({ initial: { error: { type: "GatewayNotRunning", data: { reason: "cannot listen on 127.0.0.1:47474" } } } });
    expect(await screen.findByText(/Gateway status unavailable/)).toBeInTheDocument();
    const status = screen.getByTestId("gateway-status");
    expect(status).toHaveTextContent("Gateway status unavailable: The gateway is not running: cannot listen on 127.0.0.1:47474");
    expect(status).toHaveAttribute("data-tone", "error");
    expect(status).not.toHaveTextContent("Gateway running");
  });

  it("marks a preview without a backend in the status line", async () => {
    renderApp({ preview: true });
    expect(await screen.findByText(/Gateway running at/)).toBeInTheDocument();
    expect(screen.getByTestId("gateway-status")).toHaveTextContent(/^Preview \(no backend\)/);
  });

  it("the connection link on a grant card opens the Connections tab and highlights it", async () => {
    const { user } = renderApp();
    await user.click(screen.getByRole("tab", { name: "Authorized clients" }));
    const cards = await screen.findAllByTestId("grant-card");
    await user.click(within(cards[0]!).getByRole("button", { name: "GitHub" }));
    expect(screen.getByRole("tab", { name: "Connections" })).toHaveAttribute("aria-selected", "true");
    const highlighted = document.querySelector('[data-highlighted="true"]');
    expect(highlighted).toHaveAttribute("data-connection-id", "conn_github");
  });

  it("asks the backend for its status once on load", async () => {
    const { api } = renderApp();
    await screen.findByText(/Gateway running at/);
    expect(api.calls.getGatewayStatus).toBe(1);
  });
});
