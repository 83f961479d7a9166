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

const ADD: &str = "mutation($input: AddTeamMemberInput!) { addTeamMember(input: $input) { team { members { id name email } } } }";

/// (code, message) of a response's first error.
fn refusal(resp: &Value) -> (String, String) {
    (
        code(resp),
        resp["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

#[tokio::test]
async fn users_of_other_programs_cannot_be_harvested_by_adding_them() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    // Someone who is part of no program, and an ID nobody has.
    let nobody = portfolio::graphql::id::encode(portfolio::graphql::id::Kind::User, 999_999).0;
    let as_po = |user: &str| json!({ "input": { "teamId": w.team_a, "userId": user } });
    let theirs = refusal(
        &app.gql(Some(&w.po_a.token), ADD, as_po(&w.outsider.id))
            .await,
    );
    let missing = refusal(&app.gql(Some(&w.po_a.token), ADD, as_po(&nobody)).await);
    assert_eq!(theirs.0, "NOT_FOUND");
    assert_eq!(missing.0, "NOT_FOUND");
    // The same words but for the ID the client sent itself.
    assert_eq!(
        theirs.1.replace(&w.outsider.id, "<id>"),
        missing.1.replace(&nobody, "<id>")
    );
    // The outsider gained nothing: the program is still not theirs.
    let seen = app
        .data(
            &w.outsider.token,
            "query($p: ID!) { program(id: $p) { id } }",
            json!({ "p": w.program }),
        )
        .await;
    assert!(seen["program"].is_null());
    // The same for a PO named by the PM.
    let team = app
        .gql(
            Some(&w.pm.token),
            "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
            json!({ "input": { "programId": w.program, "name": "C", "productOwnerId": w.outsider.id } }),
        )
        .await;
    assert_eq!(code(&team), "NOT_FOUND", "{team:#}");
    let update = app
        .gql(
            Some(&w.pm.token),
            "mutation($input: UpdateTeamInput!) { updateTeam(input: $input) { team { id } } }",
            json!({ "input": { "teamId": w.team_b, "productOwnerId": w.outsider.id } }),
        )
        .await;
    assert_eq!(code(&update), "NOT_FOUND", "{update:#}");
    // Removing someone who is not a member says nothing about them.
    let removed = app
        .gql(
            Some(&w.po_a.token),
            "mutation($input: RemoveTeamMemberInput!) { removeTeamMember(input: $input) { team { id } } }",
            json!({ "input": { "teamId": w.team_a, "userId": w.outsider.id } }),
        )
        .await;
    assert_eq!(code(&removed), "NOT_FOUND");
    assert!(!removed.to_string().contains("Oscar"), "{removed}");
}

#[tokio::test]
async fn the_pm_brings_in_someone_new_by_exact_email() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let by_email = |email: &str| json!({ "input": { "teamId": w.team_a, "email": email } });
    let unknown = app
        .gql(Some(&w.pm.token), ADD, by_email("nobody@example.com"))
        .await;
    assert_eq!(code(&unknown), "NOT_FOUND");
    let added = app
        .data(&w.pm.token, ADD, by_email("Oscar.Outsider@example.com"))
        .await;
    let members = added["addTeamMember"]["team"]["members"]
        .as_array()
        .unwrap();
    assert!(members.iter().any(|m| m["id"] == json!(w.outsider.id)));
    // A new team's PO, by email too; neither an ID nor an email, or both, is refused.
    let team = "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { productOwner { id } } } }";
    let made = app
        .data(
            &w.pm.token,
            team,
            json!({ "input": { "programId": w.program, "name": "C", "productOwnerEmail": "mia.member@example.com" } }),
        )
        .await;
    assert_eq!(
        made["createTeam"]["team"]["productOwner"]["id"],
        json!(w.member_a.id)
    );
    let neither = app
        .gql(
            Some(&w.pm.token),
            team,
            json!({ "input": { "programId": w.program, "name": "D" } }),
        )
        .await;
    assert_eq!(code(&neither), "BAD_USER_INPUT");
}

#[tokio::test]
async fn emails_are_shown_to_admins_and_the_user_only_unless_set_otherwise() {
    let query = "query($t: ID!) { node(id: $t) { ... on Team { productOwner { email } members { email } } } }";
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let vars = json!({ "t": w.team_a });
    let by_member = app.data(&w.member_a.token, query, vars.clone()).await;
    assert!(
        by_member["node"]["productOwner"]["email"].is_null(),
        "{by_member:#}"
    );
    assert_eq!(
        by_member["node"]["members"][0]["email"],
        "mia.member@example.com"
    );
    let by_po = app.data(&w.po_a.token, query, vars.clone()).await;
    assert!(by_po["node"]["members"][0]["email"].is_null());
    assert_eq!(
        by_po["node"]["productOwner"]["email"],
        "olga.owner@example.com"
    );
    let by_admin = app.data(ADMIN, query, vars.clone()).await;
    assert_eq!(
        by_admin["node"]["members"][0]["email"],
        "mia.member@example.com"
    );

    let open = TestApp::spawn_with(|s| s.show_emails = true).await;
    let w = World::build(&open).await;
    let by_po = open
        .data(&w.po_a.token, query, json!({ "t": w.team_a }))
        .await;
    assert_eq!(
        by_po["node"]["members"][0]["email"],
        "mia.member@example.com"
    );
}

#[tokio::test]
async fn another_programs_objects_are_answered_as_missing_ones() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let other_pm = app.create_user("Other PM").await.0;
    let other = app.create_program("Other", &other_pm).await;
    let theirs_feature = app.create_feature(&other, "Theirs", json!({})).await;
    let theirs_increment = app
        .create_increment_as(ADMIN, &other, "PI", "2026-01-05", 2, 14)
        .await;
    let theirs_iteration = crate::helpers::str_at(
        &theirs_increment,
        "/data/createIncrement/increment/iterations/0/id",
    );
    let theirs_increment =
        crate::helpers::str_at(&theirs_increment, "/data/createIncrement/increment/id");
    let id = |kind, n| portfolio::graphql::id::encode(kind, n).0;
    use portfolio::graphql::id::Kind;
    let story = app.create_story(&w.team_a, "Mine", json!({})).await;
    let feature = app.create_feature(&w.program, "Mine", json!({})).await;
    let provider = app.create_story(&w.team_b, "Theirs", json!({})).await;
    // (mutation, input with a foreign object, the same with a missing one)
    let cases = [
        (
            "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
            json!({ "teamId": w.team_a, "title": "x", "featureId": theirs_feature }),
            json!({ "teamId": w.team_a, "title": "x", "featureId": id(Kind::Feature, 99_999) }),
        ),
        (
            "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { id } } }",
            json!({ "storyId": story, "iterationId": theirs_iteration }),
            json!({ "storyId": story, "iterationId": id(Kind::Iteration, 99_999) }),
        ),
        (
            "mutation($input: RequestDependencyInput!) { requestDependency(input: $input) { dependency { id } } }",
            json!({ "dependentStoryId": story, "providerStoryId": provider, "neededByIterationId": theirs_iteration }),
            json!({ "dependentStoryId": story, "providerStoryId": provider, "neededByIterationId": id(Kind::Iteration, 99_999) }),
        ),
        (
            "mutation($input: UpdateFeatureInput!) { updateFeature(input: $input) { feature { id } } }",
            json!({ "featureId": feature, "targetIncrementId": theirs_increment }),
            json!({ "featureId": feature, "targetIncrementId": id(Kind::Increment, 99_999) }),
        ),
        (
            "mutation($input: SetObjectiveInput!) { setObjective(input: $input) { objective { id } } }",
            json!({ "teamId": w.team_a, "incrementId": theirs_increment, "description": "x", "plannedValue": 3, "committed": true }),
            json!({ "teamId": w.team_a, "incrementId": id(Kind::Increment, 99_999), "description": "x", "plannedValue": 3, "committed": true }),
        ),
    ];
    for (query, foreign, missing) in cases {
        let foreign = refusal(
            &app.gql(Some(ADMIN), query, json!({ "input": foreign }))
                .await,
        );
        let missing = refusal(
            &app.gql(Some(ADMIN), query, json!({ "input": missing }))
                .await,
        );
        assert_eq!(foreign, missing, "{query}");
        assert_eq!(foreign.0, "NOT_FOUND", "{query}");
    }
}

