import { screen, waitFor } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { renderView } from "../testing";
import { SettingsPanel, useThemeFromSettings } from "./SettingsPanel";

afterEach(() => document.documentElement.removeAttribute("data-theme"));

function WithTheme() {
  useThemeFromSettings();
  return <SettingsPanel />;
}

it("switches the theme on the document and saves it", async () => {
  const { user, api } = renderView(<WithTheme />);
  await user.click(await screen.findByRole("radio", { name: "Dark" }));
  expect(document.documentElement).toHaveAttribute("data-theme", "dark");
  await waitFor(() => expect(api.state.settings.theme).toBe("dark"));
  await user.click(screen.getByRole("radio", { name: "Light" }));
  expect(document.documentElement).toHaveAttribute("data-theme", "light");
  await user.click(screen.getByRole("radio", { name: "Same as the system" }));
  expect(document.documentElement).not.toHaveAttribute("data-theme");
});

it("applies a saved theme on load", async () => {
  renderView(<WithTheme />, { initial: { settings: { port: 8707, retention_days: 90, start_at_login: false, allow_other_os_users: false, theme: "dark" } } });
  await waitFor(() => expect(document.documentElement).toHaveAttribute("data-theme", "dark"));
});

it("saves port, retention and start at login, and says the port needs a restart", async () => {
  const { user, api } = renderView(<SettingsPanel />);
  const port = await screen.findByLabelText("Port");
  expect(port).toHaveAccessibleDescription(/Takes effect after restart/);
  await user.clear(port);
  await user.type(port, "9000");
  const retention = screen.getByLabelText(/Keep revoked and expired records for/);
  await user.clear(retention);
  await user.type(retention, "30");
  await user.click(screen.getByRole("checkbox", { name: "Start Gatehouse when I log in" }));
  await user.click(screen.getByRole("button", { name: "Save settings" }));
  await waitFor(() =>
    expect(api.state.settings).toMatchObject({ port: 9000, retention_days: 30, start_at_login: true, allow_other_os_users: false, theme: "system" }),
  );
  expect(screen.getByTestId("settings-status")).toHaveTextContent("takes effect after Gatehouse restarts");
});

it("lets programs of other users in only when asked, and says consent stays with you", async () => {
  const { user, api } = renderView(<SettingsPanel />);
  const allow = await screen.findByRole("checkbox", { name: "Let programs of other users of this computer use my connections" });
  expect(allow).not.toBeChecked();
  expect(allow).toHaveAccessibleDescription(/only you can approve/);
  await user.click(allow);
  await user.click(screen.getByRole("button", { name: "Save settings" }));
  await waitFor(() => expect(api.state.settings.allow_other_os_users).toBe(true));
});

it("refuses a port out of range", async () => {
  const { user, api } = renderView(<SettingsPanel />);
  const port = await screen.findByLabelText("Port");
  await user.clear(port);
  await user.type(port, "70000");
  await user.click(screen.getByRole("button", { name: "Save settings" }));
  expect(screen.getByRole("alert")).toHaveTextContent("from 1 to 65535");
  expect(api.state.settings.port).toBe(8707);
});

it("says which port is still in use until restart", async () => {
  renderView(<SettingsPanel />, {
    initial: {
      settings: { port: 9000, retention_days: 90, start_at_login: false, allow_other_os_users: false, theme: "system", listening_port: 8707, restart_required: true },
    },
  });
  expect(await screen.findByTestId("restart-note")).toHaveTextContent("still listening on port 8707 until it restarts");
});

it("says when GATEHOUSE_PORT decides the port, instead of promising a restart", async () => {
  renderView(<SettingsPanel />, {
    initial: {
      settings: {
        port: 47474,
        retention_days: 90,
        start_at_login: false, allow_other_os_users: false,
        theme: "system",
        listening_port: 50123,
        restart_required: false,
        port_from_environment: true,
      },
    },
  });
  expect(await screen.findByTestId("port-env-note")).toHaveTextContent("listens on port 50123");
  expect(screen.queryByTestId("restart-note")).not.toBeInTheDocument();
});
