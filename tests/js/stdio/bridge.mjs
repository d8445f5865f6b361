#!/usr/bin/env node
// `gatehoused bridge <slug>` driven by the official SDK's stdio client, the way Claude Desktop
// drives a local command:
//
//   GATEHOUSED=<path> node bridge.mjs
//
// Gatehouse (fresh data directory, `gatehoused serve --port 0`) has one connection, `everything`
// (server-everything over stdio). Three SDK clients start `gatehoused bridge everything` at once;
// the bridge's browser ($BROWSER = conformance/browse.mjs) only opens the consent page, and the
// harness approves the request with `gatehoused requests approve` as a person would. Then: every
// client lists tools and calls echo; the gateway is restarted on the same port and the first client
// calls echo again; a bridge pointed at a port where nothing listens answers with a clear error.
// One JSON line per check on stdout; logs on stderr prefixed `[bridge]`.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { Gatehouse } from '../conformance/gatehouse.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const log = (...parts) => process.stderr.write(`[bridge] ${parts.join(' ')}\n`);
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const message = (error) => String(error?.message ?? error);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const everythingJs = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
const text = (result) => (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');

function bridgeClient(gatehouse, port, name) {
  const transport = new StdioClientTransport({
    command: gatehouse.binary,
    args: ['--data-dir', gatehouse.dataDir, 'bridge', 'everything', '--port', String(port)],
    env: { ...gatehouse.env, BROWSER: join(here, '..', 'conformance', 'browse.mjs') },
    stderr: 'pipe',
  });
  transport.stderr?.on('data', (chunk) => log(`${name} stderr:`, String(chunk).trim()));
  const client = new Client({ name, version: '0.1.0' });
  return { client, transport };
}

/** `gatehoused serve --port <port>` on the same data directory (a restart). */
function serveOn(gatehouse, port) {
  gatehouse.gateway = spawn(gatehouse.binary, ['--data-dir', gatehouse.dataDir, 'serve', '--port', String(port)], { env: gatehouse.env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let seen = '';
    gatehouse.gateway.stdout.on('data', (chunk) => {
      seen += chunk;
      if (seen.includes('listening on')) resolve();
    });
    gatehouse.gateway.once('exit', (code) => reject(new Error(`serve exited (${code})`)));
  });
}

async function main() {
  const gatehouse = new Gatehouse(process.env.GATEHOUSED);
  try {
    await gatehouse.start();
    const port = Number(gatehouse.port);
    const added = await gatehouse.admin(['connections', 'add', '--slug', 'everything', '--name', 'Everything', '--', process.execPath, everythingJs, 'stdio']);
    log('connections add:', added.code, added.stdout.trim(), added.stderr.trim());

    // A copy killed in the middle of its sign-in (Claude Desktop kills and restarts its servers):
    // its consent request is left behind (the person dismisses it), and its lease lapses.
    const first = bridgeClient(gatehouse, port, 'Claude Desktop');
    first.client.connect(first.transport).catch(() => {});
    let stale = [];
    for (const until = Date.now() + 30_000; Date.now() < until && stale.length === 0; await sleep(200)) {
      stale = JSON.parse((await gatehouse.admin(['requests', 'list', '--json'])).stdout || '[]');
    }
    process.kill(first.transport.pid, 'SIGKILL');
    const killedAt = Date.now();
    for (const r of stale) await gatehouse.admin(['requests', 'deny', r.id, '--port', String(port)]);
    emit({ check: 'killed-mid-sign-in', ok: stale.length === 1, staleRequests: stale.length });

    const copies = ['Claude Desktop', 'Claude Desktop', 'Claude Desktop'].map((n, i) => bridgeClient(gatehouse, port, `${n}`));
    const connected = copies.map(({ client, transport }) => client.connect(transport).then(() => null, (e) => message(e)));
    // The person: waits for the consent request(s), looks a little longer for duplicates, approves.
    const seen = new Set();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && seen.size === 0) {
      const listed = await gatehouse.admin(['requests', 'list', '--json']);
      for (const r of JSON.parse(listed.stdout || '[]')) seen.add(r.id);
      await sleep(200);
    }
    const signInAfterKillMs = Date.now() - killedAt;
    await sleep(2_000);
    const listed = JSON.parse((await gatehouse.admin(['requests', 'list', '--json'])).stdout || '[]');
    for (const r of listed) seen.add(r.id);
    const names = listed.map((r) => r.client_name);
    for (const r of listed) {
      const approved = await gatehouse.admin(['requests', 'approve', r.id, '--port', String(port), '--json']);
      log('requests approve:', approved.code, approved.stdout.trim());
    }
    const errors = await Promise.all(connected);
    emit({ check: 'consent', ok: true, requests: seen.size, names, connectErrors: errors.filter(Boolean), signInAfterKillMs });

    const answers = [];
    for (const { client } of copies) {
      try {
        answers.push(text(await client.callTool({ name: 'echo', arguments: { message: 'via bridge' } })));
      } catch (error) {
        answers.push(`error: ${message(error)}`);
      }
    }
    const clients = JSON.parse((await gatehouse.admin(['clients', 'list', '--json'])).stdout || '[]');
    const grants = JSON.parse((await gatehouse.admin(['grants', 'list', '--json'])).stdout || '[]');
    emit({
      check: 'all-copies',
      ok: true,
      answers,
      bridgeClients: clients.filter((c) => (c.client_name ?? '').includes('via Gatehouse bridge')).length,
      bridgeGrants: grants.filter((g) => (g.client_name ?? '').includes('via Gatehouse bridge') && g.status === 'active').length,
    });

    // What the server says outside any answer (server-everything's simulated log messages, every
    // 5 s on the session's own stream) reaches the client through the bridge.
    const logged = [];
    copies[1].client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => logged.push(n.params));
    await copies[1].client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    for (const until = Date.now() + 20_000; Date.now() < until && logged.length === 0; ) await sleep(200);
    await copies[1].client.callTool({ name: 'toggle-simulated-logging', arguments: {} }).catch(() => {});
    emit({ check: 'server-stream', ok: true, logMessages: logged.length > 0 });

    // The access token runs out (set expired in the store, as time would): the next call is
    // refused with 401 and the bridge refreshes (RFC 6749 §6) instead of asking the person again.
    const db = join(gatehouse.dataDir, 'gatehouse.sqlite3');
    const sql = (statement) =>
      spawnSync('python3', ['-c', `import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); r=c.execute(sys.argv[2]).fetchall(); c.commit(); print(r)`, db, statement], { encoding: 'utf8' }).stdout.trim();
    const tokensBefore = sql('SELECT count(*) FROM access_tokens');
    sql('UPDATE access_tokens SET expires_at = 0');
    let afterExpiry;
    try {
      afterExpiry = text(await copies[0].client.callTool({ name: 'echo', arguments: { message: 'after expiry' } }));
    } catch (error) {
      afterExpiry = `error: ${message(error)}`;
    }
    const pendingAfter = JSON.parse((await gatehouse.admin(['requests', 'list', '--json'])).stdout || '[]').length;
    emit({ check: 'refresh', ok: true, echo: afterExpiry, tokensBefore, tokensAfter: sql('SELECT count(*) FROM access_tokens'), newConsentRequests: pendingAfter });

    // The gateway restarts while the bridges run.
    gatehouse.gateway.kill('SIGTERM');
    await new Promise((resolve) => gatehouse.gateway.once('exit', resolve));
    const restarting = serveOn(gatehouse, port);
    let afterRestart;
    try {
      const call = copies[0].client.callTool({ name: 'echo', arguments: { message: 'after restart' } });
      await restarting;
      afterRestart = text(await call);
    } catch (error) {
      afterRestart = `error: ${message(error)}`;
    }
    emit({ check: 'restart', ok: true, echo: afterRestart });
    for (const { client } of copies) await client.close().catch(() => {});

    // `clients connect claude-desktop` (with the port this gateway really has: GATEHOUSE_PORT)
    // writes an entry that starts this bridge; start it as Claude Desktop would, from the file.
    const home = mkdtempSync(join(tmpdir(), 'gatehouse-bridge-home-'));
    const wrote = await gatehouse.admin(['clients', 'connect', 'claude-desktop', 'everything', '--yes'], { HOME: home, XDG_CONFIG_HOME: '', GATEHOUSE_PORT: String(port) });
    log('clients connect claude-desktop:', wrote.code, wrote.stdout.trim(), wrote.stderr.trim());
    let fromConfig;
    try {
      const config = JSON.parse(readFileSync(join(home, '.config', 'Claude', 'claude_desktop_config.json'), 'utf8'));
      const entry = config.mcpServers.everything;
      const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...gatehouse.env }, stderr: 'pipe' });
      const client = new Client({ name: 'Claude Desktop', version: '0.1.0' });
      await client.connect(transport);
      fromConfig = text(await client.callTool({ name: 'echo', arguments: { message: 'from the config' } }));
      await client.close();
    } catch (error) {
      fromConfig = `error: ${message(error)}`;
    }
    rmSync(home, { recursive: true, force: true });
    emit({ check: 'claude-desktop-config', ok: true, echo: fromConfig });

    // The Claude Desktop extension bundle: written by `gatehoused mcpb`, unpacked and validated by
    // the MCPB project's own CLI (@anthropic-ai/mcpb), started from its manifest's mcp_config with
    // the connection filled in as the install dialog would.
    const work = mkdtempSync(join(tmpdir(), 'gatehouse-mcpb-'));
    let bundle;
    try {
      const out = join(work, 'gatehouse.mcpb');
      const wroteBundle = await gatehouse.admin(['mcpb', '--out', out]);
      const mcpbCli = join(here, '..', '..', 'node_modules', '.bin', 'mcpb');
      const unpack = spawnSync(mcpbCli, ['unpack', out, join(work, 'unpacked')], { encoding: 'utf8' });
      const validate = spawnSync(mcpbCli, ['validate', join(work, 'unpacked', 'manifest.json')], { encoding: 'utf8' });
      const manifest = JSON.parse(readFileSync(join(work, 'unpacked', 'manifest.json'), 'utf8'));
      const fill = (v) => v.replaceAll('${__dirname}', join(work, 'unpacked')).replaceAll('${user_config.connection}', 'everything');
      const config = manifest.server.mcp_config;
      const transport = new StdioClientTransport({
        command: fill(config.command),
        args: config.args.map(fill),
        env: { ...gatehouse.env, GATEHOUSE_DATA_DIR: gatehouse.dataDir, GATEHOUSE_PORT: String(port) },
        stderr: 'pipe',
      });
      const client = new Client({ name: 'Claude Desktop', version: '0.1.0' });
      await client.connect(transport);
      const echo = text(await client.callTool({ name: 'echo', arguments: { message: 'from the bundle' } }));
      await client.close();
      bundle = { written: wroteBundle.code, unpacked: unpack.status, valid: validate.status === 0 && validate.stdout.includes('passes'), echo };
    } catch (error) {
      bundle = { error: message(error) };
    }
    rmSync(work, { recursive: true, force: true });
    emit({ check: 'mcpb', ok: !bundle.error, ...bundle });

    // No gateway at all: a fresh data directory and a port nobody listens on.
    const lonely = new Gatehouse(process.env.GATEHOUSED);
    // Nothing to start either (an installation would start the app beside gatehoused).
    lonely.env.GATEHOUSE_APP = '';
    const closedPort = port === 1 ? 2 : 1;
    const { client, transport } = bridgeClient(lonely, closedPort, 'Claude Desktop');
    let down;
    try {
      await client.connect(transport);
      down = 'connected?';
    } catch (error) {
      down = message(error);
    }
    const pid = transport.pid;
    await client.close().catch(() => {});
    // Its stdin closed, the bridge exits (nothing may keep it, or stdout, alive).
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const until = Date.now() + 15_000; Date.now() < until && alive(); ) await sleep(100);
    const exited = !alive();
    if (!exited) process.kill(pid, 'SIGKILL');
    lonely.stop();
    emit({ check: 'not-running', ok: true, error: down, exited });
  } finally {
    gatehouse.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    log('harness failed:', error?.stack ?? error);
    process.exit(1);
  },
);
