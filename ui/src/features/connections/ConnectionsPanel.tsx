import { useEffect, useState, type ReactNode } from "react";
import {
  describeIpcError,
  useAddConnection,
  useBackend,
  useConnections,
  useEditConnection,
  useRemoveConnection,
  useSetConnectionEnabled,
  useSignOut,
  useStartSignin,
  type ConnectionChangesRequest,
  type ConnectionView,
  type IpcError,
  type NewConnectionRequest,
  type OAuthRequest,
} from "../../api";
import { Dialog } from "../../components/Dialog";
import { ImportDialog } from "./ImportDialog";
import { LocalCommandForm } from "./LocalCommandForm";
import { EmptyState } from "../../components/EmptyState";
import { useNavigation } from "../../components/navigation";
import { ConnectionCard } from "./ConnectionCard";
import { ConnectionForm, fieldErrorsFrom, type ConnectionFormValues, type FieldErrors } from "./ConnectionForm";

/** The form's OAuth fields as the backend takes them (blank means "not given"). */
function toOAuth(values: ConnectionFormValues): OAuthRequest {
  return {
    template: values.oauthTemplate || null,
    client_id: values.clientId.trim() || null,
    client_secret: values.clientSecret || null,
    tenant: values.tenant.trim() || null,
    scopes: values.scopes.trim() || null,
    client_credentials: values.clientCredentials,
    legacy_discovery: values.legacyDiscovery,
  };
}

export function toNewConnection(values: ConnectionFormValues): NewConnectionRequest {
  return {
    slug: values.slug.trim(),
    name: values.name.trim(),
    upstream_url: values.upstreamUrl.trim(),
    header: values.auth === "header" ? { name: values.headerName.trim(), value: values.headerValue } : null,
    oauth: values.auth === "oauth" ? toOAuth(values) : null,
    account_name: values.accountName.trim() || null,
  };
}

export function toChanges(existing: ConnectionView, values: ConnectionFormValues): ConnectionChangesRequest {
  const name = values.name.trim();
  const url = values.upstreamUrl.trim();
  const changes: ConnectionChangesRequest = {
    name: name !== existing.name ? name : null,
    upstream_url: url !== existing.upstream_url ? url : null,
    header: values.auth === "header" ? { name: values.headerName.trim(), value: values.headerValue } : null,
  };
  // The stored client secret stays when the client ID is the same and no secret is typed.
  if (values.auth === "oauth") changes.oauth = toOAuth(values);
  if (values.auth === "none" && existing.auth_kind !== "none") changes.remove_header = true;
  const account = values.accountName.trim();
  if (account !== (existing.account_label ?? "")) changes.account_name = account;
  return changes;
}

export function grantsSentence(count: number): string {
  if (count === 0) return "No client is authorized on it, so no access is revoked.";
  return count === 1
    ? "This revokes 1 grant: the client authorized on it loses access at once and will have to ask you again."
    : `This revokes ${count} grants: the ${count} clients authorized on it lose access at once and will have to ask you again.`;
}

type Pending =
  | { kind: "add" }
  | { kind: "add-local" }
  | { kind: "import" }
  | { kind: "edit"; connection: ConnectionView }
  | { kind: "confirm-edit"; connection: ConnectionView; changes: ConnectionChangesRequest; grants: number }
  | { kind: "disable"; connection: ConnectionView; grants: number }
  | { kind: "delete"; connection: ConnectionView; grants: number }
  | { kind: "sign-out"; connection: ConnectionView }
  | { kind: "confirm-sign-in"; connection: ConnectionView; account: string };

