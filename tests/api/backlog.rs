//! Team backlogs: the story lifecycle and its refusals, the PO's rank,
//! reading backlogs and features, team metrics, concurrent moves.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, code, str_at};

const UPDATE: &str = "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { title points acceptanceCriteria iteration { number } feature { id } } } }";
const ACCEPT: &str = "mutation($input: AcceptStoryInput!) { acceptStory(input: $input) { story { state acceptedAt } } }";
const REJECT: &str = "mutation($input: RejectStoryInput!) { rejectStory(input: $input) { story { state rejectionReason } } }";
const RANK: &str =
    "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { position } } }";

#[tokio::test]
async fn a_story_goes_from_draft_to_accepted_by_the_rules() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let resp = app
        .create_story_as(&w.member_a.token, &w.team_a, "Login", json!({}))
        .await;
    let story = &resp["data"]["createStory"]["story"];
    assert_eq!(story["state"], "DRAFT");
    assert_eq!(story["position"], 1);
    let id = str_at(story, "/id");
    // Not ready: no points, no acceptance criteria; both named.
    let resp = app
        .set_story_state_as(&w.member_a.token, &id, "READY")
        .await;
    assert_eq!(code(&resp), "CONFLICT");
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("points") && message.contains("acceptance criteria"),
        "{message}"
    );
    let resp = app
        .set_story_state_as(&w.member_a.token, &id, "IN_PROGRESS")
        .await;
    assert_eq!(code(&resp), "CONFLICT", "no skipping READY");
    app.data(
        &w.member_a.token,
        UPDATE,
        json!({ "input": { "storyId": id, "points": 5, "acceptanceCriteria": "Given a user, when..." } }),
    )
    .await;
    for state in ["READY", "IN_PROGRESS", "DONE"] {
        let resp = app.set_story_state_as(&w.member_a.token, &id, state).await;
        assert_eq!(
            resp["data"]["setStoryState"]["story"]["state"], state,
            "{resp:#}"
        );
    }
    // Only the PO accepts or rejects; a rejection needs a reason.
    let accept = json!({ "input": { "storyId": id } });
    assert_eq!(
        app.error_code(Some(&w.member_a.token), ACCEPT, accept.clone())
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&w.pm.token), ACCEPT, accept.clone())
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&w.po_b.token), ACCEPT, accept.clone())
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&w.outsider.token), ACCEPT, accept.clone())
            .await,
        "NOT_FOUND"
    );
    let reject = |reason: &str| json!({ "input": { "storyId": id, "reason": reason } });
    assert_eq!(
        app.error_code(Some(&w.po_a.token), REJECT, reject("  "))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(Some(&w.member_a.token), REJECT, reject("No"))
            .await,
        "FORBIDDEN"
    );
    let data = app
        .data(&w.po_a.token, REJECT, reject("Missing the error case"))
        .await;
    assert_eq!(
        data["rejectStory"]["story"],
        json!({ "state": "IN_PROGRESS", "rejectionReason": "Missing the error case" })
    );
    assert_eq!(
        app.error_code(Some(&w.po_a.token), ACCEPT, accept.clone())
            .await,
        "CONFLICT"
    );
    assert_eq!(
        app.error_code(Some(&w.po_a.token), REJECT, reject("again"))
            .await,
        "CONFLICT"
    );
    app.set_story_state_as(&w.member_a.token, &id, "DONE").await;
    // Accepting goes through acceptStory only.
    assert_eq!(
        code(&app.set_story_state_as(&w.po_a.token, &id, "ACCEPTED").await),
        "BAD_USER_INPUT"
    );
    let data = app.data(&w.po_a.token, ACCEPT, accept.clone()).await;
    assert_eq!(data["acceptStory"]["story"]["state"], "ACCEPTED");
    assert!(data["acceptStory"]["story"]["acceptedAt"].is_string());
    assert_eq!(
        code(&app.set_story_state_as(&w.po_a.token, &id, "DONE").await),
        "CONFLICT",
        "ACCEPTED is final"
    );
    assert_eq!(
        app.error_code(Some(&w.po_a.token), ACCEPT, accept).await,
        "CONFLICT"
    );
}

