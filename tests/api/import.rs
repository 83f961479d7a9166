//! The Jira import: fixtures in the shape Jira writes (BOM, repeated Sprint
//! and link columns, quoted multi-line descriptions), through the API and
//! the command line; re-import in place; dry run.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, str_at};

const PROGRAM_CSV: &str = include_str!("fixtures/jira/program.csv");
const NEXT_DAY_CSV: &str = include_str!("fixtures/jira/program-next-day.csv");
const OTHER_CSV: &str = include_str!("fixtures/jira/other.csv");

const IMPORT: &str = "mutation($input: ImportJiraCsvInput!) { importJiraCsv(input: $input) {
    programId dryRun rows
    counts { kind created updated unchanged refused }
    refused { key kind reason }
    notInExport notes } }";

async fn import(app: &TestApp, token: &str, input: Value) -> Value {
    let resp = app
        .gql(Some(token), IMPORT, json!({ "input": input }))
        .await;
    assert!(
        resp.get("errors").is_none(),
        "importJiraCsv failed: {resp:#}"
    );
    resp["data"]["importJiraCsv"].clone()
}

/// (created, updated, unchanged, refused) of `kind` in a payload.
fn counts(payload: &Value, kind: &str) -> (i64, i64, i64, i64) {
    let c = payload["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {payload:#}"));
    let n = |f: &str| c[f].as_i64().unwrap();
    (n("created"), n("updated"), n("unchanged"), n("refused"))
}

/// The reason given for `key`'s refusal of `kind`.
fn reason(payload: &Value, key: &str, kind: &str) -> String {
    payload["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key && r["kind"] == kind)
        .map(|r| r["reason"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{key} ({kind}) was not refused: {payload:#}"))
}

const STORY: &str = "query($p: ID!, $k: String!) { program(id: $p) { stories(externalKey: $k) {
    title description state points acceptanceCriteria externalKey
    team { name } feature { externalKey } iteration { number } } } }";

async fn story(app: &TestApp, program: &str, key: &str) -> Value {
    let data = app
        .data(ADMIN, STORY, json!({ "p": program, "k": key }))
        .await;
    data["program"]["stories"][0].clone()
}

async fn team_named(app: &TestApp, program: &str, name: &str) -> String {
    let data = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { teams { id name } } }",
            json!({ "p": program }),
        )
        .await;
    let teams = data["program"]["teams"].as_array().unwrap();
    let team = teams
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no team {name}: {teams:?}"));
    team["id"].as_str().unwrap().to_owned()
}

/// A program with an increment whose sprints the import maps, and an epic
/// CORE-1 imported into another program.
async fn setup(app: &TestApp) -> (World, String) {
    let w = World::build(app).await;
    let increment = app.create_increment(&w.program, "PI 1", "2026-11-02").await;
    let other = app.create_program("Core", &w.pm.id).await;
    let core = import(app, ADMIN, json!({ "programId": other, "csv": OTHER_CSV })).await;
    assert_eq!(counts(&core, "FEATURE"), (1, 0, 0, 0), "{core:#}");
    (w, increment)
}

