//! Cross-team dependencies: negotiation and its permissions, refusals, the
//! at-risk rules, resolution, reading, the board and the metrics.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, Person, TestApp, World, code, str_at};

const REQUEST: &str = "mutation($input: RequestDependencyInput!) { requestDependency(input: $input) {
    dependency { id state crossTeam atRisk riskReasons neededBy { number } dependent { id } provider { id } } } }";
const COMMIT: &str = "mutation($input: CommitDependencyInput!) { commitDependency(input: $input) {
    dependency { state atRisk riskReasons provider { iteration { number } } } } }";
const DECLINE: &str =
    "mutation($input: DeclineDependencyInput!) { declineDependency(input: $input) {
    dependency { state declineReason atRisk riskReasons } } }";
const REMOVE: &str = "mutation($input: RemoveDependencyInput!) { removeDependency(input: $input) {
    removedDependencyId dependency { id state } } }";
const READ: &str = "query($id: ID!) { node(id: $id) { ... on Dependency { state atRisk riskReasons crossTeam } } }";

struct Setup {
    w: World,
    member_b: Person,
    /// Iteration ids of PI 1, by number - 1.
    iterations: Vec<String>,
}

async fn setup(app: &TestApp) -> Setup {
    let w = World::build(app).await;
    let (id, token) = app.create_user("Ben Member").await;
    app.add_member_as(ADMIN, &w.team_b, &id).await;
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let data = app
        .data(
            ADMIN,
            "query($id: ID!) { node(id: $id) { ... on Increment { iterations { id } } } }",
            json!({ "id": pi }),
        )
        .await;
    let iterations = (0..5)
        .map(|i| str_at(&data, &format!("/node/iterations/{i}/id")))
        .collect();
    Setup {
        w,
        member_b: Person { id, token },
        iterations,
    }
}

async fn plan(app: &TestApp, story: &str, iteration: Option<&str>) {
    app.data(
        ADMIN,
        "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { id } } }",
        json!({ "input": { "storyId": story, "iterationId": iteration } }),
    )
    .await;
}

fn request(dependent: &str, provider: &str) -> Value {
    json!({ "input": { "dependentStoryId": dependent, "providerStoryId": provider } })
}

async fn reasons(app: &TestApp, dep: &str) -> Value {
    app.data(ADMIN, READ, json!({ "id": dep })).await["node"]["riskReasons"].clone()
}

