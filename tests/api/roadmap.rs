//! The PM's side: increments, features and WSJF, the program backlog and its
//! rank, the roadmap, PI objectives and predictability.

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, code, str_at};

const RANK: &str =
    "mutation($input: RankFeatureInput!) { rankFeature(input: $input) { feature { id } } }";
const UPDATE: &str = "mutation($input: UpdateFeatureInput!) { updateFeature(input: $input) { feature { title wsjf { score } targetIncrement { id } businessValue } } }";
const STATE: &str = "mutation($input: SetFeatureStateInput!) { setFeatureState(input: $input) { feature { state } } }";
const SET_OBJECTIVE: &str = "mutation($input: SetObjectiveInput!) { setObjective(input: $input) { objective { id plannedValue committed } } }";
const SCORE: &str = "mutation($input: ScoreObjectiveInput!) { scoreObjective(input: $input) { objective { actualValue } } }";

async fn backlog_titles(app: &TestApp, token: &str, program: &str, order: &str) -> Vec<String> {
    let data = app
        .data(
            token,
            "query($id: ID!, $order: BacklogOrder!) { program(id: $id) { programBacklog(orderBy: $order) { edges { node { title } } } } }",
            json!({ "id": program, "order": order }),
        )
        .await;
    data["program"]["programBacklog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn increments_have_consecutive_iterations_and_never_overlap() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let resp = app
        .create_increment_as(&w.pm.token, &w.program, "PI 1", "2026-01-05", 3, 14)
        .await;
    let inc = &resp["data"]["createIncrement"]["increment"];
    assert_eq!(inc["startDate"], "2026-01-05");
    assert_eq!(inc["endDate"], "2026-02-15");
    let dates: Vec<_> = inc["iterations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["number"].as_i64().unwrap(),
                i["startDate"].clone(),
                i["endDate"].clone(),
            )
        })
        .collect();
    assert_eq!(
        dates,
        vec![
            (1, json!("2026-01-05"), json!("2026-01-18")),
            (2, json!("2026-01-19"), json!("2026-02-01")),
            (3, json!("2026-02-02"), json!("2026-02-15")),
        ]
    );
    // Overlapping on the last day is refused; the day after is fine.
    let clash = app
        .create_increment_as(&w.pm.token, &w.program, "PI 2", "2026-02-15", 2, 7)
        .await;
    assert_eq!(code(&clash), "CONFLICT");
    assert!(
        clash["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("PI 1")
    );
    let before = app
        .create_increment_as(&w.pm.token, &w.program, "PI 0", "2025-12-01", 1, 36)
        .await;
    assert_eq!(code(&before), "CONFLICT", "{before:#}");
    let next = app
        .create_increment_as(&w.pm.token, &w.program, "PI 2", "2026-02-16", 2, 7)
        .await;
    assert!(next.get("errors").is_none(), "{next:#}");
    let dup = app
        .create_increment_as(&w.pm.token, &w.program, "PI 2", "2027-01-01", 2, 7)
        .await;
    assert_eq!(code(&dup), "CONFLICT");
    // Another program may use the same dates.
    let other = app.create_program("Other", &w.pm.id).await;
    let same_dates = app
        .create_increment_as(&w.pm.token, &other, "PI 1", "2026-01-05", 3, 14)
        .await;
    assert!(same_dates.get("errors").is_none(), "{same_dates:#}");
    for (start, count, days) in [
        ("2026-13-01", 2, 7),
        ("05/01/2026", 2, 7),
        ("2030-01-01", 0, 7),
        ("2030-01-01", 2, 0),
        ("2030-01-01", 27, 7),
    ] {
        let resp = app
            .create_increment_as(&w.pm.token, &w.program, "PI X", start, count, days)
            .await;
        assert_eq!(code(&resp), "BAD_USER_INPUT", "{start} {count} {days}");
    }
    // Increments read in date order.
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { program(id: $id) { increments { name iterations { number } } } }",
            json!({ "id": w.program }),
        )
        .await;
    let names: Vec<_> = data["program"]["increments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["PI 1", "PI 2"]);
    // Only the PM plans increments.
    for token in [&w.po_a.token, &w.member_a.token] {
        let resp = app
            .create_increment_as(token, &w.program, "PI 9", "2030-01-01", 2, 7)
            .await;
        assert_eq!(code(&resp), "FORBIDDEN");
    }
    let resp = app
        .create_increment_as(&w.outsider.token, &w.program, "PI 9", "2030-01-01", 2, 7)
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
}

