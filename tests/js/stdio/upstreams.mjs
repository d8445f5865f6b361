#!/usr/bin/env node
// Local stdio MCP servers as Gatehouse upstreams, with the real programs:
//
//   GATEHOUSED=<path> node upstreams.mjs
//
// Gatehouse (a fresh data directory, `gatehoused serve` with GATEHOUSE_STDIO_IDLE_SECS=3) gets two
// connections that are commands, added with `connections add … -- COMMAND ARGS`:
//
// - `everything`: the reference server `@modelcontextprotocol/server-everything` over stdio, with
//   `--env EVERYTHING_API_KEY` (the value taken from the CLI's environment, sealed in the store);
// - `files`: `@modelcontextprotocol/server-filesystem` on a temporary directory holding notes.txt.
//
// Then the official SDK clients reach them through Gatehouse with tokens Gatehouse issued: the v1
// client (2025-11-25 sessions) on both, the v2 client (2026-07-28) on `everything`. One JSON line per
// check on stdout ({"check":…,"ok":…,…}); logs on stderr prefixed `[stdio]`. Exit 0 when the run got to
// the end, 1 when the harness itself failed.

import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Gatehouse } from '../conformance/gatehouse.mjs';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const log = (...parts) => process.stderr.write(`[stdio] ${parts.join(' ')}\n`);
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const message = (error) => String(error?.message ?? error);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const SECRET = 'sk-stdio-canary-5a7c19';
const IMPORTED_SECRET = 'sk-imported-canary-90d2e1';
const GATEHOUSE_ONLY = 'GATEHOUSE_STDIO_E2E_NOT_FOR_CHILDREN';
const everythingJs = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');
const everythingCmd = `${everythingJs} stdio`;
const filesystemJs = join(dirname(require.resolve('@modelcontextprotocol/server-filesystem/package.json')), 'dist', 'index.js');

/** The pids of processes whose command line contains `needle` (Linux /proc). */
function pidsOf(needle) {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(needle);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function until(what, test, ms = 15_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await test()) return true;
    await sleep(100);
  }
  log(`gave up waiting for ${what}`);
  return false;
}

