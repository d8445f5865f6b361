#!/usr/bin/env node
// Runs the real mcp-remote as a stdio proxy in front of <mcp-url> and speaks MCP to it with the SDK's
// Client + StdioClientTransport, exactly as Claude Desktop / Cursor would.
//
//   node mcp-remote-client.mjs <mcp-url> --config-dir DIR [--callback-port N] [--no-refresh]
//
// mcp-remote keeps its registration and tokens in DIR (MCP_REMOTE_CONFIG_DIR, HOME is pointed there
// too), never opens a browser (BROWSER=true, no DISPLAY), and prints "Please authorize this client by
// visiting:\n<url>" on stderr; this script turns that into a stdout line `AUTHORIZE <url>`.
//
// stdout protocol: AUTHORIZE <url> (only when the server asks for OAuth), {"step":"connected"},
// {"step":"listTools"}, {"step":"callTool"}, {"step":"readResource"}, {"step":"getPrompt"},
// REFRESHED + {"step":"refresh"} (when mcp-remote holds tokens: the stored access token is marked
// expired and mcp-remote must use its refresh token), READY, then after `CALL` on stdin
// {"step":"call","ok":...}, DONE.
// Exit codes as sdk-client.mjs: 0 ok, 2 usage, 4 auth failed, 5 final CALL failed with an auth error,
// 6 final CALL failed otherwise, 1 anything else.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const out = (line) => process.stdout.write(`${typeof line === 'string' ? line : JSON.stringify(line)}\n`);
const argv = process.argv.slice(2);
const positional = [];
const opts = { configDir: null, callbackPort: null, refresh: true };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--config-dir') opts.configDir = argv[++i];
  else if (a === '--callback-port') opts.callbackPort = argv[++i];
  else if (a === '--no-refresh') opts.refresh = false;
  else positional.push(a);
}
if (positional.length !== 1 || !opts.configDir) {
  process.stderr.write('usage: mcp-remote-client.mjs <mcp-url> --config-dir DIR [--callback-port N] [--no-refresh]\n');
  process.exit(2);
}
const [serverUrl] = positional;

const require = createRequire(import.meta.url);
const proxyJs = join(require.resolve('mcp-remote/package.json'), '..', 'dist', 'proxy.js');
const args = [proxyJs, serverUrl];
if (opts.callbackPort) args.push(opts.callbackPort);
args.push('--transport', 'http-only', '--auth-timeout', process.env.MCP_REMOTE_AUTH_TIMEOUT ?? '60');

const env = {};
for (const [k, v] of Object.entries(process.env)) {
  if (!['DISPLAY', 'WAYLAND_DISPLAY', 'XDG_CURRENT_DESKTOP', 'DESKTOP_SESSION', 'KDE_FULL_SESSION', 'GNOME_DESKTOP_SESSION_ID'].includes(k)) env[k] = v;
}
Object.assign(env, { HOME: opts.configDir, MCP_REMOTE_CONFIG_DIR: opts.configDir, BROWSER: 'true' });

const transport = new StdioClientTransport({ command: process.execPath, args, env, stderr: 'pipe' });
let authorizations = 0;
let expectUrl = false;
const stderrTail = [];
transport.stderr.setEncoding('utf8');
createInterface({ input: transport.stderr }).on('line', (line) => {
  stderrTail.push(line);
  if (stderrTail.length > 200) stderrTail.shift();
  if (process.env.MCP_REMOTE_VERBOSE) process.stderr.write(`[mcp-remote] ${line}\n`);
  if (/Please authorize this client by visiting:/.test(line)) {
    expectUrl = true;
    return;
  }
  if (expectUrl && line.trim()) {
    expectUrl = false;
    authorizations += 1;
    out(`AUTHORIZE ${line.trim()}`);
  }
});
const dumpStderr = () => process.stderr.write(`--- mcp-remote stderr (tail) ---\n${stderrTail.join('\n')}\n`);
const fail = async (code, step, error) => {
  out({ step, ok: false, error: String(error?.message ?? error) });
  dumpStderr();
  await transport.close().catch(() => {});
  process.exit(code);
};

const client = new Client({ name: 'gatehouse-e2e-mcp-remote-client', version: '0.1.0' }, { capabilities: {} });
const slow = { timeout: Number(process.env.MCP_REMOTE_CONNECT_TIMEOUT_MS ?? 90000) };
try {
  await client.connect(transport, slow);
} catch (e) {
  await fail(authorizations ? 4 : 1, 'connect', e);
}
out({ step: 'connected', server: client.getServerVersion(), authorizations });

