#!/usr/bin/env node
// A local MCP client (official TypeScript SDK: Client + StreamableHTTPClientTransport + an
// OAuthClientProvider) that authorizes with Gatehouse and then calls the upstream's `whoami` on demand.
//
//   node local-client.mjs <gatehouse-mcp-url> [--client-name NAME]
//
// stdout (one line each):
//   AUTHORIZE <url>                         Gatehouse's consent URL; the test approves it (approve.mjs)
//   {"step":"callback",...}                 what came back (never the code)
//   {"step":"connected","authorizations":N}
//   READY                                   then one command per stdin line:
//   WHOAMI -> {"step":"whoami","ok":true,"who":{"sub","email","client_id"},"statuses":[...],"authorizations":N}
//          or {"step":"whoami","ok":false,"jsonrpc_code":N|null,"error":"...","statuses":[...],
//              "http_401":bool,"authorizations":N}
//   (EOF ends it: DONE)
// `authorizations` counts how often the SDK asked for a (re)authorization with Gatehouse.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const out = (line) => process.stdout.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
const argv = process.argv.slice(2);
const nameAt = argv.indexOf('--client-name');
const clientName = nameAt >= 0 ? argv[nameAt + 1] : 'Gatehouse E2E upstream client';
const target = argv.find((a, i) => !a.startsWith('--') && argv[i - 1] !== '--client-name');
if (!target) {
  process.stderr.write('usage: local-client.mjs <gatehouse-mcp-url> [--client-name NAME]\n');
  process.exit(2);
}
const serverUrl = new URL(target);

const statuses = [];
const recordingFetch = async (input, init) => {
  const response = await fetch(input, init);
  const url = typeof input === 'string' ? input : input.url ?? String(input);
  if (url.startsWith(serverUrl.href)) statuses.push(response.status);
  return response;
};

let callbackResolve;
const callbackResult = new Promise((resolve) => (callbackResolve = resolve));
const callbackServer = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/callback') return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><p>Authorized: you can close this window.</p>');
  callbackResolve(Object.fromEntries(url.searchParams));
});
await new Promise((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
const redirectUrl = `http://127.0.0.1:${callbackServer.address().port}/callback`;

const data = {};
let authorizations = 0;
const provider = {
  get redirectUrl() {
    return redirectUrl;
  },
  get clientMetadata() {
    return {
      client_name: clientName,
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state: () => (data.state = randomBytes(16).toString('hex')),
  clientInformation: () => data.client,
  saveClientInformation: (info) => void (data.client = info),
  tokens: () => data.tokens,
  saveTokens: (tokens) => void (data.tokens = tokens),
  redirectToAuthorization: (url) => {
    authorizations += 1;
    out(`AUTHORIZE ${url.href}`);
  },
  saveCodeVerifier: (v) => void (data.verifier = v),
  codeVerifier: () => data.verifier,
  invalidateCredentials: (scope) => {
    if (scope === 'all' || scope === 'client') delete data.client;
    if (scope === 'all' || scope === 'tokens') delete data.tokens;
    if (scope === 'all' || scope === 'verifier') delete data.verifier;
  },
};
const newTransport = () => new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: recordingFetch });
const newClient = () => new Client({ name: 'gatehouse-e2e-upstream-client', version: '0.1.0' }, { capabilities: {} });

let client = newClient();
try {
  await client.connect(newTransport());
} catch (error) {
  if (!(error instanceof UnauthorizedError)) {
    out({ step: 'connect', ok: false, error: String(error?.message ?? error) });
    process.exit(1);
  }
  const { code, ...shown } = await callbackResult;
  out({ step: 'callback', has_code: Boolean(code), ...shown });
  if (!code || shown.state !== data.state) process.exit(4);
  try {
    await newTransport().finishAuth(code);
    client = newClient();
    await client.connect(newTransport());
  } catch (e) {
    out({ step: 'connect', ok: false, error: String(e?.message ?? e) });
    process.exit(4);
  }
}
callbackServer.close();
out({ step: 'connected', server: client.getServerVersion(), authorizations });
out('READY');

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() !== 'WHOAMI') continue;
  const before = statuses.length;
  try {
    const r = await client.callTool({ name: 'whoami', arguments: {} });
    if (r.isError) throw Object.assign(new Error(`tool error: ${JSON.stringify(r.content)}`), { code: null });
    out({ step: 'whoami', ok: true, who: JSON.parse(r.content?.[0]?.text ?? 'null'), statuses: statuses.slice(before), authorizations });
  } catch (e) {
    const seen = statuses.slice(before);
    out({
      step: 'whoami',
      ok: false,
      jsonrpc_code: typeof e?.code === 'number' ? e.code : null,
      error: String(e?.message ?? e),
      statuses: seen,
      http_401: seen.includes(401) || e instanceof UnauthorizedError,
      authorizations,
    });
  }
}
out('DONE');
await client.close().catch(() => {});
process.exit(0);
