#!/usr/bin/env node
// $BROWSER for `gatehoused connections signin` in the conformance runs: the suite's authorization
// endpoint approves at once and redirects to Gatehouse's callback, so a browser here only has to
// follow redirects (fetch does) and report where it ended.
//
//   node browse.mjs <url>     exit 0 when the last page answered 2xx

const url = process.argv[2];
try {
  const response = await fetch(url, { redirect: 'follow' });
  process.stderr.write(`[browse] ${response.status} ${response.url}\n`);
  process.exit(response.ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`[browse] ${url}: ${error?.message ?? error}\n`);
  process.exit(1);
}
