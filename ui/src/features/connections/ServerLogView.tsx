import { useCallback, useEffect, useState } from "react";
import type { ServerLog } from "../../api";
import { useBackend } from "../../api/context";
import { describeIpcError, toIpcError } from "../../api/errors";

/** The end of a local stdio server's log: what it wrote on stderr and when it started or stopped. */
export function ServerLogView({ connectionId, name }: { connectionId: string; name: string }) {
  const { api } = useBackend();
  const [log, setLog] = useState<ServerLog | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    api.serverLog(connectionId).then(
      (found) => {
        setLog(found);
        setError(null);
      },
      (e) => setError(describeIpcError(toIpcError(e))),
    );
  }, [api, connectionId]);

  useEffect(load, [load]);

  return (
    <div className="server-log" data-testid="server-log">
      {error && (
        <p role="alert" className="form-error">
          {error}
        </p>
      )}
      {log && (
        <>
          <p className="muted">
            <code>{log.path}</code>
            {log.truncated ? " (the last lines)" : ""}
          </p>
          <pre className="command" aria-label={`Log of ${name}`} tabIndex={0}>
            <code>{log.lines.length ? log.lines.join("\n") : "Nothing logged yet: the server starts on first use."}</code>
          </pre>
        </>
      )}
      <button type="button" className="button" onClick={load}>
        Refresh log
      </button>
    </div>
  );
}