#[tokio::test]
async fn the_provider_po_commits_and_the_dependent_is_blocked_until_resolved() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let ready = json!({ "points": 3, "acceptanceCriteria": "AC" });
    let a1 = app.create_story(&w.team_a, "A1", ready.clone()).await;
    let b1 = app.create_story(&w.team_b, "B1", ready.clone()).await;
    let data = app
        .data(&w.member_a.token, REQUEST, request(&a1, &b1))
        .await;
    let dep = &data["requestDependency"]["dependency"];
    assert_eq!(dep["state"], "REQUESTED");
    assert_eq!(dep["crossTeam"], true);
    assert_eq!(dep["atRisk"], false, "nothing planned yet: {dep:#}");
    let id = str_at(dep, "/id");
    let blocked = |story: &str| {
        let story = story.to_owned();
        let app = &app;
        async move {
            app.data(
                ADMIN,
                "query($id: ID!) { node(id: $id) { ... on Story { blocked } } }",
                json!({ "id": story }),
            )
            .await["node"]["blocked"]
                .clone()
        }
    };
    assert_eq!(blocked(&a1).await, true);
    assert_eq!(blocked(&b1).await, false);
    // Who may commit: the provider team's PO only.
    let commit = json!({ "input": { "dependencyId": id, "iterationId": s.iterations[1] } });
    for token in [
        &w.member_a.token,
        &w.po_a.token,
        &w.pm.token,
        &s.member_b.token,
    ] {
        assert_eq!(
            app.error_code(Some(token), COMMIT, commit.clone()).await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.outsider.token), COMMIT, commit.clone())
            .await,
        "NOT_FOUND"
    );
    let data = app.data(&w.po_b.token, COMMIT, commit).await;
    assert_eq!(
        data["commitDependency"]["dependency"],
        json!({ "state": "COMMITTED", "atRisk": false, "riskReasons": [], "provider": { "iteration": { "number": 2 } } })
    );
    // The backlog filters on blocked.
    let data = app
        .data(
            &w.po_a.token,
            "query($id: ID!) { node(id: $id) { ... on Team { yes: backlog(blocked: true) { totalCount } no: backlog(blocked: false) { totalCount } } } }",
            json!({ "id": w.team_a }),
        )
        .await;
    assert_eq!(
        (
            data["node"]["yes"]["totalCount"].clone(),
            data["node"]["no"]["totalCount"].clone()
        ),
        (json!(1), json!(0))
    );
    // The provider is done: resolved, and the dependent is unblocked.
    app.walk_story(&b1, &["READY", "IN_PROGRESS", "DONE"]).await;
    assert_eq!(
        app.data(ADMIN, READ, json!({ "id": id })).await["node"]["state"],
        "RESOLVED"
    );
    assert_eq!(blocked(&a1).await, false);
    // Rejected back to work: committed again, blocked again.
    app.data(
        &w.po_b.token,
        "mutation($input: RejectStoryInput!) { rejectStory(input: $input) { story { state } } }",
        json!({ "input": { "storyId": b1, "reason": "Broken" } }),
    )
    .await;
    assert_eq!(
        app.data(ADMIN, READ, json!({ "id": id })).await["node"]["state"],
        "COMMITTED"
    );
    assert_eq!(blocked(&a1).await, true);
    // Accepted: resolved for good.
    app.walk_story(&b1, &["DONE"]).await;
    app.data(
        &w.po_b.token,
        "mutation($input: AcceptStoryInput!) { acceptStory(input: $input) { story { state } } }",
        json!({ "input": { "storyId": b1 } }),
    )
    .await;
    assert_eq!(
        app.data(ADMIN, READ, json!({ "id": id })).await["node"]["state"],
        "RESOLVED"
    );
    // A resolved dependency cannot be committed or declined again.
    let commit = json!({ "input": { "dependencyId": id, "iterationId": s.iterations[0] } });
    assert_eq!(
        app.error_code(Some(&w.po_b.token), COMMIT, commit).await,
        "CONFLICT"
    );
}

#[tokio::test]
async fn requests_are_refused_on_itself_twice_across_programs_and_in_cycles() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let a = app.create_story(&w.team_a, "Login page", json!({})).await;
    let b = app.create_story(&w.team_b, "Auth API", json!({})).await;
    let c = app.create_story(&w.team_b, "User store", json!({})).await;
    assert_eq!(
        app.error_code(Some(&w.po_a.token), REQUEST, request(&a, &a))
            .await,
        "BAD_USER_INPUT"
    );
    app.data(&w.po_a.token, REQUEST, request(&a, &b)).await;
    assert_eq!(
        app.error_code(Some(&w.po_a.token), REQUEST, request(&a, &b))
            .await,
        "CONFLICT"
    );
    app.data(&w.po_b.token, REQUEST, request(&b, &c)).await;
    // c → a would close Auth API → User store → Login page... : a three-story cycle.
    let resp = app.gql(Some(&w.po_b.token), REQUEST, request(&c, &a)).await;
    assert_eq!(code(&resp), "CONFLICT");
    let message = resp["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("User store → Login page → Auth API → User store"),
        "{message}"
    );
    // The two-story cycle too.
    let resp = app.gql(Some(&w.po_b.token), REQUEST, request(&b, &a)).await;
    assert_eq!(code(&resp), "CONFLICT");
    // Another program's story is answered as a missing one, even for an admin.
    let other = app.create_program("Other", &w.pm.id).await;
    let other_team = app.create_team(&other, "X", &w.po_a.id).await;
    let foreign = app.create_story(&other_team, "Foreign", json!({})).await;
    assert_eq!(
        app.error_code(Some(ADMIN), REQUEST, request(&a, &foreign))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(Some(&w.po_a.token), REQUEST, request(&a, &foreign))
            .await,
        "NOT_FOUND"
    );
    // Who may request for team A's story: its PO and members, the PM.
    let d = app.create_story(&w.team_b, "D", json!({})).await;
    assert_eq!(
        app.error_code(Some(&s.member_b.token), REQUEST, request(&a, &d))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&w.po_b.token), REQUEST, request(&a, &d))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&w.outsider.token), REQUEST, request(&a, &d))
            .await,
        "NOT_FOUND"
    );
    app.data(&w.pm.token, REQUEST, request(&a, &d)).await;
    // Nothing refused was stored.
    let data = app
        .data(
            ADMIN,
            "query($id: ID!) { program(id: $id) { dependencies { totalCount } } }",
            json!({ "id": w.program }),
        )
        .await;
    assert_eq!(data["program"]["dependencies"]["totalCount"], 3);
}

