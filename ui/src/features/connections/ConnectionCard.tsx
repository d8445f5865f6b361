import { useEffect, useId, useRef, useState } from "react";
import type { ConnectionView } from "../../api";
import { CopyButton } from "../../components/CopyButton";
import { ConnectClientDialog } from "./ConnectClientDialog";
import { ServerLogView } from "./ServerLogView";
import { Disclosure } from "../../components/Disclosure";
import { clientsAuthorizedText, connectionStatusText, snippetsFor, statusTone } from "./snippets";

type ConnectionCardProps = {
  connection: ConnectionView;
  highlighted: boolean;
  onEdit: () => void;
  onToggleEnabled: () => void;
  onDelete: () => void;
  /** Start a browser sign-in (OAuth connections that need one). */
  onSignIn: () => void;
  /** Sign out at the upstream (OAuth connections that are signed in). */
  onSignOut: () => void;
  /** A sign-in or sign-out of this connection is under way. */
  signingIn: boolean;
};

/** One connection: where it goes, its state in words, the local URL to give clients, and actions. */
export function ConnectionCard({
  connection,
  highlighted,
  onEdit,
  onToggleEnabled,
  onDelete,
  onSignIn,
  onSignOut,
  signingIn,
}: ConnectionCardProps) {
  const oauth = connection.auth_kind === "oauth" && connection.enabled;
  const needsSignIn = oauth && (connection.status === "needs_auth" || connection.status === "reauth_required");
  const titleId = useId();
  const ref = useRef<HTMLElement>(null);
  const [connectingClient, setConnectingClient] = useState(false);

  useEffect(() => {
    if (!highlighted) return;
    ref.current?.scrollIntoView?.({ block: "nearest" });
    ref.current?.focus();
  }, [highlighted]);

  return (
    <article
      ref={ref}
      className="connection-card"
      data-testid="connection-card"
      data-connection-id={connection.id}
      data-highlighted={highlighted || undefined}
      aria-labelledby={titleId}
      tabIndex={-1}
    >
      <div className="connection-card__head">
        <div>
          <h3 id={titleId} className="connection-card__title">
            {connection.name}
          </h3>
          <p className="connection-card__upstream">
            <span className="visually-hidden">Server URL: </span>
            <code>{connection.upstream_url}</code>
          </p>
        </div>
        <p className="badge" data-tone={statusTone(connection)} data-testid="connection-status">
          {connectionStatusText(connection)}
        </p>
      </div>

      {connection.status_detail && connection.status !== "error" && connection.enabled && (
        <p className="connection-card__detail" data-testid="connection-status-detail">
          {connection.status_detail}
        </p>
      )}

      <div className="connection-card__local">
        <span className="label">Local URL</span>
        <code className="connection-card__url" data-testid="local-url">
          {connection.local_url}
        </code>
        <CopyButton text={connection.local_url} label={`Copy local URL of ${connection.name}`} />
      </div>

      <p className="connection-card__clients">{clientsAuthorizedText(connection.authorized_clients)}</p>

      <Disclosure label="Show setup for MCP clients" openLabel="Hide setup for MCP clients">
        <ul className="snippets">
          {snippetsFor(connection).map((snippet) => (
            <li key={snippet.id} className="snippet" data-snippet={snippet.id}>
              <p className="snippet__head">
                <strong>{snippet.client}</strong> <span className="muted">{snippet.where}</span>
              </p>
              <pre className="command">
                <code>{snippet.text}</code>
              </pre>
              <CopyButton text={snippet.text} label={`Copy ${snippet.client} setup`} />
            </li>
          ))}
        </ul>
      </Disclosure>

      {connection.transport === "stdio" && (
        <Disclosure label="Show the server's log" openLabel="Hide the server's log">
          <ServerLogView connectionId={connection.id} name={connection.name} />
        </Disclosure>
      )}

      <div className="connection-card__actions">
        {needsSignIn && (
          <button
            type="button"
            className="button button--primary"
            onClick={onSignIn}
            disabled={signingIn}
            aria-describedby={titleId}
          >
            {connection.status === "reauth_required" ? "Sign in again…" : "Sign in…"}
          </button>
        )}
        {oauth && connection.status === "connected" && (
          <button type="button" className="button" onClick={onSignOut} disabled={signingIn} aria-describedby={titleId}>
            Sign out…
          </button>
        )}
        {connection.enabled && (
          <button type="button" className="button" onClick={() => setConnectingClient(true)} aria-describedby={titleId}>
            Connect a client…
          </button>
        )}
        <button type="button" className="button" onClick={onEdit} aria-describedby={titleId}>
          Edit…
        </button>
        <button type="button" className="button" onClick={onToggleEnabled} aria-describedby={titleId}>
          {connection.enabled ? "Disable…" : "Enable"}
        </button>
        <button type="button" className="button button--danger" onClick={onDelete} aria-describedby={titleId}>
          Delete…
        </button>
      </div>
      {connectingClient && <ConnectClientDialog connection={connection} onClose={() => setConnectingClient(false)} />}
    </article>
  );
}