#[tokio::test]
async fn an_export_becomes_features_stories_and_dependencies() {
    let app = TestApp::spawn().await;
    let (w, increment) = setup(&app).await;
    let input = json!({ "programId": w.program, "csv": PROGRAM_CSV, "incrementId": increment,
                        "productOwnerEmail": null });
    let done = import(&app, &w.pm.token, input).await;
    assert_eq!(done["dryRun"], false);
    assert_eq!(done["rows"], 13);
    assert_eq!(counts(&done, "TEAM"), (2, 0, 0, 0), "{done:#}");
    assert_eq!(counts(&done, "FEATURE"), (2, 0, 0, 0), "{done:#}");
    assert_eq!(counts(&done, "STORY"), (8, 0, 0, 3), "{done:#}");
    assert_eq!(counts(&done, "DEPENDENCY"), (3, 0, 0, 1), "{done:#}");
    assert!(reason(&done, "SHOP-24", "STORY").contains("points must be one of"));
    assert!(reason(&done, "SHOP-25", "STORY").contains("Sub-task"));
    assert!(reason(&done, "SHOP-26", "STORY").contains("another program"));
    assert!(reason(&done, "SHOP-23", "DEPENDENCY").contains("cycle"));
    assert_eq!(done["notInExport"], json!([]));

    // Fields, quoting and multi-line text come through; states follow the
    // status category; the epic link gives the feature; the last sprint
    // listed gives the iteration.
    let paying = story(&app, &w.program, "SHOP-10").await;
    assert_eq!(paying["title"], "Pay with a saved card");
    assert_eq!(
        paying["description"],
        "Use the card on file.\nAsk for the CVC only when the bank wants it."
    );
    assert_eq!(paying["state"], "IN_PROGRESS");
    assert_eq!(paying["points"], 5);
    assert_eq!(paying["team"]["name"], "Checkout");
    assert_eq!(paying["feature"]["externalKey"], "SHOP-1");
    assert_eq!(paying["iteration"]["number"], 2);
    let summary = story(&app, &w.program, "SHOP-11").await;
    assert_eq!(summary["state"], "READY", "To Do with points and criteria");
    assert_eq!(
        summary["description"],
        "Lines, taxes, \"total\", and the delivery date,\nall on one screen."
    );
    let receipt = story(&app, &w.program, "SHOP-12").await;
    assert_eq!(receipt["state"], "DRAFT", "no points: not ready");
    assert_eq!(receipt["points"], Value::Null);
    let fix = story(&app, &w.program, "SHOP-13").await;
    assert_eq!(fix["state"], "DONE", "accepted only with acceptDone");
    assert_eq!(fix["points"], 2);
    assert_eq!(fix["iteration"]["number"], 1);
    let tokens = story(&app, &w.program, "SHOP-20").await;
    assert_eq!(tokens["team"]["name"], "Payments");
    assert_eq!(
        tokens["feature"]["externalKey"], "SHOP-1",
        "one epic, two teams"
    );
    assert_eq!(tokens["iteration"]["number"], 2);

    // The epic keeps its WSJF inputs and its key.
    let epic = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { features(externalKey: \"SHOP-1\") {
                title businessValue jobSize externalKey } } }",
            json!({ "p": w.program }),
        )
        .await;
    assert_eq!(
        epic["program"]["features"][0],
        json!({ "title": "One-click checkout", "businessValue": 8, "jobSize": 5,
                "externalKey": "SHOP-1" })
    );

    // Blocks links: COMMITTED when the blocking story is in a sprint.
    let deps = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { dependencies(first: 50) { edges { node {
                state crossTeam dependent { externalKey } provider { externalKey } } } } } }",
            json!({ "p": w.program }),
        )
        .await;
    let mut found: Vec<(String, String, String, bool)> = deps["program"]["dependencies"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = &e["node"];
            (
                str_at(n, "/dependent/externalKey"),
                str_at(n, "/provider/externalKey"),
                str_at(n, "/state"),
                n["crossTeam"].as_bool().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("SHOP-10".into(), "SHOP-20".into(), "COMMITTED".into(), true),
            (
                "SHOP-22".into(),
                "SHOP-21".into(),
                "COMMITTED".into(),
                false
            ),
            (
                "SHOP-22".into(),
                "SHOP-23".into(),
                "REQUESTED".into(),
                false
            ),
        ]
    );

    // The backlog keeps the export's order.
    let checkout = team_named(&app, &w.program, "Checkout").await;
    assert_eq!(
        app.backlog_titles(&checkout).await,
        [
            "Pay with a saved card",
            "Show the order summary",
            "Write the receipt email",
            "Fix double charge on retry",
        ]
    );
}

