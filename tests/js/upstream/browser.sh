#!/bin/sh
# $BROWSER for `gatehoused connections signin`: signs in at the upstream AS in headless Chromium
# (signin.mjs) instead of opening a desktop browser. Its report goes to $UPSTREAM_SIGNIN_LOG (appended).
#   UPSTREAM_LOGIN (default alice), UPSTREAM_SIGNIN_NAME (screenshot name, default gatehouse)
here=$(dirname "$0")
exec node "$here/signin.mjs" "$1" --login "${UPSTREAM_LOGIN:-alice}" --name "${UPSTREAM_SIGNIN_NAME:-gatehouse}" \
  >>"${UPSTREAM_SIGNIN_LOG:-/dev/null}" 2>&1