#[tokio::test]
async fn story_writes_are_checked_and_refused_to_outsiders() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    // Who may create stories in team A: its PO and members (and admins).
    for token in [&w.pm.token, &w.po_b.token] {
        let resp = app.create_story_as(token, &w.team_a, "S", json!({})).await;
        assert_eq!(code(&resp), "FORBIDDEN");
    }
    let resp = app
        .create_story_as(&w.outsider.token, &w.team_a, "S", json!({}))
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
    let resp = app
        .create_story_as(&w.po_a.token, &w.team_a, "S", json!({ "points": 4 }))
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT");
    let resp = app
        .create_story_as(&w.po_a.token, &w.team_a, "", json!({}))
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT");
    let other = app.create_program("Other", &w.pm.id).await;
    let foreign_feature = app.create_feature(&other, "X", json!({})).await;
    let resp = app
        .create_story_as(
            &w.po_a.token,
            &w.team_a,
            "S",
            json!({ "featureId": foreign_feature }),
        )
        .await;
    // Answered as a missing feature: another program's are not ours to know.
    assert_eq!(code(&resp), "NOT_FOUND");
    let feature = app.create_feature(&w.program, "Checkout", json!({})).await;
    let id = app
        .create_story(
            &w.team_a,
            "S",
            json!({ "featureId": feature, "points": 3, "acceptanceCriteria": "AC" }),
        )
        .await;
    // Planning into an iteration of this program, not another's.
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let iterations = app
        .data(
            ADMIN,
            "query($id: ID!) { node(id: $id) { ... on Increment { iterations { id } } } }",
            json!({ "id": pi }),
        )
        .await;
    let it2 = str_at(&iterations, "/node/iterations/1/id");
    let foreign_pi = app.create_increment(&other, "PI 1", "2026-01-05").await;
    let foreign_it = app
        .data(
            ADMIN,
            "query($id: ID!) { node(id: $id) { ... on Increment { iterations { id } } } }",
            json!({ "id": foreign_pi }),
        )
        .await;
    let foreign_it = str_at(&foreign_it, "/node/iterations/0/id");
    let plan = |it: Value| json!({ "input": { "storyId": id, "iterationId": it } });
    assert_eq!(
        app.error_code(Some(&w.member_a.token), UPDATE, plan(json!(foreign_it)))
            .await,
        "NOT_FOUND"
    );
    let data = app.data(&w.member_a.token, UPDATE, plan(json!(it2))).await;
    assert_eq!(data["updateStory"]["story"]["iteration"]["number"], 2);
    let data = app.data(&w.member_a.token, UPDATE, plan(Value::Null)).await;
    assert!(
        data["updateStory"]["story"]["iteration"].is_null(),
        "null unplans"
    );
    assert_eq!(
        data["updateStory"]["story"]["feature"]["id"],
        feature.as_str(),
        "omitted fields stay"
    );
    // A READY story keeps its points and criteria.
    app.walk_story(&id, &["READY"]).await;
    let clear = json!({ "input": { "storyId": id, "points": null } });
    assert_eq!(
        app.error_code(Some(&w.member_a.token), UPDATE, clear).await,
        "CONFLICT"
    );
    let clear = json!({ "input": { "storyId": id, "acceptanceCriteria": null } });
    assert_eq!(
        app.error_code(Some(&w.member_a.token), UPDATE, clear).await,
        "CONFLICT"
    );
    let rename = json!({ "input": { "storyId": id, "title": "Mine" } });
    assert_eq!(
        app.error_code(Some(&w.po_b.token), UPDATE, rename.clone())
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&w.outsider.token), UPDATE, rename)
            .await,
        "NOT_FOUND"
    );
    let null_title = json!({ "input": { "storyId": id, "title": null } });
    assert_eq!(
        app.error_code(Some(&w.member_a.token), UPDATE, null_title)
            .await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn the_po_ranks_the_backlog() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut ids = std::collections::HashMap::new();
    for t in ["A", "B", "C", "D"] {
        ids.insert(t, app.create_story(&w.team_a, t, json!({})).await);
    }
    assert_eq!(
        app.backlog_titles(&w.team_a).await,
        ["A", "B", "C", "D"],
        "new stories go to the bottom"
    );
    let rank = |s: &str, side: &str, anchor: &str| json!({ "input": { "storyId": ids[s], side: ids[anchor] } });
    let po = &w.po_a.token;
    let data = app.data(po, RANK, rank("D", "beforeId", "A")).await;
    assert_eq!(data["rankStory"]["story"]["position"], 1);
    assert_eq!(app.backlog_titles(&w.team_a).await, ["D", "A", "B", "C"]);
    app.data(po, RANK, rank("D", "afterId", "C")).await;
    assert_eq!(app.backlog_titles(&w.team_a).await, ["A", "B", "C", "D"]);
    app.data(po, RANK, rank("A", "afterId", "B")).await;
    assert_eq!(app.backlog_titles(&w.team_a).await, ["B", "A", "C", "D"]);
    for token in [&w.member_a.token, &w.pm.token, &w.po_b.token] {
        assert_eq!(
            app.error_code(Some(token), RANK, rank("A", "beforeId", "B"))
                .await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.outsider.token), RANK, rank("A", "beforeId", "B"))
            .await,
        "NOT_FOUND"
    );
    let other_team = app.create_story(&w.team_b, "X", json!({})).await;
    let cross = json!({ "input": { "storyId": ids["A"], "beforeId": other_team } });
    assert_eq!(
        app.error_code(Some(po), RANK, cross).await,
        "BAD_USER_INPUT"
    );
    let both =
        json!({ "input": { "storyId": ids["A"], "beforeId": ids["B"], "afterId": ids["C"] } });
    assert_eq!(app.error_code(Some(po), RANK, both).await, "BAD_USER_INPUT");
    assert_eq!(
        app.error_code(Some(po), RANK, rank("A", "beforeId", "A"))
            .await,
        "BAD_USER_INPUT"
    );
    assert_eq!(app.backlog_titles(&w.team_a).await, ["B", "A", "C", "D"]);
}