#[tokio::test]
async fn declining_and_removing_follow_the_roles() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let a = app.create_story(&w.team_a, "A", json!({})).await;
    let b = app.create_story(&w.team_b, "B", json!({})).await;
    let id = str_at(
        &app.data(&w.member_a.token, REQUEST, request(&a, &b)).await,
        "/requestDependency/dependency/id",
    );
    let decline = |reason: &str| json!({ "input": { "dependencyId": id, "reason": reason } });
    for token in [&s.member_b.token, &w.po_a.token, &w.pm.token] {
        assert_eq!(
            app.error_code(Some(token), DECLINE, decline("No")).await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.po_b.token), DECLINE, decline(" "))
            .await,
        "BAD_USER_INPUT"
    );
    let data = app
        .data(&w.po_b.token, DECLINE, decline("No capacity"))
        .await;
    assert_eq!(
        data["declineDependency"]["dependency"],
        json!({ "state": "DECLINED", "declineReason": "No capacity", "atRisk": true, "riskReasons": ["DECLINED"] })
    );
    assert_eq!(
        app.error_code(Some(&w.po_b.token), DECLINE, decline("Again"))
            .await,
        "CONFLICT"
    );
    let remove = json!({ "input": { "dependencyId": id } });
    for token in [&w.po_b.token, &s.member_b.token] {
        assert_eq!(
            app.error_code(Some(token), REMOVE, remove.clone()).await,
            "FORBIDDEN"
        );
    }
    let data = app.data(&w.member_a.token, REMOVE, remove.clone()).await;
    assert_eq!(data["removeDependency"]["removedDependencyId"], id.as_str());
    assert_eq!(data["removeDependency"]["dependency"]["state"], "DECLINED");
    assert_eq!(
        app.error_code(Some(&w.pm.token), REMOVE, remove).await,
        "NOT_FOUND"
    );
    let data = app
        .data(
            ADMIN,
            "query($id: ID!) { node(id: $id) { ... on Story { blocked dependencies { id } } } }",
            json!({ "id": a }),
        )
        .await;
    assert_eq!(
        data["node"],
        json!({ "blocked": false, "dependencies": [] })
    );
}

