#!/usr/bin/env node
// A real MCP client built on the official TypeScript SDK (Client + StreamableHTTPClientTransport + an
// OAuthClientProvider), driven line by line by the Rust tests.
//
//   node sdk-client.mjs <mcp-url> [--no-auth] [--state FILE] [--callback-port N] [--client-name NAME]
//
// stdout protocol (one line each, in this order):
//   AUTHORIZE <url>                    the authorization URL; the test drives the browser to it
//   {"step":"callback",...}            what came back to the loopback redirect URI (never the code)
//   {"step":"connected",...}
//   {"step":"listTools","tools":[...]}
//   {"step":"callTool","tool":"echo","text":"Echo: ..."}
//   {"step":"readResource","uri":...,"text":...}
//   {"step":"getPrompt","name":...,"messages":N,"text":...}
//   REFRESHED                          the access token was rejected (401), the SDK refreshed, calls work again
//   {"step":"refresh",...}
//   READY                              waiting for `CALL` (or EOF) on stdin
//   {"step":"call","ok":true|false,"status":..., "error":...}   after `CALL`
//   DONE
// Exit codes: 0 all good (including a CALL that succeeded), 2 usage, 3 access denied at consent,
// 4 authorization failed, 5 the final CALL failed with an auth error (expected after a revoke),
// 6 the final CALL failed for another reason, 1 anything else.

import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const out = (line) => process.stdout.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
const fail = (code, step, error) => {
  out({ step, ok: false, error: String(error?.message ?? error) });
  process.exit(code);
};

const argv = process.argv.slice(2);
const positional = [];
const opts = { auth: true, state: null, callbackPort: 0, clientName: 'Gatehouse E2E SDK client' };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--no-auth') opts.auth = false;
  else if (a === '--state') opts.state = argv[++i];
  else if (a === '--callback-port') opts.callbackPort = Number(argv[++i]);
  else if (a === '--client-name') opts.clientName = argv[++i];
  else positional.push(a);
}
if (positional.length !== 1) {
  process.stderr.write('usage: sdk-client.mjs <mcp-url> [--no-auth] [--state FILE] [--callback-port N] [--client-name NAME]\n');
  process.exit(2);
}
const serverUrl = new URL(positional[0]);

// Statuses of the responses to requests on the MCP URL, so a failure can be told apart (401 or not).
const mcpStatuses = [];
const recordingFetch = async (input, init) => {
  const response = await fetch(input, init);
  const url = typeof input === 'string' ? input : input.url ?? String(input);
  if (url.startsWith(serverUrl.href)) mcpStatuses.push(response.status);
  return response;
};

// ---- the loopback redirect URI (RFC 8252 §7.3) ----
let callbackResolve;
const callbackResult = new Promise((resolve) => (callbackResolve = resolve));
const callbackServer = createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/callback') {
    res.writeHead(404).end();
    return;
  }
  const params = Object.fromEntries(url.searchParams);
  const ok = Boolean(params.code);
  res.writeHead(ok ? 200 : 400, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><title>${ok ? 'Authorized' : 'Not authorized'}</title><p>${ok ? 'Authorized' : 'Authorization failed'}: you can close this window.</p>`);
  callbackResolve(params);
});
let redirectUrl = null;
if (opts.auth) {
  await new Promise((resolve, reject) => {
    callbackServer.once('error', reject);
    callbackServer.listen(opts.callbackPort, '127.0.0.1', resolve);
  });
  redirectUrl = `http://127.0.0.1:${callbackServer.address().port}/callback`;
}