#[tokio::test]
async fn features_take_only_wsjf_scale_values() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let resp = app
        .create_feature_as(
            &w.pm.token,
            &w.program,
            "Checkout",
            json!({ "businessValue": 8, "timeCriticality": 5, "riskReduction": 2, "jobSize": 3 }),
        )
        .await;
    let feature = &resp["data"]["createFeature"]["feature"];
    assert_eq!(feature["state"], "FUNNEL");
    assert_eq!(
        feature["wsjf"],
        json!({ "score": 5.0, "costOfDelay": 15, "jobSize": 3 })
    );
    let id = str_at(feature, "/id");
    for (field, value) in [
        ("businessValue", 4),
        ("timeCriticality", 0),
        ("riskReduction", 21),
        ("jobSize", -1),
    ] {
        let resp = app
            .create_feature_as(&w.pm.token, &w.program, "Bad", json!({ field: value }))
            .await;
        assert_eq!(code(&resp), "BAD_USER_INPUT");
        let message = resp["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(field), "{message} names {field}");
        let resp = app
            .gql(
                Some(&w.pm.token),
                UPDATE,
                json!({ "input": { "featureId": id, field: value } }),
            )
            .await;
        assert_eq!(code(&resp), "BAD_USER_INPUT");
    }
    // A cleared input leaves no score; the other fields stay.
    let data = app
        .data(
            &w.pm.token,
            UPDATE,
            json!({ "input": { "featureId": id, "jobSize": null, "title": "Checkout v2" } }),
        )
        .await;
    assert_eq!(
        data["updateFeature"]["feature"],
        json!({ "title": "Checkout v2", "wsjf": null, "targetIncrement": null, "businessValue": 8 })
    );
    // A target increment must be of the same program.
    let other = app.create_program("Other", &w.pm.id).await;
    let foreign = app.create_increment(&other, "PI 1", "2026-01-05").await;
    let resp = app
        .create_feature_as(
            &w.pm.token,
            &w.program,
            "X",
            json!({ "targetIncrementId": foreign }),
        )
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
    let resp = app
        .gql(
            Some(&w.pm.token),
            UPDATE,
            json!({ "input": { "featureId": id, "targetIncrementId": foreign } }),
        )
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
    let own = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let data = app
        .data(
            &w.pm.token,
            UPDATE,
            json!({ "input": { "featureId": id, "targetIncrementId": own } }),
        )
        .await;
    assert_eq!(
        data["updateFeature"]["feature"]["targetIncrement"]["id"],
        own.as_str()
    );
    // Nobody but the PM (or an admin) edits features.
    for token in [&w.po_a.token, &w.member_a.token] {
        let resp = app
            .create_feature_as(token, &w.program, "Mine", json!({}))
            .await;
        assert_eq!(code(&resp), "FORBIDDEN");
        let resp = app
            .gql(
                Some(token),
                UPDATE,
                json!({ "input": { "featureId": id, "title": "Mine" } }),
            )
            .await;
        assert_eq!(code(&resp), "FORBIDDEN");
    }
    let resp = app
        .gql(
            Some(&w.outsider.token),
            UPDATE,
            json!({ "input": { "featureId": id, "title": "Mine" } }),
        )
        .await;
    assert_eq!(code(&resp), "NOT_FOUND");
}

