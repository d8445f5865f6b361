/**
 * The fake backend's upstream sign-in: `startSignin` on an OAuth connection, which a moment later
 * (`FAKE_SIGNIN_DELAY_MS`) turns the connection connected as the real callback would, and
 * `signOut`.
 */
import type { GatehouseApi } from "../types";
import { invalid, type Core } from "./core";
import { MINUTE } from "./samples";

/** How long the fake's browser sign-in takes before the connection turns connected (ms). */
export const FAKE_SIGNIN_DELAY_MS = 50;

/** The sign-in part of the fake API. */
export function signinApi({ state, answer, emit, findConnection, changed }: Core): Pick<GatehouseApi, "startSignin" | "signOut"> {
  return {
    startSignin: (key, callback) =>
      answer("startSignin", () => {
        const c = findConnection(key);
        if (c.auth_kind !== "oauth") throw invalid("auth", "this connection does not use OAuth");
        const id = c.id;
        setTimeout(() => {
          const current = state.connections.find((x) => x.id === id);
          if (!current) return;
          current.status = "connected";
          current.status_detail = null;
          current.account_label = current.account_label ?? "you@example.com";
          current.grants_account = current.account_label;
          current.updated_at = Date.now();
          emit("connections", "activity");
        }, FAKE_SIGNIN_DELAY_MS);
        const now = Date.now();
        return {
          connection_id: c.id,
          slug: c.slug,
          outcome: "browser" as const,
          callback,
          redirect_uri:
            callback === "deep_link"
              ? "dev.gatehouse:/oauth/callback"
              : `http://127.0.0.1:${state.gatewayStatus.port}/oauth/callback`,
          signin_id: `fake-signin-${c.slug}`,
          expires_at: now + 10 * MINUTE,
        };
      }),
    signOut: (key) =>
      answer("signOut", () => {
        const c = findConnection(key);
        if (c.auth_kind !== "oauth") throw invalid("auth", "this connection does not use OAuth");
        c.status = "needs_auth";
        c.status_detail = "Signed out";
        c.grants_account = c.account_label ?? c.grants_account;
        c.account_label = null;
        c.updated_at = Date.now();
        return changed({ slug: c.slug, revocation: "revoked" }, "connections");
      }),
  };
}