// ---- the OAuth client provider: everything in memory, mirrored to --state FILE when given ----
class Provider {
  constructor(file) {
    this.file = file;
    const saved = file && existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
    this.data = saved ? JSON.parse(saved) : {};
  }
  persist() {
    if (this.file) writeFileSync(this.file, JSON.stringify(this.data, null, 2), { mode: 0o600 });
  }
  get redirectUrl() {
    return redirectUrl;
  }
  get clientMetadata() {
    return {
      client_name: opts.clientName,
      redirect_uris: [redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    this.data.state = randomBytes(16).toString('hex');
    return this.data.state;
  }
  clientInformation() {
    return this.data.client;
  }
  saveClientInformation(info) {
    this.data.client = info;
    this.persist();
  }
  tokens() {
    return this.data.tokens;
  }
  saveTokens(tokens) {
    this.data.tokens = tokens;
    this.persist();
  }
  redirectToAuthorization(url) {
    this.authorizationRequested = (this.authorizationRequested ?? 0) + 1;
    out(`AUTHORIZE ${url.href}`);
  }
  saveCodeVerifier(verifier) {
    this.data.verifier = verifier;
    this.persist();
  }
  codeVerifier() {
    if (!this.data.verifier) throw new Error('no code verifier saved');
    return this.data.verifier;
  }
  invalidateCredentials(scope) {
    if (scope === 'all' || scope === 'client') delete this.data.client;
    if (scope === 'all' || scope === 'tokens') delete this.data.tokens;
    if (scope === 'all' || scope === 'verifier') delete this.data.verifier;
    this.persist();
  }
}
const provider = opts.auth ? new Provider(opts.state) : undefined;

const newTransport = () =>
  new StreamableHTTPClientTransport(serverUrl, { authProvider: provider, fetch: recordingFetch });
const newClient = () => new Client({ name: 'gatehouse-e2e-sdk-client', version: '0.1.0' }, { capabilities: {} });

let client = newClient();
try {
  await client.connect(newTransport());
} catch (error) {
  if (!(opts.auth && error instanceof UnauthorizedError)) fail(1, 'connect', error);
  // The provider printed AUTHORIZE; wait for the browser to come back to our redirect URI.
  const params = await callbackResult;
  const { code, ...shown } = params;
  out({ step: 'callback', has_code: Boolean(code), ...shown });
  if (params.error === 'access_denied') process.exit(3);
  if (params.state !== provider.data.state) fail(4, 'callback', 'the state came back changed');
  if (!code) process.exit(4);
  const finishing = newTransport();
  try {
    await finishing.finishAuth(code);
  } catch (e) {
    fail(4, 'finishAuth', e);
  }
  client = newClient();
  try {
    await client.connect(newTransport());
  } catch (e) {
    fail(4, 'connect', e);
  }
}
callbackServer.close();
out({ step: 'connected', server: client.getServerVersion(), authorizations: provider?.authorizationRequested ?? 0 });

async function exercise() {
  const { tools } = await client.listTools();
  out({ step: 'listTools', tools: tools.map((t) => t.name) });
  const echo = tools.find((t) => t.name === 'echo');
  if (!echo) throw new Error('the upstream has no echo tool');
  const called = await client.callTool({ name: 'echo', arguments: { message: 'hello through gatehouse' } });
  if (called.isError) throw new Error(`echo returned an error: ${JSON.stringify(called.content)}`);
  out({ step: 'callTool', tool: 'echo', text: called.content?.[0]?.text });
  const { resources } = await client.listResources();
  if (!resources.length) throw new Error('the upstream lists no resources');
  const read = await client.readResource({ uri: resources[0].uri });
  const first = read.contents?.[0] ?? {};
  out({ step: 'readResource', uri: resources[0].uri, text: first.text?.slice(0, 200) ?? null, has_blob: Boolean(first.blob) });
  const { prompts } = await client.listPrompts();
  const prompt = prompts.find((p) => p.name === 'simple-prompt') ?? prompts.find((p) => !(p.arguments ?? []).some((a) => a.required));
  if (!prompt) throw new Error('the upstream lists no prompt without required arguments');
  const got = await client.getPrompt({ name: prompt.name, arguments: {} });
  out({ step: 'getPrompt', name: prompt.name, messages: got.messages.length, text: got.messages[0]?.content?.text ?? null });
}

try {
  await exercise();
} catch (e) {
  fail(1, 'exercise', e);
}

if (opts.auth) {
  // Force a refresh the way it happens in real life: the access token stops working, the resource
  // answers 401, and the SDK uses the refresh token and retries.
  const before = provider.data.tokens;
  if (!before?.refresh_token) fail(4, 'refresh', 'no refresh token was issued');
  provider.saveTokens({ ...before, access_token: `invalid-${Date.now()}` });
  const statusesBefore = mcpStatuses.length;
  try {
    const { tools } = await client.listTools();
    const after = provider.data.tokens;
    const rejected = mcpStatuses.slice(statusesBefore).includes(401);
    const changed = after.access_token !== before.access_token && !after.access_token.startsWith('invalid-');
    const rotated = after.refresh_token !== before.refresh_token;
    if (!rejected || !changed) throw new Error(`no refresh happened (401 seen: ${rejected}, new access token: ${changed})`);
    out('REFRESHED');
    out({ step: 'refresh', rejected_with_401: rejected, refresh_token_rotated: rotated, tools: tools.length });
    const again = await client.callTool({ name: 'echo', arguments: { message: 'after refresh' } });
    if (again.isError) throw new Error('echo failed after the refresh');
  } catch (e) {
    fail(4, 'refresh', e);
  }
}

out('READY');
const lines = createInterface({ input: process.stdin });
let exitCode = 0;
for await (const line of lines) {
  if (line.trim() !== 'CALL') continue;
  const statusesBefore = mcpStatuses.length;
  const reauthBefore = provider?.authorizationRequested ?? 0;
  try {
    const r = await client.callTool({ name: 'echo', arguments: { message: 'after revoke?' } });
    if (r.isError) throw new Error(JSON.stringify(r.content));
    out({ step: 'call', ok: true, text: r.content?.[0]?.text });
    exitCode = 0;
  } catch (e) {
    const statuses = mcpStatuses.slice(statusesBefore);
    const authError =
      statuses.includes(401) || e instanceof UnauthorizedError || e?.code === 401 || (provider?.authorizationRequested ?? 0) > reauthBefore;
    out({
      step: 'call',
      ok: false,
      auth_error: authError,
      status: statuses.includes(401) ? 401 : (statuses.at(-1) ?? null),
      statuses,
      reauthorization_requested: (provider?.authorizationRequested ?? 0) > reauthBefore,
      error: String(e?.message ?? e),
    });
    exitCode = authError ? 5 : 6;
  }
  break;
}
lines.close();
out('DONE');
await client.close().catch(() => {});
process.exit(exitCode);