#[tokio::test]
async fn features_move_one_step_at_a_time_and_only_the_pm_accepts() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let id = app.create_feature(&w.program, "F", json!({})).await;
    let set = |state: &str| json!({ "input": { "featureId": id, "state": state } });
    assert_eq!(
        app.error_code(Some(&w.pm.token), STATE, set("BACKLOG"))
            .await,
        "CONFLICT"
    );
    assert_eq!(
        app.error_code(Some(&w.pm.token), STATE, set("FUNNEL"))
            .await,
        "CONFLICT"
    );
    for state in [
        "ANALYZING",
        "BACKLOG",
        "ANALYZING",
        "BACKLOG",
        "IMPLEMENTING",
    ] {
        let data = app.data(&w.pm.token, STATE, set(state)).await;
        assert_eq!(data["setFeatureState"]["feature"]["state"], state);
    }
    for token in [&w.po_a.token, &w.member_a.token] {
        assert_eq!(
            app.error_code(Some(token), STATE, set("DONE")).await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.outsider.token), STATE, set("DONE"))
            .await,
        "NOT_FOUND"
    );
    let data = app.data(&w.pm.token, STATE, set("DONE")).await;
    assert_eq!(data["setFeatureState"]["feature"]["state"], "DONE");
    assert_eq!(
        app.error_code(Some(ADMIN), STATE, set("BOGUS")).await,
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn the_backlog_orders_by_wsjf_with_ties_in_rank_order() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let wsjf = |bv: i32, tc: i32, rr: i32, js: i32| json!({ "businessValue": bv, "timeCriticality": tc, "riskReduction": rr, "jobSize": js });
    // Scores: A 10/3, B 15/3 = 5, C none, D 10/2 = 5 (ties B), E 1.
    app.create_feature(&w.program, "A", wsjf(5, 3, 2, 3)).await;
    app.create_feature(&w.program, "B", wsjf(8, 5, 2, 3)).await;
    app.create_feature(&w.program, "C", json!({ "businessValue": 20 }))
        .await;
    let d = app.create_feature(&w.program, "D", wsjf(5, 3, 2, 2)).await;
    app.create_feature(&w.program, "E", wsjf(1, 1, 1, 3)).await;
    assert_eq!(
        backlog_titles(&app, &w.pm.token, &w.program, "WSJF").await,
        ["B", "D", "A", "E", "C"]
    );
    assert_eq!(
        backlog_titles(&app, &w.pm.token, &w.program, "RANK").await,
        ["A", "B", "C", "D", "E"]
    );
    // Ranking D to the top flips its tie with B.
    let first = backlog_first_id(&app, &w.program).await;
    app.data(
        &w.pm.token,
        RANK,
        json!({ "input": { "featureId": d, "beforeId": first } }),
    )
    .await;
    assert_eq!(
        backlog_titles(&app, &w.pm.token, &w.program, "RANK").await,
        ["D", "A", "B", "C", "E"]
    );
    assert_eq!(
        backlog_titles(&app, &w.pm.token, &w.program, "WSJF").await,
        ["D", "B", "A", "E", "C"]
    );
    // States filter, page size and cursors (positions).
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { program(id: $id) { programBacklog(orderBy: WSJF, states: [FUNNEL], first: 2) {
                totalCount pageInfo { hasNextPage endCursor } edges { node { title } } } } }",
            json!({ "id": w.program }),
        )
        .await;
    let page = &data["program"]["programBacklog"];
    assert_eq!(page["totalCount"], 5);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let after = str_at(page, "/pageInfo/endCursor");
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!, $after: String) { program(id: $id) { programBacklog(orderBy: WSJF, first: 2, after: $after) {
                pageInfo { hasNextPage hasPreviousPage } edges { node { title } } } } }",
            json!({ "id": w.program, "after": after }),
        )
        .await;
    let titles: Vec<_> = data["program"]["programBacklog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["title"].clone())
        .collect();
    assert_eq!(titles, [json!("A"), json!("E")]);
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { program(id: $id) { programBacklog(states: [DONE]) { totalCount } } }",
            json!({ "id": w.program }),
        )
        .await;
    assert_eq!(data["program"]["programBacklog"]["totalCount"], 0);
}

async fn backlog_first_id(app: &TestApp, program: &str) -> String {
    let data = app
        .data(
            ADMIN,
            "query($id: ID!) { program(id: $id) { programBacklog(first: 1) { edges { node { id } } } } }",
            json!({ "id": program }),
        )
        .await;
    str_at(&data, "/program/programBacklog/edges/0/node/id")
}

