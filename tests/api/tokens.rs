//! Tokens: listed without their secrets, labelled, expiring, revoked by
//! their owner or an admin, and a revoked token's subscriptions cut off.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, WsClient, code, str_at};

const ISSUE: &str = "mutation($input: IssueTokenInput!) { issueToken(input: $input) { token } }";
const REVOKE: &str = "mutation($input: RevokeTokenInput!) { revokeToken(input: $input) { revokedTokenId token { label } } }";
const MINE: &str = "{ viewer { tokens { id label createdAt lastUsedAt expiresAt } } }";

fn tokens(data: &Value) -> Vec<Value> {
    data["viewer"]["tokens"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn a_user_lists_labels_and_revokes_their_own_tokens() {
    let app = TestApp::spawn().await;
    let (me, first) = app.create_user("Tia Token").await;
    let issued = app
        .data(
            &first,
            ISSUE,
            json!({ "input": { "userId": me, "label": "CI" } }),
        )
        .await;
    let second = str_at(&issued, "/issueToken/token");
    let listed = tokens(&app.data(&first, MINE, json!({})).await);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["label"], "first token");
    assert_eq!(listed[1]["label"], "CI");
    // The first one was just used; no secret is ever listed.
    assert!(listed[0]["lastUsedAt"].is_string(), "{listed:?}");
    assert!(!json!(listed).to_string().contains(&second));
    // Revoked: refused from now on; the other one still works.
    let ci = listed[1]["id"].clone();
    let revoked = app
        .data(&first, REVOKE, json!({ "input": { "tokenId": ci } }))
        .await;
    assert_eq!(revoked["revokeToken"]["revokedTokenId"], ci);
    assert_eq!(
        app.error_code(Some(&second), "{ viewer { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(tokens(&app.data(&first, MINE, json!({})).await).len(), 1);
}

#[tokio::test]
async fn other_peoples_tokens_do_not_exist_for_them_but_admins_revoke_any() {
    let app = TestApp::spawn().await;
    let (me, mine) = app.create_user("Tia Token").await;
    let (_, theirs) = app.create_user("Ivo Other").await;
    let my_tokens = tokens(&app.data(&mine, MINE, json!({})).await);
    let id = my_tokens[0]["id"].clone();
    let refused = app
        .gql(Some(&theirs), REVOKE, json!({ "input": { "tokenId": id } }))
        .await;
    assert_eq!(code(&refused), "NOT_FOUND");
    let listed = app
        .gql(
            Some(&theirs),
            "mutation($input: IssueTokenInput!) { issueToken(input: $input) { token } }",
            json!({ "input": { "userId": me } }),
        )
        .await;
    assert_eq!(code(&listed), "FORBIDDEN");
    // An admin may revoke anyone's.
    app.data(ADMIN, REVOKE, json!({ "input": { "tokenId": id } }))
        .await;
    assert_eq!(
        app.error_code(Some(&mine), "{ viewer { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn a_token_stops_working_when_it_expires() {
    let app = TestApp::spawn().await;
    let (me, first) = app.create_user("Tia Token").await;
    let now = app.clock_now();
    let past = app
        .gql(
            Some(&first),
            ISSUE,
            json!({ "input": { "userId": me, "expiresAt": (now - chrono::Duration::hours(1)).to_rfc3339() } }),
        )
        .await;
    assert_eq!(code(&past), "BAD_USER_INPUT");
    let soon = app
        .data(
            &first,
            ISSUE,
            json!({ "input": { "userId": me, "label": "an hour", "expiresAt": (now + chrono::Duration::hours(1)).to_rfc3339() } }),
        )
        .await;
    let soon = str_at(&soon, "/issueToken/token");
    app.data(&soon, "{ viewer { id } }", json!({})).await;
    app.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        app.error_code(Some(&soon), "{ viewer { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    app.data(&first, "{ viewer { id } }", json!({})).await;
}

#[tokio::test]
async fn a_revoked_tokens_subscriptions_are_closed() {
    let app = TestApp::spawn().await;
    let (me, first) = app.create_user("Pam Manager").await;
    let program = app.create_program("Train", &me).await;
    let issued = app
        .data(
            &first,
            ISSUE,
            json!({ "input": { "userId": me, "label": "wall screen" } }),
        )
        .await;
    let screen = str_at(&issued, "/issueToken/token");
    let mut ws = WsClient::connect(&app, Some(&screen)).await;
    ws.subscribe(
        "1",
        "subscription($p: ID!) { programEvents(programId: $p) { event { sequence } } }",
        json!({ "p": program }),
    )
    .await;
    let listed = tokens(&app.data(&first, MINE, json!({})).await);
    let wall = listed
        .iter()
        .find(|t| t["label"] == "wall screen")
        .map(|t| t["id"].clone())
        .unwrap();
    app.data(&first, REVOKE, json!({ "input": { "tokenId": wall } }))
        .await;
    // The token watch checks once a second.
    assert_eq!(ws.close_code_within(10.0).await, Some(4403));
}

#[tokio::test]
async fn the_cli_revokes_every_token_of_a_user() {
    let app = TestApp::spawn().await;
    let (_, token) = app.create_user("Lea Leak").await;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portfolio"));
    cmd.args([
        "--database-url",
        &app.settings.database_url,
        "user",
        "revoke",
        "--email",
        "lea.leak@example.com",
    ]);
    if let Some(schema) = &app.settings.database_schema {
        cmd.args(["--database-schema", schema]);
    }
    let out = cmd.output().expect("the CLI runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked 1 token"));
    assert_eq!(
        app.error_code(Some(&token), "{ viewer { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
}