/// `fragment F0 on User { ...F1 ...F1 }` ... down to `F{levels}`: about a
/// kilobyte that expands to 2^levels fields.
fn doubling(levels: usize) -> String {
    let mut q = String::from("query { viewer { ...F0 } }\n");
    for i in 0..levels {
        q.push_str(&format!(
            "fragment F{i} on User {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    q.push_str(&format!("fragment F{levels} on User {{ id }}\n"));
    q
}

#[tokio::test]
async fn documents_that_explode_are_refused_before_validation() {
    let app = TestApp::spawn().await;
    for token in [None, Some(ADMIN)] {
        let resp = app.gql(token, &doubling(30), json!({})).await;
        assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
        let message = resp["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("PORTFOLIO_MAX_QUERY_FIELDS"), "{message}");
    }
    // Deep text names the configured limit, not the parser's recursion.
    let deep = format!("{}{}", "{ programs ".repeat(50), "}".repeat(50));
    let resp = app.gql(Some(ADMIN), &deep, json!({})).await;
    assert!(
        resp["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("depth limit of 15"),
        "{resp:#}"
    );
    // A parse error does not echo a large document back.
    let broken = format!("{{ {} ", "a".repeat(300_000));
    let resp = app.gql(Some(ADMIN), &broken, json!({})).await;
    assert_eq!(code(&resp), "BAD_USER_INPUT");
    assert!(
        resp.to_string().len() < 1000,
        "{} bytes",
        resp.to_string().len()
    );
    // One introspection root per operation, token or not.
    let aliases = (0..1000)
        .map(|i| format!("s{i}: __schema {{ queryType {{ name }} }}"))
        .collect::<Vec<_>>()
        .join(" ");
    let resp = app.gql(None, &format!("{{ {aliases} }}"), json!({})).await;
    assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
}

#[tokio::test]
async fn batches_are_bounded_and_share_one_budget() {
    let app = TestApp::spawn_with(|s| s.max_query_fields = 40).await;
    let send = async |batch: Value| -> (u16, Value) {
        let resp = app
            .client
            .post(&app.url)
            .bearer_auth(ADMIN)
            .json(&batch)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    };
    let one = json!({ "query": "{ programs { totalCount } }" });
    let (status, body) = send(json!(vec![one.clone(); 11])).await;
    assert_eq!(status, 400);
    assert_eq!(code(&body), "BAD_USER_INPUT");
    let (_, body) = send(json!(vec![one.clone(); 2])).await;
    assert_eq!(body[1]["data"]["programs"]["totalCount"], 0, "{body:#}");
    // Ten operations of five fields each are more than 40 fields in all.
    let five = json!({ "query": "{ programs { totalCount pageInfo { hasNextPage hasPreviousPage endCursor } } }" });
    let (_, body) = send(json!(vec![five; 10])).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
}

#[tokio::test]
async fn a_response_over_the_size_cap_is_an_error_not_a_huge_body() {
    let app = TestApp::spawn_with(|s| s.max_response_bytes = 2_000).await;
    let w = World::build(&app).await;
    for i in 0..40 {
        app.create_story(
            &w.team_a,
            &format!("A story with a long enough title {i}"),
            json!({}),
        )
        .await;
    }
    let resp = app
        .gql(
            Some(ADMIN),
            "query($t: ID!) { node(id: $t) { ... on Team { backlog(first: 100) { edges { node { id title description } } } } } }",
            json!({ "t": w.team_a }),
        )
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
    assert!(
        resp["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("PORTFOLIO_MAX_RESPONSE_BYTES")
    );
}

#[tokio::test]
async fn only_json_bodies_are_run() {
    let app = TestApp::spawn().await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = app
            .client
            .post(&app.url)
            .body(r#"{"query":"{ __typename }"}"#);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 415, "{content_type:?}");
    }
    for content_type in [
        "application/json; charset=utf-8",
        "application/graphql-response+json",
    ] {
        let resp = app
            .client
            .post(&app.url)
            .header("content-type", content_type)
            .body(r#"{"query":"{ __typename }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{content_type}");
    }
}

#[tokio::test]
async fn cached_answers_are_counted_under_the_operation_name() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.data(
            ADMIN,
            "query Overview { programs { totalCount } }",
            json!({}),
        )
        .await;
    }
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(
            r#"portfolio_graphql_requests_total{operation="Overview",outcome="cached"} 2"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn plain_lists_count_by_their_bound_in_the_complexity() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    // A nest of plain lists that used to count about 700 and answer 16 MB.
    let nest = "query($p: ID!) { program(id: $p) { teams { backlog(first: 100) { edges { node {
        feature { stories { feature { stories { id } } } } } } } } } }";
    let resp = app.gql(Some(ADMIN), nest, json!({ "p": w.program })).await;
    assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
    // Five hundred boards in one request.
    let boards = (0..500)
        .map(|i| {
            format!(
                "b{i}: board(incrementId: $i) {{ rows {{ cells {{ stories {{ id title }} }} }} }}"
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    let resp = app
        .gql(
            Some(ADMIN),
            &format!("query($p: ID!, $i: ID!) {{ program(id: $p) {{ {boards} }} }}"),
            json!({ "p": w.program, "i": pi }),
        )
        .await;
    assert_eq!(code(&resp), "BAD_USER_INPUT", "{resp:#}");
    // The dashboard stays well within the default.
    let dashboard = include_str!("../queries/dashboard.graphql");
    let resp = app
        .gql(Some(ADMIN), dashboard, json!({ "programId": w.program }))
        .await;
    assert!(resp.get("errors").is_none(), "{resp:#}");
}

/// PostgreSQL's JIT spent ~100 ms compiling a board's read of thousands of
/// ids that then ran in 20 ms: the server's connections run without it.
#[tokio::test]
async fn postgres_connections_run_without_jit() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let conn = store.conn();
    if conn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return;
    }
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SHOW jit",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<String>("", "jit").unwrap(), "off");
}

/// SQLite copied every page of a board out of the kernel into a 2 MB page
/// cache per connection: the pool's connections map the file and keep a
/// larger cache.
#[tokio::test]
async fn sqlite_connections_map_the_file() {
    let app = TestApp::spawn().await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let conn = store.conn();
    if conn.get_database_backend() != sea_orm::DbBackend::Sqlite {
        return;
    }
    assert_eq!(
        sqlite_pragma::<i64>(conn, "mmap_size").await,
        portfolio::db::SQLITE_MMAP_BYTES as i64
    );
    assert_eq!(
        sqlite_pragma::<i64>(conn, "cache_size").await,
        -(portfolio::db::SQLITE_CACHE_KIB as i64)
    );
}

/// The value of an SQLite pragma, as one of the pool's connections has it.
async fn sqlite_pragma<T: sea_orm::TryGetable>(
    conn: &sea_orm::DatabaseConnection,
    name: &str,
) -> T {
    use sea_orm::ConnectionTrait;
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<T>(0).unwrap()
}

/// A new SQLite database file is put in WAL journaling once; the pool's
/// connections do not ask for it again (that takes a lock the busy timeout
/// does not wait for), so a second process opens the file while the first
/// holds a write transaction, as `portfolio user revoke` does beside a
/// running server.
#[tokio::test]
async fn sqlite_files_are_in_wal_and_a_second_process_opens_one_mid_write() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let server = portfolio::db::Store::connect(&app.settings).await.unwrap();
    if server.conn().get_database_backend() != sea_orm::DbBackend::Sqlite {
        return;
    }
    let mode = async |store: &portfolio::db::Store| {
        sqlite_pragma::<String>(store.conn(), "journal_mode").await
    };
    assert_eq!(mode(&server).await, "wal");
    let writing = server.begin_write().await.unwrap();
    writing
        .execute_unprepared("UPDATE users SET name = name")
        .await
        .unwrap();
    let other = portfolio::db::Store::connect(&app.settings).await.unwrap();
    assert_eq!(mode(&other).await, "wal");
    writing.commit().await.unwrap();
}

/// SQLite compiles a statement again on each new binding when value
/// statistics might change its plan; the pool's connections keep one plan.
#[tokio::test]
async fn sqlite_connections_keep_one_plan_per_statement() {
    let app = TestApp::spawn().await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let fixed = store.sqlite_plans_fixed().await.unwrap();
    if store.conn().get_database_backend() == sea_orm::DbBackend::Sqlite {
        assert_eq!(fixed, Some(true));
    } else {
        assert_eq!(fixed, None);
    }
}