#[tokio::test]
async fn the_pm_ranks_features_before_after_top_and_bottom() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut ids = std::collections::HashMap::new();
    for t in ["A", "B", "C", "D"] {
        ids.insert(t, app.create_feature(&w.program, t, json!({})).await);
    }
    let rank = |feature: &str, side: &str, anchor: &str| json!({ "input": { "featureId": ids[feature], side: ids[anchor] } });
    let pm = &w.pm.token;
    app.data(pm, RANK, rank("D", "beforeId", "B")).await;
    assert_eq!(
        backlog_titles(&app, pm, &w.program, "RANK").await,
        ["A", "D", "B", "C"]
    );
    app.data(pm, RANK, rank("A", "afterId", "B")).await;
    assert_eq!(
        backlog_titles(&app, pm, &w.program, "RANK").await,
        ["D", "B", "A", "C"]
    );
    // To the top: before the first. To the bottom: after the last.
    app.data(pm, RANK, rank("C", "beforeId", "D")).await;
    assert_eq!(
        backlog_titles(&app, pm, &w.program, "RANK").await,
        ["C", "D", "B", "A"]
    );
    app.data(pm, RANK, rank("D", "afterId", "A")).await;
    assert_eq!(
        backlog_titles(&app, pm, &w.program, "RANK").await,
        ["C", "B", "A", "D"]
    );
    // Many moves into one gap keep a total order, through respacing the keys
    // (about one character per five moves, respaced past 48).
    for _ in 0..150 {
        app.data(pm, RANK, rank("A", "afterId", "C")).await;
        app.data(pm, RANK, rank("B", "afterId", "C")).await;
    }
    assert_eq!(
        backlog_titles(&app, pm, &w.program, "RANK").await,
        ["C", "B", "A", "D"]
    );
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let backend = store.conn().get_database_backend();
    let longest: i64 = store
        .conn()
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT CAST(MAX(LENGTH(rank_key)) AS BIGINT) AS n FROM features",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap();
    assert!(longest <= 49, "keys were respaced: longest is {longest}");
    // Refusals.
    let both =
        json!({ "input": { "featureId": ids["A"], "beforeId": ids["B"], "afterId": ids["C"] } });
    assert_eq!(app.error_code(Some(pm), RANK, both).await, "BAD_USER_INPUT");
    let neither = json!({ "input": { "featureId": ids["A"] } });
    assert_eq!(
        app.error_code(Some(pm), RANK, neither).await,
        "BAD_USER_INPUT"
    );
    assert_eq!(
        app.error_code(Some(pm), RANK, rank("A", "beforeId", "A"))
            .await,
        "BAD_USER_INPUT"
    );
    let other = app.create_program("Other", &w.pm.id).await;
    let foreign = app.create_feature(&other, "X", json!({})).await;
    let cross = json!({ "input": { "featureId": ids["A"], "beforeId": foreign } });
    assert_eq!(
        app.error_code(Some(pm), RANK, cross).await,
        "BAD_USER_INPUT"
    );
    for token in [&w.po_a.token, &w.member_a.token] {
        assert_eq!(
            app.error_code(Some(token), RANK, rank("A", "beforeId", "C"))
                .await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.outsider.token), RANK, rank("A", "beforeId", "C"))
            .await,
        "NOT_FOUND"
    );
    assert_eq!(
        backlog_titles(&app, pm, &w.program, "RANK").await,
        ["C", "B", "A", "D"]
    );
}

#[tokio::test]
async fn the_roadmap_groups_features_by_increment() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi2 = app.create_increment(&w.program, "PI 2", "2026-04-06").await;
    let pi1 = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    app.create_feature(&w.program, "Unplanned 1", json!({}))
        .await;
    app.create_feature(&w.program, "Late", json!({ "targetIncrementId": pi2 }))
        .await;
    app.create_feature(&w.program, "Early", json!({ "targetIncrementId": pi1 }))
        .await;
    app.create_feature(&w.program, "Early too", json!({ "targetIncrementId": pi1 }))
        .await;
    app.create_feature(&w.program, "Unplanned 2", json!({}))
        .await;
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!) { program(id: $id) { roadmap {
                increments { increment { name } features { title state wsjf { score } } }
                unplanned { title } } } }",
            json!({ "id": w.program }),
        )
        .await;
    let roadmap = &data["program"]["roadmap"];
    let titles = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| f["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(roadmap["increments"][0]["increment"]["name"], "PI 1");
    assert_eq!(
        titles(&roadmap["increments"][0]["features"]),
        ["Early", "Early too"]
    );
    assert_eq!(roadmap["increments"][1]["increment"]["name"], "PI 2");
    assert_eq!(titles(&roadmap["increments"][1]["features"]), ["Late"]);
    assert_eq!(
        titles(&roadmap["unplanned"]),
        ["Unplanned 1", "Unplanned 2"]
    );
    assert_eq!(roadmap["increments"][0]["features"][0]["state"], "FUNNEL");
}