#[tokio::test]
async fn each_risk_rule_alone_and_together() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let it = |n: usize| s.iterations[n - 1].as_str();
    let dep = |d: &str, p: &str, needed: Option<&str>| json!({ "input": { "dependentStoryId": d, "providerStoryId": p, "neededByIterationId": needed } });
    let new_pair = |name: &str| {
        let name = name.to_owned();
        let app = &app;
        let (ta, tb) = (w.team_a.clone(), w.team_b.clone());
        async move {
            (
                app.create_story(&ta, &format!("{name} needs"), json!({}))
                    .await,
                app.create_story(&tb, &format!("{name} gives"), json!({}))
                    .await,
            )
        }
    };
    // Not committed while the dependent is planned (provider planned early).
    let (d, p) = new_pair("1").await;
    plan(&app, &d, Some(it(3))).await;
    plan(&app, &p, Some(it(1))).await;
    let id1 = str_at(
        &app.data(ADMIN, REQUEST, dep(&d, &p, None)).await,
        "/requestDependency/dependency/id",
    );
    assert_eq!(reasons(&app, &id1).await, json!(["NOT_COMMITTED"]));
    // Committed, provider in the same iteration as the need: late.
    let (d, p) = new_pair("2").await;
    plan(&app, &d, Some(it(2))).await;
    let id2 = str_at(
        &app.data(ADMIN, REQUEST, dep(&d, &p, None)).await,
        "/requestDependency/dependency/id",
    );
    app.data(
        &w.po_b.token,
        COMMIT,
        json!({ "input": { "dependencyId": id2, "iterationId": it(2) } }),
    )
    .await;
    assert_eq!(reasons(&app, &id2).await, json!(["PROVIDER_LATE"]));
    app.data(
        &w.po_b.token,
        COMMIT,
        json!({ "input": { "dependencyId": id2, "iterationId": it(1) } }),
    )
    .await;
    assert_eq!(
        reasons(&app, &id2).await,
        json!([]),
        "strictly before is safe"
    );
    // An explicit needed-by iteration, provider unplanned, dependent unplanned.
    let (d, p) = new_pair("3").await;
    let id3 = str_at(
        &app.data(ADMIN, REQUEST, dep(&d, &p, Some(it(4)))).await,
        "/requestDependency/dependency/id",
    );
    assert_eq!(reasons(&app, &id3).await, json!(["PROVIDER_UNPLANNED"]));
    plan(&app, &p, Some(it(4))).await;
    assert_eq!(reasons(&app, &id3).await, json!(["PROVIDER_LATE"]));
    plan(&app, &p, Some(it(3))).await;
    assert_eq!(reasons(&app, &id3).await, json!([]));
    // Declined, with the dependent planned and the provider not: all three.
    let (d, p) = new_pair("4").await;
    plan(&app, &d, Some(it(2))).await;
    let id4 = str_at(
        &app.data(ADMIN, REQUEST, dep(&d, &p, None)).await,
        "/requestDependency/dependency/id",
    );
    app.data(
        &w.po_b.token,
        DECLINE,
        json!({ "input": { "dependencyId": id4, "reason": "No" } }),
    )
    .await;
    assert_eq!(
        reasons(&app, &id4).await,
        json!(["NOT_COMMITTED", "PROVIDER_UNPLANNED", "DECLINED"])
    );
    // The same answer in the filter and the metrics.
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!, $team: ID!) { program(id: $id) {
                risky: dependencies(atRisk: true) { totalCount edges { node { id } } }
                safe: dependencies(atRisk: false) { totalCount }
                declined: dependencies(states: [DECLINED]) { totalCount }
                teamB: dependencies(teamId: $team, first: 2) { totalCount pageInfo { hasNextPage } }
                increments { id } } }",
            json!({ "id": w.program, "team": w.team_b }),
        )
        .await;
    let program = &data["program"];
    let risky: Vec<_> = program["risky"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].clone())
        .collect();
    assert_eq!(risky, vec![json!(id1), json!(id4)]);
    assert_eq!(program["safe"]["totalCount"], 2);
    assert_eq!(program["declined"]["totalCount"], 1);
    assert_eq!(program["teamB"]["totalCount"], 4);
    assert_eq!(program["teamB"]["pageInfo"]["hasNextPage"], true);
    let pi = str_at(program, "/increments/0/id");
    let data = app
        .data(
            &w.pm.token,
            "query($id: ID!, $pi: ID!) { program(id: $id) { metrics(incrementId: $pi) { dependencies {
                total requested committed declined resolved atRisk crossTeam } } } }",
            json!({ "id": w.program, "pi": pi }),
        )
        .await;
    assert_eq!(
        data["program"]["metrics"]["dependencies"],
        json!({ "total": 4, "requested": 2, "committed": 1, "declined": 1, "resolved": 0, "atRisk": 2, "crossTeam": 4 })
    );
}

