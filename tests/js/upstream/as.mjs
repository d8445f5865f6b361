#!/usr/bin/env node
// A real OAuth 2.1 / OpenID authorization server for the upstream tests: `oidc-provider` (pinned in
// tests/package.json) on loopback http, configured the way an MCP server's AS is in the wild.
//
//   node as.mjs [--port N] [--ttl SECONDS] [--refresh-ttl SECONDS]
//
// Prints `AS_READY <issuer>` (issuer exactly `http://127.0.0.1:<port>`) once it serves requests.
//
// What it offers:
//   - discovery at /.well-known/openid-configuration (oidc-provider serves no RFC 8414 path: a client
//     must fall back to OpenID discovery), code_challenge_methods_supported ["S256"] only, and RFC 9207
//     `iss` on every authorization response;
//   - dynamic client registration at /reg (open, no initial access token; application_type native with
//     loopback http redirect URIs is accepted);
//   - PKCE required for every client; resource indicators (RFC 8707): any loopback http URL is a
//     resource, its access tokens are opaque, carry `aud` = the resource and live `--ttl` seconds
//     (default 60) so a test can make them expire;
//   - refresh tokens for every authorization_code grant of a client allowed to refresh, rotated on each
//     use (reusing an old one revokes the grant); revocation (/token/revocation) and introspection
//     (/token/introspection, for the static confidential client `mcp-resource-server`);
//   - userinfo (/me) and id_token claims with `email` (`<login>@example.test`) and `sub` = the login;
//   - the built-in dev interactions: a login form that takes any login + password ("Sign-in"), then a
//     consent form ("Continue").
//
// Test-only admin hook, same port, under /__admin/ (never part of a real AS):
//   POST /__admin/revoke[?sub=SUBJECT]  revokes every grant (and its codes, access and refresh tokens)
//                                        of SUBJECT, or of everyone: {"revoked_grants":N}
//   GET  /__admin/stats                  counts: {"token":{"authorization_code":N,"refresh_token":N},
//                                        "token_errors":{...},"registrations":N,"introspections":N,
//                                        "revocations":N,"subjects":[...]}
//   GET  /__admin/issued                 every access/refresh token value issued so far (so a test can
//                                        look for them where they must never be), {"access_tokens":[...],
//                                        "refresh_tokens":[...]}
// The token values are never printed; stdout gets one line per token-endpoint call:
//   TOKEN grant_type=<type> status=<http status> [error=<code>]

import { createServer } from 'node:http';
import Provider from 'oidc-provider';

export const INTROSPECTION_CLIENT_ID = 'mcp-resource-server';
export const INTROSPECTION_CLIENT_SECRET = 'introspection-secret-for-the-e2e-tests-only';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const port = Number(opt('port', '0'));
const accessTtl = Number(opt('ttl', '60'));
const refreshTtl = Number(opt('refresh-ttl', String(24 * 3600)));

const out = (line) => process.stdout.write(`${line}\n`);

// ---- test bookkeeping ----
const stats = {
  token: {},
  token_errors: {},
  registrations: 0,
  introspections: 0,
  revocations: 0,
  subjects: [],
};
const issued = { access_tokens: [], refresh_tokens: [] };
const grantsBySubject = new Map(); // sub -> Set(grantId)

// ---- the server: listen first, the issuer needs the port ----
let handler = (_req, res) => res.writeHead(503).end('starting');
const server = createServer((req, res) => {
  if (req.url.startsWith('/__admin/')) {
    admin(req, res).catch((e) => res.writeHead(500).end(String(e)));
    return;
  }
  handler(req, res);
});
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const isLoopbackResource = (value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname) && !url.hash;
  } catch {
    return false;
  }
};

