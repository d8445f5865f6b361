import type { ClientView, GrantView } from "../../api";

/** The name a card shows: the reported name in quotes, or the honest fallback. */
export function clientTitle(name: string | null): string {
  const trimmed = name?.trim();
  return trimmed ? `\u201C${trimmed}\u201D` : "Unverified MCP client";
}

/** The host of a callback URI without its port ("127.0.0.1"): Claude Code and VS Code pick a new
 * port for every sign-in, so the port says nothing about which app registered. */
export function redirectHostname(uri: string): string {
  try {
    const url = new URL(uri);
    return url.hostname || `${url.protocol}`;
  } catch {
    return uri;
  }
}

export type GrantGroup = {
  /** Same reported name and the same program seen by the OS; else same software id and callback host. */
  key: string;
  name: string | null;
  softwareId: string | null;
  /** The executable the OS showed behind the client, when Gatehouse saw it. */
  program: string | null;
  host: string;
  grants: GrantView[];
};

export function groupKey(grant: GrantView, client: ClientView | undefined): string {
  const name = grant.client_name?.trim() ?? "";
  const program = grant.caller?.exe;
  if (program) return JSON.stringify([name, "program", program]);
  return JSON.stringify([name, client?.software_id ?? "", redirectHostname(grant.redirect_uri)]);
}

/** Most recently used (or authorized) first; a grant never used sorts by when it was authorized. */
function recency(grant: GrantView): number {
  return grant.last_used_at ?? grant.activated_at ?? grant.created_at;
}

/**
 * Groups grants so that an app that registered itself again and again (each time a new client
 * id) shows as one group with a count instead of flooding the list. Groups and the grants in
 * them are ordered most recent first.
 */
export function groupGrants(grants: readonly GrantView[], clients: readonly ClientView[]): GrantGroup[] {
  const byId = new Map(clients.map((client) => [client.client_id, client]));
  const groups = new Map<string, GrantGroup>();
  for (const grant of grants) {
    const client = byId.get(grant.client_id);
    const key = groupKey(grant, client);
    let group = groups.get(key);
    if (!group) {
      group = {
        key,
        name: grant.client_name?.trim() || null,
        softwareId: client?.software_id ?? null,
        program: grant.caller?.exe ?? null,
        host: redirectHostname(grant.redirect_uri),
        grants: [],
      };
      groups.set(key, group);
    }
    group.grants.push(grant);
  }
  const result = [...groups.values()];
  for (const group of result) group.grants.sort((a, b) => recency(b) - recency(a));
  result.sort((a, b) => recency(b.grants[0]!) - recency(a.grants[0]!));
  return result;
}