async function exercise() {
  const { tools } = await client.listTools();
  out({ step: 'listTools', tools: tools.map((t) => t.name) });
  const called = await client.callTool({ name: 'echo', arguments: { message: 'hello through mcp-remote' } });
  if (called.isError) throw new Error(`echo returned an error: ${JSON.stringify(called.content)}`);
  out({ step: 'callTool', tool: 'echo', text: called.content?.[0]?.text });
  const { resources } = await client.listResources();
  if (!resources.length) throw new Error('no resources listed');
  const read = await client.readResource({ uri: resources[0].uri });
  out({ step: 'readResource', uri: resources[0].uri, text: read.contents?.[0]?.text?.slice(0, 200) ?? null });
  const { prompts } = await client.listPrompts();
  const prompt = prompts.find((p) => p.name === 'simple-prompt') ?? prompts[0];
  const got = await client.getPrompt({ name: prompt.name, arguments: {} });
  out({ step: 'getPrompt', name: prompt.name, messages: got.messages.length, text: got.messages[0]?.content?.text ?? null });
}
try {
  await exercise();
} catch (e) {
  await fail(1, 'exercise', e);
}

// mcp-remote's token file: <config>/mcp-remote-v1/<hash>_tokens.json (read on every request).
const tokenFiles = () => {
  const dir = join(opts.configDir, 'mcp-remote-v1');
  try {
    return readdirSync(dir).filter((f) => f.endsWith('_tokens.json')).map((f) => join(dir, f));
  } catch {
    return [];
  }
};
if (opts.refresh && tokenFiles().length === 1) {
  const file = tokenFiles()[0];
  const before = JSON.parse(readFileSync(file, 'utf8'));
  if (!before.refresh_token) await fail(4, 'refresh', 'mcp-remote holds no refresh token');
  // Mark the access token expired: mcp-remote refreshes proactively with its refresh token.
  writeFileSync(file, JSON.stringify({ ...before, expires_in: 0, expires_at: Date.now() - 60_000 }));
  try {
    const called = await client.callTool({ name: 'echo', arguments: { message: 'after refresh' } });
    if (called.isError) throw new Error('echo failed after the refresh');
    const after = JSON.parse(readFileSync(file, 'utf8'));
    if (after.access_token === before.access_token) throw new Error('the access token did not change');
    out('REFRESHED');
    out({ step: 'refresh', refresh_token_rotated: after.refresh_token !== before.refresh_token, reauthorizations: authorizations - 1 });
  } catch (e) {
    await fail(4, 'refresh', e);
  }
}

out('READY');
const lines = createInterface({ input: process.stdin });
let exitCode = 0;
for await (const line of lines) {
  if (line.trim() !== 'CALL') continue;
  const authBefore = authorizations;
  // After a revoke mcp-remote may start a new sign-in and hold the call: a new AUTHORIZE counts as
  // the auth failure (the call is not answered with data).
  const reauth = new Promise((resolve) => {
    const t = setInterval(() => {
      if (authorizations > authBefore) {
        clearInterval(t);
        resolve('reauthorize');
      }
    }, 50);
    t.unref();
  });
  try {
    const r = await Promise.race([
      client.callTool({ name: 'echo', arguments: { message: 'after revoke?' } }, undefined, { timeout: 30000 }),
      reauth,
    ]);
    if (r === 'reauthorize') throw Object.assign(new Error('mcp-remote asked for a new authorization'), { auth: true });
    if (r.isError) throw new Error(JSON.stringify(r.content));
    out({ step: 'call', ok: true, text: r.content?.[0]?.text });
  } catch (e) {
    const text = String(e?.message ?? e);
    const authError = Boolean(e?.auth) || /401|unauthori[sz]ed|invalid_token|invalid_grant/i.test(text) || stderrTail.slice(-30).some((l) => /401|invalid_token|invalid_grant/i.test(l));
    out({ step: 'call', ok: false, auth_error: authError, reauthorization_requested: authorizations > authBefore, error: text });
    exitCode = authError ? 5 : 6;
  }
  break;
}
lines.close();
out('DONE');
await transport.close().catch(() => {});
process.exit(exitCode);
