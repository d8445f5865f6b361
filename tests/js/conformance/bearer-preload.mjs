// Preloaded into the conformance *server* runner (NODE_OPTIONS=--import) when it tests the reference
// server through Gatehouse: the runner has no option for credentials, and Gatehouse (rightly)
// answers 401 without them. Every request to GATEHOUSE_ORIGIN gets `Authorization: Bearer
// $GATEHOUSE_BEARER`, the access token the harness's SDK client obtained with Gatehouse's own OAuth
// flow. Installed as undici's global dispatcher, which both `fetch` and the runner's own undici
// `request` use; the Host and Origin headers the runner sets are left exactly as they were.

import { Agent, setGlobalDispatcher } from 'undici';

const origin = process.env.GATEHOUSE_ORIGIN;
const bearer = process.env.GATEHOUSE_BEARER;

const withAuthorization = (headers) => {
  const value = `Bearer ${bearer}`;
  if (!headers) return { authorization: value };
  if (Array.isArray(headers)) return [...headers, 'authorization', value];
  if (typeof headers[Symbol.iterator] === 'function') return [...Array.from(headers).flat(), 'authorization', value];
  return { ...headers, authorization: value };
};

if (origin && bearer) {
  setGlobalDispatcher(
    new Agent().compose((dispatch) => (options, handler) => {
      const target = new URL(String(options.origin)).origin;
      return dispatch(target === origin ? { ...options, headers: withAuthorization(options.headers) } : options, handler);
    }),
  );
}