function text(result) {
  return (result?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
}

async function check(name, run) {
  try {
    const line = await run();
    emit({ check: name, ok: true, ...line });
  } catch (error) {
    emit({ check: name, ok: false, error: message(error) });
  }
}

async function main() {
  const gatehouse = new Gatehouse(process.env.GATEHOUSED);
  gatehouse.env.GATEHOUSE_STDIO_IDLE_SECS = '3';
  gatehouse.env[GATEHOUSE_ONLY] = 'yes';
  const notes = mkdtempSync(join(tmpdir(), 'gatehouse-stdio-notes-'));
  writeFileSync(join(notes, 'notes.txt'), 'Milk, eggs, Zürich maps.\n');
  try {
    await gatehouse.start();
    const added = await gatehouse.admin(
      ['connections', 'add', '--slug', 'everything', '--name', 'Everything (stdio)', '--env', 'EVERYTHING_API_KEY', '--', process.execPath, everythingJs, 'stdio'],
      { EVERYTHING_API_KEY: SECRET },
    );
    log('connections add everything:', added.code, added.stdout.trim(), added.stderr.trim());
    const addedFiles = await gatehouse.admin(['connections', 'add', '--slug', 'files', '--name', 'Notes (stdio)', '--cwd', notes, '--', process.execPath, filesystemJs, notes]);
    log('connections add files:', addedFiles.code, addedFiles.stdout.trim(), addedFiles.stderr.trim());
    emit({ check: 'added', ok: added.code === 0 && addedFiles.code === 0, stdout: added.stdout.trim() });
    const listed = await gatehouse.admin(['connections', 'list', '--json']);
    emit({ check: 'listed', ok: true, secretInList: listed.stdout.includes(SECRET), stdio: JSON.parse(listed.stdout).map((c) => c.transport) });

    const everything = await gatehouse.localClient({ slug: 'everything', name: 'Stdio harness everything' });
    const files = await gatehouse.localClient({ slug: 'files', name: 'Stdio harness files' });

    await check('everything-v1', async () => {
      const tools = (await everything.listTools()).tools.map((t) => t.name);
      const echo = text(await everything.callTool({ name: 'echo', arguments: { message: 'through stdio' } }));
      const env = JSON.parse(text(await everything.callTool({ name: 'get-env', arguments: {} })));
      return {
        serverName: everything.getServerVersion()?.name,
        tools: tools.length,
        echo,
        keyReached: env.EVERYTHING_API_KEY === SECRET,
        gatehouseEnvLeaked: GATEHOUSE_ONLY in env,
        pids: pidsOf(everythingCmd).length,
      };
    });

    await check('files-v1', async () => {
      const tools = (await files.listTools()).tools.map((t) => t.name);
      const read = text(await files.callTool({ name: 'read_text_file', arguments: { path: join(notes, 'notes.txt') } }));
      return { tools: tools.includes('read_text_file'), read };
    });

    await check('everything-v2', async () => {
      const bearer = everything.tokens()?.access_token;
      const client = new ClientV2({ name: 'gatehouse-stdio-v2-client', version: '0.1.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
      await client.connect(new TransportV2(new URL(`${gatehouse.base}/mcp/everything`), { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }));
      const echo = text(await client.callTool({ name: 'echo', arguments: { message: 'modern through stdio' } }));
      const protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
      await client.close();
      return { echo, protocolVersion };
    });

    // kill -9 of the server in the middle of a call: the client gets a JSON-RPC error, the next call works.
    await check('crash', async () => {
      const before = pidsOf(everythingCmd);
      const slow = everything.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 20, steps: 20 } }).then(
        (r) => ({ answered: true, isError: r.isError ?? false }),
        (e) => ({ answered: false, error: message(e), code: e?.code ?? null }),
      );
      await sleep(1000);
      for (const pid of before) process.kill(pid, 'SIGKILL');
      const outcome = await Promise.race([slow, sleep(15_000).then(() => ({ answered: null, error: 'no answer within 15 s' }))]);
      const echo = text(await everything.callTool({ name: 'echo', arguments: { message: 'after the crash' } }));
      const after = pidsOf(everythingCmd);
      return { killed: before.length, outcome, echo, restarted: after.length === 1 && !before.includes(after[0]) };
    });

    // No request for longer than the idle time: the process is stopped; the next call starts it.
    await check('idle', async () => {
      const running = pidsOf(everythingCmd).length;
      const stopped = await until('the idle stop', () => pidsOf(everythingCmd).length === 0, 15_000);
      const echo = text(await everything.callTool({ name: 'echo', arguments: { message: 'after idle' } }));
      return { running, stopped, echo, startedAgain: pidsOf(everythingCmd).length === 1 };
    });

    const logs = join(gatehouse.dataDir, 'logs', 'stdio');
    const logText = existsSync(logs) ? readdirSync(logs).map((f) => readFileSync(join(logs, f), 'utf8')).join('\n') : '';
    emit({ check: 'log', ok: true, hasLines: logText.includes('[gatehouse] started'), secretInLog: logText.includes(SECRET), idleNoted: logText.includes('idle: stopping') });

    // mcp-remote (pinned), as Claude Desktop or Cursor run it, on the stdio upstream: sign-in with
    // consent, tools, resources, prompts, a refresh; then the grant is revoked and the next call
    // fails with an auth error, as for an HTTP upstream.
    await check('mcp-remote', async () => {
      const configDir = mkdtempSync(join(tmpdir(), 'gatehouse-stdio-mcp-remote-'));
      const child = spawn(process.execPath, [join(here, '..', 'mcp-remote-client.mjs'), `${gatehouse.base}/mcp/everything`, '--config-dir', configDir], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '' },
      });
      const steps = {};
      let ready;
      const isReady = new Promise((resolve) => (ready = resolve));
      let finished;
      const done = new Promise((resolve) => (finished = resolve));
      createInterface({ input: child.stdout }).on('line', async (line) => {
        if (line.startsWith('AUTHORIZE ')) {
          await fetch(line.slice('AUTHORIZE '.length)).catch(() => {});
          const pending = JSON.parse((await gatehouse.admin(['requests', 'list', '--json'])).stdout || '[]');
          for (const r of pending.filter((p) => p.connection_slug === 'everything')) {
            await gatehouse.admin(['requests', 'approve', r.id, '--port', gatehouse.port]);
          }
        } else if (line === 'READY') ready();
        else if (line === 'DONE') finished();
        else {
          try {
            const step = JSON.parse(line);
            steps[step.step] = step;
          } catch {}
        }
      });
      child.stderr.on('data', () => {});
      const outcome = await Promise.race([isReady.then(() => 'ready'), new Promise((r) => child.once('exit', () => r('exited'))), sleep(120_000).then(() => 'timeout')]);
      if (outcome === 'ready') {
        const grants = JSON.parse((await gatehouse.admin(['grants', 'list', '--json'])).stdout || '[]');
        const mine = grants.filter((g) => g.connection_slug === 'everything' && !(g.client_name ?? '').startsWith('Stdio harness'));
        await gatehouse.admin(['grants', 'revoke', ...mine.map((g) => g.id)]);
        child.stdin.write('CALL\n');
        await Promise.race([done, sleep(40_000)]);
      }
      child.kill();
      execFileSync('rm', ['-rf', configDir]);
      return {
        outcome,
        echo: steps.callTool?.text ?? null,
        resource: Boolean(steps.readResource?.uri),
        prompt: steps.getPrompt?.messages ?? null,
        refreshed: Boolean(steps.refresh),
        afterRevoke: steps.call ? { ok: steps.call.ok, authError: steps.call.auth_error } : null,
      };
    });

    // Import: a Cursor config in a temporary HOME starts server-everything with an API key in
    // plain text; `clients import` moves the server behind Gatehouse and the key into its store.
    await check('import', async () => {
      const home = mkdtempSync(join(tmpdir(), 'gatehouse-import-home-'));
      const cursor = join(home, '.cursor', 'mcp.json');
      mkdirSync(dirname(cursor), { recursive: true });
      writeFileSync(cursor, JSON.stringify({ mcpServers: { 'Everything Local': { command: process.execPath, args: [everythingJs, 'stdio'], env: { IMPORTED_API_KEY: IMPORTED_SECRET } } } }, null, 2));
      const imported = await gatehouse.admin(['clients', 'import', 'cursor', 'Everything Local', '--yes'], { HOME: home, GATEHOUSE_PORT: gatehouse.port });
      log('clients import:', imported.code, imported.stdout.trim(), imported.stderr.trim());
      const after = readFileSync(cursor, 'utf8');
      const backups = readdirSync(dirname(cursor)).filter((f) => f.includes('gatehouse-backup'));
      const client = await gatehouse.localClient({ slug: 'everything-local', name: 'Stdio harness import' });
      const env = JSON.parse(text(await client.callTool({ name: 'get-env', arguments: {} })));
      await client.close();
      execFileSync('rm', ['-rf', home]);
      return {
        exit: imported.code,
        keyLeftInConfig: after.includes(IMPORTED_SECRET),
        pointsAtGatehouse: after.includes(`${gatehouse.base}/mcp/everything-local`),
        backups: backups.length,
        keyReached: env.IMPORTED_API_KEY === IMPORTED_SECRET,
      };
    });

    await everything.close();
    await files.close();
    await gatehouse.stopGracefully?.();
  } finally {
    gatehouse.gateway?.kill('SIGTERM');
    await sleep(500);
    emit({ check: 'quit', ok: true, leftAfterQuit: await until('the children to go', () => pidsOf(everythingCmd).length + pidsOf(filesystemJs).length === 0, 10_000) ? 0 : pidsOf(everythingCmd).length + pidsOf(filesystemJs).length });
    gatehouse.stop();
    try {
      execFileSync('rm', ['-rf', notes]);
    } catch {}
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    log('harness failed:', error?.stack ?? error);
    process.exit(1);
  },
);
