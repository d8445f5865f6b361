#!/usr/bin/env node
// Every pairing of the two MCP protocol eras through Gatehouse, with the official TypeScript SDKs on
// both sides:
//
//   GATEHOUSED=<path> node pairings.mjs <legacy-upstream-mcp-url>
//
// - legacy era (2025-11-25: `initialize`, sessions): the v1 SDK client `@modelcontextprotocol/sdk`,
//   and the upstream given on the command line (server-everything);
// - modern era (2026-07-28: stateless, `server/discover`, the per-request `_meta` envelope): the v2
//   SDK client `@modelcontextprotocol/client` pinned to 2026-07-28 (it fails rather than fall back),
//   and a modern-only server on `@modelcontextprotocol/server` started here (modern-server.mjs).
//
// Gatehouse (a fresh data directory, gatehouse.mjs) gets two connections, `legacy` and `modern`, and
// issues one access token per connection to an approved local client. Then each of the four clients
// × upstreams pairings connects with that token as a plain bearer, lists the tools and calls `echo`;
// one JSON line per pairing on stdout:
//
//   {"pairing":"legacy-client/modern-upstream","ok":true,"era":…,"protocolVersion":…,"sessionId":…,
//    "serverName":…,"tools":[…],"echo":"Echo: …"}   or   {"pairing":…,"ok":false,"error":"…"}
//
// and one per raw check: a hand-written `server/discover` to /mcp/legacy and a hand-written
// 2025-11-25 `initialize` to /mcp/modern ({"check":"discover"|"initialize",…}). The token steps print
// {"token":<slug>,…}. Exit code 0 when the run got to the end, whatever the pairings found; 1 when
// the harness itself failed. Logs on stderr, prefixed `[eras]`.

import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Client as ClientV2, StreamableHTTPClientTransport as TransportV2 } from '@modelcontextprotocol/client';
import { Gatehouse } from '../conformance/gatehouse.mjs';
import { startModernServer } from './modern-server.mjs';

const MODERN = '2026-07-28';
const LEGACY = '2025-11-25';
const STEP_TIMEOUT_MS = 30_000;

const log = (...parts) => process.stderr.write(`[eras] ${parts.join(' ')}\n`);
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const message = (error) => String(error?.message ?? error);