#[tokio::test]
async fn the_board_shows_teams_by_iteration_with_their_dependencies() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let pi = {
        let data = app
            .data(
                ADMIN,
                "query($id: ID!) { program(id: $id) { increments { id } } }",
                json!({ "id": w.program }),
            )
            .await;
        str_at(&data, "/program/increments/0/id")
    };
    let feature = app
        .create_feature(&w.program, "Checkout", json!({ "targetIncrementId": pi }))
        .await;
    let a1 = app
        .create_story(&w.team_a, "A1", json!({ "featureId": feature }))
        .await;
    let a2 = app
        .create_story(&w.team_a, "A2 unplanned", json!({ "featureId": feature }))
        .await;
    app.create_story(&w.team_a, "A3 elsewhere", json!({})).await;
    let b1 = app.create_story(&w.team_b, "B1", json!({})).await;
    plan(&app, &a1, Some(&s.iterations[1])).await;
    plan(&app, &b1, Some(&s.iterations[1])).await;
    app.data(ADMIN, REQUEST, request(&a1, &b1)).await;
    app.data(ADMIN, REQUEST, request(&a2, &b1)).await;
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!, $pi: ID!) { program(id: $id) { board(incrementId: $pi) {
                columns { title iteration { number } }
                rows { team { name } cells { iteration { number } stories { title feature { title } } } }
                dependencies { dependent { title } provider { title } atRisk riskReasons } } } }",
            json!({ "id": w.program, "pi": pi }),
        )
        .await;
    let board = &data["program"]["board"];
    let titles: Vec<_> = board["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        titles,
        [
            "Iteration 1",
            "Iteration 2",
            "Iteration 3",
            "Iteration 4",
            "Iteration 5",
            "Unplanned"
        ]
    );
    let row_a = &board["rows"][0];
    assert_eq!(row_a["team"]["name"], "Team A");
    assert_eq!(row_a["cells"].as_array().unwrap().len(), 6);
    assert_eq!(
        row_a["cells"][1]["stories"],
        json!([{ "title": "A1", "feature": { "title": "Checkout" } }])
    );
    assert_eq!(
        row_a["cells"][5]["stories"],
        json!([{ "title": "A2 unplanned", "feature": { "title": "Checkout" } }])
    );
    assert_eq!(board["rows"][1]["cells"][1]["stories"][0]["title"], "B1");
    assert_eq!(
        board["dependencies"],
        json!([
            { "dependent": { "title": "A1" }, "provider": { "title": "B1" }, "atRisk": true, "riskReasons": ["NOT_COMMITTED", "PROVIDER_LATE"] },
            { "dependent": { "title": "A2 unplanned" }, "provider": { "title": "B1" }, "atRisk": false, "riskReasons": [] },
        ])
    );
}

/// The program's first increment, and a new feature "Checkout" targeting it.
async fn targeted_feature(app: &TestApp, program: &str) -> (String, String) {
    let pi = str_at(
        &app.data(
            ADMIN,
            "query($id: ID!) { program(id: $id) { increments { id } } }",
            json!({ "id": program }),
        )
        .await,
        "/program/increments/0/id",
    );
    let feature = app
        .create_feature(program, "Checkout", json!({ "targetIncrementId": pi }))
        .await;
    (pi, feature)
}

