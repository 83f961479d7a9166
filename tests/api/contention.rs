//! Concurrent writers in one program: every kind of change, eight clients
//! at once, and not one failure. On PostgreSQL this used to deadlock (a
//! program row lock against the event counter); on SQLite writers queue.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, str_at};

const CLIENTS: usize = 8;
const ROUNDS: usize = 4;

/// One round of one client: a story from creation to READY with a
/// dependency and an answered question, and a feature created, changed and
/// ranked; every step on rows other clients are changing too.
async fn round(app: &TestApp, shared: &Value, client: usize, round: usize) -> Vec<String> {
    let failures = std::sync::Mutex::new(Vec::new());
    let run = async |query: &str, input: Value| -> Value {
        let resp = app.gql(Some(ADMIN), query, json!({ "input": input })).await;
        if resp.get("errors").is_some() {
            let failure = format!("client {client} round {round}: {resp}");
            failures.lock().unwrap().push(failure);
        }
        resp["data"].clone()
    };
    let team = if client % 2 == 0 { "teamA" } else { "teamB" };
    let story = run(
        "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
        json!({ "teamId": shared[team], "title": format!("c{client} r{round}") }),
    )
    .await;
    let Some(story) = story.pointer("/createStory/story/id").cloned() else {
        return failures.into_inner().unwrap();
    };
    run(
        "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { id } } }",
        json!({ "storyId": story, "points": 3, "acceptanceCriteria": "works",
                "iterationId": shared["iteration"] }),
    )
    .await;
    run(
        "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { id } } }",
        json!({ "storyId": story, "beforeId": shared[format!("{team}Top")] }),
    )
    .await;
    run(
        "mutation($input: RequestDependencyInput!) { requestDependency(input: $input) { dependency { id } } }",
        json!({ "dependentStoryId": story, "providerStoryId": shared["provider"] }),
    )
    .await;
    let asked = run(
        "mutation($input: AskClarificationInput!) { askClarification(input: $input) { clarification { id } } }",
        json!({ "storyId": story, "question": "Why?" }),
    )
    .await;
    if let Some(id) = asked.pointer("/askClarification/clarification/id") {
        run(
            "mutation($input: AnswerClarificationInput!) { answerClarification(input: $input) { clarification { id } } }",
            json!({ "clarificationId": id, "answer": "Because." }),
        )
        .await;
    }
    run(
        "mutation($input: SetStoryStateInput!) { setStoryState(input: $input) { story { id } } }",
        json!({ "storyId": story, "state": "READY" }),
    )
    .await;
    let feature = run(
        "mutation($input: CreateFeatureInput!) { createFeature(input: $input) { feature { id } } }",
        json!({ "programId": shared["program"], "title": format!("f c{client} r{round}") }),
    )
    .await;
    if let Some(feature) = feature.pointer("/createFeature/feature/id").cloned() {
        run(
            "mutation($input: UpdateFeatureInput!) { updateFeature(input: $input) { feature { id } } }",
            json!({ "featureId": feature, "businessValue": 8, "jobSize": 3 }),
        )
        .await;
        run(
            "mutation($input: RankFeatureInput!) { rankFeature(input: $input) { feature { id } } }",
            json!({ "featureId": feature, "beforeId": shared["feature"] }),
        )
        .await;
    }
    run(
        "mutation($input: UpdateProgramInput!) { updateProgram(input: $input) { program { id } } }",
        json!({ "programId": shared["program"], "vision": format!("v{client}.{round}") }),
    )
    .await;
    failures.into_inner().unwrap()
}

#[tokio::test]
async fn eight_concurrent_writers_of_one_program_never_fail() {
    let app = Arc::new(TestApp::spawn().await);
    let w = World::build(&app).await;
    let increment = app
        .create_increment_as(ADMIN, &w.program, "PI 1", "2026-01-05", 2, 14)
        .await;
    let shared = json!({
        "program": w.program,
        "teamA": w.team_a,
        "teamB": w.team_b,
        "teamATop": app.create_story(&w.team_a, "top of A", json!({})).await,
        "teamBTop": app.create_story(&w.team_b, "top of B", json!({})).await,
        "provider": app.create_story(&w.team_b, "provider", json!({})).await,
        "feature": app.create_feature(&w.program, "first", json!({})).await,
        "iteration": str_at(&increment, "/data/createIncrement/increment/iterations/1/id"),
    });
    let shared = Arc::new(shared);
    let mut clients = Vec::new();
    for client in 0..CLIENTS {
        let (app, shared) = (app.clone(), shared.clone());
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for r in 0..ROUNDS {
                failures.extend(round(&app, &shared, client, r).await);
            }
            failures
        }));
    }
    let mut failures = Vec::new();
    for client in clients {
        failures.extend(client.await.expect("client task"));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Everything landed, in one gap-free log.
    let data = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { events(first: 100) { totalCount edges { node { sequence } } } } }",
            json!({ "p": w.program }),
        )
        .await;
    let edges = data["program"]["events"]["edges"].as_array().unwrap();
    for (i, e) in edges.iter().enumerate() {
        assert_eq!(e["node"]["sequence"], json!(i + 1));
    }
    let backlog = app.backlog_titles(&w.team_a).await;
    assert_eq!(backlog.len(), 1 + CLIENTS / 2 * ROUNDS);
}
