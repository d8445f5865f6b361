/**
 * The fake backend's connections: listing, adding (an upstream URL, or a local command), detecting
 * an upstream's sign-in, editing (with which changes are material and revoke grants), enabling,
 * removing, and a local command's server log.
 */
import type { AuthDetection } from "../bindings/AuthDetection";
import type { ConnectionChangesRequest } from "../bindings/ConnectionChangesRequest";
import type { ConnectionView } from "../bindings/ConnectionView";
import type { OAuthRequest } from "../bindings/OAuthRequest";
import type { OAuthView } from "../bindings/OAuthView";
import type { GatehouseApi, IpcError } from "../types";
import { invalid, type Core } from "./core";
import { newConnection, SAMPLE_OAUTH_TEMPLATES } from "./samples";

/** The fake's auto-detection: these upstream hosts answer 401 and publish OAuth metadata... */
const OAUTH_HOSTS = /(^|\.)(githubcopilot\.com|linear\.app|notion\.com|atlassian\.com|sentry\.dev)$|^oauth\./;
/** ... and these answer 401 without any (an API-key server). */
const KEY_HOSTS = /^(api-key|apikey)\./;

/** An OAuth request as the backend shows it: never the secret, only whether one is stored. */
const oauthView = (o: OAuthRequest, keptSecret: boolean): OAuthView => ({
  source: o.template ? "template" : "discovered",
  template: o.template ?? null,
  tenant: o.tenant?.trim() || null,
  client_id: o.client_id?.trim() || null,
  has_client_secret: Boolean(o.client_secret) || keptSecret,
  grant: o.client_credentials ? "client_credentials" : "authorization_code",
  issuer: null,
  authorization_endpoint: null,
  token_endpoint: null,
  scopes: o.scopes?.trim() || null,
  legacy_discovery: o.legacy_discovery ?? false,
});
/** As the backend does: the stored secret stays for the same client id when none is typed. */
const editedOAuth = (c: ConnectionView, o: OAuthRequest): OAuthView =>
  oauthView(o, !o.client_secret && c.oauth?.has_client_secret === true && c.oauth.client_id === (o.client_id?.trim() || null));
const material = (c: ConnectionView, changes: ConnectionChangesRequest) =>
  (changes.upstream_url != null && changes.upstream_url !== c.upstream_url) ||
  changes.header != null ||
  (changes.oauth != null && JSON.stringify(editedOAuth(c, changes.oauth)) !== JSON.stringify(c.oauth)) ||
  (changes.oauth != null && Boolean(changes.oauth.client_secret)) ||
  (changes.remove_header === true && c.auth_kind !== "none");

type ConnectionsApi = Pick<
  GatehouseApi,
  | "listConnections"
  | "addConnection"
  | "detectAuth"
  | "listOAuthTemplates"
  | "previewConnectionEdit"
  | "editConnection"
  | "grantsAtRisk"
  | "setConnectionEnabled"
  | "removeConnection"
  | "addLocalCommand"
  | "serverLog"
>;