/// The board reads its cards without the texts and times a card does not
/// show, unless the query asks for them, on the cards or on the ends of
/// its dependencies (directly or through a fragment).
#[tokio::test]
async fn board_cards_answer_every_field_the_query_asks() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let (pi, feature) = targeted_feature(&app, &w.program).await;
    let text = json!({ "featureId": feature, "description": "Card text", "acceptanceCriteria": "Given a cart" });
    let a1 = app.create_story(&w.team_a, "A1", text.clone()).await;
    let a2 = app.create_story(&w.team_a, "A2", text).await;
    let b1 = app
        .create_story(&w.team_b, "B1", json!({ "description": "Provider text" }))
        .await;
    plan(&app, &a1, Some(&s.iterations[1])).await;
    plan(&app, &b1, Some(&s.iterations[1])).await;
    app.data(ADMIN, REQUEST, request(&a2, &b1)).await;
    const FIELDS: &str =
        "id description acceptanceCriteria rejectionReason readyAt acceptedAt createdAt updatedAt";
    let node = |id: String| {
        let app = &app;
        async move {
            app.data(
                ADMIN,
                &format!("query($id: ID!) {{ node(id: $id) {{ ... on Story {{ {FIELDS} }} }} }}"),
                json!({ "id": id }),
            )
            .await["node"]
                .clone()
        }
    };
    let (a1, a2, b1) = (node(a1).await, node(a2).await, node(b1).await);
    assert_eq!(a1["description"], "Card text");
    let board = |query: String| {
        let app = &app;
        let vars = json!({ "id": w.program, "pi": pi });
        async move { app.data(&w.member_a.token, &query, vars).await["program"]["board"].clone() }
    };
    // Asked on the cards.
    let on_cards = board(format!(
        "query($id: ID!, $pi: ID!) {{ program(id: $id) {{ board(incrementId: $pi) {{
            rows {{ cells {{ stories {{ {FIELDS} }} }} }} }} }} }}"
    ))
    .await;
    assert_eq!(on_cards["rows"][0]["cells"][1]["stories"], json!([a1]));
    assert_eq!(on_cards["rows"][0]["cells"][5]["stories"], json!([a2]));
    assert_eq!(on_cards["rows"][1]["cells"][1]["stories"], json!([b1]));
    // Asked only on the dependencies' ends, through a fragment; the cards
    // then ask only their titles.
    let on_ends = board(format!(
        "query($id: ID!, $pi: ID!) {{ program(id: $id) {{ board(incrementId: $pi) {{
            rows {{ cells {{ stories {{ title }} }} }}
            dependencies {{ dependent {{ ...F }} provider {{ ...F }} }}
            again: dependencies {{ dependent {{ id }} }} }} }} }}
        fragment F on Story {{ {FIELDS} }}"
    ))
    .await;
    // Asked twice, the dependencies are read once and answer both.
    assert_eq!(
        on_ends["again"],
        json!([{ "dependent": { "id": a2["id"] } }])
    );
    assert_eq!(
        on_ends["dependencies"],
        json!([{ "dependent": a2, "provider": b1 }])
    );
    assert_eq!(
        on_ends["rows"][0]["cells"][1]["stories"],
        json!([{ "title": "A1" }])
    );
}

