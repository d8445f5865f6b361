import { useEffect, useId, useState } from "react";
import type { ClientConfigPreview, ClientConfigWritten, ConnectionView, DetectedClient } from "../../api";
import { useBackend } from "../../api/context";
import { describeIpcError, toIpcError } from "../../api/errors";
import { Dialog } from "../../components/Dialog";

type Step =
  | { kind: "choose" }
  | { kind: "preview"; preview: ClientConfigPreview }
  | { kind: "written"; written: ClientConfigWritten }
  | { kind: "undone"; written: ClientConfigWritten };

/** The "Where" value for a VS Code folder typed by the person. */
const OTHER_FOLDER = "other-folder";

/**
 * "Connect a client…": writes this connection into an MCP client's config file. The person picks a
 * client (for VS Code also where: the user's settings, a folder VS Code opened recently, or another
 * folder, each with its own `.vscode/mcp.json`), sees the change as a diff (other servers' keys
 * masked by the backend), writes it, and can undo it, which puts the file back exactly as it was.
 */
export function ConnectClientDialog({ connection, onClose }: { connection: ConnectionView; onClose: () => void }) {
  const { api } = useBackend();
  const [clients, setClients] = useState<DetectedClient[] | null>(null);
  const [chosen, setChosen] = useState<string>("");
  const [where, setWhere] = useState<string>("");
  const [otherFolder, setOtherFolder] = useState<string>("");
  const [step, setStep] = useState<Step>({ kind: "choose" });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const selectId = useId();
  const whereId = useId();
  const folderId = useId();
  const chosenClient = clients?.find((c) => c.id === chosen);
  const hasWorkspaces = chosen === "vscode";
  const workspace = !hasWorkspaces || where === "" ? null : where === OTHER_FOLDER ? otherFolder.trim() : where;

  useEffect(() => {
    let live = true;
    api.listClientApps().then(
      (found) => {
        if (!live) return;
        setClients(found);
        setChosen(found.find((c) => c.installed)?.id ?? found[0]?.id ?? "");
      },
      (e) => live && setError(describeIpcError(toIpcError(e))),
    );
    return () => {
      live = false;
    };
  }, [api]);

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

  const preview = () =>
    run(async () => setStep({ kind: "preview", preview: await api.previewClientConfig(chosen, connection.id, workspace) }));
  const write = (p: ClientConfigPreview) =>
    run(async () =>
      setStep({ kind: "written", written: await api.writeClientConfig(p.client, connection.id, workspace, p.diff) }),
    );
  const undo = (w: ClientConfigWritten) =>
    run(async () => setStep({ kind: "undone", written: await api.undoClientConfig(w.client) }));

  const actions = (() => {
    switch (step.kind) {
      case "choose":
        return (
          <>
            <button type="button" className="button" onClick={onClose}>
              Cancel
            </button>
            <button type="button" className="button button--primary" onClick={preview} disabled={busy || !chosen || workspace === ""}>
              Show the change
            </button>
          </>
        );
      case "preview":
        return (
          <>
            <button type="button" className="button" onClick={() => setStep({ kind: "choose" })} disabled={busy}>
              Back
            </button>
            <button
              type="button"
              className="button button--primary"
              onClick={() => write(step.preview)}
              disabled={busy}
              data-testid="write-client-config"
            >
              Write to {step.preview.client_name}
            </button>
          </>
        );
      case "written":
        return (
          <>
            <button type="button" className="button" onClick={() => undo(step.written)} disabled={busy} data-testid="undo-client-config">
              Undo
            </button>
            <button type="button" className="button button--primary" onClick={onClose}>
              Done
            </button>
          </>
        );
      case "undone":
        return (
          <button type="button" className="button button--primary" onClick={onClose}>
            Close
          </button>
        );
    }
  })();

  return (
    <Dialog title={`Connect a client to ${connection.name}`} onClose={onClose} actions={actions} testId="connect-client-dialog">
      {step.kind === "choose" &&
        (clients === null ? (
          <p>Looking for MCP clients…</p>
        ) : (
          <div className="field">
            <label htmlFor={selectId}>Client</label>
            <select
              id={selectId}
              value={chosen}
              onChange={(e) => {
                setChosen(e.target.value);
                setWhere("");
              }}
              data-autofocus
            >
              {clients.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                  {c.installed ? "" : " (not found here)"}
                  {c.through_gatehouse.length ? ` — already has ${c.through_gatehouse.join(", ")}` : ""}
                </option>
              ))}
            </select>
            {hasWorkspaces && (
              <>
                <label htmlFor={whereId}>Where</label>
                <select id={whereId} value={where} onChange={(e) => setWhere(e.target.value)}>
                  <option value="">Your user settings (every workspace)</option>
                  {chosenClient?.workspaces.map((w) => (
                    <option key={w.folder} value={w.folder}>
                      {w.folder}
                      {w.through_gatehouse.length ? ` — already has ${w.through_gatehouse.join(", ")}` : ""}
                    </option>
                  ))}
                  <option value={OTHER_FOLDER}>Another folder…</option>
                </select>
                {where === OTHER_FOLDER && (
                  <>
                    <label htmlFor={folderId}>Folder</label>
                    <input
                      id={folderId}
                      type="text"
                      value={otherFolder}
                      onChange={(e) => setOtherFolder(e.target.value)}
                      placeholder="/path/to/project"
                      spellCheck={false}
                    />
                  </>
                )}
                <p className="muted">
                  A folder's servers go in its <code>.vscode/mcp.json</code> and apply only when VS Code opens that folder.
                </p>
              </>
            )}
            <p className="muted">
              Gatehouse shows the change to the client's config file before writing it, keeps a copy of the file
              as it was, and can put it back.
            </p>
          </div>
        ))}
      {step.kind === "preview" && (
        <>
          <p>
            {step.preview.creates_file ? "Creates" : "Changes"} <code>{step.preview.config}</code>, adding{" "}
            <strong>{step.preview.entry_name}</strong>:
          </p>
          <pre className="command" data-testid="client-config-diff">
            <code>{step.preview.diff || "(no change: the entry is already there)"}</code>
          </pre>
        </>
      )}
      {step.kind === "written" && (
        <p data-testid="client-config-written">
          Written to <code>{step.written.config}</code>.{" "}
          {step.written.backup ? (
            <>
              The file as it was is in <code>{step.written.backup}</code>.
            </>
          ) : (
            "The file is new."
          )}{" "}
          Restart the client to pick it up.
        </p>
      )}
      {step.kind === "undone" && (
        <p data-testid="client-config-undone">
          <code>{step.written.config}</code> is back as it was.
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
