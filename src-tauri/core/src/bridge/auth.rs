//! How the bridge authorizes with the gateway: as any other OAuth 2.1 client would (RFC 7591
//! registration, authorization code with PKCE S256 per RFC 7636, a loopback redirect per RFC 8252
//! §7.3, RFC 8707 `resource`, refresh per RFC 6749 §6), the person approving it on Gatehouse's
//! consent page in their browser. Its tokens are sealed in Gatehouse's store, never in a dotfile.
//!
//! Several copies for the same connection (Claude Desktop starts them in bursts) share one
//! authorization: a copy that needs to sign in or refresh takes the store's lease for the
//! identity, re-reads the store first (another copy may just have finished), and the others wait
//! for the tokens to appear. The holder renews the lease every few seconds; a copy killed while
//! holding it (Claude Desktop kills and restarts its servers) loses it within `LEASE`, and the
//! next copy starts the sign-in again.

use std::time::Duration;

use axum::extract::Query;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::crypto::Aad;
use crate::store::bridge_credentials;
use crate::vault::Vault;

/// How long the sign-in lease lasts unless its holder renews it: a copy killed in the middle of
/// a sign-in holds the others back for at most this long.
const LEASE: Duration = Duration::from_secs(15);
/// How often a living holder renews the lease.
const LEASE_RENEW: Duration = Duration::from_secs(5);
/// How long a sign-in waits for the person on the consent page.
const SIGN_IN_WITHIN: Duration = Duration::from_secs(10 * 60);

/// Why the bridge has no token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Gatehouse is not running (nothing answers on {0}): open the Gatehouse app")]
    GatewayDown(String),
    #[error("the sign-in to Gatehouse failed: {0}")]
    SignIn(String),
    #[error("Gatehouse's store: {0}")]
    Store(#[from] crate::store::StoreError),
}

#[derive(Serialize, Deserialize, Clone)]
struct Tokens {
    access_token: String,
    refresh_token: Option<String>,
}

pub struct BridgeAuth {
    vault: Vault,
    http: reqwest::Client,
    base: String,
    slug: String,
    holder: String,
    /// The client's own name, as its `initialize` reported it.
    pub client_name: std::sync::Mutex<String>,
    current: tokio::sync::Mutex<Option<(String, Tokens)>>,
}

