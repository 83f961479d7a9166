//! PI planning through the API: breakdown and readiness of allocated
//! features, capacity and load, confidence votes, and their events.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, code, str_at};

const ALLOCATE: &str =
    "mutation($input: AllocateFeatureInput!) { allocateFeature(input: $input) { feature { id } } }";
const SET_CAPACITY: &str = "mutation($input: SetCapacityInput!) { setCapacity(input: $input) {
    capacity { team { name } iteration { number } capacity load overloaded remaining } } }";
const UPDATE_STORY: &str = "mutation($input: UpdateStoryInput!) { updateStory(input: $input) {
    story { id } overCapacity { capacity load overloaded iteration { number } } } }";
const VOTE: &str = "mutation($input: VoteConfidenceInput!) { voteConfidence(input: $input) {
    vote { voter { name } team { name } value } } }";

const READY: fn() -> Value = || json!({ "points": 3, "acceptanceCriteria": "works" });

/// A world with an increment of two iterations; (increment, [iteration ids]).
async fn increment(app: &TestApp, w: &World) -> (String, Vec<String>) {
    let resp = app
        .create_increment_as(ADMIN, &w.program, "PI 1", "2026-01-05", 2, 14)
        .await;
    let iterations = (0..2)
        .map(|i| {
            str_at(
                &resp,
                &format!("/data/createIncrement/increment/iterations/{i}/id"),
            )
        })
        .collect();
    (
        str_at(&resp, "/data/createIncrement/increment/id"),
        iterations,
    )
}

async fn allocate(app: &TestApp, w: &World, feature: &str, team: &str) {
    app.data(
        &w.pm.token,
        ALLOCATE,
        json!({ "input": { "featureId": feature, "teamId": team } }),
    )
    .await;
}

async fn readiness(app: &TestApp, w: &World, increment: &str) -> Value {
    let data = app
        .data(
            &w.pm.token,
            "query($p: ID!, $i: ID!) { program(id: $p) { planningReadiness(incrementId: $i) {
                features
                readyFeatures { title }
                unallocated { title }
                notBrokenDown { feature { title } teams { name } ageHours }
                blockedByClarifications { feature { title } clarifications { question } oldestAgeHours }
                teamsWithNothingAllocated { name } } } }",
            json!({ "p": w.program, "i": increment }),
        )
        .await;
    data["program"]["planningReadiness"].clone()
}

async fn feature_view(app: &TestApp, token: &str, feature: &str) -> Value {
    let data = app
        .data(
            token,
            "query($f: ID!) { node(id: $f) { ... on Feature { readyForPlanning
                breakdown { team { name } stories pointsEstimated pointsPlanned pointsAccepted storiesNotReady }
                allocations { team { name } breakdown { stories } } } } }",
            json!({ "f": feature }),
        )
        .await;
    data["node"].clone()
}