#[tokio::test]
async fn a_second_import_updates_in_place_and_records_only_the_changes() {
    let app = TestApp::spawn().await;
    let (w, increment) = setup(&app).await;
    let input = |csv: &str| json!({ "programId": w.program, "csv": csv, "incrementId": increment });
    import(&app, &w.pm.token, input(PROGRAM_CSV)).await;
    let cursor = app.last_event_cursor(&w.program).await;

    // The same file again: nothing changes, no event.
    let again = import(&app, &w.pm.token, input(PROGRAM_CSV)).await;
    assert_eq!(counts(&again, "TEAM"), (0, 0, 2, 0), "{again:#}");
    assert_eq!(counts(&again, "FEATURE"), (0, 0, 2, 0), "{again:#}");
    assert_eq!(counts(&again, "STORY"), (0, 0, 8, 3), "{again:#}");
    assert_eq!(counts(&again, "DEPENDENCY"), (0, 0, 3, 1), "{again:#}");
    assert_eq!(app.last_event_cursor(&w.program).await, cursor);

    // The next day's export: SHOP-14 is new, SHOP-11 moved above SHOP-10,
    // SHOP-20's title was edited, SHOP-12's row is gone.
    let next = import(&app, &w.pm.token, input(NEXT_DAY_CSV)).await;
    assert_eq!(counts(&next, "FEATURE"), (0, 0, 2, 0), "{next:#}");
    assert_eq!(counts(&next, "STORY"), (1, 2, 5, 3), "{next:#}");
    assert_eq!(counts(&next, "DEPENDENCY"), (0, 0, 3, 1), "{next:#}");
    assert_eq!(next["notInExport"], json!(["SHOP-12"]));
    assert_eq!(
        story(&app, &w.program, "SHOP-20").await["title"],
        "Tokenize cards with the vault"
    );
    let checkout = team_named(&app, &w.program, "Checkout").await;
    assert_eq!(
        app.backlog_titles(&checkout).await,
        [
            "Show the order summary",
            "Pay with a saved card",
            "Write the receipt email",
            "Fix double charge on retry",
            "Apple Pay button",
        ],
        "moved to the new order; the removed row is left where it was"
    );

    // The events since the first import: only the changed rows'.
    let feed = app
        .data(
            ADMIN,
            "query($p: ID!, $after: String) { program(id: $p) { events(after: $after, first: 100) {
                edges { node { kind subject { ... on Story { externalKey } } } } } } }",
            json!({ "p": w.program, "after": cursor }),
        )
        .await;
    let mut events: Vec<(String, String)> = feed["program"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                str_at(&e["node"], "/subject/externalKey"),
                str_at(&e["node"], "/kind"),
            )
        })
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            ("SHOP-11".into(), "STORY_RANKED".into()),
            ("SHOP-14".into(), "STORY_CREATED".into()),
            ("SHOP-14".into(), "STORY_STATE_CHANGED".into()),
            ("SHOP-20".into(), "STORY_UPDATED".into()),
        ],
        "{feed:#}"
    );
}

