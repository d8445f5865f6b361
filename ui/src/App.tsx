import { useMemo, useState } from "react";
import { useBackendEvents } from "./api";
import { NavigationProvider, type Navigation } from "./components/navigation";
import { Tabs, type TabDefinition } from "./components/Tabs";
import { ActivityPanel } from "./features/activity/ActivityPanel";
import { ClientsPanel } from "./features/clients/ClientsPanel";
import { ConnectionsPanel } from "./features/connections/ConnectionsPanel";
import { GatewayStatusLine } from "./features/gateway/GatewayStatusLine";
import { SettingsPanel, useThemeFromSettings } from "./features/settings/SettingsPanel";

type TabId = "connections" | "clients" | "activity" | "settings";

// The first two names are relied on by the app-window WebDriver test.
const TABS: readonly TabDefinition<TabId>[] = [
  { id: "connections", label: "Connections", panel: <ConnectionsPanel /> },
  { id: "clients", label: "Authorized clients", panel: <ClientsPanel /> },
  { id: "activity", label: "Activity", panel: <ActivityPanel /> },
  { id: "settings", label: "Settings", panel: <SettingsPanel /> },
];

function ThemeFromSettings() {
  useThemeFromSettings();
  return null;
}

export function App() {
  // Backend change events (in-app or from `gatehoused` in another process) invalidate queries.
  useBackendEvents();
  const [selected, setSelected] = useState<TabId>("connections");
  const [highlightedConnection, setHighlighted] = useState<string | null>(null);

  const navigation = useMemo<Navigation>(
    () => ({
      highlightedConnection,
      showConnection: (connectionId) => {
        setHighlighted(connectionId);
        setSelected("connections");
      },
    }),
    [highlightedConnection],
  );

  const select = (id: TabId) => {
    setHighlighted(null);
    setSelected(id);
  };

  return (
    <NavigationProvider value={navigation}>
      <ThemeFromSettings />
      <div className="app">
        <header className="app__header">
          <svg className="app__logo" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path d="M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5l-8-3Z" />
          </svg>
          <h1 className="app__title">Gatehouse</h1>
        </header>
        <main className="app__main">
          <Tabs label="Gatehouse sections" tabs={TABS} selected={selected} onSelect={select} />
        </main>
        <footer className="app__footer">
          <GatewayStatusLine />
        </footer>
      </div>
    </NavigationProvider>
  );
}