#[tokio::test]
async fn features_are_ready_when_every_allocated_team_broke_them_down_and_nothing_blocks() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (pi, iterations) = increment(&app, &w).await;
    let team_c = app.create_team(&w.program, "Team C", &w.po_b.id).await;
    let target = json!({ "targetIncrementId": pi });
    let checkout = app
        .create_feature(&w.program, "Checkout", target.clone())
        .await;
    let search = app.create_feature(&w.program, "Search", target).await;
    app.create_feature(&w.program, "Elsewhere", json!({})).await;
    allocate(&app, &w, &checkout, &w.team_a).await;
    allocate(&app, &w, &checkout, &w.team_b).await;

    let before = readiness(&app, &w, &pi).await;
    assert_eq!(before["features"], 2);
    assert_eq!(before["readyFeatures"], json!([]));
    assert_eq!(before["unallocated"], json!([{ "title": "Search" }]));
    assert_eq!(
        before["notBrokenDown"][0]["teams"],
        json!([{ "name": "Team A" }, { "name": "Team B" }])
    );
    assert!(before["notBrokenDown"][0]["ageHours"].as_f64().unwrap() >= 0.0);
    assert_eq!(
        before["teamsWithNothingAllocated"],
        json!([{ "name": "Team C" }])
    );

    // Team A breaks it down: one READY story planned into the PI, one draft.
    let mut a1 = READY();
    a1["featureId"] = json!(checkout);
    let a1 = app.create_story(&w.team_a, "Card form", a1).await;
    app.walk_story(&a1, &["READY"]).await;
    app.data(
        ADMIN,
        UPDATE_STORY,
        json!({ "input": { "storyId": a1, "iterationId": iterations[0] } }),
    )
    .await;
    app.create_story(
        &w.team_a,
        "Wallets",
        json!({ "featureId": checkout, "points": 5 }),
    )
    .await;
    let view = feature_view(&app, &w.po_a.token, &checkout).await;
    assert_eq!(view["readyForPlanning"], false, "team B has nothing yet");
    assert_eq!(
        view["breakdown"],
        json!([
            { "team": { "name": "Team A" }, "stories": 2, "pointsEstimated": 8, "pointsPlanned": 3,
              "pointsAccepted": 0, "storiesNotReady": 1 },
            { "team": { "name": "Team B" }, "stories": 0, "pointsEstimated": 0, "pointsPlanned": 0,
              "pointsAccepted": 0, "storiesNotReady": 0 },
        ])
    );
    assert_eq!(view["allocations"][0]["breakdown"]["stories"], 2);
    let mid = readiness(&app, &w, &pi).await;
    assert_eq!(
        mid["notBrokenDown"][0]["teams"],
        json!([{ "name": "Team B" }])
    );

    // Team B's story is READY too: the feature is ready.
    let mut b1 = READY();
    b1["featureId"] = json!(checkout);
    let b1 = app.create_story(&w.team_b, "Receipts", b1).await;
    app.walk_story(&b1, &["READY"]).await;
    assert_eq!(
        feature_view(&app, ADMIN, &checkout).await["readyForPlanning"],
        true
    );
    let ready = readiness(&app, &w, &pi).await;
    assert_eq!(ready["readyFeatures"], json!([{ "title": "Checkout" }]));
    assert_eq!(ready["notBrokenDown"], json!([]));

    // An open blocking question on one of its stories holds it up.
    let question = app
        .ask_about_story(&w.member_a.token, &b1, "Paper or email?", true)
        .await;
    assert_eq!(
        feature_view(&app, ADMIN, &checkout).await["readyForPlanning"],
        false
    );
    let blocked = readiness(&app, &w, &pi).await;
    assert_eq!(blocked["readyFeatures"], json!([]));
    assert_eq!(
        blocked["blockedByClarifications"][0]["clarifications"],
        json!([{ "question": "Paper or email?" }])
    );
    assert_eq!(
        blocked["blockedByClarifications"][0]["feature"]["title"],
        "Checkout"
    );
    app.data(
        &w.po_b.token,
        "mutation($input: AnswerClarificationInput!) { answerClarification(input: $input) { clarification { id } } }",
        json!({ "input": { "clarificationId": question, "answer": "Email" } }),
    )
    .await;
    assert_eq!(
        feature_view(&app, ADMIN, &checkout).await["readyForPlanning"],
        true
    );

    // Search goes to team C: nobody is idle, nothing unallocated.
    allocate(&app, &w, &search, &team_c).await;
    let last = readiness(&app, &w, &pi).await;
    assert_eq!(last["unallocated"], json!([]));
    assert_eq!(last["teamsWithNothingAllocated"], json!([]));
    assert_eq!(last["notBrokenDown"][0]["feature"]["title"], "Search");

    // Another program's increment is not this program's.
    let other_pm = app.create_user("Other PM").await.0;
    let other = app.create_program("Other", &other_pm).await;
    let theirs = app.create_increment(&other, "PI X", "2026-01-05").await;
    let resp = app
        .gql(
            Some(&w.pm.token),
            "query($p: ID!, $i: ID!) { program(id: $p) { planningReadiness(incrementId: $i) { features } } }",
            json!({ "p": w.program, "i": theirs }),
        )
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
}