fn random() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl BridgeAuth {
    pub fn new(vault: Vault, base: String, slug: String) -> Self {
        Self {
            vault,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            base,
            slug,
            holder: uuid::Uuid::new_v4().to_string(),
            client_name: std::sync::Mutex::new("MCP client".into()),
            current: tokio::sync::Mutex::new(None),
        }
    }

    fn aad(&self) -> Aad<'_> {
        Aad {
            table: "bridge_credentials",
            column: "tokens_sealed",
            row_id: &self.slug,
        }
    }

    fn stored(&self) -> Result<Option<(String, Tokens)>, AuthError> {
        let slug = self.slug.clone();
        let row = self
            .vault
            .store()
            .read_blocking(move |c| bridge_credentials::get(c, &slug))?;
        let Some(row) = row else { return Ok(None) };
        let (Some(client_id), Some(sealed)) = (row.client_id, row.tokens_sealed) else {
            return Ok(None);
        };
        let Ok(json) = self.vault.cipher().open_string(&sealed, &self.aad()) else {
            return Ok(None);
        };
        Ok(serde_json::from_str(json.expose_secret())
            .ok()
            .map(|t| (client_id, t)))
    }

    fn save(&self, client_id: &str, tokens: &Tokens) -> Result<(), AuthError> {
        let json = zeroize::Zeroizing::new(serde_json::to_string(tokens).unwrap_or_default());
        let sealed = self.vault.cipher().seal_str(&json, &self.aad());
        let (slug, client_id) = (self.slug.clone(), client_id.to_owned());
        let now = self.vault.store().now();
        self.vault.store().write_blocking(move |tx| {
            bridge_credentials::put(tx, &slug, &client_id, &sealed, now)
        })?;
        Ok(())
    }

    fn take_lease(&self) -> Result<bool, AuthError> {
        let (slug, holder) = (self.slug.clone(), self.holder.clone());
        let now = self.vault.store().now();
        let until = now.saturating_add(i64::try_from(LEASE.as_millis()).unwrap_or(i64::MAX));
        Ok(self.vault.store().write_blocking(move |tx| {
            bridge_credentials::take_lease(tx, &slug, &holder, now, until)
        })?)
    }

    fn release_lease(&self) {
        let (slug, holder) = (self.slug.clone(), self.holder.clone());
        let _ = self
            .vault
            .store()
            .write_blocking(move |tx| bridge_credentials::release_lease(tx, &slug, &holder));
    }

    /// The access token to send: the one in hand, else the stored one, else a new sign-in.
    pub async fn access_token(&self) -> Result<SecretString, AuthError> {
        let mut current = self.current.lock().await;
        if let Some((_, tokens)) = current.as_ref() {
            return Ok(SecretString::from(tokens.access_token.clone()));
        }
        let fresh = self.obtain(None).await?;
        let token = SecretString::from(fresh.1.access_token.clone());
        *current = Some(fresh);
        Ok(token)
    }

    /// A new access token after `rejected` was refused (401).
    pub async fn renew(&self, rejected: &SecretString) -> Result<SecretString, AuthError> {
        let mut current = self.current.lock().await;
        if let Some((_, tokens)) = current.as_ref()
            && tokens.access_token != rejected.expose_secret()
        {
            return Ok(SecretString::from(tokens.access_token.clone()));
        }
        let fresh = self.obtain(Some(rejected.expose_secret())).await?;
        let token = SecretString::from(fresh.1.access_token.clone());
        *current = Some(fresh);
        Ok(token)
    }

    /// Under the lease: the stored tokens if they are not `rejected`, else a refresh, else a
    /// sign-in. Without the lease: waits for the holder's result.
    async fn obtain(&self, rejected: Option<&str>) -> Result<(String, Tokens), AuthError> {
        let usable = |found: &Option<(String, Tokens)>| {
            found
                .as_ref()
                .is_some_and(|(_, t)| Some(t.access_token.as_str()) != rejected)
        };
        loop {
            let found = self.stored()?;
            if usable(&found) {
                return found.ok_or_else(|| AuthError::SignIn("no tokens".into()));
            }
            if self.take_lease()? {
                // Renewed while this copy lives; if it is killed, the lease lapses in `LEASE`.
                let holding = self.obtain_holding(rejected);
                tokio::pin!(holding);
                let mut renew = tokio::time::interval(LEASE_RENEW);
                let result = loop {
                    tokio::select! {
                        result = &mut holding => break result,
                        _ = renew.tick() => {
                            let _ = self.take_lease();
                        }
                    }
                };
                self.release_lease();
                return result;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn obtain_holding(&self, rejected: Option<&str>) -> Result<(String, Tokens), AuthError> {
        let found = self.stored()?;
        if let Some((client_id, tokens)) = found {
            if Some(tokens.access_token.as_str()) != rejected {
                return Ok((client_id, tokens));
            }
            if let Some(refresh) = &tokens.refresh_token
                && let Ok(renewed) = self.refresh(&client_id, refresh).await
            {
                self.save(&client_id, &renewed)?;
                return Ok((client_id, renewed));
            }
        }
        let (client_id, tokens) = self.sign_in().await?;
        self.save(&client_id, &tokens)?;
        Ok((client_id, tokens))
    }

    fn resource(&self) -> String {
        format!("{}/mcp/{}", self.base, self.slug)
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<Tokens, AuthError> {
        let response = self
            .http
            .post(format!("{}/token", self.base))
            .form(form)
            .send()
            .await
            .map_err(|_| AuthError::GatewayDown(self.base.clone()))?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if !status.is_success() {
            return Err(AuthError::SignIn(format!(
                "the token endpoint answered {status}: {}",
                body["error_description"]
                    .as_str()
                    .or(body["error"].as_str())
                    .unwrap_or("no reason given")
            )));
        }
        match body["access_token"].as_str() {
            Some(access) => Ok(Tokens {
                access_token: access.to_owned(),
                refresh_token: body["refresh_token"].as_str().map(str::to_owned),
            }),
            None => Err(AuthError::SignIn(
                "the token response has no access_token".into(),
            )),
        }
    }

    async fn refresh(&self, client_id: &str, refresh: &str) -> Result<Tokens, AuthError> {
        let resource = self.resource();
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", client_id),
            ("resource", &resource),
        ])
        .await
    }

    /// Registers, sends the person to the consent page and waits for the code on a loopback
    /// redirect.
    async fn sign_in(&self) -> Result<(String, Tokens), AuthError> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| AuthError::SignIn(format!("cannot open a loopback port: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| AuthError::SignIn(e.to_string()))?
            .port();
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let name = format!(
            "{} via Gatehouse bridge",
            self.client_name
                .lock()
                .map(|n| n.clone())
                .unwrap_or_else(|p| p.into_inner().clone())
        );
        let registered = self
            .http
            .post(format!("{}/register", self.base))
            .json(&serde_json::json!({
                "client_name": name,
                "redirect_uris": [redirect],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            }))
            .send()
            .await
            .map_err(|_| AuthError::GatewayDown(self.base.clone()))?;
        let registered: serde_json::Value = registered.json().await.unwrap_or_default();
        let Some(client_id) = registered["client_id"].as_str().map(str::to_owned) else {
            return Err(AuthError::SignIn(format!(
                "registration refused: {}",
                registered["error_description"]
                    .as_str()
                    .unwrap_or("no client_id")
            )));
        };
        let verifier = random();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let state = random();
        let resource = self.resource();
        let mut authorize = reqwest::Url::parse(&format!("{}/authorize", self.base))
            .map_err(|e| AuthError::SignIn(e.to_string()))?;
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client_id)
            .append_pair("redirect_uri", &redirect)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state)
            .append_pair("scope", "mcp:access offline_access")
            .append_pair("resource", &resource);
        let (deliver, delivered) =
            tokio::sync::mpsc::channel::<std::collections::HashMap<String, String>>(1);
        let app = axum::Router::new().route(
            "/callback",
            axum::routing::get(move |Query(q): Query<std::collections::HashMap<String, String>>| {
                let deliver = deliver.clone();
                async move {
                    let _ = deliver.send(q).await;
                    axum::response::Html(
                        "<!doctype html><title>Gatehouse</title><p>Done. You can close this window.</p>",
                    )
                }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        eprintln!("gatehoused bridge: approve {name:?} in your browser: {authorize}");
        if let Err(err) = crate::net::browser::open_browser(authorize.as_str()) {
            eprintln!("gatehoused bridge: cannot open a browser ({err}); open the link above");
        }
        let mut delivered = delivered;
        let params = tokio::time::timeout(SIGN_IN_WITHIN, delivered.recv()).await;
        server.abort();
        let Ok(Some(params)) = params else {
            return Err(AuthError::SignIn(
                "no answer from the consent page in time".into(),
            ));
        };
        if params.get("state") != Some(&state) {
            return Err(AuthError::SignIn(
                "the answer was for another sign-in".into(),
            ));
        }
        let Some(code) = params.get("code") else {
            return Err(AuthError::SignIn(format!(
                "the request was not approved ({})",
                params.get("error").map_or("no code", String::as_str)
            )));
        };
        let tokens = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect),
                ("client_id", &client_id),
                ("code_verifier", &verifier),
                ("resource", &resource),
            ])
            .await?;
        Ok((client_id, tokens))
    }
}
