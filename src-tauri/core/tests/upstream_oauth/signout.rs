//! Sign-out: revocation at the authorization server, and no token or secret left behind.

use super::*;

#[tokio::test]
async fn sign_out_revokes_at_the_upstream_and_leaves_no_token_anywhere() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    env.expire_access_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true, "refreshed");

    // Security: no upstream token value in the database file, its WAL, or any DTO.
    let tokens: Vec<String> = env
        .upstream
        .token_forms
        .lock()
        .unwrap()
        .iter()
        .filter_map(|f| f.get("refresh_token").cloned())
        .chain(env.upstream.mcp_bearers.lock().unwrap().iter().cloned())
        .collect();
    assert!(!tokens.is_empty());
    let db = gatehouse_core::config::database_path(env.dir.path());
    let wal = db.with_extension("sqlite3-wal");
    assert!(db.exists(), "the database file is where the test looks");
    for path in [db, wal] {
        let name = path.display().to_string();
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(AT_PREFIX) && !text.contains(RT_PREFIX),
                "{name} holds a token in clear"
            );
        }
    }
    let views = gatehouse_core::admin::list_connections(&env.vault, 1).unwrap();
    let dto = serde_json::to_string(&views).unwrap();
    assert!(
        !dto.contains(AT_PREFIX) && !dto.contains(RT_PREFIX),
        "no token in a DTO"
    );

    // Sign out → RFC 7009 at the AS, local tokens gone.
    let result = env.cli.sign_out(&env.connection).await.unwrap();
    assert_eq!(result, RevokeResult::Revoked);
    let revoked = env.upstream.revoked.lock().unwrap().clone();
    assert!(
        revoked.iter().any(|t| t.starts_with(RT_PREFIX))
            && revoked.iter().any(|t| t.starts_with(AT_PREFIX))
    );
    let id = env.connection.clone();
    let cred = env
        .vault
        .store()
        .read_blocking(move |c| upstream_credentials::get(c, &id))
        .unwrap()
        .unwrap();
    assert!(cred.access_token_sealed.is_none() && cred.refresh_token_sealed.is_none());
    assert_eq!(env.row().status, ConnectionStatus::NeedsAuth);
    let answer = env.call(&local).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("open Gatehouse and sign in"),
        "{answer}"
    );
}

#[tokio::test]
async fn no_secret_reaches_the_log() {
    let env = Env::new().await;
    env.sign_in().await;
    let local = env.local_token();
    env.expire_access_token();
    assert_eq!(env.call(&local).await["result"]["ok"], true);
    env.cli.sign_out(&env.connection).await.unwrap();
    let logs = String::from_utf8_lossy(&log_buffer().lock().unwrap()).into_owned();
    assert!(
        logs.contains("upstream sign-in completed"),
        "the log is captured"
    );
    for secret in [AT_PREFIX, RT_PREFIX, M2M_SECRET] {
        assert!(!logs.contains(secret), "{secret} appears in the log");
    }
    assert!(!logs.contains(&local), "the local token appears in the log");
    let leaks: Vec<&str> = logs.lines().filter(|l| l.contains("code=code-")).collect();
    assert!(
        leaks.is_empty(),
        "an authorization code appears in the log: {leaks:#?}"
    );
}