#[tokio::test]
async fn a_story_moved_under_a_feature_allocates_it_to_its_team() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let checkout = app.create_feature(&w.program, "Checkout", json!({})).await;
    let story = app.create_story(&w.team_a, "Card form", json!({})).await;
    app.data(
        ADMIN,
        UPDATE_STORY,
        json!({ "input": { "storyId": story, "featureId": checkout } }),
    )
    .await;
    let view = feature_view(&app, ADMIN, &checkout).await;
    assert_eq!(view["allocations"][0]["team"]["name"], "Team A");
}

async fn set_capacity(
    app: &TestApp,
    token: &str,
    team: &str,
    iteration: &str,
    points: Value,
) -> Value {
    app.gql(
        Some(token),
        SET_CAPACITY,
        json!({ "input": { "teamId": team, "iterationId": iteration, "points": points } }),
    )
    .await
}

#[tokio::test]
async fn planning_beyond_capacity_is_allowed_and_said() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (pi, iterations) = increment(&app, &w).await;
    let set = set_capacity(&app, &w.po_a.token, &w.team_a, &iterations[0], json!(5)).await;
    assert_eq!(
        set["data"]["setCapacity"]["capacity"],
        json!({ "team": { "name": "Team A" }, "iteration": { "number": 1 }, "capacity": 5,
                "load": 0, "overloaded": false, "remaining": 5 })
    );
    let small = app
        .create_story(&w.team_a, "Small", json!({ "points": 3 }))
        .await;
    let big = app
        .create_story(&w.team_a, "Big", json!({ "points": 5 }))
        .await;
    let plan = |story: &str| json!({ "input": { "storyId": story, "iterationId": iterations[0] } });
    let first = app
        .data(&w.member_a.token, UPDATE_STORY, plan(&small))
        .await;
    assert!(first["updateStory"]["overCapacity"].is_null(), "{first:#}");
    let second = app.data(&w.member_a.token, UPDATE_STORY, plan(&big)).await;
    assert_eq!(
        second["updateStory"]["overCapacity"],
        json!({ "capacity": 5, "load": 8, "overloaded": true, "iteration": { "number": 1 } })
    );
    // The event carries it too.
    let events = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { events(first: 100, kinds: [STORY_UPDATED]) { edges { node { kind payload } } } } }",
            json!({ "p": w.program }),
        )
        .await;
    let edges = events["program"]["events"]["edges"].as_array().unwrap();
    let last = &edges[edges.len() - 1]["node"];
    assert_eq!(last["kind"], "STORY_UPDATED");
    let payload = &last["payload"];
    assert_eq!(payload["overCapacity"]["load"], 8, "{payload:#}");
    assert_eq!(payload["overCapacity"]["overloaded"], true);

    // Iteration.load and capacity; the metrics and the board agree.
    let figures = app
        .data(
            &w.po_b.token,
            "query($i: ID!, $t: ID!, $pi: ID!, $p: ID!) {
                node(id: $i) { ... on Iteration { load(teamId: $t) capacity(teamId: $t) } }
                team: node(id: $t) { ... on Team { metrics(incrementId: $pi) {
                    capacity { iteration { number } capacity load overloaded } } } }
                program(id: $p) { board(incrementId: $pi) { rows { team { name }
                    cells { iteration { number } capacity load overloaded } } } } }",
            json!({ "i": iterations[0], "t": w.team_a, "pi": pi, "p": w.program }),
        )
        .await;
    assert_eq!(figures["node"], json!({ "load": 8, "capacity": 5 }));
    assert_eq!(
        figures["team"]["metrics"]["capacity"],
        json!([
            { "iteration": { "number": 1 }, "capacity": 5, "load": 8, "overloaded": true },
            { "iteration": { "number": 2 }, "capacity": null, "load": 0, "overloaded": null },
        ])
    );
    let rows = figures["program"]["board"]["rows"].as_array().unwrap();
    let team_a = rows.iter().find(|r| r["team"]["name"] == "Team A").unwrap();
    assert_eq!(
        team_a["cells"],
        json!([
            { "iteration": { "number": 1 }, "capacity": 5, "load": 8, "overloaded": true },
            { "iteration": { "number": 2 }, "capacity": null, "load": 0, "overloaded": null },
            { "iteration": null, "capacity": null, "load": 0, "overloaded": null },
        ])
    );

    // Raising the capacity ends the overload; null removes it.
    let raised = set_capacity(&app, &w.pm.token, &w.team_a, &iterations[0], json!(8)).await;
    assert_eq!(
        raised["data"]["setCapacity"]["capacity"]["overloaded"],
        false
    );
    let removed = set_capacity(&app, ADMIN, &w.team_a, &iterations[0], Value::Null).await;
    assert_eq!(
        removed["data"]["setCapacity"]["capacity"]["capacity"],
        Value::Null
    );
    assert_eq!(
        removed["data"]["setCapacity"]["capacity"]["overloaded"],
        Value::Null
    );
}