/** The connections' part of the fake API. */
export function connectionsApi({
  state,
  answer,
  emit,
  log,
  findConnection,
  activeOn,
  recount,
  revoke,
  changed,
}: Core): ConnectionsApi {
  return {
    listConnections: () => answer("listConnections", () => state.connections),
    addConnection: (input) =>
      answer("addConnection", () => {
        const slug = input.slug.trim();
        if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug))
          throw invalid("slug", `"${slug}" must be lowercase letters, digits and '-'`);
        if (state.connections.some((c) => c.slug === slug))
          throw { type: "Conflict", data: { message: `the slug "${slug}" is in use` } } as IpcError;
        if (!input.name.trim()) throw invalid("name", "the name must not be empty");
        if (input.header && input.oauth)
          throw invalid("auth", "choose one kind of upstream authentication: a header or OAuth");
        if (!/^https:\/\/|^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(input.upstream_url))
          throw invalid("upstream_url", "use https, or http only to a loopback address");
        const created = newConnection({
          slug,
          name: input.name.trim(),
          upstream_url: input.upstream_url.trim(),
          auth_kind: input.header ? "header" : input.oauth ? "oauth" : "none",
          // The value is deliberately dropped: it never comes back from the backend.
          header_name: input.header?.name ?? null,
          status: input.oauth ? "needs_auth" : "connected",
          account_label: input.account_name?.trim() || null,
          // As the backend shows it: never the secret, only whether one was given.
          oauth: input.oauth ? oauthView(input.oauth, false) : null,
        });
        state.connections.push(created);
        log({
          kind: "connection.created",
          grant_id: null,
          client_id: null,
          connection_id: created.id,
          reason: null,
          summary: `Connection ${created.name} was added.`,
        });
        return changed(created, "connections");
      }),
    detectAuth: (url, legacy) =>
      answer("detectAuth", (): AuthDetection => {
        if (!/^https?:\/\//.test(url)) throw invalid("url", "not an http(s) URL");
        const host = new URL(url).hostname;
        if (OAUTH_HOSTS.test(host)) {
          return {
            suggested: "oauth",
            finding: "The server asks for OAuth sign-in: its 401 answer names its protected resource metadata.",
          };
        }
        if (KEY_HOSTS.test(host) && legacy) {
          return {
            suggested: "oauth",
            finding:
              "The server asks for OAuth sign-in: it publishes no protected resource metadata, so Gatehouse uses the 2025-03-26 fallback you turned on (the authorization server at the URL's origin).",
          };
        }
        if (KEY_HOSTS.test(host)) {
          return {
            suggested: "header",
            finding:
              "The server refused a request without credentials (HTTP 401, asking for Bearer) but publishes no OAuth metadata: it most likely takes an API key or token in a header. If it is an older (2025-03-26) MCP server that signs in with OAuth without metadata, use the legacy discovery fallback (--legacy-oauth).",
          };
        }
        return { suggested: "none", finding: "The server answered without credentials: it needs no sign-in." };
      }),
    listOAuthTemplates: () => answer("listOAuthTemplates", () => SAMPLE_OAUTH_TEMPLATES),
    previewConnectionEdit: (key, changes) =>
      answer("previewConnectionEdit", () => {
        const c = findConnection(key);
        const isMaterial = material(c, changes);
        return { material: isMaterial, grants_to_revoke: isMaterial ? activeOn(c.id).length : 0 };
      }),
    editConnection: (key, changes) =>
      answer("editConnection", () => {
        const c = findConnection(key);
        const isMaterial = material(c, changes);
        const revoked = isMaterial ? revoke(activeOn(c.id).map((g) => g.id), "connection_changed").revoked : [];
        if (changes.name != null) c.name = changes.name.trim();
        if (changes.account_name != null) c.account_label = changes.account_name.trim() || null;
        if (changes.upstream_url != null) c.upstream_url = changes.upstream_url.trim();
        if (changes.header != null && changes.oauth != null)
          throw invalid("auth", "choose one kind of upstream authentication: a header or OAuth");
        if (changes.header != null) {
          c.auth_kind = "header";
          c.header_name = changes.header.name;
          c.oauth = null;
        } else if (changes.oauth != null) {
          c.oauth = editedOAuth(c, changes.oauth);
          c.auth_kind = "oauth";
          c.header_name = null;
        } else if (changes.remove_header) {
          c.auth_kind = "none";
          c.header_name = null;
          c.oauth = null;
        }
        if (isMaterial) {
          // As the store does: new settings start afresh; only OAuth waits for a sign-in.
          c.config_version += 1;
          c.status = c.auth_kind === "oauth" ? "needs_auth" : "connected";
          c.status_detail = null;
        }
        c.updated_at = Date.now();
        recount();
        return changed(
          { connection: c, material: isMaterial, revoked_grants: revoked.length },
          "connections",
          "grants",
          "clients",
        );
      }),
    grantsAtRisk: (key) => answer("grantsAtRisk", () => activeOn(findConnection(key).id).length),
    setConnectionEnabled: (key, enabled) =>
      answer("setConnectionEnabled", () => {
        const c = findConnection(key);
        const revoked =
          !enabled && c.enabled ? revoke(activeOn(c.id).map((g) => g.id), "connection_disabled").revoked : [];
        c.enabled = enabled;
        c.updated_at = Date.now();
        recount();
        return changed(
          { connection: c, material: false, revoked_grants: revoked.length },
          "connections",
          "grants",
          "clients",
        );
      }),
    removeConnection: (key) =>
      answer("removeConnection", () => {
        const c = findConnection(key);
        const revoked = revoke(activeOn(c.id).map((g) => g.id), "connection_deleted").revoked;
        state.connections = state.connections.filter((x) => x.id !== c.id);
        state.grants = state.grants.filter((g) => g.connection_id !== c.id);
        recount();
        return changed(
          { id: c.id, slug: c.slug, revoked_grants: revoked.length },
          "connections",
          "grants",
          "clients",
        );
      }),
    addLocalCommand: (input) =>
      answer("addLocalCommand", () => {
        const slug = input.slug.trim();
        if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(slug))
          throw invalid("slug", `"${slug}" must be lowercase letters, digits and '-'`);
        if (state.connections.some((c) => c.slug === slug))
          throw { type: "Conflict", data: { message: `the slug "${slug}" is in use` } } as IpcError;
        if (!input.name.trim()) throw invalid("name", "the name must not be empty");
        if (!input.command.trim()) throw invalid("command", "the command must not be empty");
        for (const e of input.env)
          if (e.name && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.name))
            throw invalid("env", `"${e.name}" is not an environment variable name`);
        const created = newConnection({
          slug,
          name: input.name.trim(),
          // The values are deliberately dropped: they never come back from the backend.
          upstream_url: `stdio:${input.command.trim()}`,
          transport: "stdio",
        });
        state.connections.push(created);
        emit("connections");
        return created;
      }),
    serverLog: (key) =>
      answer("serverLog", () => {
        const c = findConnection(key);
        if (c.transport !== "stdio") throw invalid("connection", "only a local command's connection has a server log");
        return {
          path: `~/.local/share/dev.gatehouse.app/logs/stdio/${c.id}.log`,
          lines: ["[gatehouse] started npx (pid 4242)", "Secure MCP Filesystem Server running on stdio"],
          truncated: false,
        };
      }),
  };
}