/** The Connections tab: a card per connection, and add / edit / enable / disable / delete. */
export function ConnectionsPanel() {
  const { api } = useBackend();
  const connections = useConnections();
  const add = useAddConnection();
  const edit = useEditConnection();
  const setEnabled = useSetConnectionEnabled();
  const remove = useRemoveConnection();
  const startSignin = useStartSignin();
  const signOut = useSignOut();
  const { highlightedConnection } = useNavigation();
  const [pending, setPending] = useState<Pending | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const [announcement, setAnnouncement] = useState("");
  // The connection whose browser sign-in was started here and has not completed yet.
  const [awaitingSignin, setAwaitingSignin] = useState<string | null>(null);

  useEffect(() => {
    if (!awaitingSignin) return;
    const connection = connections.data?.find((c) => c.id === awaitingSignin);
    if (connection?.status !== "connected") return;
    setAwaitingSignin(null);
    setAnnouncement(
      `Signed in to ${connection.name}${connection.account_label ? ` as ${connection.account_label}` : ""}.`,
    );
  }, [awaitingSignin, connections.data]);

  const close = () => {
    setPending(null);
    setErrors({});
    setBusy(false);
  };
  const fail = (error: IpcError) => {
    setBusy(false);
    setErrors(fieldErrorsFrom(error));
  };
  const revokedNote = (count: number) =>
    count === 0 ? "" : count === 1 ? " 1 grant was revoked." : ` ${count} grants were revoked.`;

  const submitAdd = (values: ConnectionFormValues) => {
    setBusy(true);
    add.mutate(toNewConnection(values), {
      onSuccess: (created) => {
        close();
        setAnnouncement(`Added ${created.name}.`);
      },
      onError: fail,
    });
  };

  const applyEdit = (connection: ConnectionView, changes: ConnectionChangesRequest) => {
    setBusy(true);
    edit.mutate(
      { key: connection.id, changes },
      {
        onSuccess: (change) => {
          close();
          setAnnouncement(`Saved ${change.connection.name}.${revokedNote(change.revoked_grants)}`);
        },
        onError: fail,
      },
    );
  };

  const submitEdit = async (connection: ConnectionView, values: ConnectionFormValues) => {
    const changes = toChanges(connection, values);
    setBusy(true);
    try {
      const preview = await api.previewConnectionEdit(connection.id, changes);
      if (preview.material && preview.grants_to_revoke > 0) {
        setBusy(false);
        setErrors({});
        setPending({ kind: "confirm-edit", connection, changes, grants: preview.grants_to_revoke });
        return;
      }
      applyEdit(connection, changes);
    } catch (error) {
      fail(error as IpcError);
    }
  };

  const askThenAct = async (kind: "disable" | "delete", connection: ConnectionView) => {
    try {
      const grants = await api.grantsAtRisk(connection.id);
      setErrors({});
      setPending({ kind, connection, grants });
    } catch (error) {
      setAnnouncement(`Could not check ${connection.name}: ${describeIpcError(error as IpcError)}`);
    }
  };

  const toggleEnabled = (connection: ConnectionView) => {
    if (connection.enabled) {
      void askThenAct("disable", connection);
      return;
    }
    setEnabled.mutate(
      { key: connection.id, enabled: true },
      {
        onSuccess: (change) => setAnnouncement(`Enabled ${change.connection.name}.`),
        onError: (error) => setAnnouncement(`Could not enable ${connection.name}: ${describeIpcError(error)}`),
      },
    );
  };

  // The browser does the sign-in; the gateway's callback completes it and the change event
  // updates the card. Nothing secret comes back here.
  const signIn = (connection: ConnectionView) => {
    startSignin.mutate(
      { key: connection.id },
      {
        onSuccess: (started) => {
          if (started.outcome === "connected") {
            setAnnouncement(`${connection.name} is connected.`);
          } else {
            setAwaitingSignin(connection.id);
            setAnnouncement(`Continue in your browser to sign in to ${connection.name}.`);
          }
        },
        onError: (error) => setAnnouncement(`Could not start signing in to ${connection.name}: ${describeIpcError(error)}`),
      },
    );
  };

  const confirmSignOut = (connection: ConnectionView) => {
    setBusy(true);
    signOut.mutate(connection.id, {
      onSuccess: (out) => {
        close();
        setAnnouncement(
          out.revocation === "revoke_failed"
            ? `Signed out of ${connection.name}. The server did not confirm the tokens were revoked; they are deleted here.`
            : `Signed out of ${connection.name}.`,
        );
      },
      onError: (error) => {
        setBusy(false);
        setErrors({ form: describeIpcError(error) });
      },
    });
  };

  const list = connections.data ?? [];

  return (
    <div className="connections">
      <p role="status" className="muted connections__status" data-testid="connections-announcement">
        {announcement}
      </p>
      <div className="toolbar">
        <div className="toolbar__spacer" />
        <button type="button" className="button" onClick={() => setPending({ kind: "import" })}>
          Import from a client…
        </button>
        <button type="button" className="button" onClick={() => setPending({ kind: "add-local" })}>
          Add a local command…
        </button>
        <button type="button" className="button button--primary" onClick={() => setPending({ kind: "add" })}>
          Add connection…
        </button>
      </div>

      {connections.isPending ? (
        <p className="muted">Loading connections…</p>
      ) : connections.isError && connections.data === undefined ? (
        <p role="alert" className="form-error">
          Could not list connections: {describeIpcError(connections.error)}
        </p>
      ) : list.length === 0 ? (
        <EmptyState title="No connections yet">
          <p>
            A connection is an upstream MCP server that Gatehouse signs in to for you. Each connection
            gets a local URL on this computer, and your MCP clients use that local URL instead of the
            server&rsquo;s own address.
          </p>
          <p>Add one with the Add connection button, or from the command line:</p>
          <pre className="command">
            <code>gatehoused connections add</code>
          </pre>
        </EmptyState>
      ) : (
        <div className="connection-list">
          {list.map((connection) => (
            <ConnectionCard
              key={connection.id}
              connection={connection}
              highlighted={highlightedConnection === connection.id}
              onEdit={() => setPending({ kind: "edit", connection })}
              onToggleEnabled={() => toggleEnabled(connection)}
              onDelete={() => void askThenAct("delete", connection)}
              onSignIn={() => {
                // Its clients were approved while Gatehouse acted as another sign-in: ask first.
                if (connection.grants_account && connection.authorized_clients > 0) {
                  setErrors({});
                  setPending({ kind: "confirm-sign-in", connection, account: connection.grants_account });
                } else {
                  signIn(connection);
                }
              }}
              onSignOut={() => {
                setErrors({});
                setPending({ kind: "sign-out", connection });
              }}
              signingIn={
                (startSignin.isPending && startSignin.variables?.key === connection.id) ||
                (signOut.isPending && signOut.variables === connection.id)
              }
            />
          ))}
        </div>
      )}

      {pending?.kind === "add" && (
        <Dialog title="Add a connection" onClose={close} testId="connection-dialog">
          <ConnectionForm submitLabel="Add connection" onSubmit={submitAdd} onCancel={close} pending={busy} errors={errors} />
        </Dialog>
      )}

      {pending?.kind === "import" && <ImportDialog onClose={close} />}

      {pending?.kind === "add-local" && (
        <Dialog title="Add a local MCP server" onClose={close} testId="local-command-dialog">
          <LocalCommandForm
            onCancel={close}
            onDone={(created) => {
              close();
              setAnnouncement(`Added ${created.name}.`);
            }}
          />
        </Dialog>
      )}

      {pending?.kind === "edit" && (
        <Dialog title={`Edit ${pending.connection.name}`} onClose={close} testId="connection-dialog">
          <p className="muted">
            Changing the server URL or how Gatehouse signs in revokes every grant on this connection.
          </p>
          <ConnectionForm
            existing={pending.connection}
            submitLabel="Save"
            onSubmit={(values) => void submitEdit(pending.connection, values)}
            onCancel={close}
            pending={busy}
            errors={errors}
          />
        </Dialog>
      )}

      {pending?.kind === "sign-out" && (
        <ConfirmDialog
          title={`Sign out of ${pending.connection.name}?`}
          keepLabel="Stay signed in"
          confirmLabel="Sign out"
          busy={busy}
          error={errors.form}
          onKeep={close}
          onConfirm={() => confirmSignOut(pending.connection)}
        >
          <p>
            Gatehouse asks the server to revoke its tokens and deletes them here. Clients authorized on this
            connection keep their authorization, but their requests fail until you sign in again.
          </p>
        </ConfirmDialog>
      )}

      {pending?.kind === "confirm-sign-in" && (
        <ConfirmDialog
          title={`Sign in to ${pending.connection.name}?`}
          keepLabel="Cancel"
          confirmLabel="Sign in"
          busy={busy}
          error={errors.form}
          onKeep={close}
          onConfirm={() => {
            const connection = pending.connection;
            close();
            signIn(connection);
          }}
        >
          <p>
            {pending.connection.authorized_clients === 1
              ? "Its authorized client was"
              : `Its ${pending.connection.authorized_clients} authorized clients were`}{" "}
            approved while Gatehouse acted as <strong>{pending.account}</strong>. Sign in as {pending.account} to
            keep them; if you sign in as another account, they lose access and must ask you again.
          </p>
        </ConfirmDialog>
      )}

      {pending?.kind === "confirm-edit" && (
        <ConfirmDialog
          title={`Save changes to ${pending.connection.name}?`}
          keepLabel="Don’t save"
          confirmLabel={<>Save and revoke {pending.grants}</>}
          busy={busy}
          error={errors.form}
          onKeep={close}
          onConfirm={() => applyEdit(pending.connection, pending.changes)}
        >
          <p>The server URL or sign-in changed. {grantsSentence(pending.grants)}</p>
        </ConfirmDialog>
      )}

      {pending?.kind === "disable" && (
        <ConfirmDialog
          title={`Disable ${pending.connection.name}?`}
          keepLabel="Keep enabled"
          confirmLabel="Disable"
          busy={busy}
          error={errors.form}
          onKeep={close}
          onConfirm={() => {
            setBusy(true);
            setEnabled.mutate(
              { key: pending.connection.id, enabled: false },
              {
                onSuccess: (change) => {
                  close();
                  setAnnouncement(`Disabled ${change.connection.name}.${revokedNote(change.revoked_grants)}`);
                },
                onError: fail,
              },
            );
          }}
        >
          <p>
            Clients can no longer reach {pending.connection.name} through Gatehouse. {grantsSentence(pending.grants)}
          </p>
        </ConfirmDialog>
      )}

      {pending?.kind === "delete" && (
        <ConfirmDialog
          title={`Delete ${pending.connection.name}?`}
          keepLabel="Keep connection"
          confirmLabel="Delete connection"
          busy={busy}
          error={errors.form}
          onKeep={close}
          onConfirm={() => {
            setBusy(true);
            remove.mutate(pending.connection.id, {
              onSuccess: (removed) => {
                const name = pending.connection.name;
                close();
                setAnnouncement(`Deleted ${name}.${revokedNote(removed.revoked_grants)}`);
              },
              onError: fail,
            });
          }}
        >
          <p>
            Its local URL stops working and its stored sign-in is deleted. {grantsSentence(pending.grants)}
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}

type ConfirmDialogProps = {
  title: string;
  keepLabel: string;
  confirmLabel: ReactNode;
  busy: boolean;
  error: string | undefined;
  onKeep: () => void;
  onConfirm: () => void;
  children: ReactNode;
};

/** Asks before a change that cannot be undone: the safe choice has the focus, the other is red. */
function ConfirmDialog({ title, keepLabel, confirmLabel, busy, error, onKeep, onConfirm, children }: ConfirmDialogProps) {
  return (
    <Dialog
      title={title}
      tone="danger"
      onClose={onKeep}
      testId="confirm-dialog"
      actions={
        <>
          <button type="button" className="button" onClick={onKeep} data-autofocus>
            {keepLabel}
          </button>
          <button type="button" className="button button--danger-solid" disabled={busy} onClick={onConfirm}>
            {confirmLabel}
          </button>
        </>
      }
    >
      {children}
      {error && (
        <p role="alert" className="form-error">
          {error}
        </p>
      )}
    </Dialog>
  );
}