#[tokio::test]
async fn a_commitment_that_overloads_the_provider_says_so() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (_, iterations) = increment(&app, &w).await;
    set_capacity(&app, ADMIN, &w.team_b, &iterations[1], json!(3)).await;
    let dependent = app.create_story(&w.team_a, "Checkout", json!({})).await;
    let provider = app
        .create_story(&w.team_b, "Payments API", json!({ "points": 5 }))
        .await;
    let dep = app.request_dependency(&dependent, &provider).await;
    let committed = app
        .data(
            &w.po_b.token,
            "mutation($input: CommitDependencyInput!) { commitDependency(input: $input) {
                dependency { state } overCapacity { team { name } capacity load } } }",
            json!({ "input": { "dependencyId": dep, "iterationId": iterations[1] } }),
        )
        .await;
    assert_eq!(
        committed["commitDependency"],
        json!({ "dependency": { "state": "COMMITTED" },
                "overCapacity": { "team": { "name": "Team B" }, "capacity": 3, "load": 5 } })
    );
}

#[tokio::test]
async fn capacity_values_are_checked_and_name_the_field() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (_, iterations) = increment(&app, &w).await;
    for points in [json!(1001), json!(-1)] {
        let resp = set_capacity(&app, ADMIN, &w.team_a, &iterations[0], points).await;
        assert_eq!(code(&resp), "BAD_USER_INPUT");
        assert!(
            resp["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("points:"),
            "{resp:#}"
        );
    }
    let omitted = app
        .gql(
            Some(ADMIN),
            SET_CAPACITY,
            json!({ "input": { "teamId": w.team_a, "iterationId": iterations[0] } }),
        )
        .await;
    assert_eq!(code(&omitted), "BAD_USER_INPUT");
    let other_pm = app.create_user("Other PM").await.0;
    let other = app.create_program("Other", &other_pm).await;
    let theirs = app
        .create_increment_as(ADMIN, &other, "PI X", "2026-01-05", 1, 14)
        .await;
    let their_iteration = str_at(&theirs, "/data/createIncrement/increment/iterations/0/id");
    let foreign = set_capacity(&app, ADMIN, &w.team_a, &their_iteration, json!(5)).await;
    assert_eq!(code(&foreign), "BAD_USER_INPUT");
    assert!(
        foreign["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("iterationId:")
    );
    // Nothing was stored by the refusals.
    let data = app
        .data(
            ADMIN,
            "query($i: ID!, $t: ID!) { node(id: $i) { ... on Iteration { capacity(teamId: $t) } } }",
            json!({ "i": iterations[0], "t": w.team_a }),
        )
        .await;
    assert_eq!(data["node"]["capacity"], Value::Null);
}

#[tokio::test]
async fn the_team_votes_its_confidence_once_each() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (pi, _) = increment(&app, &w).await;
    let vote = |team: &str, value: i32| json!({ "input": { "incrementId": pi, "teamId": team, "value": value } });
    let po = app.data(&w.po_a.token, VOTE, vote(&w.team_a, 4)).await;
    assert_eq!(
        po["voteConfidence"]["vote"],
        json!({ "voter": { "name": "Olga Owner" }, "team": { "name": "Team A" }, "value": 4 })
    );
    app.data(&w.member_a.token, VOTE, vote(&w.team_a, 2)).await;
    // A later vote replaces the earlier one.
    app.data(&w.member_a.token, VOTE, vote(&w.team_a, 1)).await;
    app.data(&w.po_b.token, VOTE, vote(&w.team_b, 5)).await;
    let confidence = "query($t: ID!, $p: ID!, $i: ID!) {
        team: node(id: $t) { ... on Team { confidence(incrementId: $i) { votes average low { voter { name } value } } } }
        program(id: $p) { confidence(incrementId: $i) { votes average low { value } } } }";
    let data = app
        .data(
            &w.pm.token,
            confidence,
            json!({ "t": w.team_a, "p": w.program, "i": pi }),
        )
        .await;
    assert_eq!(
        data["team"]["confidence"],
        json!({ "votes": 2, "average": 2.5, "low": [{ "voter": { "name": "Mia Member" }, "value": 1 }] })
    );
    assert_eq!(
        data["program"]["confidence"],
        json!({ "votes": 3, "average": 10.0 / 3.0, "low": [{ "value": 1 }] })
    );
    // An admin user votes as themselves.
    let admin_user = app
        .data(
            ADMIN,
            "mutation { createUser(input: { name: \"Ada Admin\", email: \"ada@example.com\", admin: true }) { token } }",
            json!({}),
        )
        .await;
    let ada = str_at(&admin_user, "/createUser/token");
    let voted = app.data(&ada, VOTE, vote(&w.team_b, 3)).await;
    assert_eq!(
        voted["voteConfidence"]["vote"]["voter"]["name"],
        "Ada Admin"
    );
    // Out of range names the field; not a member of that team, or the
    // built-in admin (nobody's vote), is forbidden.
    let bad = app.gql(Some(&w.po_a.token), VOTE, vote(&w.team_a, 6)).await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("value:")
    );
    let other = app.gql(Some(&w.po_a.token), VOTE, vote(&w.team_b, 3)).await;
    assert_eq!(code(&other), "FORBIDDEN");
    let admin = app.gql(Some(ADMIN), VOTE, vote(&w.team_a, 3)).await;
    assert_eq!(code(&admin), "FORBIDDEN");
    let outsider = app
        .gql(Some(&w.outsider.token), VOTE, vote(&w.team_a, 3))
        .await;
    assert_eq!(code(&outsider), "NOT_FOUND");
    // Each vote is an event.
    let events = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { events(kinds: [CONFIDENCE_VOTED]) { edges { node { subject { ... on Team { name } } } } } } }",
            json!({ "p": w.program }),
        )
        .await;
    let teams: Vec<&Value> = events["program"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["subject"]["name"])
        .collect();
    assert_eq!(
        teams,
        ["Team A", "Team A", "Team A", "Team B", "Team B"],
        "{events:#}"
    );
}