/** Rejects with a timeout error when `promise` takes longer than `ms`. */
function within(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The two kinds of client: how each is built and how it reports the era it ended up in. */
const clients = {
  // The v1 SDK only knows the `initialize` handshake; the era is read off the negotiated version.
  legacy: {
    make: (url, bearer) => ({
      client: new ClientV1({ name: 'gatehouse-eras-v1-client', version: '0.1.0' }),
      transport: new TransportV1(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }),
    }),
    describe: (client, transport) => {
      const protocolVersion = transport.protocolVersion ?? null;
      return { era: protocolVersion && protocolVersion >= MODERN ? 'modern' : 'legacy', protocolVersion };
    },
  },
  // The v2 SDK pinned to 2026-07-28: `server/discover` must offer it, no fallback to `initialize`.
  modern: {
    make: (url, bearer) => ({
      client: new ClientV2({ name: 'gatehouse-eras-v2-client', version: '0.1.0' }, { versionNegotiation: { mode: { pin: MODERN } } }),
      transport: new TransportV2(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${bearer}` } } }),
    }),
    describe: (client) => ({ era: client.getProtocolEra() ?? null, protocolVersion: client.getNegotiatedProtocolVersion() ?? null }),
  },
};

/** One pairing: connect, tools/list (must list `echo`), tools/call `echo`. */
async function pairing(house, clientEra, upstreamEra, bearer) {
  const name = `${clientEra}-client/${upstreamEra}-upstream`;
  const url = `${house.base}/mcp/${upstreamEra}`;
  if (!bearer) return { pairing: name, ok: false, error: `no Gatehouse access token for /mcp/${upstreamEra}` };
  const kind = clients[clientEra];
  const { client, transport } = kind.make(url, bearer);
  try {
    log(name, 'connecting to', url);
    await within(client.connect(transport), `${name} connect`);
    const { era, protocolVersion } = kind.describe(client, transport);
    const sessionId = transport.sessionId ?? null;
    const serverName = client.getServerVersion()?.name ?? null;
    log(name, 'connected:', `era=${era}`, `version=${protocolVersion}`, `session=${sessionId}`, `server=${serverName}`);
    const { tools } = await within(client.listTools(), `${name} tools/list`);
    const names = tools.map((t) => t.name);
    if (!names.includes('echo')) throw new Error(`tools/list has no echo: ${names.join(', ')}`);
    const sent = `${name} ${Math.random().toString(36).slice(2)}`;
    const result = await within(client.callTool({ name: 'echo', arguments: { message: sent } }), `${name} tools/call echo`);
    const echo = result.content?.find((c) => c.type === 'text')?.text ?? null;
    log(name, 'tools/call echo:', JSON.stringify(echo));
    // The modern server's `where` takes its arguments as Mcp-Param-* headers too (non-ASCII: the
    // Base64 form); whoever is the HTTP client of that server must send them right.
    let where = null;
    if (names.includes('where')) {
      const called = await within(client.callTool({ name: 'where', arguments: { region: 'Zürich-1', count: 3 } }), `${name} tools/call where`);
      where = called.isError ? `error: ${JSON.stringify(called.content)}` : (called.content?.find((c) => c.type === 'text')?.text ?? null);
      log(name, 'tools/call where:', JSON.stringify(where));
    }
    return { pairing: name, ok: true, era, protocolVersion, sessionId, serverName, tools: names, sent, echo, where, isError: result.isError ?? false };
  } catch (error) {
    log(name, 'failed:', error?.stack ?? error);
    return { pairing: name, ok: false, error: message(error) };
  } finally {
    await within(client.close(), `${name} close`, 5_000).catch((error) => log(name, 'close:', message(error)));
  }
}

/** The JSON-RPC response to request `id` in a JSON or `text/event-stream` body. */
function jsonRpcResponse(contentType, text, id) {
  if (!contentType.includes('text/event-stream')) return text ? JSON.parse(text) : null;
  const messages = [];
  for (const event of text.split(/\r?\n\r?\n/)) {
    const data = event
      .split(/\r?\n/)
      .filter((l) => l.startsWith('data:'))
      .map((l) => l.slice(5).replace(/^ /, ''))
      .join('\n');
    if (data) messages.push(JSON.parse(data));
  }
  return messages.find((m) => m.id === id && ('result' in m || 'error' in m)) ?? null;
}

/** POSTs one JSON-RPC request with `headers`; resolves with status, headers and the response message. */
async function post(url, headers, body) {
  const response = await within(
    fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers }, body: JSON.stringify(body) }),
    `POST ${body.method}`,
  );
  const contentType = response.headers.get('content-type') ?? '';
  const text = await within(response.text(), `POST ${body.method} body`);
  let reply = null;
  let parseError;
  try {
    reply = jsonRpcResponse(contentType, text, body.id);
  } catch (error) {
    parseError = `unparsable body (${contentType}): ${text.slice(0, 500)}`;
  }
  return { status: response.status, sessionId: response.headers.get('mcp-session-id'), contentType, reply, parseError, text };
}

/** (a) A hand-written 2026-07-28 `server/discover` to the legacy upstream's endpoint. */
async function discoverCheck(house, bearer) {
  const url = `${house.base}/mcp/legacy`;
  if (!bearer) return { check: 'discover', ok: false, error: 'no Gatehouse access token for /mcp/legacy' };
  try {
    const got = await post(
      url,
      { Authorization: `Bearer ${bearer}`, 'MCP-Protocol-Version': MODERN, 'Mcp-Method': 'server/discover' },
      {
        jsonrpc: '2.0',
        id: 1,
        method: 'server/discover',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN,
            'io.modelcontextprotocol/clientInfo': { name: 'gatehouse-eras-raw-discover', version: '0.1.0' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      },
    );
    log('server/discover → /mcp/legacy:', got.status, got.contentType, got.text.slice(0, 500));
    return {
      check: 'discover',
      ok: true,
      status: got.status,
      sessionIdHeader: got.sessionId !== null,
      result: got.reply?.result ?? null,
      error: got.reply?.error ?? got.parseError ?? null,
    };
  } catch (error) {
    log('server/discover failed:', error?.stack ?? error);
    return { check: 'discover', ok: false, error: message(error) };
  }
}

/** (b) A hand-written 2025-11-25 `initialize` to the modern upstream's endpoint. */
async function initializeCheck(house, bearer) {
  const url = `${house.base}/mcp/modern`;
  if (!bearer) return { check: 'initialize', ok: false, error: 'no Gatehouse access token for /mcp/modern' };
  try {
    const auth = { Authorization: `Bearer ${bearer}` };
    const got = await post(url, auth, {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'gatehouse-eras-raw-initialize', version: '0.1.0' } },
    });
    log('initialize → /mcp/modern:', got.status, got.contentType, `session=${got.sessionId}`, got.text.slice(0, 500));
    if (got.sessionId) {
      // Ends the session it opened (streamable-http §Session Management); the answer does not matter.
      const ended = await within(fetch(url, { method: 'DELETE', headers: { ...auth, 'Mcp-Session-Id': got.sessionId, 'MCP-Protocol-Version': LEGACY } }), 'DELETE session').catch((e) => e);
      log('DELETE session:', ended?.status ?? message(ended));
    }
    const result = got.reply?.result;
    return {
      check: 'initialize',
      ok: true,
      status: got.status,
      sessionId: got.sessionId,
      protocolVersion: result?.protocolVersion ?? null,
      serverName: result?.serverInfo?.name ?? null,
      error: got.reply?.error ?? got.parseError ?? null,
    };
  } catch (error) {
    log('initialize failed:', error?.stack ?? error);
    return { check: 'initialize', ok: false, error: message(error) };
  }
}

/** An access token Gatehouse issues for /mcp/<slug> to an approved local client. */
async function token(house, slug) {
  const name = `Eras harness ${slug}`;
  try {
    const client = await house.localClient({ slug, name });
    const bearer = client.tokens()?.access_token;
    await within(client.close(), `${slug} local client close`, 5_000).catch(() => {});
    emit({ token: slug, ok: Boolean(bearer), connected: true });
    return bearer;
  } catch (error) {
    // Authorized but the local (v1) client's own connect failed: the token is still Gatehouse's.
    const bearer = error?.tokens?.access_token;
    log(`local client on /mcp/${slug}:`, bearer ? 'authorized, but its connect failed:' : 'failed:', error?.stack ?? error);
    emit({ token: slug, ok: Boolean(bearer), connected: false, error: message(error) });
    return bearer;
  }
}

async function main(legacyUrl) {
  const modern = await startModernServer({ log: (line) => log('modern server:', line) });
  log('modern upstream at', modern.url, '; legacy upstream at', legacyUrl);
  const house = new Gatehouse(process.env.GATEHOUSED);
  try {
    await house.start();
    log('gateway at', house.base);
    await house.addConnection(legacyUrl, { slug: 'legacy' });
    await house.addConnection(modern.url, { slug: 'modern' });
    const bearers = { legacy: await token(house, 'legacy'), modern: await token(house, 'modern') };
    for (const clientEra of ['legacy', 'modern']) {
      for (const upstreamEra of ['legacy', 'modern']) {
        emit(await pairing(house, clientEra, upstreamEra, bearers[upstreamEra]));
      }
    }
    emit(await discoverCheck(house, bearers.legacy));
    emit(await initializeCheck(house, bearers.modern));
  } finally {
    house.stop();
    await modern.close().catch((error) => log('closing the modern server:', message(error)));
  }
}

let code = 0;
try {
  const legacyUrl = process.argv[2];
  if (!legacyUrl) throw new Error('usage: GATEHOUSED=<path> node pairings.mjs <legacy-upstream-mcp-url>');
  await main(legacyUrl);
  log('done');
} catch (error) {
  log('harness failed:', error?.stack ?? error);
  code = 1;
}
process.exit(code);
