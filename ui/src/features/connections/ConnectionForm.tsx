import { useId, useState, type FormEvent } from "react";
import type { ConnectionView, IpcError } from "../../api";
import { describeIpcError } from "../../api";

export type AuthChoice = "keep" | "none" | "header";

/** What the form collected; the panel turns it into the backend request. */
export type ConnectionFormValues = {
  slug: string;
  name: string;
  upstreamUrl: string;
  auth: AuthChoice;
  headerName: string;
  headerValue: string;
};

type Field = "slug" | "name" | "url" | "header";
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
 * Add or edit a connection. The header value is a password field and is never shown back: an
 * edit offers "keep the current header" instead. OAuth arrives with the next issue, so it is
 * listed, disabled, and says so.
 */
export function ConnectionForm({ existing, submitLabel, onSubmit, onCancel, pending, errors }: ConnectionFormProps) {
  const ids = { slug: useId(), name: useId(), url: useId(), headerName: useId(), headerValue: useId() };
  const [values, setValues] = useState<ConnectionFormValues>({
    slug: existing?.slug ?? "",
    name: existing?.name ?? "",
    upstreamUrl: existing?.upstream_url ?? "",
    auth: existing ? "keep" : "none",
    headerName: existing?.header_name ?? "Authorization",
    headerValue: "",
  });
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
          spellCheck={false}
          placeholder="https://mcp.example.com/mcp"
          aria-invalid={Boolean(shown.url)}
          aria-describedby={describedBy("url")}
        />
        {errorText("url")}
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
        <label className="check check--disabled">
          <input type="radio" name="auth" disabled />
          OAuth sign-in (coming soon)
        </label>
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
