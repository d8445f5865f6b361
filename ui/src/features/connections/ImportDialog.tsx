import { useEffect, useId, useState } from "react";
import type { DetectedClient, ImportCandidate, ImportPreview, ImportResult } from "../../api";
import { useBackend } from "../../api/context";
import { describeIpcError, toIpcError } from "../../api/errors";
import { Dialog } from "../../components/Dialog";

type Step =
  | { kind: "choose" }
  | { kind: "preview"; preview: ImportPreview }
  | { kind: "done"; result: ImportResult };

/**
 * "Import from a client…": moves a server that a client already has (a URL with a header, or a
 * command with keys in its environment) behind Gatehouse. The person sees which secrets move and
 * the change to the client's config first; afterwards the config points at Gatehouse and holds no
 * key, and the person is told where the old copy (which still does) is kept.
 */
export function ImportDialog({ onClose }: { onClose: () => void }) {
  const { api } = useBackend();
  const clientId = useId();
  const serverId = useId();
  const [clients, setClients] = useState<DetectedClient[] | null>(null);
  const [client, setClient] = useState("");
  const [candidates, setCandidates] = useState<ImportCandidate[] | null>(null);
  const [server, setServer] = useState("");
  const [step, setStep] = useState<Step>({ kind: "choose" });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    api.listClientApps().then(
      (found) => {
        if (!live) return;
        const configured = found.filter((c) => c.configured && c.servers.length > c.through_gatehouse.length);
        setClients(configured);
        setClient(configured[0]?.id ?? "");
      },
      (e) => live && setError(describeIpcError(toIpcError(e))),
    );
    return () => {
      live = false;
    };
  }, [api]);

  useEffect(() => {
    if (!client) return;
    let live = true;
    setCandidates(null);
    api.listImportCandidates(client).then(
      (found) => {
        if (!live) return;
        setCandidates(found);
        setServer(found.find((c) => !c.refused)?.name ?? "");
      },
      (e) => live && setError(describeIpcError(toIpcError(e))),
    );
    return () => {
      live = false;
    };
  }, [api, client]);

  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (e) {
      setError(describeIpcError(toIpcError(e)));
    } finally {
      setBusy(false);
    }
  };

  const chosen = candidates?.find((c) => c.name === server);
  const actions =
    step.kind === "choose" ? (
      <>
        <button type="button" className="button" onClick={onClose}>
          Cancel
        </button>
        <button
          type="button"
          className="button button--primary"
          disabled={busy || !chosen || chosen.refused !== null}
          onClick={() => run(async () => setStep({ kind: "preview", preview: await api.previewImport(client, server) }))}
        >
          Show the change
        </button>
      </>
    ) : step.kind === "preview" ? (
      <>
        <button type="button" className="button" onClick={() => setStep({ kind: "choose" })} disabled={busy}>
          Back
        </button>
        <button
          type="button"
          className="button button--primary"
          disabled={busy}
          onClick={() =>
            run(async () =>
              setStep({
                kind: "done",
                result: await api.importFromClient(step.preview.client, step.preview.server, step.preview.diff),
              }),
            )
          }
        >
          Import
        </button>
      </>
    ) : (
      <button type="button" className="button button--primary" onClick={onClose}>
        Done
      </button>
    );

  return (
    <Dialog title="Import a server from a client" onClose={onClose} actions={actions} testId="import-dialog">
      {step.kind === "choose" &&
        (clients === null ? (
          <p>Looking for MCP clients…</p>
        ) : clients.length === 0 ? (
          <p>No client on this computer has a server that does not already go through Gatehouse.</p>
        ) : (
          <>
            <div className="field">
              <label htmlFor={clientId}>Client</label>
              <select id={clientId} value={client} onChange={(e) => setClient(e.target.value)} data-autofocus>
                {clients.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                  </option>
                ))}
              </select>
            </div>
            <div className="field">
              <label htmlFor={serverId}>Server</label>
              <select id={serverId} value={server} onChange={(e) => setServer(e.target.value)}>
                {(candidates ?? []).map((c) => (
                  <option key={c.name} value={c.name} disabled={c.refused !== null}>
                    {c.name} ({c.kind}){c.refused ? ` — ${c.refused}` : ""}
                  </option>
                ))}
              </select>
              {chosen && chosen.secrets.length > 0 && (
                <p className="muted">Moves {chosen.secrets.join(", ")} into Gatehouse's encrypted store.</p>
              )}
            </div>
          </>
        ))}
      {step.kind === "preview" && (
        <>
          <p>
            Gatehouse will hold <strong>{step.preview.server}</strong> as the connection{" "}
            <strong>{step.preview.slug}</strong>
            {step.preview.secrets.length > 0 && <>, with {step.preview.secrets.join(", ")} sealed in its store</>}, and
            change <code>{step.preview.config}</code>:
          </p>
          <pre className="command" data-testid="import-diff">
            <code>{step.preview.diff}</code>
          </pre>
        </>
      )}
      {step.kind === "done" && (
        <p data-testid="import-done">
          Imported as <strong>{step.result.connection.name}</strong>. <code>{step.result.config}</code> now points at
          Gatehouse and holds no key.
          {step.result.backup && (
            <>
              {" "}
              Its old version, with the key in plain text, is in <code>{step.result.backup}</code>: delete it once you
              are happy.
            </>
          )}
        </p>
      )}
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </Dialog>
  );
}