#[tokio::test]
async fn capacity_and_votes_reach_program_subscribers() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (pi, iterations) = increment(&app, &w).await;
    let last = app.last_event_cursor(&w.program).await;
    set_capacity(&app, &w.po_a.token, &w.team_a, &iterations[0], json!(13)).await;
    app.data(
        &w.member_a.token,
        VOTE,
        json!({ "input": { "incrementId": pi, "teamId": w.team_a, "value": 4 } }),
    )
    .await;
    // A member of another team reads the program, so sees both.
    let mut ws = crate::helpers::WsClient::connect(&app, Some(&w.po_b.token)).await;
    ws.subscribe(
        "1",
        "subscription($p: ID!, $after: String) { programEvents(programId: $p, after: $after, kinds: [CAPACITY_SET, CONFIDENCE_VOTED]) {
            event { kind payload subject { ... on Team { name } } } } }",
        json!({ "p": w.program, "after": last }),
    )
    .await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let msg = ws.next().await;
        let event = msg["payload"]["data"]["programEvents"]["event"].clone();
        assert_eq!(event["subject"]["name"], "Team A", "{msg:#}");
        got.push((event["kind"].clone(), event["payload"].clone()));
    }
    assert_eq!(got[0].0, "CAPACITY_SET");
    assert_eq!(got[0].1["capacity"], 13);
    assert_eq!(got[0].1["overloaded"], false);
    assert_eq!(got[1].0, "CONFIDENCE_VOTED");
    assert_eq!(got[1].1["value"], 4);
    assert_eq!(got[1].1["voterId"], json!(w.member_a.id));
    ws.close().await;
}

