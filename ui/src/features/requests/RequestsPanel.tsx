import { useState } from "react";
import {
  describeIpcError,
  useDecidePendingRequest,
  usePendingRequests,
  type PendingRequestView,
  type RequestDecided,
} from "../../api";
import { EmptyState } from "../../components/EmptyState";
import { ProgramLine } from "../../components/ProgramLine";
import { formatRelative } from "../../components/time";
import { clientTitle } from "../clients/grouping";

/** What happened after a decision, in words. */
export function decidedText(request: PendingRequestView, decided: RequestDecided): string {
  const who = clientTitle(request.client_name);
  const what = decided.approved ? `${who} may now use ${request.connection_name}.` : `${who} was denied.`;
  switch (decided.delivery.via) {
    case "loopback":
      return `${what} Gatehouse handed the answer to the client.`;
    case "opened":
      return `${what} The answer was handed to the client's app link.`;
    case "failed":
      return `${what} But the client could not be reached: ${decided.delivery.reason}.`;
  }
}

/**
 * Consent requests waiting for the person, decided here instead of in the browser: the answer goes
 * to the client's callback from the backend. The browser page stays the place to pick tools.
 */
export function RequestsPanel() {
  const pending = usePendingRequests();
  const decide = useDecidePendingRequest();
  const [outcome, setOutcome] = useState<string | null>(null);

  if (pending.isPending) return <p className="muted">Loading requests…</p>;
  if (pending.isError) {
    return (
      <p role="alert" className="form-error">
        Could not read the pending requests: {describeIpcError(pending.error)}
      </p>
    );
  }

  const answer = (request: PendingRequestView, approve: boolean) => {
    setOutcome(null);
    decide.mutate(
      { id: request.id, approve, tools: null },
      {
        onSuccess: (decided) => setOutcome(decidedText(request, decided)),
        onError: (error) => setOutcome(`Nothing was decided: ${describeIpcError(error)}`),
      },
    );
  };

  return (
    <div className="requests">
      <p className="muted" role="status" aria-live="polite" data-testid="request-outcome">
        {outcome ?? ""}
      </p>
      {pending.data.length === 0 ? (
        <EmptyState title="No client is waiting">
          <p>
            When an MCP client asks to use a connection, its request shows here as well as in your browser.
            Answer it in either place.
          </p>
        </EmptyState>
      ) : (
        <ul className="requests__list" aria-label="Requests waiting for you">
          {pending.data.map((request) => (
            <li key={request.id} className="grant-card" data-testid="pending-request">
              <h3 className="grant-card__title">{clientTitle(request.client_name)}</h3>
              <p className="grant-card__client-id">
                <span className="label">{request.client_name ? "Reported name" : "No name reported"}</span>
                {" · "}
                <code>{request.client_id}</code>
              </p>
<ProgramLine caller={request.caller} />
              <p className="grant-card__subline">
                Wants to use <strong>{request.connection_name}</strong>, asked {formatRelative(request.created_at)}.
                The answer goes to <code>{request.redirect_uri}</code>.
              </p>
              <p className="muted">
                Approving here allows every tool of {request.connection_name}; to choose tools, answer on the page in
                your browser.
              </p>
              <div className="grant-card__foot">
                <button
                  type="button"
                  className="button button--primary"
                  disabled={decide.isPending}
                  onClick={() => answer(request, true)}
                >
                  Approve
                </button>
                <button
                  type="button"
                  className="button button--danger"
                  disabled={decide.isPending}
                  onClick={() => answer(request, false)}
                >
                  Deny
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
