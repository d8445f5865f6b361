import { useId, useRef, useState, type FormEvent } from "react";
import type { ConnectionView, IpcError } from "../../api";
import { describeIpcError, useDetectAuth, useOAuthTemplates } from "../../api";

export type AuthChoice = "keep" | "none" | "header" | "oauth";

/** The provider select's value for "discover the authorization server and register automatically". */
export const AUTOMATIC = "";

/** What the form collected; the panel turns it into the backend request. */
export type ConnectionFormValues = {
  slug: string;
  name: string;
  upstreamUrl: string;
  auth: AuthChoice;
  headerName: string;
  headerValue: string;
  /** A template key, or AUTOMATIC. */
  oauthTemplate: string;
  clientId: string;
  clientSecret: string;
  tenant: string;
  /** Scopes to ask for instead of the discovered ones (space-separated); blank: discovered. */
  scopes: string;
  clientCredentials: boolean;
  /** A 2025-03-26 server without protected resource metadata: discover at the URL's origin. */
  legacyDiscovery: boolean;
  /** "On behalf of": shown when the upstream does not say who signed in. */
  accountName: string;
};

type Field = "slug" | "name" | "url" | "header" | "oauth";
export type FieldErrors = Partial<Record<Field | "form", string>>;

/** The backend's InvalidInput names the offending field; show its message next to that field. */
export function fieldErrorsFrom(error: IpcError): FieldErrors {
  if (error.type === "InvalidInput") {
    const data = error.data as { field?: string; message?: string };
    const field = data.field === "upstream_url" ? "url" : data.field;
    const message = data.message ?? describeIpcError(error);
    if (field === "slug" || field === "name" || field === "url" || field === "header") {
      return { [field]: message };
    }
    if (field === "auth" || field === "client_id" || field === "template" || field === "tenant" || field === "oauth") {
      return { oauth: message };
    }
    return { form: message };
  }
  return { form: describeIpcError(error) };
}

type ConnectionFormProps = {
  /** The connection being edited; absent when adding. */
  existing?: ConnectionView;
  submitLabel: string;
  onSubmit: (values: ConnectionFormValues) => void;
  onCancel: () => void;
  pending: boolean;
  errors: FieldErrors;
};

/**
 * Add or edit a connection. The header value and the OAuth client secret are password fields and
 * are never shown back: an edit offers "keep as it is" instead, and keeps a stored client secret
 * for the same client ID. Leaving the URL field (or "Detect sign-in") asks the backend to probe the
 * URL; with no provider and no client id Gatehouse discovers the authorization server and
 * registers itself. Signing in happens from the card; new OAuth settings need a new sign-in.
 */
