import { EmptyState } from "../../components/EmptyState";

/**
 * The Connections tab. There is no backend command to list connections yet,
 * so this is the empty state only; the list arrives with that command.
 */
export function ConnectionsPanel() {
  return (
    <EmptyState title="No connections yet">
      <p>
        A connection is an upstream MCP server that Gatehouse signs in to for you. Each connection
        gets a local URL on this computer, and your MCP clients use that local URL instead of the
        server&rsquo;s own address.
      </p>
      <p>
        Adding connections in this window is not built yet. For now, add one from the command line:
      </p>
      <pre className="command">
        <code>gatehoused connections add</code>
      </pre>
    </EmptyState>
  );
}
