//! The roadmap feeds the backlogs: the PM allocates features to teams, a
//! PO sees what they were handed, and deallocation protects unfinished work.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, WsClient, code, str_at};

const ALLOCATE: &str = "mutation($input: AllocateFeatureInput!) { allocateFeature(input: $input) {
    feature { allocations { team { name } note allocatedBy { name } } } } }";
const DEALLOCATE: &str =
    "mutation($input: DeallocateFeatureInput!) { deallocateFeature(input: $input) {
    feature { allocations { team { name } } } } }";
const INTAKE: &str = "query($t: ID!) { node(id: $t) { ... on Team { intake { title } } } }";

fn allocate(feature: &str, team: &str, note: &str) -> Value {
    json!({ "input": { "featureId": feature, "teamId": team, "note": note } })
}

async fn intake(app: &TestApp, token: &str, team: &str) -> Vec<Value> {
    let data = app.data(token, INTAKE, json!({ "t": team })).await;
    data["node"]["intake"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_pm_hands_a_feature_to_teams_and_their_pos_see_it() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let checkout = app.create_feature(&w.program, "Checkout", json!({})).await;
    let data = app
        .data(
            &w.pm.token,
            ALLOCATE,
            allocate(&checkout, &w.team_a, "start with cards"),
        )
        .await;
    assert_eq!(
        data["allocateFeature"]["feature"]["allocations"],
        json!([{ "team": { "name": "Team A" }, "note": "start with cards", "allocatedBy": { "name": "Pam Manager" } }])
    );
    app.data(&w.pm.token, ALLOCATE, allocate(&checkout, &w.team_b, ""))
        .await;
    // Twice to the same team is a conflict; another program's team is missing.
    let twice = app
        .gql(
            Some(&w.pm.token),
            ALLOCATE,
            allocate(&checkout, &w.team_a, ""),
        )
        .await;
    assert_eq!(code(&twice), "CONFLICT");
    let other_pm = app.create_user("Other PM").await.0;
    let other = app.create_program("Other", &other_pm).await;
    let their_team = app.create_team(&other, "X", &other_pm).await;
    let foreign = app
        .gql(Some(ADMIN), ALLOCATE, allocate(&checkout, &their_team, ""))
        .await;
    assert_eq!(code(&foreign), "NOT_FOUND");
    // Team A's PO sees it until the team has a story under it.
    assert_eq!(
        intake(&app, &w.po_a.token, &w.team_a).await,
        vec![json!({ "title": "Checkout" })]
    );
    app.create_story(&w.team_a, "Card form", json!({ "featureId": checkout }))
        .await;
    assert!(intake(&app, &w.po_a.token, &w.team_a).await.is_empty());
    assert_eq!(intake(&app, &w.po_b.token, &w.team_b).await.len(), 1);
}

#[tokio::test]
async fn a_story_under_an_unallocated_feature_allocates_it() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let search = app.create_feature(&w.program, "Search", json!({})).await;
    app.create_story(&w.team_b, "Index", json!({ "featureId": search }))
        .await;
    let data = app
        .data(
            ADMIN,
            "query($f: ID!, $p: ID!) {
                node(id: $f) { ... on Feature { allocations { team { name } } } }
                program(id: $p) { events(kinds: [FEATURE_ALLOCATED]) { totalCount } }
            }",
            json!({ "f": search, "p": w.program }),
        )
        .await;
    assert_eq!(
        data["node"]["allocations"],
        json!([{ "team": { "name": "Team B" } }])
    );
    assert_eq!(data["program"]["events"]["totalCount"], 1);
}

#[tokio::test]
async fn deallocation_protects_unfinished_stories_unless_forced() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let checkout = app.create_feature(&w.program, "Checkout", json!({})).await;
    app.data(&w.pm.token, ALLOCATE, allocate(&checkout, &w.team_a, ""))
        .await;
    let story = app
        .create_story(&w.team_a, "Card form", json!({ "featureId": checkout }))
        .await;
    let take_back = |force: bool| json!({ "input": { "featureId": checkout, "teamId": w.team_a, "force": force } });
    let refused = app
        .gql(Some(&w.pm.token), DEALLOCATE, take_back(false))
        .await;
    assert_eq!(code(&refused), "CONFLICT");
    assert!(refused.to_string().contains("Card form"), "{refused}");
    // Forced: the story stays in the backlog, out of the feature.
    let done = app.data(&w.pm.token, DEALLOCATE, take_back(true)).await;
    assert_eq!(
        done["deallocateFeature"]["feature"]["allocations"],
        json!([])
    );
    let read = app
        .data(
            ADMIN,
            "query($s: ID!) { node(id: $s) { ... on Story { title feature { id } } } }",
            json!({ "s": story }),
        )
        .await;
    assert_eq!(
        read["node"],
        json!({ "title": "Card form", "feature": null })
    );
    // Not allocated any more.
    let again = app
        .gql(Some(&w.pm.token), DEALLOCATE, take_back(true))
        .await;
    assert_eq!(code(&again), "NOT_FOUND");
}

#[tokio::test]
async fn the_team_backlog_subscriber_sees_the_allocation() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let checkout = app.create_feature(&w.program, "Checkout", json!({})).await;
    let feed = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { events(first: 1) { edges { cursor } } } }",
            json!({ "p": w.program }),
        )
        .await;
    let first = str_at(&feed, "/program/events/edges/0/cursor");
    app.data(
        &w.pm.token,
        ALLOCATE,
        allocate(&checkout, &w.team_a, "yours"),
    )
    .await;
    // Replayed from the log after the first event: no race with the subscribe.
    let mut ws = WsClient::connect(&app, Some(&w.po_a.token)).await;
    ws.subscribe(
        "1",
        "subscription($t: ID!, $after: String) { backlogUpdates(teamId: $t, after: $after) {
            event { kind } story { id } feature { title } } }",
        json!({ "t": w.team_a, "after": first }),
    )
    .await;
    let msg = ws.next().await;
    let update = &msg["payload"]["data"]["backlogUpdates"];
    assert_eq!(update["event"]["kind"], "FEATURE_ALLOCATED", "{msg:#}");
    assert_eq!(update["feature"]["title"], "Checkout");
    assert!(update["story"].is_null());
    ws.close().await;
}
