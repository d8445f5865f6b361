use super::*;

#[test]
fn templates_are_data() {
    let all = templates();
    for key in ["github", "google", "microsoft", "okta", "auth0", "custom"] {
        assert!(all.contains_key(key), "the {key} template must exist");
    }
    let okta = &all["okta"];
    assert!(okta.needs_tenant(), "Okta has a tenant placeholder");
    assert!(okta.for_tenant(None).is_err(), "Okta needs a tenant");
    assert!(
        okta.for_tenant(Some("evil/x")).is_err(),
        "a tenant is a host name"
    );
    let filled = okta.for_tenant(Some("dev-1.okta.com")).unwrap();
    assert_eq!(
        filled.token_endpoint.as_deref(),
        Some("https://dev-1.okta.com/oauth2/default/v1/token")
    );
    let ms = all["microsoft"].for_tenant(None).unwrap();
    assert!(
        ms.authorization_endpoint.unwrap().contains("/common/"),
        "Microsoft falls back to the common tenant"
    );
}