#[tokio::test]
async fn a_story_made_into_an_iteration_is_planned_and_said_when_beyond_capacity() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let (_, iterations) = increment(&app, &w).await;
    set_capacity(&app, &w.po_a.token, &w.team_a, &iterations[0], json!(5)).await;
    const CREATE: &str = "mutation($input: CreateStoryInput!) { createStory(input: $input) {
        story { id iteration { number } } overCapacity { capacity load overloaded } } }";
    let create = |title: &str, points: i32, iteration: &str| {
        json!({ "input": { "teamId": w.team_a, "title": title, "points": points,
                           "iterationId": iteration } })
    };
    let small = app
        .data(
            &w.member_a.token,
            CREATE,
            create("Small", 3, &iterations[0]),
        )
        .await;
    assert_eq!(small["createStory"]["story"]["iteration"]["number"], 1);
    assert!(small["createStory"]["overCapacity"].is_null(), "{small:#}");
    let big = app
        .data(&w.member_a.token, CREATE, create("Big", 5, &iterations[0]))
        .await;
    assert_eq!(
        big["createStory"]["overCapacity"],
        json!({ "capacity": 5, "load": 8, "overloaded": true })
    );
    let events = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { events(first: 100, kinds: [STORY_CREATED, STORY_UPDATED]) {
                edges { node { kind payload } } } } }",
            json!({ "p": w.program }),
        )
        .await;
    let kinds: Vec<&Value> = events["program"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["kind"])
        .collect();
    assert_eq!(kinds, ["STORY_CREATED", "STORY_CREATED"], "one event each");
    let last = &events["program"]["events"]["edges"][1]["node"]["payload"];
    assert_eq!(last["overCapacity"]["load"], 8, "{last:#}");

    // An iteration of another program is not found, and nothing is made.
    let other = app.create_program("Other train", &w.pm.id).await;
    let resp = app
        .create_increment_as(ADMIN, &other, "PI 9", "2026-01-05", 1, 14)
        .await;
    let elsewhere = str_at(&resp, "/data/createIncrement/increment/iterations/0/id");
    let refused = app
        .gql(
            Some(&w.member_a.token),
            CREATE,
            create("Lost", 1, &elsewhere),
        )
        .await;
    assert_eq!(code(&refused), "NOT_FOUND", "{refused:#}");
    let backlog = app
        .data(
            ADMIN,
            "query($t: ID!) { node(id: $t) { ... on Team { backlog(first: 10) { edges { node { title } } } } } }",
            json!({ "t": w.team_a }),
        )
        .await;
    let titles: Vec<&Value> = backlog["node"]["backlog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"]["title"])
        .collect();
    assert_eq!(titles, ["Small", "Big"]);
}
