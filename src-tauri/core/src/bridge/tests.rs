//! The bridge's command line: `[--data-dir DIR] bridge SLUG [--port PORT]` and nothing else.

use super::BridgeArgs;

fn args(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn bridge_arguments_are_recognised_and_nothing_else() {
    assert_eq!(
        BridgeArgs::parse(&args("--data-dir /d bridge notes --port 4000")),
        Some(BridgeArgs {
            data_dir: Some("/d".into()),
            slug: "notes".into(),
            port: Some(4000),
        })
    );
    assert_eq!(
        BridgeArgs::parse(&args("bridge notes")).map(|a| a.slug),
        Some("notes".into())
    );
    for other in [
        "",
        "serve",
        "bridge",
        "bridge --port 1",
        "bridge x --port",
        "bridge x --port no",
        "dev.gatehouse://callback?code=1",
    ] {
        assert_eq!(BridgeArgs::parse(&args(other)), None, "{other:?}");
    }
}
