#!/usr/bin/env node
// A deliberately small stand-in for Gatehouse's role 1 + proxy, used ONLY to prove that the client
// scripts' OAuth paths (register, authorize with a consent page, code exchange, 401 -> refresh,
// revoke -> auth error) work with the pinned clients before the real gateway exists. Not a reference
// for the real implementation: no CSRF, no validation beyond what the flow needs.
//
//   node stand-in-gateway.mjs <upstream-mcp-url>
// prints `listening on http://127.0.0.1:PORT`; the MCP endpoint is /mcp/everything.
// `POST /admin/revoke-all` revokes every token; `GET /admin/clients` lists registered client names.

import { createServer } from 'node:http';
import { randomBytes, createHash } from 'node:crypto';

const upstream = new URL(process.argv[2] ?? '');
const clients = new Map();
const codes = new Map();
const access = new Map();
const refresh = new Map();
const rand = () => randomBytes(16).toString('hex');
let base = '';

const body = (req) =>
  new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
  });
const json = (res, status, value, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(value));
};
const issue = (client_id) => {
  const a = rand();
  const r = rand();
  access.set(a, client_id);
  refresh.set(r, client_id);
  return { access_token: a, refresh_token: r, token_type: 'Bearer', expires_in: 3600 };
};

const server = createServer(async (req, res) => {
  const url = new URL(req.url, base);
  const p = url.pathname;
  if (p === '/.well-known/oauth-protected-resource/mcp/everything') {
    return json(res, 200, { resource: `${base}/mcp/everything`, authorization_servers: [base] });
  }
  if (p === '/.well-known/oauth-authorization-server') {
    return json(res, 200, {
      issuer: base,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      registration_endpoint: `${base}/register`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: ['none'],
    });
  }
  if (p === '/register' && req.method === 'POST') {
    const meta = JSON.parse((await body(req)).toString());
    const client = { ...meta, client_id: rand(), client_id_issued_at: Math.floor(Date.now() / 1000) };
    clients.set(client.client_id, client);
    return json(res, 201, client);
  }
  if (p === '/authorize' && req.method === 'GET') {
    const q = Object.fromEntries(url.searchParams);
    const client = clients.get(q.client_id);
    if (!client || !client.redirect_uris.includes(q.redirect_uri) || q.code_challenge_method !== 'S256') {
      res.writeHead(400).end('bad authorization request');
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'x-frame-options': 'DENY',
      'content-security-policy': "frame-ancestors 'none'",
    });
    res.end(`<!doctype html><title>Stand-in consent</title><p>Allow "${client.client_name}"?</p>
<form method="post" action="/authorize"><input type="hidden" name="q" value="${encodeURIComponent(JSON.stringify(q))}">
<button name="d" value="approve">Approve</button><button name="d" value="deny">Deny</button></form>`);
    return;
  }
  if (p === '/authorize' && req.method === 'POST') {
    const form = new URLSearchParams((await body(req)).toString());
    const q = JSON.parse(decodeURIComponent(form.get('q')));
    const target = new URL(q.redirect_uri);
    if (form.get('d') === 'approve') {
      const code = rand();
      codes.set(code, q);
      target.searchParams.set('code', code);
    } else target.searchParams.set('error', 'access_denied');
    if (q.state) target.searchParams.set('state', q.state);
    target.searchParams.set('iss', base);
    res.writeHead(303, { location: target.href }).end();
    return;
  }
  if (p === '/token' && req.method === 'POST') {
    const f = new URLSearchParams((await body(req)).toString());
    if (f.get('grant_type') === 'authorization_code') {
      const q = codes.get(f.get('code'));
      codes.delete(f.get('code'));
      const verifier = f.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (!q || challenge !== q.code_challenge) return json(res, 400, { error: 'invalid_grant' });
      return json(res, 200, issue(q.client_id));
    }
    if (f.get('grant_type') === 'refresh_token') {
      const client_id = refresh.get(f.get('refresh_token'));
      if (!client_id) return json(res, 400, { error: 'invalid_grant' });
      refresh.delete(f.get('refresh_token'));
      return json(res, 200, issue(client_id));
    }
    return json(res, 400, { error: 'unsupported_grant_type' });
  }
  if (p === '/admin/revoke-all' && req.method === 'POST') {
    access.clear();
    refresh.clear();
    return json(res, 200, { revoked: true });
  }
  if (p === '/admin/clients') return json(res, 200, [...clients.values()].map((c) => c.client_name));
  if (p === '/mcp/everything') {
    const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (!access.has(token)) {
      return json(res, 401, { error: 'invalid_token' }, {
        'www-authenticate': `Bearer error="invalid_token", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp/everything"`,
      });
    }
    const headers = {};
    for (const h of ['content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id']) {
      if (req.headers[h]) headers[h] = req.headers[h];
    }
    const payload = req.method === 'POST' ? await body(req) : undefined;
    const controller = new AbortController();
    res.on('close', () => controller.abort());
    try {
      const up = await fetch(upstream, { method: req.method, headers, body: payload, signal: controller.signal });
      const out = {};
      for (const h of ['content-type', 'mcp-session-id', 'mcp-protocol-version', 'cache-control']) {
        const v = up.headers.get(h);
        if (v) out[h] = v;
      }
      res.writeHead(up.status, out);
      if (up.body) for await (const chunk of up.body) res.write(chunk);
      res.end();
    } catch {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    }
    return;
  }
  res.writeHead(404).end();
});
server.listen(0, '127.0.0.1', () => {
  base = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(`listening on ${base}\n`);
});