#[tokio::test]
async fn predictability_counts_stretch_objectives_as_actual_only() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let objective = |team: &str, planned: i32, committed: bool| {
        json!({ "input": { "teamId": team, "incrementId": pi, "description": "Deliver",
                           "plannedValue": planned, "committed": committed } })
    };
    // Team A (by its PO): committed 10 and 5, stretch 4.
    let a1 = app
        .data(&w.po_a.token, SET_OBJECTIVE, objective(&w.team_a, 10, true))
        .await;
    let a2 = app
        .data(&w.po_a.token, SET_OBJECTIVE, objective(&w.team_a, 5, true))
        .await;
    let a3 = app
        .data(&w.pm.token, SET_OBJECTIVE, objective(&w.team_a, 4, false))
        .await;
    // Team B: committed 6, left unscored.
    app.data(&w.po_b.token, SET_OBJECTIVE, objective(&w.team_b, 6, true))
        .await;
    let score = |resp: &Value, value: i32| json!({ "input": { "objectiveId": str_at(resp, "/setObjective/objective/id"), "actualValue": value } });
    app.data(&w.pm.token, SCORE, score(&a1, 8)).await;
    app.data(&w.pm.token, SCORE, score(&a2, 5)).await;
    app.data(&w.pm.token, SCORE, score(&a3, 3)).await;
    let data = app
        .data(
            &w.member_a.token,
            "query($id: ID!, $pi: ID!) { program(id: $id) { metrics(incrementId: $pi) {
                predictability { plannedValue actualValue ratio committedObjectives stretchObjectives unscoredObjectives }
                teams { team { name } predictability { plannedValue actualValue ratio } } } } }",
            json!({ "id": w.program, "pi": pi }),
        )
        .await;
    let metrics = &data["program"]["metrics"];
    let ratio = |v: &Value| v["ratio"].as_f64().unwrap();
    let program = &metrics["predictability"];
    assert_eq!(
        (
            &program["plannedValue"],
            &program["actualValue"],
            &program["committedObjectives"],
            &program["stretchObjectives"],
            &program["unscoredObjectives"]
        ),
        (&json!(21), &json!(16), &json!(3), &json!(1), &json!(1))
    );
    assert!((ratio(program) - 16.0 / 21.0).abs() < 1e-9);
    let a = &metrics["teams"][0];
    assert_eq!(a["team"]["name"], "Team A");
    assert_eq!(
        (
            &a["predictability"]["plannedValue"],
            &a["predictability"]["actualValue"]
        ),
        (&json!(15), &json!(16))
    );
    assert!(
        (ratio(&a["predictability"]) - 16.0 / 15.0).abs() < 1e-9,
        "stretch lifts Team A above 100%"
    );
    let b = &metrics["teams"][1];
    assert_eq!(b["team"]["name"], "Team B");
    assert_eq!(
        b["predictability"],
        json!({ "plannedValue": 6, "actualValue": 0, "ratio": 0.0 })
    );
    let data = app
        .data(
            &w.po_a.token,
            "query($id: ID!, $pi: ID!) { node(id: $id) { ... on Team { objectives(incrementId: $pi) { plannedValue actualValue committed }
                metrics(incrementId: $pi) { predictability { ratio } } } } }",
            json!({ "id": w.team_a, "pi": pi }),
        )
        .await;
    assert_eq!(data["node"]["objectives"].as_array().unwrap().len(), 3);
    assert!((ratio(&data["node"]["metrics"]["predictability"]) - 16.0 / 15.0).abs() < 1e-9);
    // Refusals: a member, or another team's PO, sets none; only the PM scores.
    assert_eq!(
        app.error_code(
            Some(&w.member_a.token),
            SET_OBJECTIVE,
            objective(&w.team_a, 3, true)
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            Some(&w.po_b.token),
            SET_OBJECTIVE,
            objective(&w.team_a, 3, true)
        )
        .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(
            Some(&w.outsider.token),
            SET_OBJECTIVE,
            objective(&w.team_a, 3, true)
        )
        .await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(Some(&w.po_a.token), SCORE, score(&a1, 9))
            .await,
        "FORBIDDEN"
    );
    assert_eq!(
        app.error_code(Some(&w.pm.token), SCORE, score(&a1, 11))
            .await,
        "BAD_USER_INPUT"
    );
    for planned in [0, 11] {
        assert_eq!(
            app.error_code(
                Some(&w.pm.token),
                SET_OBJECTIVE,
                objective(&w.team_a, planned, true)
            )
            .await,
            "BAD_USER_INPUT"
        );
    }
    let other = app.create_program("Other", &w.pm.id).await;
    let foreign = app.create_increment(&other, "PI 1", "2026-01-05").await;
    let wrong_pi = json!({ "input": { "teamId": w.team_a, "incrementId": foreign, "description": "x", "plannedValue": 3 } });
    assert_eq!(
        app.error_code(Some(&w.pm.token), SET_OBJECTIVE, wrong_pi)
            .await,
        "NOT_FOUND"
    );
}
