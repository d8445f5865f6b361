import type { GrantView } from "../../api";
import { Dialog } from "../../components/Dialog";
import { clientTitle } from "./grouping";

type RevokeDialogProps = {
  grants: readonly GrantView[];
  onKeep: () => void;
  onRevoke: () => void;
  pending: boolean;
  /** A sentence saying why the last attempt failed, if it did. */
  error: string | null;
};

/** "Revoke access for 3 clients?", or, when one client holds several of the grants, "Revoke 4
 * authorizations of 3 clients?": the count must be what is about to happen. */
function bulkTitle(grants: readonly GrantView[]): string {
  const clients = new Set(grants.map((grant) => grant.client_id)).size;
  return clients === grants.length
    ? `Revoke access for ${clients} clients?`
    : `Revoke ${grants.length} authorizations of ${clients} ${clients === 1 ? "client" : "clients"}?`;
}

/**
 * Asks before revoking. Shows exactly which registration loses access (its callback URI and client
 * ID, verbatim: the reported name proves nothing) and what stops working.
 */
export function RevokeDialog({ grants, onKeep, onRevoke, pending, error }: RevokeDialogProps) {
  const single = grants.length === 1 ? grants[0] : undefined;
  const title = single
    ? `Revoke access for ${clientTitle(single.client_name)}?`
    : bulkTitle(grants);
  return (
    <Dialog
      title={title}
      tone="danger"
      onClose={onKeep}
      testId="revoke-dialog"
      actions={
        <>
          <button type="button" className="button" onClick={onKeep} data-autofocus>
            Keep access
          </button>
          <button type="button" className="button button--danger-solid" onClick={onRevoke} disabled={pending}>
            {pending ? "Revoking…" : "Revoke access"}
          </button>
        </>
      }
    >
      <p>
        {single
          ? "This client's tokens stop working at once. Its next request is refused, and it will have to ask you for access again."
          : "These clients' tokens stop working at once. Their next requests are refused, and each will have to ask you for access again."}
      </p>
      <ul className="revoke-list">
        {grants.map((grant) => (
          <li key={grant.id} className="revoke-list__item" data-testid="revoke-item">
            <p className="revoke-list__name">
              <strong>{clientTitle(grant.client_name)}</strong> on {grant.connection_name}
            </p>
            <p className="revoke-list__label">Callback URI</p>
            <pre className="command">
              <code data-testid="revoke-redirect-uri">{grant.redirect_uri}</code>
            </pre>
            <p className="revoke-list__label">Client ID</p>
            <pre className="command">
              <code data-testid="revoke-client-id">{grant.client_id}</code>
            </pre>
          </li>
        ))}
      </ul>
      {error && (
        <p role="alert" className="form-error">
          {error}
        </p>
      )}
    </Dialog>
  );
}
