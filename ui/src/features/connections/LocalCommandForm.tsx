import { useId, useState, type FormEvent } from "react";
import { describeIpcError, useAddLocalCommand, type ConnectionView, type IpcError } from "../../api";

type Variable = { key: number; name: string; value: string };

type FieldErrors = Partial<Record<"slug" | "name" | "command" | "cwd" | "env" | "form", string>>;

function fieldErrorsFrom(error: IpcError): FieldErrors {
  if (error.type === "InvalidInput") {
    const { field, message } = error.data as { field?: string; message?: string };
    const text = message ?? describeIpcError(error);
    if (field === "slug" || field === "name" || field === "command" || field === "cwd" || field === "env") {
      return { [field]: text };
    }
    return { form: text };
  }
  return { form: describeIpcError(error) };
}

/**
 * Add a connection whose upstream is a local command that speaks MCP over stdio (`npx …`, `uvx …`).
 * Environment values are password fields: the backend seals them and never sends them back; the
 * command itself is stored in the clear, so keys belong in the environment, not in the arguments.
 */
export function LocalCommandForm({ onDone, onCancel }: { onDone: (c: ConnectionView) => void; onCancel: () => void }) {
  const add = useAddLocalCommand();
  const ids = { slug: useId(), name: useId(), command: useId(), cwd: useId() };
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const [command, setCommand] = useState("");
  const [cwd, setCwd] = useState("");
  const [env, setEnv] = useState<Variable[]>([]);
  const [nextKey, setNextKey] = useState(1);
  const [errors, setErrors] = useState<FieldErrors>({});

  const submit = (event: FormEvent) => {
    event.preventDefault();
    setErrors({});
    add.mutate(
      {
        slug: slug.trim(),
        name: name.trim(),
        command,
        cwd: cwd.trim() || null,
        env: env.filter((v) => v.name.trim()).map(({ name: n, value }) => ({ name: n.trim(), value })),
      },
      { onSuccess: onDone, onError: (error) => setErrors(fieldErrorsFrom(error)) },
    );
  };

  const error = (field: keyof FieldErrors) =>
    errors[field] ? (
      <p className="field__error" role="alert">
        {errors[field]}
      </p>
    ) : null;

  return (
    <form onSubmit={submit} className="form" noValidate>
      <div className="field">
        <label htmlFor={ids.name}>Name</label>
        <input id={ids.name} value={name} onChange={(e) => setName(e.target.value)} required data-autofocus />
        {error("name")}
      </div>
      <div className="field">
        <label htmlFor={ids.slug}>Slug (the end of the local URL)</label>
        <input id={ids.slug} value={slug} onChange={(e) => setSlug(e.target.value)} required />
        {error("slug")}
      </div>
      <div className="field">
        <label htmlFor={ids.command}>Command</label>
        <input
          id={ids.command}
          value={command}
          onChange={(e) => setCommand(e.target.value)}
          placeholder="npx -y @modelcontextprotocol/server-filesystem /home/me/notes"
          spellCheck={false}
          required
        />
        <p className="muted">Started by Gatehouse on first use, without a shell. Put keys in the environment below.</p>
        {error("command")}
      </div>
      <div className="field">
        <label htmlFor={ids.cwd}>Working directory (optional)</label>
        <input id={ids.cwd} value={cwd} onChange={(e) => setCwd(e.target.value)} placeholder="your home folder" />
        {error("cwd")}
      </div>
      <fieldset className="field">
        <legend>Environment variables (values are stored encrypted)</legend>
        {env.map((variable, index) => (
          <div className="field--inline" key={variable.key}>
            <input
              aria-label={`Variable ${index + 1} name`}
              value={variable.name}
              onChange={(e) => setEnv(env.map((v) => (v.key === variable.key ? { ...v, name: e.target.value } : v)))}
              spellCheck={false}
            />
            <input
              type="password"
              aria-label={`Variable ${index + 1} value`}
              value={variable.value}
              onChange={(e) => setEnv(env.map((v) => (v.key === variable.key ? { ...v, value: e.target.value } : v)))}
              autoComplete="off"
            />
            <button type="button" className="button" onClick={() => setEnv(env.filter((v) => v.key !== variable.key))}>
              Remove variable {index + 1}
            </button>
          </div>
        ))}
        <button
          type="button"
          className="button"
          onClick={() => {
            setEnv([...env, { key: nextKey, name: "", value: "" }]);
            setNextKey(nextKey + 1);
          }}
        >
          Add a variable
        </button>
        {error("env")}
      </fieldset>
      {error("form")}
      <div className="dialog__actions">
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button button--primary" disabled={add.isPending}>
          Add local server
        </button>
      </div>
    </form>
  );
}
