//! Valid-looking input that used to answer INTERNAL or loop a client: NUL
//! characters, enum lists of tens of thousands of entries, cursors before
//! the start of a list.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, code};

#[tokio::test]
async fn a_nul_character_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let cases: [(&str, Value, &str); 4] = [
        (
            "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
            json!({ "teamId": w.team_a, "title": "a\u{0}b" }),
            "title",
        ),
        (
            "mutation($input: UpdateProgramInput!) { updateProgram(input: $input) { program { id } } }",
            json!({ "programId": w.program, "vision": "\u{0}" }),
            "vision",
        ),
        (
            "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }",
            json!({ "name": "Nul", "email": "nul\u{0}@example.com" }),
            "email",
        ),
        (
            "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
            json!({ "programId": w.program, "name": "T\u{0}", "productOwnerId": w.po_a.id }),
            "name",
        ),
    ];
    for (query, input, field) in cases {
        let resp = app.gql(Some(ADMIN), query, json!({ "input": input })).await;
        assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
        let message = resp["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.starts_with(field) && message.contains("NUL"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn enum_lists_are_sets_however_long() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    app.create_feature(&w.program, "One", json!({})).await;
    let states: Vec<&str> = (0..70_000)
        .map(|i| if i % 2 == 0 { "FUNNEL" } else { "DONE" })
        .collect();
    let data = app
        .data(
            ADMIN,
            "query($p: ID!, $s: [FeatureState!]) { program(id: $p) { programBacklog(states: $s) { totalCount } } }",
            json!({ "p": w.program, "s": states }),
        )
        .await;
    assert_eq!(data["program"]["programBacklog"]["totalCount"], 1);
    let kinds: Vec<&str> = (0..60_000)
        .map(|i| {
            if i % 2 == 0 {
                "TEAM_CREATED"
            } else {
                "FEATURE_CREATED"
            }
        })
        .collect();
    let data = app
        .data(
            ADMIN,
            "query($p: ID!, $k: [EventKind!]) { program(id: $p) { events(kinds: $k) { totalCount } } }",
            json!({ "p": w.program, "k": kinds }),
        )
        .await;
    // Two teams and one feature.
    assert_eq!(data["program"]["events"]["totalCount"], 3);
}

#[tokio::test]
async fn a_cursor_before_the_start_is_refused() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    app.create_story(&w.team_a, "One", json!({})).await;
    let before_start = URL_SAFE_NO_PAD.encode("cursor:-5");
    let resp = app
        .gql(
            Some(ADMIN),
            "query($t: ID!, $a: String) { node(id: $t) { ... on Team { backlog(after: $a) { edges { cursor } } } } }",
            json!({ "t": w.team_a, "a": before_start }),
        )
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
}