#[tokio::test]
async fn backlogs_features_and_the_roadmap_read_stories() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let feature = app
        .create_feature(&w.program, "Checkout", json!({ "targetIncrementId": pi }))
        .await;
    let ready = json!({ "featureId": feature, "points": 3, "acceptanceCriteria": "AC" });
    let a1 = app.create_story(&w.team_a, "A1", ready.clone()).await;
    app.create_story(&w.team_a, "A2 enabler", json!({})).await;
    let b1 = app
        .create_story(
            &w.team_b,
            "B1",
            json!({ "featureId": feature, "points": 5, "acceptanceCriteria": "AC" }),
        )
        .await;
    app.walk_story(&a1, &["READY", "IN_PROGRESS", "DONE"]).await;
    app.data(ADMIN, ACCEPT, json!({ "input": { "storyId": a1 } }))
        .await;
    app.walk_story(&b1, &["READY"]).await;
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { node(id: $id) { ... on Team {
                all: backlog { totalCount edges { node { title position state feature { title } } } }
                ready: backlog(states: [READY, ACCEPTED]) { totalCount edges { node { title } } } } } }",
            json!({ "id": w.team_a }),
        )
        .await;
    assert_eq!(data["node"]["all"]["totalCount"], 2);
    assert_eq!(
        data["node"]["all"]["edges"][1]["node"],
        json!({ "title": "A2 enabler", "position": 2, "state": "DRAFT", "feature": null })
    );
    assert_eq!(
        data["node"]["all"]["edges"][0]["node"]["feature"]["title"],
        "Checkout"
    );
    assert_eq!(data["node"]["ready"]["totalCount"], 1);
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { program(id: $id) { roadmap { increments { features {
                title teams { name } stories { title } progress { acceptedPoints totalPoints ratio stories acceptedStories } } } } } }",
            json!({ "id": w.program }),
        )
        .await;
    let f = &data["program"]["roadmap"]["increments"][0]["features"][0];
    assert_eq!(
        f["teams"],
        json!([{ "name": "Team A" }, { "name": "Team B" }])
    );
    assert_eq!(f["stories"].as_array().unwrap().len(), 2);
    assert_eq!(
        f["progress"],
        json!({ "acceptedPoints": 3, "totalPoints": 8, "ratio": 0.375, "stories": 2, "acceptedStories": 1 })
    );
}

