#!/usr/bin/env node
// A real OAuth-protected MCP server built with the official TypeScript SDK (McpServer +
// StreamableHTTPServerTransport, stateful sessions, Express app from createMcpExpressApp), guarding
// `/mcp` with the SDK's requireBearerAuth and serving its RFC 9728 metadata with mcpAuthMetadataRouter.
// Tokens are checked by RFC 7662 introspection at the authorization server (so a revocation there takes
// effect on the next request) and must be active and issued for this server's resource (`aud`).
//
//   node mcp-server.mjs --issuer http://127.0.0.1:ASPORT [--port N]
//
// Prints `MCP_READY <url>` (url = http://127.0.0.1:<port>/mcp). Tools:
//   whoami  -> text JSON {"sub":...,"email":...,"client_id":...}
//   echo    -> "Echo: <message>"
// stdout also gets `AUTH ok|rejected <reason>` per checked request (never a token value).

import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { mcpAuthMetadataRouter, getOAuthProtectedResourceMetadataUrl } from '@modelcontextprotocol/sdk/server/auth/router.js';
import { InvalidTokenError } from '@modelcontextprotocol/sdk/server/auth/errors.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const INTROSPECTION_CLIENT_ID = 'mcp-resource-server';
const INTROSPECTION_CLIENT_SECRET = 'introspection-secret-for-the-e2e-tests-only';

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : fallback;
};
const issuer = opt('issuer');
if (!issuer) {
  process.stderr.write('usage: mcp-server.mjs --issuer URL [--port N]\n');
  process.exit(2);
}
const port = Number(opt('port', '0'));
const out = (line) => process.stdout.write(`${line}\n`);

// The AS's metadata (oidc-provider serves OpenID discovery only).
const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
if (!discovery.ok) throw new Error(`discovery at ${issuer}: HTTP ${discovery.status}`);
const asMetadata = await discovery.json();

const app = createMcpExpressApp({ host: '127.0.0.1' });
const httpServer = await new Promise((resolve, reject) => {
  const s = app.listen(port, '127.0.0.1', () => resolve(s));
  s.once('error', reject);
});
const mcpUrl = new URL(`http://127.0.0.1:${httpServer.address().port}/mcp`);
const resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(mcpUrl);

app.use(
  mcpAuthMetadataRouter({
    oauthMetadata: asMetadata,
    resourceServerUrl: mcpUrl,
    scopesSupported: ['mcp'],
    resourceName: 'Gatehouse E2E upstream',
  }),
);

const verifier = {
  async verifyAccessToken(token) {
    const response = await fetch(asMetadata.introspection_endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${INTROSPECTION_CLIENT_ID}:${INTROSPECTION_CLIENT_SECRET}`).toString('base64')}`,
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    if (!response.ok) throw new Error(`introspection: HTTP ${response.status}`);
    const info = await response.json();
    if (!info.active) {
      out('AUTH rejected inactive');
      throw new InvalidTokenError('Token is not active');
    }
    if (info.token_type && info.token_type !== 'Bearer') {
      out('AUTH rejected not-an-access-token');
      throw new InvalidTokenError('Not an access token');
    }
    const audiences = Array.isArray(info.aud) ? info.aud : info.aud ? [info.aud] : [];
    out(`AUTH ok sub=${info.sub}`);
    return {
      token,
      clientId: info.client_id,
      scopes: (info.scope ?? '').split(' ').filter(Boolean),
      expiresAt: info.exp,
      resource: audiences[0] ? new URL(audiences[0]) : undefined,
      extra: { sub: info.sub, email: info.email ?? null, aud: audiences },
    };
  },
};
const auth = requireBearerAuth({ verifier, resourceMetadataUrl, expectedResource: mcpUrl });

function newServer() {
  const server = new McpServer({ name: 'gatehouse-e2e-upstream', version: '0.1.0' });
  server.registerTool(
    'whoami',
    { description: 'Who the access token was issued to', inputSchema: {} },
    async (_args, extra) => ({
      content: [
        {
          type: 'text',
          text: JSON.stringify({
            sub: extra.authInfo?.extra?.sub ?? null,
            email: extra.authInfo?.extra?.email ?? null,
            client_id: extra.authInfo?.clientId ?? null,
          }),
        },
      ],
    }),
  );
  server.registerTool(
    'echo',
    { description: 'Echoes the message', inputSchema: { message: z.string() } },
    async ({ message }) => ({ content: [{ type: 'text', text: `Echo: ${message}` }] }),
  );
  return server;
}

const transports = new Map(); // session id -> { transport, sub }

app.post('/mcp', auth, async (req, res) => {
  const sessionId = req.headers['mcp-session-id'];
  let entry = sessionId ? transports.get(sessionId) : undefined;
  if (sessionId && !entry) {
    res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
    return;
  }
  if (entry && entry.sub !== req.auth.extra.sub) {
    res.status(403).json({ jsonrpc: '2.0', error: { code: -32003, message: 'Session belongs to another subject' }, id: null });
    return;
  }
  if (!entry) {
    if (!isInitializeRequest(req.body)) {
      res.status(400).json({ jsonrpc: '2.0', error: { code: -32000, message: 'No session: initialize first' }, id: null });
      return;
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => transports.set(id, entry),
    });
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    entry = { transport, sub: req.auth.extra.sub };
    await newServer().connect(transport);
  }
  await entry.transport.handleRequest(req, res, req.body);
});

const sessionRequest = async (req, res) => {
  const entry = transports.get(req.headers['mcp-session-id']);
  if (!entry) {
    res.status(404).json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
    return;
  }
  await entry.transport.handleRequest(req, res);
};
app.get('/mcp', auth, sessionRequest);
app.delete('/mcp', auth, sessionRequest);

out(`MCP_READY ${mcpUrl.href}`);

const stop = () => httpServer.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
