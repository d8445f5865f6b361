import { useEffect, useMemo, useState } from "react";
import { useBackend, useBackendEvents, usePendingRequests } from "./api";
import { NavigationProvider, type Navigation } from "./components/navigation";
import { Tabs, type TabDefinition } from "./components/Tabs";
import { ActivityPanel } from "./features/activity/ActivityPanel";
import { ClientsPanel } from "./features/clients/ClientsPanel";
import { ConnectionsPanel } from "./features/connections/ConnectionsPanel";
import { GatewayStatusLine } from "./features/gateway/GatewayStatusLine";
import { RequestsPanel } from "./features/requests/RequestsPanel";
import { SettingsPanel, useThemeFromSettings } from "./features/settings/SettingsPanel";

type TabId = "connections" | "clients" | "requests" | "activity" | "settings";

// The first two names are relied on by the app-window WebDriver test.
function tabs(pending: number): readonly TabDefinition<TabId>[] {
  return [
    { id: "connections", label: "Connections", panel: <ConnectionsPanel /> },
    { id: "clients", label: "Authorized clients", panel: <ClientsPanel /> },
    { id: "requests", label: pending > 0 ? `Requests (${pending})` : "Requests", panel: <RequestsPanel /> },
    { id: "activity", label: "Activity", panel: <ActivityPanel /> },
    { id: "settings", label: "Settings", panel: <SettingsPanel /> },
  ];
}

function ThemeFromSettings() {
  useThemeFromSettings();
  return null;
}

export function App() {
  // Backend change events (in-app or from `gatehoused` in another process) invalidate queries.
  useBackendEvents();
  const [selected, setSelected] = useState<TabId>("connections");
  const [highlightedConnection, setHighlighted] = useState<string | null>(null);
  const pending = usePendingRequests();
  const { api } = useBackend();

  // A consent request raises a desktop notification; whoever comes to the window from it (it is
  // not the one in use) finds the request open. A window in use keeps its tab.
  useEffect(() => {
    let stop: (() => void) | undefined;
    let stopped = false;
    void api
      .onConsentRequested(() => {
        if (!document.hasFocus()) setSelected("requests");
      })
      .then((unlisten) => {
        if (stopped) unlisten();
        else stop = unlisten;
      });
    return () => {
      stopped = true;
      stop?.();
    };
  }, [api]);

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
          <Tabs
            label="Gatehouse sections"
            tabs={tabs(pending.data?.length ?? 0)}
            selected={selected}
            onSelect={select}
          />
        </main>
        <footer className="app__footer">
          <GatewayStatusLine />
        </footer>
      </div>
    </NavigationProvider>
  );
}
