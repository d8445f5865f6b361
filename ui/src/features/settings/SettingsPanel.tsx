import { useEffect, useId, useState, type FormEvent } from "react";
import { describeIpcError, useSettings, useUpdateSettings, type Settings } from "../../api";
import { applyTheme, type ThemeChoice } from "./theme";

const THEMES: { value: ThemeChoice; label: string }[] = [
  { value: "system", label: "Same as the system" },
  { value: "light", label: "Light" },
  { value: "dark", label: "Dark" },
];

/** Keeps the document's theme in step with the saved setting, wherever the window is. */
export function useThemeFromSettings(): void {
  const settings = useSettings();
  const theme = settings.data?.theme;
  useEffect(() => {
    if (theme) applyTheme(theme);
  }, [theme]);
}

/** Settings: port, retention, start at login, theme. The theme applies as soon as it is saved. */
export function SettingsPanel() {
  const settings = useSettings();
  if (settings.isPending) return <p className="muted">Loading settings…</p>;
  if (settings.isError) {
    return (
      <p role="alert" className="form-error">
        Could not read the settings: {describeIpcError(settings.error)}
      </p>
    );
  }
  return <SettingsForm saved={settings.data} />;
}

function SettingsForm({ saved }: { saved: Settings }) {
  const update = useUpdateSettings();
  const ids = {
    port: useId(),
    retention: useId(),
    login: useId(),
    portHelp: useId(),
    retentionHelp: useId(),
    otherHelp: useId(),
  };
  const [draft, setDraft] = useState({
    port: String(saved.port),
    retention: String(saved.retention_days),
    startAtLogin: saved.start_at_login,
    allowOtherUsers: saved.allow_other_os_users,
  });
  const [theme, setTheme] = useState<ThemeChoice>(saved.theme);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState("");

  const save = (next: Settings, message: string) => {
    setError(null);
    update.mutate(next, {
      onSuccess: () => setStatus(message),
      onError: (failure) => setError(describeIpcError(failure)),
    });
  };

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const port = Number(draft.port);
    const retention = Number(draft.retention);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      setError("The port must be a whole number from 1 to 65535.");
      return;
    }
    if (!Number.isInteger(retention) || retention < 1) {
      setError("Retention must be a whole number of days, at least 1.");
      return;
    }
    save(
      {
        ...saved,
        port,
        retention_days: retention,
        start_at_login: draft.startAtLogin,
        allow_other_os_users: draft.allowOtherUsers,
        theme,
      },
      port !== saved.port ? "Saved. The new port takes effect after Gatehouse restarts." : "Saved.",
    );
  };

  // The theme choice also goes with a save of the other fields, so it is never rolled back by one.
  const changeTheme = (next: ThemeChoice) => {
    setTheme(next);
    applyTheme(next);
    save({ ...saved, theme: next }, `Theme: ${THEMES.find((t) => t.value === next)?.label ?? next}.`);
  };

  return (
    <div className="settings">
      <form className="form" noValidate onSubmit={submit}>
        <h2 className="section-title">Gateway</h2>
        <div className="field">
          <label htmlFor={ids.port}>Port</label>
          <input
            id={ids.port}
            inputMode="numeric"
            value={draft.port}
            onChange={(event) => setDraft({ ...draft, port: event.target.value })}
            aria-describedby={ids.portHelp}
          />
          <p id={ids.portHelp} className="field__help">
            The local port MCP clients connect to. Takes effect after restart; clients set up with the old
            port must be updated.
          </p>
          {saved.port_from_environment && saved.listening_port != null && (
            <p className="field__help" data-testid="port-env-note">
              GATEHOUSE_PORT is set, so Gatehouse listens on port {saved.listening_port} whatever is saved here.
            </p>
          )}
          {saved.restart_required && saved.listening_port != null && (
            <p className="field__help" data-testid="restart-note">
              Gatehouse is still listening on port {saved.listening_port} until it restarts.
            </p>
          )}
        </div>
        <div className="field">
          <label htmlFor={ids.retention}>Keep revoked and expired records for (days)</label>
          <input
            id={ids.retention}
            inputMode="numeric"
            value={draft.retention}
            onChange={(event) => setDraft({ ...draft, retention: event.target.value })}
            aria-describedby={ids.retentionHelp}
          />
          <p id={ids.retentionHelp} className="field__help">
            A cleanup deletes revoked and expired grants, codes and tokens older than this, daily and as soon as you save a new period.
          </p>
        </div>
        <label className="check">
          <input
            id={ids.login}
            type="checkbox"
            checked={draft.startAtLogin}
            onChange={(event) => setDraft({ ...draft, startAtLogin: event.target.checked })}
          />
          Start Gatehouse when I log in
        </label>
        <div className="field">
          <label className="check">
            <input
              type="checkbox"
              checked={draft.allowOtherUsers}
              aria-describedby={ids.otherHelp}
              onChange={(event) => setDraft({ ...draft, allowOtherUsers: event.target.checked })}
            />
            Let programs of other users of this computer use my connections
          </label>
          <p id={ids.otherHelp} className="field__help">
            Off: Gatehouse refuses every request from a program running as another user. On: such programs may
            register and use what you approved, but only you can approve. Consent always stays with you.
          </p>
        </div>
        {error && (
          <p role="alert" className="form-error">
            {error}
          </p>
        )}
        <div className="dialog__actions dialog__actions--start">
          <button type="submit" className="button button--primary" disabled={update.isPending}>
            Save settings
          </button>
        </div>
      </form>

      <fieldset className="field">
        <legend className="section-title">Theme</legend>
        {THEMES.map((option) => (
          <label key={option.value} className="check">
            <input
              type="radio"
              name="theme"
              value={option.value}
              checked={theme === option.value}
              onChange={() => changeTheme(option.value)}
            />
            {option.label}
          </label>
        ))}
      </fieldset>
      <p role="status" className="muted" data-testid="settings-status">
        {status}
      </p>
    </div>
  );
}
