use super::*;

#[test]
fn labels_come_from_claims_and_hex_round_trips() {
    let claims = serde_json::json!({"sub": "1", "name": "Ada", "email": "ada@example.com"});
    assert_eq!(
        label_from_claims(&claims).as_deref(),
        Some("ada@example.com")
    );
    let token = format!(
        "x.{}.y",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    assert_eq!(id_token_claims(&token), Some(claims));
    let h = state_hash("abc");
    assert_eq!(unhex(&hex(&h)), Some(h));
    assert_eq!(
        random_b64(32).len(),
        43,
        "a 32-byte verifier is 43 base64url characters"
    );
}
