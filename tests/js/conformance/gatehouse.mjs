// The steps a person takes with Gatehouse, replayed with the real programs for the conformance runs
// (gatehouse-client.mjs, server-through-gatehouse.mjs): `gatehoused serve` in a fresh data directory,
// `connections add` and `signin`, and a local MCP client (the official TypeScript SDK) authorized
// with Gatehouse, its consent answered with `gatehoused requests approve`.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';

const here = dirname(fileURLToPath(import.meta.url));
export const log = (...parts) => process.stderr.write(`[gatehouse] ${parts.join(' ')}\n`);

/** One `gatehoused` data directory and, once started, its gateway. */
export class Gatehouse {
  constructor(binary) {
    if (!binary) throw new Error('set GATEHOUSED to the gatehoused binary');
    this.binary = binary;
    this.dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-conformance-'));
    this.env = { ...process.env, GATEHOUSE_KEY_BACKEND: 'file' };
    delete this.env.GATEHOUSE_PORT;
    // The conformance runner's preload (bearer-preload.mjs) is for the runner only.
    delete this.env.NODE_OPTIONS;
  }

  /** `gatehoused --data-dir D <args>`: resolves with {code, stdout, stderr}. */
  admin(args, extraEnv = {}) {
    return new Promise((resolve) => {
      execFile(this.binary, ['--data-dir', this.dataDir, ...args], { env: { ...this.env, ...extraEnv }, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ code: error ? (error.code ?? 1) : 0, stdout, stderr }),
      );
    });
  }

  /** `gatehoused serve --port 0`; resolves once it printed its address. */
  start() {
    this.gateway = spawn(this.binary, ['--data-dir', this.dataDir, 'serve', '--port', '0'], { env: this.env, stdio: ['ignore', 'pipe', 'inherit'] });
    return new Promise((resolve, reject) => {
      let seen = '';
      this.gateway.stdout.on('data', (chunk) => {
        seen += chunk;
        const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(seen);
        if (m) {
          [this.base, this.port] = [m[1], m[2]];
          resolve(this);
        }
      });
      this.gateway.once('exit', (code) => reject(new Error(`gatehoused serve exited (${code}) before listening`)));
    });
  }

  stop() {
    this.gateway?.kill('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /**
   * `connections add --slug <slug> --url <url>` (slug `up` unless the options name another). A
   * pre-registered client ({client_id, client_secret}) is passed as the options say. When the refusal
   * tells the user to add `--legacy-oauth` (a 2025-03-26 server), that is what they do.
   */
  async addConnection(url, { client_id, client_secret, slug = 'up' } = {}) {
    const name = slug === 'up' ? 'Conformance server' : `Conformance server ${slug}`;
    const args = ['connections', 'add', '--slug', slug, '--name', name, '--url', url];
    const extraEnv = {};
    if (client_id) {
      args.push('--client-id', client_id);
      if (client_secret) {
        args.push('--client-secret-from-env', 'CONFORMANCE_CLIENT_SECRET');
        extraEnv.CONFORMANCE_CLIENT_SECRET = client_secret;
      }
    }
    let added = await this.admin(args, extraEnv);
    if (added.code !== 0 && added.stderr.includes('--legacy-oauth')) {
      log('the refusal names --legacy-oauth; adding with it as the message says');
      added = await this.admin([...args, '--legacy-oauth'], extraEnv);
    }
    log('connections add:', added.code, added.stdout.trim(), added.stderr.trim());
    if (added.code !== 0) throw new Error('connections add failed');
  }

  /** `settings client-metadata-url <url>`: where the person publishes Gatehouse's client metadata document. */
  async setClientMetadataUrl(url) {
    const saved = await this.admin(['settings', 'client-metadata-url', url]);
    log('settings client-metadata-url:', saved.code, saved.stdout.trim(), saved.stderr.trim());
    if (saved.code !== 0) throw new Error('settings client-metadata-url failed');
  }

  /** `connections signin up` with $BROWSER = browse.mjs (the suite's authorization servers approve at once). */
  async signIn() {
    const signedIn = await this.admin(['connections', 'signin', 'up', '--port', this.port, '--timeout', '30'], {
      BROWSER: join(here, 'browse.mjs'),
    });
    log('connections signin:', signedIn.code, signedIn.stdout.trim(), signedIn.stderr.trim());
    if (signedIn.code !== 0) throw new Error('connections signin failed');
  }

  /**
   * A connected SDK client on /mcp/<slug> (`up` unless the options name another), registered and
   * approved under the client name `name`, authorized with Gatehouse; `tokens()` gives its tokens.
   * Consent requests are told apart by client name, so each local client needs its own. When the
   * client is authorized but its final connect fails, the error thrown carries the tokens Gatehouse
   * issued as `error.tokens`.
   */
  async localClient({ slug = 'up', name = 'Conformance harness' } = {}) {
    const callback = await callbackServer();
    const data = {};
    let authorizeUrl;
    const provider = {
      get redirectUrl() { return callback.url; },
      get clientMetadata() {
        return { client_name: name, redirect_uris: [callback.url], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
      },
      state: () => (data.state = Math.random().toString(36).slice(2)),
      clientInformation: () => data.client,
      saveClientInformation: (info) => (data.client = info),
      tokens: () => data.tokens,
      saveTokens: (tokens) => (data.tokens = tokens),
      redirectToAuthorization: (url) => (authorizeUrl = url),
      saveCodeVerifier: (v) => (data.verifier = v),
      codeVerifier: () => data.verifier,
    };
    const mcpUrl = new URL(`${this.base}/mcp/${slug}`);
    const transport = () => new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
    const newClient = () => new Client({ name: 'gatehouse-conformance-harness', version: '0.1.0' });
    const connect = async () => {
      const client = newClient();
      await client.connect(transport());
      client.tokens = () => data.tokens;
      return client;
    };
    try {
      const client = await connect();
      callback.server.close();
      return client;
    } catch (error) {
      if (!(error instanceof UnauthorizedError) || !authorizeUrl) throw error;
    }
    const page = await fetch(authorizeUrl);
    log('GET /authorize:', page.status);
    const listed = await this.admin(['requests', 'list', '--json']);
    const request = JSON.parse(listed.stdout || '[]').find((r) => r.client_name === name);
    if (!request) throw new Error(`no consent request listed: ${listed.stdout} ${listed.stderr}`);
    const approved = await this.admin(['requests', 'approve', request.id, '--port', this.port, '--json']);
    log('requests approve:', approved.code, approved.stdout.trim());
    const params = await callback.delivered;
    callback.server.close();
    if (!params.code) throw new Error(`no code at the callback: ${JSON.stringify(params)}`);
    await transport().finishAuth(params.code);
    try {
      return await connect();
    } catch (error) {
      if (error && typeof error === 'object') error.tokens = data.tokens;
      throw error;
    }
  }
}

/** The local client's loopback redirect URI (RFC 8252 §7.3) and what comes back to it. */
async function callbackServer() {
  let deliver;
  const delivered = new Promise((resolve) => (deliver = resolve));
  const server = createServer((req, res) => {
    const params = Object.fromEntries(new URL(req.url, 'http://127.0.0.1').searchParams);
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    deliver(params);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, delivered, url: `http://127.0.0.1:${server.address().port}/callback` };
}