export function ConnectionForm({ existing, submitLabel, onSubmit, onCancel, pending, errors }: ConnectionFormProps) {
  const ids = {
    slug: useId(),
    name: useId(),
    url: useId(),
    headerName: useId(),
    headerValue: useId(),
    template: useId(),
    clientId: useId(),
    clientSecret: useId(),
    tenant: useId(),
    scopes: useId(),
    secretHelp: useId(),
    detected: useId(),
    account: useId(),
    accountHelp: useId(),
  };
  const templates = useOAuthTemplates();
  const detect = useDetectAuth();
  const [detected, setDetected] = useState("");
  const [values, setValues] = useState<ConnectionFormValues>({
    slug: existing?.slug ?? "",
    name: existing?.name ?? "",
    upstreamUrl: existing?.upstream_url ?? "",
    auth: existing ? "keep" : "none",
    headerName: existing?.header_name ?? "Authorization",
    headerValue: "",
    oauthTemplate: existing?.oauth?.template ?? AUTOMATIC,
    clientId: existing?.oauth?.client_id ?? "",
    clientSecret: "",
    tenant: existing?.oauth?.tenant ?? "",
    scopes: existing?.oauth?.scopes ?? "",
    clientCredentials: existing?.oauth?.grant === "client_credentials",
    legacyDiscovery: existing?.oauth?.legacy_discovery ?? false,
    accountName: existing?.account_label ?? "",
  });
  const template = templates.data?.find((t) => t.key === values.oauthTemplate);
  /** The edited connection keeps its stored client secret for the same client ID when none is typed. */
  const storedSecret =
    existing?.oauth?.has_client_secret === true && values.clientId.trim() === (existing.oauth.client_id ?? "");
  /** The auth choice now, for a detection answer that arrives after the user picked one. */
  const authNow = useRef(values.auth);
  authNow.current = values.auth;

  /** The URL last asked about, so leaving the field again does not ask again. */
  const [probed, setProbed] = useState("");
  /**
   * Asks the server how it wants Gatehouse to sign in (OAuth, a header, nothing) and selects that.
   * From the button it always asks; when the URL field is left (`automatic`) it asks once per URL
   * and only changes the choice while it is still the default "No sign-in", never over one the
   * user picked.
   */
  const runDetect = (automatic = false) => {
    const url = values.upstreamUrl.trim();
    if (automatic && (!url || url === probed || detect.isPending)) return;
    if (!url) {
      setLocalErrors({ url: "Enter the server's URL." });
      return;
    }
    setProbed(url);
    setDetected("Asking the server…");
    detect.mutate(
      { url, legacy: values.legacyDiscovery },
      {
        onSuccess: ({ suggested, finding }) => {
          const current = authNow.current;
          if (automatic && current !== "none" && suggested !== "none" && suggested !== current) {
            // Left the URL field after choosing: say what the server wants, change nothing.
            setDetected(`${finding} Choose ${suggested === "oauth" ? "OAuth" : "a header"} below to use it.`);
          } else if (suggested === "oauth") {
            set({ auth: "oauth" });
            setDetected(`${finding} OAuth is selected.`);
          } else if (suggested === "header") {
            set({ auth: "header" });
            setDetected(`${finding} A header is selected: enter its name and value.`);
          } else {
            setDetected(`${finding} Choose no sign-in or a header.`);
          }
        },
        onError: (error) => setDetected(`Could not detect: ${describeIpcError(error)}`),
      },
    );
  };
  const [localErrors, setLocalErrors] = useState<FieldErrors>({});
  const shown = { ...localErrors, ...errors };
  const set = (patch: Partial<ConnectionFormValues>) => setValues((current) => ({ ...current, ...patch }));

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const missing: FieldErrors = {};
    if (!existing && !values.slug.trim()) missing.slug = "Enter a short name for the local URL.";
    if (!values.name.trim()) missing.name = "Enter a name.";
    if (!values.upstreamUrl.trim()) missing.url = "Enter the server's URL.";
    if (values.auth === "header" && (!values.headerName.trim() || !values.headerValue)) {
      missing.header = "Enter the header name and its value.";
    }
    if (values.auth === "oauth") {
      if (values.oauthTemplate !== AUTOMATIC && !values.clientId.trim()) {
        missing.oauth = "A provider template needs the client ID you registered with that provider.";
      } else if (template?.needs_tenant && !values.tenant.trim()) {
        missing.oauth = `Enter your ${template.name} domain.`;
      } else if (values.clientCredentials && (!values.clientId.trim() || (!values.clientSecret && !storedSecret))) {
        missing.oauth = "Machine-to-machine sign-in needs a client ID and secret.";
      }
    }
    setLocalErrors(missing);
    if (Object.keys(missing).length === 0) onSubmit(values);
  };

  const describedBy = (field: Field, help?: string) =>
    [help, shown[field] ? `${ids.slug}-${field}-error` : undefined].filter(Boolean).join(" ") || undefined;
  const errorText = (field: Field) =>
    shown[field] ? (
      <p id={`${ids.slug}-${field}-error`} className="field__error">
        {shown[field]}
      </p>
    ) : null;

  return (
    <form className="form" noValidate onSubmit={submit} aria-busy={pending}>
      {!existing && (
        <div className="field">
          <label htmlFor={ids.slug}>Slug</label>
          <input
            id={ids.slug}
            value={values.slug}
            onChange={(event) => set({ slug: event.target.value })}
            autoComplete="off"
            spellCheck={false}
            aria-invalid={Boolean(shown.slug)}
            aria-describedby={describedBy("slug", `${ids.slug}-help`)}
          />
          <p id={`${ids.slug}-help`} className="field__help">
            Lowercase letters, digits and “-”; it becomes the end of the local URL.
          </p>
          {errorText("slug")}
        </div>
      )}
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input
          id={ids.name}
          value={values.name}
          onChange={(event) => set({ name: event.target.value })}
          aria-invalid={Boolean(shown.name)}
          aria-describedby={describedBy("name")}
        />
        {errorText("name")}
      </div>
      <div className="field">
        <label htmlFor={ids.url}>Server URL</label>
        <input
          id={ids.url}
          type="url"
          inputMode="url"
          value={values.upstreamUrl}
          onChange={(event) => set({ upstreamUrl: event.target.value })}
          onBlur={existing ? undefined : () => runDetect(true)}
          spellCheck={false}
          placeholder="https://mcp.example.com/mcp"
          aria-invalid={Boolean(shown.url)}
          aria-describedby={describedBy("url")}
        />
        {!existing && (
          <div className="field__inline-action">
            <button type="button" className="button" onClick={() => runDetect()} disabled={detect.isPending}>
              Detect sign-in
            </button>
            <p id={ids.detected} className="field__help" role="status">
              {detected}
            </p>
          </div>
        )}
        {errorText("url")}
      </div>
      <div className="field">
        <label htmlFor={ids.account}>Account (optional)</label>
        <input
          id={ids.account}
          value={values.accountName}
          onChange={(event) => set({ accountName: event.target.value })}
          autoComplete="off"
          aria-describedby={ids.accountHelp}
        />
        <p id={ids.accountHelp} className="field__help">
          Who Gatehouse acts for on this server, as clients&rsquo; cards say &ldquo;on behalf of&rdquo;. Used when the
          server does not tell Gatehouse who signed in.
        </p>
      </div>
      <fieldset className="field">
        <legend>How Gatehouse signs in to the server</legend>
        {existing && (
          <label className="check">
            <input type="radio" name="auth" checked={values.auth === "keep"} onChange={() => set({ auth: "keep" })} />
            Keep as it is (
            {existing.auth_kind === "header" ? `header ${existing.header_name ?? ""}` : existing.auth_kind})
          </label>
        )}
        <label className="check">
          <input type="radio" name="auth" checked={values.auth === "none"} onChange={() => set({ auth: "none" })} />
          No sign-in
        </label>
        <label className="check">
          <input type="radio" name="auth" checked={values.auth === "header"} onChange={() => set({ auth: "header" })} />
          A header with a key or token
        </label>
        <label className="check">
          <input type="radio" name="auth" checked={values.auth === "oauth"} onChange={() => set({ auth: "oauth" })} />
          OAuth sign-in in your browser{existing?.auth_kind === "oauth" ? " (change its settings)" : ""}
        </label>
        {values.auth === "oauth" && (
          <div className="oauth-fields">
            <div className="field">
              <label htmlFor={ids.template}>Provider</label>
              <select
                id={ids.template}
                value={values.oauthTemplate}
                onChange={(event) => set({ oauthTemplate: event.target.value })}
              >
                <option value={AUTOMATIC}>Automatic: discover and register Gatehouse</option>
                {(templates.data ?? []).map((t) => (
                  <option key={t.key} value={t.key}>
                    {t.name} (needs a client ID you registered)
                  </option>
                ))}
              </select>
            </div>
            {template?.takes_tenant && (
              <div className="field">
                <label htmlFor={ids.tenant}>{template.name} domain</label>
                <input
                  id={ids.tenant}
                  value={values.tenant}
                  onChange={(event) => set({ tenant: event.target.value })}
                  spellCheck={false}
                  placeholder={template.needs_tenant ? "dev-123.example.com" : "optional"}
                />
              </div>
            )}
            <div className="field-row">
              <div className="field">
                <label htmlFor={ids.clientId}>Client ID{values.oauthTemplate === AUTOMATIC ? " (optional)" : ""}</label>
                <input
                  id={ids.clientId}
                  value={values.clientId}
                  onChange={(event) => set({ clientId: event.target.value })}
                  autoComplete="off"
                  spellCheck={false}
                  aria-invalid={Boolean(shown.oauth)}
                  aria-describedby={describedBy("oauth")}
                />
              </div>
              <div className="field">
                <label htmlFor={ids.clientSecret}>Client secret (optional)</label>
                <input
                  id={ids.clientSecret}
                  type="password"
                  autoComplete="off"
                  value={values.clientSecret}
                  onChange={(event) => set({ clientSecret: event.target.value })}
                  aria-invalid={Boolean(shown.oauth)}
                  aria-describedby={describedBy("oauth", storedSecret ? ids.secretHelp : undefined)}
                />
                {storedSecret && (
                  <p id={ids.secretHelp} className="field__help">
                    A secret is stored for {existing?.oauth?.client_id}; leave this empty to keep it.
                  </p>
                )}
              </div>
            </div>
            <div className="field">
              <label htmlFor={ids.scopes}>Scopes (optional)</label>
              <input
                id={ids.scopes}
                value={values.scopes}
                onChange={(event) => set({ scopes: event.target.value })}
                spellCheck={false}
                placeholder="what the server offers"
              />
            </div>
            <label className="check">
              <input
                type="checkbox"
                checked={values.clientCredentials}
                onChange={(event) => set({ clientCredentials: event.target.checked })}
              />
              Machine to machine (client credentials, no browser sign-in)
            </label>
            <label className="check">
              <input
                type="checkbox"
                checked={values.legacyDiscovery}
                onChange={(event) => set({ legacyDiscovery: event.target.checked })}
              />
              Older server (2025-03-26) that publishes no protected resource metadata: find its sign-in at the
              server&rsquo;s own address
            </label>
            {errorText("oauth")}
          </div>
        )}
        {values.auth === "header" && (
          <div className="field-row">
            <div className="field">
              <label htmlFor={ids.headerName}>Header name</label>
              <input
                id={ids.headerName}
                value={values.headerName}
                onChange={(event) => set({ headerName: event.target.value })}
                spellCheck={false}
                aria-invalid={Boolean(shown.header)}
                aria-describedby={describedBy("header")}
              />
            </div>
            <div className="field">
              <label htmlFor={ids.headerValue}>Header value</label>
              <input
                id={ids.headerValue}
                type="password"
                autoComplete="off"
                value={values.headerValue}
                onChange={(event) => set({ headerValue: event.target.value })}
                aria-invalid={Boolean(shown.header)}
                aria-describedby={describedBy("header")}
              />
            </div>
          </div>
        )}
        {errorText("header")}
      </fieldset>
      {shown.form && (
        <p role="alert" className="form-error">
          {shown.form}
        </p>
      )}
      <div className="dialog__actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button button--primary" disabled={pending}>
          {pending ? "Saving…" : submitLabel}
        </button>
      </div>
    </form>
  );
}
