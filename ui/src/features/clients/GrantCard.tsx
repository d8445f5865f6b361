import { useId } from "react";
import type { GrantView, TokenHealth } from "../../api";
import { Disclosure } from "../../components/Disclosure";
import { ProgramLine } from "../../components/ProgramLine";
import { ShieldIcon } from "../../components/icons";
import { formatDate, formatDateTime, formatRelative } from "../../components/time";
import { Tooltip } from "../../components/Tooltip";
import { clientTitle } from "./grouping";

/** The broad scope: everything the connection offers. */
export const BROAD_SCOPE = "mcp:access";

export const UNVERIFIED_TIP =
  "This name was reported by the client itself when it registered. Gatehouse cannot verify it: any program can call itself anything. Check the client ID and callback URI to know which program this is.";

/** The shield's tip on a card whose client gave no name. */
export const UNNAMED_TIP =
  "This client reported no name when it registered. Check the client ID and callback URI to tell which program it is.";

const HEALTH: Record<TokenHealth, { label: string; tone: string; detail: string }> = {
  valid: { label: "Valid", tone: "ok", detail: "The client can call without signing in again." },
  expiring_soon: {
    label: "Expiring soon",
    tone: "pending",
    detail: "The client's access token expires soon; it will refresh it if it can.",
  },
  expired: {
    label: "Expired",
    tone: "error",
    detail: "The client's tokens have expired; it must refresh or ask again.",
  },
  none: { label: "No token yet", tone: "muted", detail: "No token has been issued to this client yet." },
};

export function tokenHealthLabel(health: TokenHealth): string {
  return HEALTH[health].label;
}

type GrantCardProps = {
  grant: GrantView;
  /** The upstream account of the grant's connection, when known ("on behalf of …"). */
  accountLabel: string | null;
  selected: boolean;
  onSelectedChange: (selected: boolean) => void;
  onRevoke: () => void;
  onShowConnection: () => void;
  headingLevel?: 3 | 4;
};

/** One active grant: who (as reported), where, for whom, what it allows, and a way to revoke it. */
export function GrantCard({
  grant,
  accountLabel,
  selected,
  onSelectedChange,
  onRevoke,
  onShowConnection,
  headingLevel = 3,
}: GrantCardProps) {
  const titleId = useId();
  const Heading = headingLevel === 3 ? "h3" : "h4";
  const title = clientTitle(grant.client_name);
  const reported = title !== "Unverified MCP client";
  const account = accountLabel ?? "you";
  const authorizedAt = grant.activated_at ?? grant.created_at;
  const health = HEALTH[grant.token_health];

  return (
    <article
      role="article"
      className="grant-card"
      data-testid="grant-card"
      data-grant-id={grant.id}
      aria-labelledby={titleId}
    >
      <div className="grant-card__head">
        <input
          type="checkbox"
          className="grant-card__select"
          checked={selected}
          onChange={(event) => onSelectedChange(event.target.checked)}
          aria-label={`Select ${title} on ${grant.connection_name}`}
        />
        <Tooltip label="About this name" tip={reported ? UNVERIFIED_TIP : UNNAMED_TIP} className="grant-card__shield">
          <ShieldIcon />
        </Tooltip>
        <div className="grant-card__identity">
          <Heading id={titleId} className="grant-card__title">
            {title}
          </Heading>
          <p className="grant-card__client-id">
            <span className="label">{reported ? "Reported name" : "No name reported"}</span>
            {" · "}
            <code title={grant.client_id}>{grant.client_id}</code>
          </p>
<ProgramLine caller={grant.caller} testId="grant-program" />
        </div>
        <span className="badge" data-tone={health.tone} title={health.detail}>
          <span className="visually-hidden">Token: </span>
          {health.label}
        </span>
      </div>

      <p className="grant-card__subline">
        Authorized to use{" "}
        <button type="button" className="button button--link" onClick={onShowConnection}>
          {grant.connection_name}
        </button>{" "}
        on behalf of {account}
      </p>

      {grant.scopes.includes(BROAD_SCOPE) && (
        <section className="callout" aria-label="What this grants">
          <p className="callout__title">What this grants</p>
          {grant.tools === null ? (
            <p>
              This client can use every tool, resource and prompt of {grant.connection_name}, acting
              as {account}, until you revoke it.
            </p>
          ) : (
            <>
              <p>
                This client can read the resources and prompts of {grant.connection_name} and call its
                tools, acting as {account}, until you revoke it.
              </p>
              <p>
                Only these tools:{" "}
                {grant.tools.length === 0 ? (
                  "none"
                ) : (
                  grant.tools.map((tool, index) => (
                    <span key={tool}>
                      {index > 0 && ", "}
                      <code>{tool}</code>
                    </span>
                  ))
                )}
              </p>
            </>
          )}
        </section>
      )}

      <div className="grant-card__foot">
        <p className="grant-card__times" data-testid="grant-times">
          Authorized <time dateTime={new Date(authorizedAt).toISOString()}>{formatDate(authorizedAt)}</time>
          {" · "}
          {grant.last_used_at === null ? (
            "Not used yet"
          ) : (
            <>
              Last used{" "}
              <time dateTime={new Date(grant.last_used_at).toISOString()} title={formatDateTime(grant.last_used_at)}>
                {formatRelative(grant.last_used_at)}
              </time>
            </>
          )}
        </p>
        <button type="button" className="button button--danger" onClick={onRevoke} aria-describedby={titleId}>
          Revoke access…
        </button>
      </div>

      <Disclosure label="Show technical details" openLabel="Hide technical details">
        <dl className="details">
          <dt>Client ID</dt>
          <dd>
            <code>{grant.client_id}</code>
          </dd>
          <dt>Callback URI</dt>
          <dd>
            <code>{grant.redirect_uri}</code>
          </dd>
          <dt>Program</dt>
          <dd>
            {grant.caller ? (
              <>
                <code>{grant.caller.exe ?? "executable not visible"}</code>, pid {grant.caller.pid}: the
                process the operating system showed when the client redeemed its code (or registered)
              </>
            ) : (
              "Not seen: Gatehouse did not see which program registered this client or redeemed its code"
            )}
          </dd>
          <dt>Scopes</dt>
          <dd>{grant.scopes.length ? <code>{grant.scopes.join(" ")}</code> : "none"}</dd>
          <dt>Tools</dt>
          <dd>{grant.tools === null ? "All tools" : grant.tools.length ? <code>{grant.tools.join(", ")}</code> : "none"}</dd>
          <dt>Grant ID</dt>
          <dd>
            <code>{grant.id}</code>
          </dd>
          <dt>Token</dt>
          <dd>{health.detail}</dd>
        </dl>
      </Disclosure>
    </article>
  );
}