#[tokio::test]
async fn team_metrics_measure_velocity_wip_and_cycle_time() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let iterations = app
        .data(
            ADMIN,
            "query($id: ID!) { node(id: $id) { ... on Increment { iterations { id } } } }",
            json!({ "id": pi }),
        )
        .await;
    let it = |n: usize| str_at(&iterations, &format!("/node/iterations/{n}/id"));
    let ready = |points: i32| json!({ "points": points, "acceptanceCriteria": "AC" });
    // Three stories accepted with cycle times of 10, 30 and 50 hours.
    let mut accepted = Vec::new();
    for (points, iteration, hours) in [(3, 0, 10), (5, 0, 30), (8, 1, 50)] {
        let id = app.create_story(&w.team_a, "S", ready(points)).await;
        app.data(
            ADMIN,
            UPDATE,
            json!({ "input": { "storyId": id, "iterationId": it(iteration) } }),
        )
        .await;
        app.walk_story(&id, &["READY", "IN_PROGRESS", "DONE"]).await;
        app.clock.advance(Duration::hours(hours));
        app.data(&w.po_a.token, ACCEPT, json!({ "input": { "storyId": id } }))
            .await;
        accepted.push(id);
    }
    // One in progress, one done but not accepted.
    let wip = app.create_story(&w.team_a, "WIP", ready(2)).await;
    app.walk_story(&wip, &["READY", "IN_PROGRESS"]).await;
    let done = app.create_story(&w.team_a, "Done", ready(13)).await;
    app.data(
        ADMIN,
        UPDATE,
        json!({ "input": { "storyId": done, "iterationId": it(1) } }),
    )
    .await;
    app.walk_story(&done, &["READY", "IN_PROGRESS", "DONE"])
        .await;
    let data = app
        .data(
            &w.po_a.token,
            "query($id: ID!, $pi: ID!) { node(id: $id) { ... on Team { metrics(incrementId: $pi) {
                velocity { iteration { number } acceptedPoints acceptedStories } workInProgress medianCycleTimeHours } } } }",
            json!({ "id": w.team_a, "pi": pi }),
        )
        .await;
    let m = &data["node"]["metrics"];
    assert_eq!(m["workInProgress"], 1);
    assert_eq!(m["medianCycleTimeHours"], 30.0);
    let velocity: Vec<_> = m["velocity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["iteration"]["number"].as_i64().unwrap(),
                v["acceptedPoints"].as_i64().unwrap(),
                v["acceptedStories"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        velocity,
        vec![(1, 8, 2), (2, 8, 1), (3, 0, 0), (4, 0, 0), (5, 0, 0)]
    );
}

/// A small deterministic generator (no shared state, no external crate).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

#[tokio::test]
async fn concurrent_moves_keep_one_total_order() {
    let app = TestApp::spawn_with(|s| s.database_max_connections = 10).await;
    let w = World::build(&app).await;
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(
            app.create_story(&w.team_a, &format!("S{i:02}"), json!({}))
                .await,
        );
    }
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for seed in 0..8u64 {
        let (app, ids, token) = (app.clone(), ids.clone(), w.po_a.token.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Lcg(seed + 1);
            for _ in 0..50 {
                let story = &ids[rng.next(ids.len())];
                let anchor = &ids[rng.next(ids.len())];
                let side = if rng.next(2) == 0 {
                    "beforeId"
                } else {
                    "afterId"
                };
                let resp = app
                    .gql(
                        Some(&token),
                        RANK,
                        json!({ "input": { "storyId": story, side: anchor } }),
                    )
                    .await;
                if story == anchor {
                    assert_eq!(code(&resp), "BAD_USER_INPUT");
                } else {
                    assert!(resp.get("errors").is_none(), "{resp:#}");
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut titles = app.backlog_titles(&w.team_a).await;
    assert_eq!(titles.len(), 20);
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 20, "every story present once");
}