#[tokio::test]
async fn a_dry_run_reports_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let (w, increment) = setup(&app).await;
    let cursor = app.last_event_cursor(&w.program).await;
    let input = json!({ "programId": w.program, "csv": PROGRAM_CSV, "incrementId": increment,
                        "dryRun": true });
    let dry = import(&app, &w.pm.token, input).await;
    assert_eq!(dry["dryRun"], true);
    assert_eq!(counts(&dry, "TEAM"), (2, 0, 0, 0), "{dry:#}");
    assert_eq!(counts(&dry, "STORY"), (8, 0, 0, 3), "{dry:#}");
    assert_eq!(counts(&dry, "DEPENDENCY"), (3, 0, 0, 1), "{dry:#}");
    assert_eq!(app.last_event_cursor(&w.program).await, cursor);
    let data = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { teams { name } features(externalKey: \"SHOP-1\") { id }
                stories(externalKey: \"SHOP-10\") { id } } }",
            json!({ "p": w.program }),
        )
        .await;
    assert_eq!(
        data["program"],
        json!({ "teams": [{ "name": "Team A" }, { "name": "Team B" }], "features": [],
                "stories": [] })
    );
}

#[tokio::test]
async fn only_the_pm_or_an_admin_imports() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    for token in [&w.po_a.token, &w.member_a.token, &w.outsider.token] {
        let code = app
            .error_code(
                Some(token),
                IMPORT,
                json!({ "input": { "programId": w.program, "csv": PROGRAM_CSV, "dryRun": true } }),
            )
            .await;
        assert!(
            code == "FORBIDDEN" || code == "NOT_FOUND",
            "{code} for a non-PM"
        );
    }
    let code = app
        .error_code(
            None,
            IMPORT,
            json!({ "input": { "programId": w.program, "csv": PROGRAM_CSV } }),
        )
        .await;
    assert_eq!(code, "UNAUTHENTICATED");
    // Not an export at all: a clear error naming what is missing.
    let resp = app
        .gql(
            Some(&w.pm.token),
            IMPORT,
            json!({ "input": { "programId": w.program, "csv": "a,b\n1,2\n" } }),
        )
        .await;
    assert_eq!(resp["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert!(
        str_at(&resp, "/errors/0/message").contains("Issue key"),
        "{resp:#}"
    );
}

#[tokio::test]
async fn an_export_over_the_request_limit_is_pointed_to_the_command_line() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 4096).await;
    let w = World::build(&app).await;
    let big = PROGRAM_CSV.repeat(4);
    let resp = app
        .client
        .post(&app.url)
        .bearer_auth(&w.pm.token)
        .json(&json!({ "query": IMPORT,
                       "variables": { "input": { "programId": w.program, "csv": big } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    let message = str_at(&body, "/errors/0/message");
    assert!(message.contains("4096 bytes"), "{message}");
    assert!(message.contains("portfolio import jira"), "{message}");
}

#[tokio::test]
async fn the_command_line_imports_into_a_new_program() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let email = app
        .data(&w.pm.token, "{ viewer { email } }", json!({}))
        .await["viewer"]["email"]
        .as_str()
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.csv");
    std::fs::write(&file, PROGRAM_CSV).unwrap();
    let file = file.to_str().unwrap();
    let args = |extra: &[&'static str]| {
        let mut args = vec!["import", "jira", "--csv", file];
        args.extend(["--new-program", "Shop train", "--po", &email]);
        args.extend(extra);
        args
    };
    let dry = app.cli(&args(&["--dry-run"])).await;
    let out = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(out.contains("dry run: nothing was written"), "{out}");
    let programs = "{ programs(first: 10) { edges { node { name } } } }";
    let before = app.data(ADMIN, programs, json!({})).await;
    assert!(!before.to_string().contains("Shop train"), "{before}");

    let real = app.cli(&args(&[])).await;
    let out = String::from_utf8_lossy(&real.stdout);
    let err = String::from_utf8_lossy(&real.stderr);
    assert!(real.status.success(), "{out}{err}");
    assert!(
        err.contains("importing 13 rows"),
        "plain progress lines: {err}"
    );
    let stories = out
        .lines()
        .find(|l| l.starts_with("stories"))
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>();
    assert_eq!(stories, ["stories", "8", "0", "0", "3"], "{out}");
    assert!(
        out.contains("SHOP-24 (Story): points must be one of"),
        "{out}"
    );
    let after = app.data(ADMIN, programs, json!({})).await;
    assert!(after.to_string().contains("Shop train"), "{after}");
}

#[tokio::test]
async fn a_status_the_rules_refuse_keeps_the_story_where_it_could_go() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    // Done in Jira, but without points the lifecycle cannot pass READY.
    let csv = "Summary,Issue key,Issue Type,Status,Status Category,Project key,Team,\
               Custom field (Story Points),Custom field (Acceptance Criteria)\n\
               Ship without points,SHOP-90,Story,Done,Done,SHOP,Checkout,,It ships\n\
               Ship with points,SHOP-91,Story,Done,Done,SHOP,Checkout,3,It ships\n";
    let done = import(
        &app,
        &w.pm.token,
        json!({ "programId": w.program, "csv": csv }),
    )
    .await;
    let why = reason(&done, "SHOP-90", "STORY");
    assert!(why.contains("not reached"), "{why}");
    assert!(why.contains("left at DRAFT"), "{why}");
    let kept = story(&app, &w.program, "SHOP-90").await;
    assert_eq!(
        kept["state"], "DRAFT",
        "created, and left where the rules stopped it"
    );
    let shipped = story(&app, &w.program, "SHOP-91").await;
    assert_eq!(
        shipped["state"], "DONE",
        "the refusal of one row stops no other"
    );
}
