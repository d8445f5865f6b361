#!/usr/bin/env node
// Gatehouse as the *client under test* of the official MCP conformance suite
// (@modelcontextprotocol/conformance, `conformance client --command "node gatehouse-client.mjs"`).
//
//   GATEHOUSED=<path> node gatehouse-client.mjs <conformance-server-mcp-url>
//
// The suite starts an MCP server (and its authorization server) for one scenario and runs this script
// with the server's URL. A person's whole path through Gatehouse is replayed with the real programs
// (gatehouse.mjs): serve, `connections add` (detection and discovery: RFC 9728, RFC 8414, or the
// 2025-03-26 fallback when the refusal says to), `connections signin`, a local SDK client approved
// with `gatehoused requests approve`, then through Gatehouse initialize, tools/list and tools/call
// `test-tool`. When the call says the upstream needs a new sign-in (a step-up after 403
// insufficient_scope), sign in again and retry, as the person told so would, at most 3 times.
// The scenario's pre-registered client (MCP_CONFORMANCE_CONTEXT) is entered as --client-id/secret.
// The person has published a client metadata document: the suite's authorization servers accept
// CLIENT_METADATA_URL as one (it need not resolve), so that is the URL saved in Gatehouse's
// settings; Gatehouse uses it only where an authorization server advertises support.
// Exit code 0 when the tool call came back, 1 otherwise; every step is logged to stderr.

import { Gatehouse, log } from './gatehouse.mjs';

const serverUrl = process.argv[2];
const context = JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT || '{}');
const house = new Gatehouse(process.env.GATEHOUSED);
const CLIENT_METADATA_URL = 'https://conformance-test.local/client-metadata.json';

async function main() {
  await house.start();
  log('gateway at', house.base, 'scenario', process.env.MCP_CONFORMANCE_SCENARIO ?? '(none)');
  await house.setClientMetadataUrl(CLIENT_METADATA_URL);
  await house.addConnection(serverUrl, context);
  await house.signIn();
  const client = await house.localClient();
  const { tools } = await client.listTools();
  log('tools/list:', tools.map((t) => t.name).join(', '));
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await client.callTool({ name: 'test-tool', arguments: {} });
      log('tools/call test-tool:', JSON.stringify(result.content));
      break;
    } catch (error) {
      const message = String(error?.message ?? error);
      log('tools/call test-tool failed:', message);
      if (attempt >= 3 || !/sign in|sign-in|signin/i.test(message)) throw error;
      await house.signIn();
    }
  }
  await client.close();
}

let code = 0;
try {
  if (!serverUrl) throw new Error('usage: GATEHOUSED=<path> gatehouse-client.mjs <mcp-url>');
  await main();
} catch (error) {
  log('failed:', error?.stack ?? error);
  code = 1;
}
house.stop();
process.exit(code);
