#!/usr/bin/env node
// A modern-only MCP server (protocol revision 2026-07-28: stateless, `server/discover`, the
// per-request `_meta` envelope) built on the official v2 TypeScript SDK, `@modelcontextprotocol/server`
// (pinned in tests/package.json). `createMcpHandler(factory, { legacy: 'reject' })` refuses every
// 2025-era request (an `initialize` gets the unsupported-protocol-version error), so anything that
// reaches its tool through an `initialize` session was bridged by something in between.
//
//   node modern-server.mjs      → prints `LISTENING http://127.0.0.1:<port>/mcp`, serves until killed
//
// or, as a module: `const { url, close } = await startModernServer()`.
//
// One tool, `echo` ({message: string} → text "Echo: <message>"), under the server name
// `gatehouse-e2e-modern-server`. The SDK's handler is web-standard (`fetch(Request) → Response`);
// the plain `node:http` server below turns each request into a `Request` and streams the
// `Response` (JSON or an SSE stream) back.

import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createMcpHandler, fromJsonSchema, hostHeaderValidationResponse, localhostAllowedHostnames, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';

export const SERVER_NAME = 'gatehouse-e2e-modern-server';

/** A fresh server instance for one request (the modern era is stateless). */
function serverFactory() {
  const server = new McpServer({ name: SERVER_NAME, version: '0.1.0' });
  server.registerTool(
    'echo',
    { description: 'Echoes back the input', inputSchema: z.object({ message: z.string().describe('Message to echo') }) },
    async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
  );
  // Two parameters mirrored into headers (2026-07-28 Streamable HTTP §Custom Headers from Tool
  // Parameters): the SDK refuses a call whose Mcp-Param-Region / Mcp-Param-Count headers are
  // missing or disagree with the arguments (-32020).
  server.registerTool(
    'where',
    {
      description: 'Says which region it ran in',
      inputSchema: fromJsonSchema({
        type: 'object',
        properties: {
          region: { type: 'string', 'x-mcp-header': 'Region' },
          count: { type: 'integer', 'x-mcp-header': 'Count' },
        },
        required: ['region'],
      }),
    },
    async ({ region, count }) => ({ content: [{ type: 'text', text: `Region: ${region} x${count ?? 1}` }] }),
  );
  return server;
}

/** The incoming Node request as a web `Request` (body read up front; aborted when the client goes). */
async function toRequest(req, signal) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) value.forEach((v) => headers.append(name, v));
    else if (value !== undefined) headers.set(name, value);
  }
  let body;
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    body = Buffer.concat(chunks);
  }
  return new Request(new URL(req.url, `http://${req.headers.host ?? '127.0.0.1'}`), { method: req.method, headers, body, signal });
}

/** Writes a web `Response` to the Node response, streaming its body chunk by chunk. */
async function sendResponse(response, res) {
  const headers = {};
  response.headers.forEach((value, name) => {
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  });
  res.writeHead(response.status, headers);
  res.flushHeaders();
  if (response.body) {
    for await (const chunk of response.body) res.write(chunk);
  }
  res.end();
}

/** Starts the server on 127.0.0.1 and a free port; resolves with its MCP URL and `close()`. */
export async function startModernServer({ log = () => {} } = {}) {
  const handler = createMcpHandler(serverFactory, {
    legacy: 'reject',
    onerror: (error) => log(`handler: ${error?.message ?? error}`),
  });
  const http = createServer(async (req, res) => {
    const aborted = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) aborted.abort();
    });
    try {
      const url = new URL(req.url, 'http://127.0.0.1');
      if (url.pathname !== '/mcp') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      const request = await toRequest(req, aborted.signal);
      const response = hostHeaderValidationResponse(request, localhostAllowedHostnames()) ?? (await handler.fetch(request));
      log(`${req.method} ${url.pathname} ${req.headers['mcp-method'] ?? ''} → ${response.status}`);
      await sendResponse(response, res);
    } catch (error) {
      log(`serving ${req.method} ${req.url} failed: ${error?.stack ?? error}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    }
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${http.address().port}/mcp`;
  const close = async () => {
    await handler.close();
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  };
  return { url, close };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const log = (line) => process.stderr.write(`[modern-server] ${line}\n`);
  const { url, close } = await startModernServer({ log });
  process.stdout.write(`LISTENING ${url}\n`);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => close().finally(() => process.exit(0)));
  }
}
