import { useEffect, useId, useMemo, useRef, useState } from "react";
import {
  describeIpcError,
  useClients,
  useConnections,
  useGrants,
  useRevokeGrants,
  type GrantView,
} from "../../api";
import { EmptyState } from "../../components/EmptyState";
import { useNavigation } from "../../components/navigation";
import { GrantCard } from "./GrantCard";
import { clientTitle, groupGrants, type GrantGroup } from "./grouping";
import { RevokeDialog } from "./RevokeDialog";

const ALL = "";

/**
 * The Authorized clients tab: a card per active grant, grouped by app, with filters, selection
 * and revoke. Everything shown comes from the backend queries, which backend events invalidate.
 */
export function ClientsPanel() {
  const grantsQuery = useGrants();
  const connections = useConnections();
  const clients = useClients();
  const revoke = useRevokeGrants();
  const { showConnection } = useNavigation();
  const connectionFilterId = useId();
  const clientFilterId = useId();

  const [connectionFilter, setConnectionFilter] = useState(ALL);
  const [clientFilter, setClientFilter] = useState(ALL);
  const [selection, setSelection] = useState<ReadonlySet<string>>(new Set());
  const [confirming, setConfirming] = useState<GrantView[] | null>(null);
  const [announcement, setAnnouncement] = useState("");

  const active = useMemo(
    () => (grantsQuery.data ?? []).filter((grant) => grant.status === "active"),
    [grantsQuery.data],
  );
  const groups = useMemo(() => groupGrants(active, clients.data ?? []), [active, clients.data]);
  const accountOf = useMemo(() => {
    const map = new Map((connections.data ?? []).map((c) => [c.id, c.account_label]));
    return (connectionId: string) => map.get(connectionId) ?? null;
  }, [connections.data]);

  const root = useRef<HTMLDivElement>(null);
  /** Set by a revoke from here: once its cards are gone, focus must not be left on nothing. */
  const refocusAfterRevoke = useRef(false);

  // After a revoke from here, the card whose button had focus is gone: focus goes to the tab panel
  // rather than to the page body.
  useEffect(() => {
    if (refocusAfterRevoke.current && (document.activeElement === document.body || !document.activeElement)) {
      refocusAfterRevoke.current = false;
      root.current?.closest<HTMLElement>('[role="tabpanel"]')?.focus();
    }
  }, [active]);

  const connectionOptions = useMemo(() => {
    const seen = new Map<string, string>();
    for (const grant of active) seen.set(grant.connection_id, grant.connection_name);
    return [...seen].sort((a, b) => a[1].localeCompare(b[1]));
  }, [active]);

  const visibleGroups: GrantGroup[] = groups
    .filter((group) => clientFilter === ALL || group.key === clientFilter)
    .map((group) => ({
      ...group,
      grants: group.grants.filter(
        (grant) => connectionFilter === ALL || grant.connection_id === connectionFilter,
      ),
    }))
    .filter((group) => group.grants.length > 0);
  const visibleIds = visibleGroups.flatMap((group) => group.grants.map((grant) => grant.id)).join(" ");

  // What a filter hides, or a revoke elsewhere removes, leaves the selection: "Revoke selected" only
  // ever acts on cards in view.
  useEffect(() => {
    const shown = new Set(visibleIds.split(" "));
    setSelection((current) => {
      const kept = [...current].filter((id) => shown.has(id));
      return kept.length === current.size ? current : new Set(kept);
    });
  }, [visibleIds]);

  if (grantsQuery.isPending) {
    return <p className="muted">Loading authorized clients…</p>;
  }
  // A failed refetch keeps the last list on screen (and an open dialog with its own error).
  if (grantsQuery.isError && grantsQuery.data === undefined) {
    return (
      <p role="alert" className="form-error">
        Could not list authorized clients: {describeIpcError(grantsQuery.error)}
      </p>
    );
  }
  if (active.length === 0) {
    return (
      <div className="clients" ref={root}>
        <Announcement text={announcement} />
        <EmptyState title="No client is authorized">
          <p>
            When an MCP client asks to act for you, Gatehouse opens a consent page in your browser. A
            card appears here for every client you approve there, saying which connection it may use
            and on whose behalf, with a button to revoke it.
          </p>
        </EmptyState>
      </div>
    );
  }

  const toggle = (ids: readonly string[], on: boolean) =>
    setSelection((current) => {
      const next = new Set(current);
      for (const id of ids) {
        if (on) next.add(id);
        else next.delete(id);
      }
      return next;
    });

  const selectedGrants = active.filter((grant) => selection.has(grant.id));

  const confirmRevoke = () => {
    if (!confirming) return;
    const targets = confirming;
    revoke.mutate(
      targets.map((grant) => grant.id),
      {
        onSuccess: (result) => {
          refocusAfterRevoke.current = true;
          setConfirming(null);
          toggle(targets.map((grant) => grant.id), false);
          const count = result.revoked.length + result.already_revoked.length;
          setAnnouncement(
            targets.length === 1
              ? `Revoked access for ${clientTitle(targets[0]!.client_name)} on ${targets[0]!.connection_name}.`
              : `Revoked access for ${count} clients.`,
          );
        },
      },
    );
  };

  const openConfirm = (grants: GrantView[]) => {
    revoke.reset();
    setConfirming(grants);
  };

  return (
    <div className="clients" ref={root}>
      <Announcement text={announcement} />
      <div className="toolbar" role="group" aria-label="Filter and select">
        <div className="field field--inline">
          <label htmlFor={connectionFilterId}>Connection</label>
          <select
            id={connectionFilterId}
            value={connectionFilter}
            onChange={(event) => setConnectionFilter(event.target.value)}
          >
            <option value={ALL}>All connections</option>
            {connectionOptions.map(([id, name]) => (
              <option key={id} value={id}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div className="field field--inline">
          <label htmlFor={clientFilterId}>Client</label>
          <select id={clientFilterId} value={clientFilter} onChange={(event) => setClientFilter(event.target.value)}>
            <option value={ALL}>All clients</option>
            {groups.map((group) => (
              <option key={group.key} value={group.key}>
                {clientTitle(group.name)} ({group.program ?? group.host})
              </option>
            ))}
          </select>
        </div>
        <div className="toolbar__spacer" />
        <span className="muted" aria-live="polite">
          {selection.size > 0 ? `${selection.size} selected` : ""}
        </span>
        <button
          type="button"
          className="button button--danger"
          disabled={selection.size === 0}
          onClick={() => openConfirm(selectedGrants)}
        >
          Revoke selected…
        </button>
      </div>

      {visibleGroups.length === 0 ? (
        <p className="muted">No authorized client matches these filters.</p>
      ) : (
        <div className="grant-list">
          {visibleGroups.map((group) =>
            registrations(group) === 1 ? (
              group.grants.map((grant) => (
                <GrantCard
                  key={grant.id}
                  grant={grant}
                  accountLabel={accountOf(grant.connection_id)}
                  selected={selection.has(grant.id)}
                  onSelectedChange={(on) => toggle([grant.id], on)}
                  onRevoke={() => openConfirm([grant])}
                  onShowConnection={() => showConnection(grant.connection_id)}
                />
              ))
            ) : (
              <GrantGroupSection
                key={group.key}
                group={group}
                selection={selection}
                onToggle={toggle}
                accountOf={accountOf}
                onRevoke={(grant) => openConfirm([grant])}
                onShowConnection={showConnection}
              />
            ),
          )}
        </div>
      )}

      {confirming && (
        <RevokeDialog
          grants={confirming}
          pending={revoke.isPending}
          error={revoke.isError ? `Nothing was revoked: ${describeIpcError(revoke.error)}` : null}
          onKeep={() => setConfirming(null)}
          onRevoke={confirmRevoke}
        />
      )}
    </div>
  );
}

function Announcement({ text }: { text: string }) {
  return (
    <p role="status" className="visually-hidden" data-testid="clients-announcement">
      {text}
    </p>
  );
}

type GroupProps = {
  group: GrantGroup;
  selection: ReadonlySet<string>;
  onToggle: (ids: readonly string[], on: boolean) => void;
  accountOf: (connectionId: string) => string | null;
  onRevoke: (grant: GrantView) => void;
  onShowConnection: (connectionId: string) => void;
};

/** How many registrations (client ids) a group's grants come from. */
function registrations(group: GrantGroup): number {
  return new Set(group.grants.map((grant) => grant.client_id)).size;
}

/**
 * Registrations of one app (same reported name and program seen by the OS, else same software id
 * and callback host) under one heading
 * with a count. Every grant of the most recent registration shows; those of older registrations
 * fold away so re-registrations do not flood the list. (One registration with grants on several
 * connections is not a group: each of its grants is a card of its own.)
 */
function GrantGroupSection({ group, selection, onToggle, accountOf, onRevoke, onShowConnection }: GroupProps) {
  const headingId = useId();
  const restId = useId();
  const [expanded, setExpanded] = useState(false);
  const ids = group.grants.map((grant) => grant.id);
  const allSelected = ids.every((id) => selection.has(id));
  const title = clientTitle(group.name);
  const latestClient = group.grants[0]!.client_id;
  const latest = group.grants.filter((grant) => grant.client_id === latestClient);
  const older = group.grants.filter((grant) => grant.client_id !== latestClient);
  const rest = older.length;

  const card = (grant: GrantView) => (
    <GrantCard
      key={grant.id}
      grant={grant}
      headingLevel={4}
      accountLabel={accountOf(grant.connection_id)}
      selected={selection.has(grant.id)}
      onSelectedChange={(on) => onToggle([grant.id], on)}
      onRevoke={() => onRevoke(grant)}
      onShowConnection={() => onShowConnection(grant.connection_id)}
    />
  );

  return (
    <section className="grant-group" aria-labelledby={headingId} data-testid="grant-group">
      <div className="grant-group__head">
        <h3 id={headingId} className="grant-group__title">
          {title} <span className="grant-group__count">· {group.grants.length} authorizations</span>
        </h3>
        <p className="muted grant-group__why">
          {group.program ? (
            <>
              Registrations by <code>{group.program}</code> (seen on this computer)
            </>
          ) : (
            <>
              Registrations from {group.host}
              {group.softwareId ? ` with software ID ${group.softwareId}` : ""}
            </>
          )}
          : {registrations(group)} registrations, grouped as one app.
        </p>
        <label className="check">
          <input type="checkbox" checked={allSelected} onChange={(event) => onToggle(ids, event.target.checked)} />
          Select all {group.grants.length}
        </label>
      </div>
      {latest.map(card)}
      <button
        type="button"
        className="button button--link"
        aria-expanded={expanded}
        aria-controls={restId}
        onClick={() => setExpanded((value) => !value)}
      >
        {expanded ? `Hide the other ${rest}` : `Show the other ${rest}`}
      </button>
      <div id={restId} hidden={!expanded} className="grant-group__rest">
        {expanded && older.map(card)}
      </div>
    </section>
  );
}
