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
    let out = app
        .cli(&["user", "revoke", "--email", "lea.leak@example.com"])
        .await;
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

/// How many queries ran beside their token's lookup and were kept, and how
/// many ran again as the viewer the lookup found
/// (`portfolio_early_queries_total`).
async fn early(app: &TestApp) -> (u64, u64) {
    let [kept, again] = app
        .outcomes("portfolio_early_queries", ["kept", "ran_again"])
        .await;
    (kept, again)
}

/// With the response cache off, a query by a token seen lately runs beside
/// the token's lookup, as the viewer the token was (`auth::known`). It is
/// answered only when the lookup finds that viewer again: revoked through
/// another process, which this one hears nothing of, or expired, the token
/// is refused at once. Mutations and refused documents answer as before.
#[tokio::test]
async fn a_query_started_before_its_token_lookup_never_answers_for_a_token_gone() {
    let a = TestApp::spawn_with(|s| s.response_cache_entries = 0).await;
    let b = a.another_process(|_| {}).await;
    let (me, first) = a.create_user("Tia Token").await;
    let issued = a
        .data(
            &first,
            ISSUE,
            json!({ "input": { "userId": me, "label": "CI" } }),
        )
        .await;
    let second = str_at(&issued, "/issueToken/token");
    let me_by = |data: Value| str_at(&data, "/viewer/id");
    // Looked up first, then started early.
    assert_eq!(
        me_by(a.data(&second, "{ viewer { id } }", json!({})).await),
        me
    );
    assert_eq!(early(&a).await, (0, 0));
    assert_eq!(
        me_by(a.data(&second, "{ viewer { id } }", json!({})).await),
        me
    );
    assert_eq!(early(&a).await, (1, 0));
    // A document the parser refuses is refused as before.
    let listed = tokens(&a.data(&first, MINE, json!({})).await);
    let ci = listed.iter().find(|t| t["label"] == "CI").unwrap()["id"].clone();
    let refused = a.gql(Some(&first), "{ viewer { id ", json!({})).await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
    // Revoked through the other process: the early answer is dropped, and
    // only the answer sent is counted.
    b.data(&first, REVOKE, json!({ "input": { "tokenId": ci } }))
        .await;
    assert_eq!(
        a.error_code(Some(&second), "query Revoked { viewer { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(early(&a).await.1, 1);
    let counted = a.metrics_text().await;
    let revoked = |outcome: &str| {
        format!("portfolio_graphql_requests_total{{operation=\"Revoked\",outcome=\"{outcome}\"}}")
    };
    assert!(
        counted.contains(&format!("{} 1", revoked("UNAUTHENTICATED"))),
        "{counted}"
    );
    assert!(!counted.contains(&revoked("ok")), "{counted}");
    // Forgotten since: looked up first again.
    assert_eq!(
        a.error_code(Some(&second), "{ viewer { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(early(&a).await.1, 1);
    // Expired while known: refused at once too. (The mutation issuing it,
    // by a known token, waits for the lookup.)
    let now = a.clock_now();
    let soon = a
        .data(
            &first,
            ISSUE,
            json!({ "input": { "userId": me, "expiresAt": (now + chrono::Duration::hours(1)).to_rfc3339() } }),
        )
        .await;
    let soon = str_at(&soon, "/issueToken/token");
    a.data(&soon, "{ viewer { id } }", json!({})).await;
    a.clock.advance(chrono::Duration::hours(2));
    assert_eq!(
        a.error_code(Some(&soon), "{ viewer { id } }", json!({}))
            .await,
        "UNAUTHENTICATED"
    );
    assert_eq!(early(&a).await.1, 2);
    b.stop().await;
}

const BOARD_TOKEN: &str = "mutation($input: CreateBoardTokenInput!) { createBoardToken(input: $input) { secret token { id label program { id } } } }";

#[tokio::test]
async fn a_board_token_reads_and_follows_one_program_and_nothing_else() {
    let app = TestApp::spawn().await;
    let (pm, pm_token) = app.create_user("Pam Manager").await;
    let program = app.create_program("Train", &pm).await;
    let (other_pm, _) = app.create_user("Otto Other").await;
    let elsewhere = app.create_program("Elsewhere", &other_pm).await;
    let team = app.create_team(&program, "Payments", &pm).await;
    let created = app
        .data(
            &pm_token,
            BOARD_TOKEN,
            json!({ "input": { "programId": program, "label": "Wall, 3rd floor" } }),
        )
        .await;
    let board = str_at(&created, "/createBoardToken/secret");
    assert!(board.starts_with("pf_"), "{created:#}");
    assert_eq!(
        created["createBoardToken"]["token"]["program"]["id"],
        json!(program)
    );
    // The PM lists it among their tokens, with its program, and no secret.
    let listed = app
        .data(
            &pm_token,
            "{ viewer { tokens { id label program { id } } } }",
            json!({}),
        )
        .await;
    let wall = tokens(&listed)
        .into_iter()
        .find(|t| t["label"] == "Wall, 3rd floor")
        .expect("the board token is listed");
    assert_eq!(wall["program"]["id"], json!(program));
    assert!(!listed.to_string().contains(&board));

    // It reads its program and that program's people, and nothing else.
    let read = app
        .data(
            &board,
            "query($p: ID!, $e: ID!) { program(id: $p) { name teams { name productOwner { name } } }
               other: program(id: $e) { id } viewer { id }
               programs(first: 10) { totalCount } }",
            json!({ "p": program, "e": elsewhere }),
        )
        .await;
    assert_eq!(
        read["program"]["teams"][0]["productOwner"]["name"],
        "Pam Manager"
    );
    assert!(read["other"].is_null(), "{read:#}");
    assert!(read["viewer"].is_null(), "a board is nobody: {read:#}");
    assert_eq!(read["programs"]["totalCount"], 1);
    let other = app
        .gql(
            Some(&board),
            "query($u: ID!) { node(id: $u) { id } }",
            json!({ "u": other_pm }),
        )
        .await;
    assert!(other["data"]["node"].is_null(), "{other:#}");

    // Every change it tries is refused, and changes nothing.
    for (doc, input) in [
        (
            "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
            json!({ "teamId": team, "title": "From the wall" }),
        ),
        (
            "mutation($input: CreateBoardTokenInput!) { createBoardToken(input: $input) { secret } }",
            json!({ "programId": program }),
        ),
        (
            "mutation($input: IssueTokenInput!) { issueToken(input: $input) { token } }",
            json!({ "userId": pm }),
        ),
    ] {
        let resp = app.gql(Some(&board), doc, json!({ "input": input })).await;
        assert_eq!(code(&resp), "FORBIDDEN", "{resp:#}");
    }
    let backlog = app.backlog_titles(&team).await;
    assert!(backlog.is_empty(), "{backlog:?}");

    // It subscribes to its program, not to another one.
    let events = "subscription($p: ID!) { programEvents(programId: $p) { event { kind } } }";
    let mut refused = WsClient::connect(&app, Some(&board)).await;
    refused
        .subscribe("1", events, json!({ "p": elsewhere }))
        .await;
    let answer = refused.next().await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{answer:#}"
    );
    let mut ws = WsClient::connect(&app, Some(&board)).await;
    ws.subscribe(
        "1",
        "subscription($p: ID!, $a: String) { programEvents(programId: $p, after: $a) { event { kind } } }",
        json!({ "p": program, "a": app.last_event_cursor(&program).await }),
    )
    .await;
    app.create_story(&team, "Seen on the wall", json!({})).await;
    let seen = ws.next().await;
    assert_eq!(
        seen["payload"]["data"]["programEvents"]["event"]["kind"],
        "STORY_CREATED"
    );

    // Revoking it ends its subscriptions and its requests.
    app.data(
        &pm_token,
        REVOKE,
        json!({ "input": { "tokenId": wall["id"] } }),
    )
    .await;
    assert_eq!(ws.close_code_within(10.0).await, Some(4403));
    let after = app
        .gql(Some(&board), "{ programs { totalCount } }", json!({}))
        .await;
    assert_eq!(code(&after), "UNAUTHENTICATED");
}
