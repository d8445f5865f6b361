import { useState } from "react";
import { Tabs, type TabDefinition } from "./components/Tabs";
import { ClientsPanel } from "./features/clients/ClientsPanel";
import { ConnectionsPanel } from "./features/connections/ConnectionsPanel";
import { GatewayStatusLine } from "./features/gateway/GatewayStatusLine";

type TabId = "connections" | "clients";

const TABS: readonly TabDefinition<TabId>[] = [
  { id: "connections", label: "Connections", panel: <ConnectionsPanel /> },
  { id: "clients", label: "Authorized clients", panel: <ClientsPanel /> },
];

export function App() {
  const [selected, setSelected] = useState<TabId>("connections");
  return (
    <div className="app">
      <header className="app__header">
        <svg className="app__logo" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
          <path d="M12 2 4 5v6c0 5 3.4 9.4 8 11 4.6-1.6 8-6 8-11V5l-8-3Z" />
        </svg>
        <h1 className="app__title">Gatehouse</h1>
      </header>
      <main className="app__main">
        <Tabs label="Gatehouse sections" tabs={TABS} selected={selected} onSelect={setSelected} />
      </main>
      <footer className="app__footer">
        <GatewayStatusLine />
      </footer>
    </div>
  );
}