const configuration = {
  clients: [
    {
      client_id: INTROSPECTION_CLIENT_ID,
      client_secret: INTROSPECTION_CLIENT_SECRET,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    id_token_signed_response_alg: 'RS256',
  },
  cookies: { keys: ['gatehouse-e2e-cookie-key-not-secret'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
  },
  responseTypes: ['code'],
  scopes: ['openid', 'offline_access', 'email', 'mcp'],
  conformIdTokenClaims: false, // the id_token carries email, so a client learns "on behalf of"
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, email: `${sub}@example.test`, email_verified: true };
      },
    };
  },
  async extraTokenClaims(_ctx, token) {
    return token.accountId ? { email: `${token.accountId}@example.test` } : undefined;
  },
  pkce: { methods: ['S256'], required: () => true },
  clientBasedCORS: () => true,
  features: {
    devInteractions: { enabled: true },
    registration: { enabled: true, initialAccessToken: false },
    revocation: { enabled: true },
    introspection: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource) => {
        if (!isLoopbackResource(resource)) throw new Provider.errors.InvalidTarget();
        return { scope: 'mcp', audience: resource, accessTokenTTL: accessTtl, accessTokenFormat: 'opaque' };
      },
    },
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  expiresWithSession: async () => false,
  ttl: {
    AccessToken: accessTtl,
    AuthorizationCode: 60,
    RefreshToken: refreshTtl,
    Grant: refreshTtl,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
  },
};

const provider = new Provider(issuer, configuration);

provider.on('grant.saved', (grant) => {
  if (!grant.accountId) return;
  if (!grantsBySubject.has(grant.accountId)) grantsBySubject.set(grant.accountId, new Set());
  grantsBySubject.get(grant.accountId).add(grant.jti);
  if (!stats.subjects.includes(grant.accountId)) stats.subjects.push(grant.accountId);
});
provider.on('registration_create.success', () => {
  stats.registrations += 1;
});

provider.use(async (ctx, next) => {
  await next();
  if (ctx.method !== 'POST') return;
  if (ctx.path === '/token') {
    const grantType = ctx.oidc?.params?.grant_type ?? 'unknown';
    const body = ctx.body && typeof ctx.body === 'object' ? ctx.body : {};
    if (ctx.status === 200) {
      stats.token[grantType] = (stats.token[grantType] ?? 0) + 1;
      if (body.access_token) issued.access_tokens.push(body.access_token);
      if (body.refresh_token) issued.refresh_tokens.push(body.refresh_token);
      out(`TOKEN grant_type=${grantType} status=200`);
    } else {
      const key = `${grantType}:${body.error ?? ctx.status}`;
      stats.token_errors[key] = (stats.token_errors[key] ?? 0) + 1;
      out(`TOKEN grant_type=${grantType} status=${ctx.status} error=${body.error ?? ''}`);
    }
  } else if (ctx.path === '/token/introspection') {
    stats.introspections += 1;
  } else if (ctx.path === '/token/revocation') {
    stats.revocations += 1;
  }
});

async function revokeSubject(sub) {
  const subjects = sub ? [sub] : [...grantsBySubject.keys()];
  let count = 0;
  for (const s of subjects) {
    for (const grantId of grantsBySubject.get(s) ?? []) {
      await Promise.all([
        provider.AccessToken.revokeByGrantId(grantId),
        provider.RefreshToken.revokeByGrantId(grantId),
        provider.AuthorizationCode.revokeByGrantId(grantId),
        provider.Grant.adapter.destroy(grantId),
      ]);
      count += 1;
    }
    grantsBySubject.delete(s);
  }
  return count;
}

async function admin(req, res) {
  const url = new URL(req.url, issuer);
  const json = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'POST' && url.pathname === '/__admin/revoke') {
    const revoked = await revokeSubject(url.searchParams.get('sub'));
    out(`REVOKED grants=${revoked}`);
    return json(200, { revoked_grants: revoked });
  }
  if (req.method === 'GET' && url.pathname === '/__admin/stats') return json(200, stats);
  if (req.method === 'GET' && url.pathname === '/__admin/issued') return json(200, issued);
  return json(404, { error: 'not_found' });
}

handler = provider.callback();
out(`AS_READY ${issuer}`);

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
