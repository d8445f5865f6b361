//! A real client's grant shown live in the window and revoked there, with screenshots of both
//! tabs in light and dark themes.

use gatehouse_e2e::peers::{
    Everything, NodeProcess, add_connection, consent, grant_of, grants, query_param,
};

use super::*;

const SLUG: &str = "everything";
const CONNECTION_NAME: &str = "Everything";
const CLIENT_NAME: &str = "Window Test Client";

fn string_field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the app binary, Xvfb, a D-Bus session, tauri-driver, node and Chromium: run through `cargo xtask test`"]
async fn window_shows_a_real_grant_live_and_revokes_it() {
    let artifacts = artifacts();
    let shot = |name: &str| artifacts.join(format!("app-window-{name}.png"));
    let home = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let data_dir = home.path().join("data");

    // Before launch: a connection to a real upstream, made with the CLI on the app's data dir.
    let upstream = Everything::start();
    blocking(|| add_connection(&data_dir, SLUG, CONNECTION_NAME, &upstream.mcp_url()));
    let gateway_port = free_port();
    let window = AppWindow::launch(home.path(), &data_dir, gateway_port).await;
    window.gateway_status().await;
    let mark = window.mark_document().await;

    // Light theme, chosen explicitly (Xvfb has no desktop preference to follow).
    window.choose_theme("Light", "light").await;

    // Connections: the real connection, with the local URL of the app's own gateway.
    window.select_tab("Connections").await;
    let connection_card = format!(
        "//*[@data-testid='connection-card'][.//h3[normalize-space(.)='{CONNECTION_NAME}']]"
    );
    let mcp_url = format!("http://127.0.0.1:{gateway_port}/mcp/{SLUG}");
    assert_eq!(
        window
            .text_of(&format!("{connection_card}//*[@data-testid='local-url']"))
            .await,
        mcp_url,
        "the card must show the local URL on the app's gateway port"
    );
    assert!(
        window
            .text_of(&connection_card)
            .await
            .contains("No clients authorized"),
        "no client is authorized yet"
    );

    // Authorized clients, open and empty while the client asks and is approved.
    window.select_tab("Authorized clients").await;
    window.record_changes().await;
    window
        .find("//*[normalize-space(.)='No client is authorized']")
        .await;
    let heading = format!("\u{201c}{CLIENT_NAME}\u{201d}");
    let grant_card =
        format!("//*[@data-testid='grant-card'][.//h3[normalize-space(.)='{heading}']]");
    assert!(
        window.find_all(&grant_card).await.is_empty(),
        "no card before the approval"
    );

    // The real MCP client, approved in Chromium on the consent page served by the app's gateway.
    let mut client = blocking(|| {
        NodeProcess::spawn("sdk-client.mjs", &[&mcp_url, "--client-name", CLIENT_NAME])
    });
    let authorize = blocking(|| client.expect_authorize(STEP));
    assert!(
        authorize.starts_with(&format!("http://127.0.0.1:{gateway_port}/authorize?")),
        "the client must be sent to the app's gateway: {authorize}"
    );
    let approved = blocking(|| consent(&authorize, "approve", "window-test"));
    assert!(
        approved
            .final_url
            .as_deref()
            .is_some_and(|u| query_param(u, "code").is_some()),
        "approve must redirect with a code: {}",
        approved.report
    );
    blocking(|| {
        let connected = client.expect_step("connected", STEP);
        assert_eq!(
            connected["server"]["name"], "mcp-servers/everything",
            "{connected}"
        );
        client.expect_marker("READY", STEP);
    });

    // The card appears in the window that stayed open on this tab: no click, no reload.
    let card = window.find(&grant_card).await;
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the card must appear without a reload"
    );
    let changes = window.recorded_changes().await;
    assert!(
        changes.iter().any(|c| c == "grants"),
        "the window must have been told of the new grant by a change event: {changes:?}"
    );
    let grant = blocking(|| grant_of(&data_dir, CLIENT_NAME, SLUG));
    assert_eq!(
        window.attribute(&card, "data-grant-id").await,
        string_field(&grant, "id"),
        "the card is the store's grant"
    );
    // Token issue and use reach the open window too: the token health turns valid (at once), and
    // "Last used" replaces "Not used yet" once the proxy's debounced usage write lands (<= 30 s).
    window
        .find(&format!(
            "{grant_card}//*[contains(@class, 'badge') and normalize-space(.)='Token: Valid']"
        ))
        .await;
    window
        .wait_for(
            &format!("{grant_card}//*[@data-testid='grant-times' and contains(., 'Last used')]"),
            Duration::from_secs(45),
        )
        .await;
    let card_text = window.text_of(&grant_card).await;
    assert!(
        card_text.contains(&format!("Authorized to use {CONNECTION_NAME}")),
        "the card must name the connection: {card_text:?}"
    );
    assert!(
        card_text.contains(string_field(&grant, "client_id")),
        "the card must show the client ID: {card_text:?}"
    );
    window.screenshot(&shot("clients-light")).await;

    window.select_tab("Connections").await;
    assert!(
        window
            .text_of(&connection_card)
            .await
            .contains("1 client authorized"),
        "the connection counts its client"
    );
    window.screenshot(&shot("connections-light")).await;

    // "Keep access" closes the dialog and changes nothing.
    window.select_tab("Authorized clients").await;
    let revoke_button = format!("{grant_card}//button[normalize-space(.)='Revoke access…']");
    let dialog = "//*[@data-testid='revoke-dialog']";
    window.click(&window.find(&revoke_button).await).await;
    window.find(dialog).await;
    window.screenshot(&shot("revoke-dialog-light")).await;
    window
        .click(
            &window
                .find(&format!(
                    "{dialog}//button[normalize-space(.)='Keep access']"
                ))
                .await,
        )
        .await;
    window
        .wait_gone(dialog, "Keep access closes the dialog")
        .await;
    window.find(&grant_card).await;
    assert_eq!(
        blocking(|| grant_of(&data_dir, CLIENT_NAME, SLUG))["status"],
        "active",
        "Keep access must not revoke anything"
    );

    window.choose_theme("Dark", "dark").await;
    window.screenshot(&shot("settings-dark")).await;
    window.select_tab("Connections").await;
    window.find(&connection_card).await;
    window.screenshot(&shot("connections-dark")).await;
    window.select_tab("Authorized clients").await;
    window.find(&grant_card).await;
    window.screenshot(&shot("clients-dark")).await;

    // Revoke through the dialog, which must show exactly what the store has for this grant.
    window.click(&window.find(&revoke_button).await).await;
    window.find(dialog).await;
    assert_eq!(
        window
            .text_of(&format!("{dialog}//*[@data-testid='revoke-redirect-uri']"))
            .await,
        string_field(&grant, "redirect_uri"),
        "the dialog must show the grant's exact callback URI"
    );
    assert_eq!(
        window
            .text_of(&format!("{dialog}//*[@data-testid='revoke-client-id']"))
            .await,
        string_field(&grant, "client_id"),
        "the dialog must show the grant's exact client ID"
    );
    window.screenshot(&shot("revoke-dialog-dark")).await;
    let confirm = window
        .find(&format!(
            "{dialog}//button[normalize-space(.)='Revoke access']"
        ))
        .await;
    window.click(&confirm).await;
    window
        .wait_gone(&grant_card, "the revoked grant's card must disappear")
        .await;
    window
        .wait_gone(dialog, "the dialog closes after the revoke")
        .await;
    let after = blocking(|| grants(&data_dir));
    let revoked = after
        .iter()
        .find(|g| g["id"] == grant["id"])
        .unwrap_or_else(|| panic!("the revoked grant is gone from the store: {after:?}"));
    assert_eq!(
        revoked["status"], "revoked",
        "the window's revoke must reach the store"
    );
    window.screenshot(&shot("clients-after-revoke-dark")).await;

    // The client's very next request is refused.
    blocking(|| {
        client.send("CALL");
        let call = client.expect("the call after the revoke", STEP, |l| {
            serde_json::from_str::<Value>(l)
                .ok()
                .filter(|v| v["step"] == "call")
        });
        assert_eq!(
            call["status"], 401,
            "a grant revoked in the window must stop working on the next request: {call}"
        );
        let status = client.finish(STEP);
        assert_eq!(
            status.code(),
            Some(5),
            "exit 5 = the final call failed with an auth error\n{}",
            client.transcript()
        );
    });
    assert_eq!(
        window.document_mark().await.as_deref(),
        Some(mark.as_str()),
        "the window must not have reloaded during the test"
    );

    window.close().await;
    drop(upstream);
}