/// Cards and dependencies whose query asks only their own scalar fields are
/// answered in one pass; the answer is the executor's, field for field, with
/// aliases, a field asked twice and `__typename`, as through a fragment
/// (which always goes the executor's way).
#[tokio::test]
async fn board_lists_answer_in_one_pass_as_the_executor_would() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let (pi, feature) = targeted_feature(&app, &w.program).await;
    let ready = app
        .create_story(
            &w.team_a,
            "Ready",
            json!({ "featureId": feature, "points": 5, "acceptanceCriteria": "Given a cart" }),
        )
        .await;
    let resp = app.set_story_state_as(ADMIN, &ready, "READY").await;
    assert_eq!(resp["data"]["setStoryState"]["story"]["state"], "READY");
    plan(&app, &ready, Some(&s.iterations[1])).await;
    app.create_story(&w.team_a, "Draft", json!({ "featureId": feature }))
        .await;
    let b = app
        .create_story(&w.team_b, "B", json!({ "featureId": feature, "points": 3 }))
        .await;
    plan(&app, &b, Some(&s.iterations[0])).await;
    app.data(ADMIN, REQUEST, request(&ready, &b)).await;
    const FIELDS: &str = "__typename id title points state externalKey key: id again: title title";
    const DEPENDENCY: &str = "__typename id state atRisk riskReasons declineReason key: id";
    let vars = json!({ "id": w.program, "pi": pi });
    // The raw body, to see the fields' order too.
    let body = |query: String| {
        let (app, vars) = (&app, vars.clone());
        async move {
            app.client
                .post(&app.url)
                .bearer_auth(&w.member_a.token)
                .json(&json!({ "query": query, "variables": vars }))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let direct = body(format!(
        "query($id: ID!, $pi: ID!) {{ program(id: $id) {{ board(incrementId: $pi) {{
            rows {{ cells {{ stories {{ {FIELDS} }} }} }}
            dependencies {{ {DEPENDENCY} }} }} }} }}"
    ))
    .await;
    let through_fragment = body(format!(
        "query($id: ID!, $pi: ID!) {{ program(id: $id) {{ board(incrementId: $pi) {{
            rows {{ cells {{ stories {{ ...Card }} }} }}
            dependencies {{ ...Dependency }} }} }} }}
        fragment Card on Story {{ {FIELDS} }}
        fragment Dependency on Dependency {{ {DEPENDENCY} }}"
    ))
    .await;
    assert_eq!(direct, through_fragment);
    let expected = format!(
        r#"{{"__typename":"Story","id":"{ready}","title":"Ready","points":5,"state":"READY","externalKey":null,"key":"{ready}","again":"Ready"}}"#
    );
    assert!(
        direct.contains(&format!(r#""stories":[{expected}]"#)),
        "{direct}"
    );
    let direct: Value = serde_json::from_str(&direct).unwrap();
    assert_eq!(
        direct["data"]["program"]["board"]["dependencies"][0]["riskReasons"],
        json!(["NOT_COMMITTED"])
    );
    let direct = &direct["data"]["program"]["board"]["rows"];
    assert_eq!(direct[0]["cells"][5]["stories"][0]["state"], "DRAFT");
    assert_eq!(direct[0]["cells"][5]["stories"][0]["points"], Value::Null);
    assert_eq!(direct[1]["cells"][0]["stories"][0]["points"], 3);
}

/// The unplanned column keeps the first cards in rank order when there are
/// more than it shows, and all of them, in rank order, when not.
#[tokio::test]
async fn the_unplanned_column_keeps_the_first_cards_in_rank_order() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let w = &s.w;
    let (pi, feature) = targeted_feature(&app, &w.program).await;
    let mut ids = Vec::new();
    for title in ["U1", "U2", "U3"] {
        ids.push(
            app.create_story(&w.team_a, title, json!({ "featureId": feature }))
                .await,
        );
    }
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let increment = portfolio::graphql::id::decode_as(
        portfolio::graphql::id::Kind::Increment,
        "pi",
        &pi.clone().into(),
    )
    .unwrap();
    let read = |most| {
        let conn = store.conn();
        async move {
            portfolio::dependency::board::unplanned(conn, increment, true, most)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.title)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(read(10).await, ["U1", "U2", "U3"]);
    assert_eq!(read(3).await, ["U1", "U2", "U3"]);
    assert_eq!(read(2).await, ["U1", "U2"]);
    // Ranked to the top, the last comes first.
    app.data(
        ADMIN,
        "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { id } } }",
        json!({ "input": { "storyId": ids[2], "beforeId": ids[0] } }),
    )
    .await;
    assert_eq!(read(2).await, ["U3", "U1"]);
}

/// Whether every dependency's stored risk is what the rules say now; the
/// ids of those that differ.
async fn stored_risk_differs(store: &portfolio::db::Store) -> Vec<i64> {
    use portfolio::dependency::{risk::RiskReason, service};
    service::assessed(store.conn(), &service::Filter::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|a| {
            a.row.at_risk != a.at_risk() || a.row.risk_reasons != RiskReason::join(&a.reasons)
        })
        .map(|a| a.row.id)
        .collect()
}

#[tokio::test]
async fn the_stored_risk_follows_every_change_of_a_replayed_program() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn().await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    // Eight weeks of planning, commitments, declines and finished stories,
    // all through the use cases.
    portfolio::demo::load(&store, app.clock_now(), 3, 12)
        .await
        .unwrap();
    let at_risk = store
        .conn()
        .query_one_raw(Statement::from_string(
            store.conn().get_database_backend(),
            "SELECT COUNT(*) AS n FROM dependencies WHERE at_risk = TRUE",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert!(at_risk > 0, "the demo has dependencies at risk");
    assert_eq!(stored_risk_differs(&store).await, Vec::<i64>::new());

    // Rows whose stored risk was lost (as after the migration that added
    // it) are brought back in line at start.
    store
        .conn()
        .execute_raw(Statement::from_string(
            store.conn().get_database_backend(),
            "UPDATE dependencies SET at_risk = FALSE, risk_reasons = ''",
        ))
        .await
        .unwrap();
    assert_eq!(stored_risk_differs(&store).await.len() as i64, at_risk);
    let changed = portfolio::dependency::service::store_all_risks(&store)
        .await
        .unwrap();
    assert_eq!(changed as i64, at_risk);
    assert_eq!(stored_risk_differs(&store).await, Vec::<i64>::new());
}
