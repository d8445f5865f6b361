#!/usr/bin/env node
// The conformance suite's *server* scenarios against one MCP server twice in the same run: directly,
// and through Gatehouse (the server added as an open connection, the runner's requests carrying a
// token Gatehouse issued to an approved local client, see bearer-preload.mjs). The two result trees
// are written under <out>/direct and <out>/gateway for the caller to compare.
//
//   GATEHOUSED=<path> node server-through-gatehouse.mjs <upstream-mcp-url> <out>
//
// Must run under Node 22 (the runner needs it); the runner is this package's pinned
// @modelcontextprotocol/conformance. Exit code 0 when both runs finished (whatever they found).

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Gatehouse, log } from './gatehouse.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const runner = join(here, '../../node_modules/@modelcontextprotocol/conformance/dist/index.js');
const [upstream, out] = process.argv.slice(2);

const runSuite = (url, dir, env = process.env) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [runner, 'server', '--url', url, '-o', dir], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('exit', (code) => resolve(code));
  });

const house = new Gatehouse(process.env.GATEHOUSED);
let code = 0;
try {
  if (!upstream || !out) throw new Error('usage: server-through-gatehouse.mjs <upstream-mcp-url> <out>');
  await house.start();
  await house.addConnection(upstream);
  const client = await house.localClient();
  const bearer = client.tokens()?.access_token;
  if (!bearer) throw new Error('the local client has no access token');
  await client.close();
  log('direct:', upstream);
  await runSuite(upstream, join(out, 'direct'));
  log('through Gatehouse:', `${house.base}/mcp/up`);
  await runSuite(`${house.base}/mcp/up`, join(out, 'gateway'), {
    ...process.env,
    NODE_OPTIONS: `--import ${pathToFileURL(join(here, 'bearer-preload.mjs')).href}`,
    GATEHOUSE_ORIGIN: house.base,
    GATEHOUSE_BEARER: bearer,
  });
} catch (error) {
  log('failed:', error?.stack ?? error);
  code = 1;
}
house.stop();
process.exit(code);
