import { EmptyState } from "../../components/EmptyState";

/**
 * The Authorized clients tab. There is no backend command to list grants yet,
 * so this is the empty state only; the cards arrive with that command.
 */
export function ClientsPanel() {
  return (
    <EmptyState title="No client has been authorized yet">
      <p>
        When an MCP client asks to act for you, Gatehouse opens a consent page in your browser. A
        card appears here for every client a person approves there, saying which connection it may
        use and on whose behalf.
      </p>
      <p>Revoking a client&rsquo;s access will be done here; that is not built yet.</p>
    </EmptyState>
  );
}
