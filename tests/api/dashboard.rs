//! The dashboard query costs the same number of SQL statements whatever the
//! size of the program: every relation goes through a DataLoader.

use serde_json::{Value, json};

use crate::helpers::TestApp;

const DASHBOARD: &str = include_str!("../queries/dashboard.graphql");

/// A demo program replayed on `app` through the use cases, and its global id.
async fn demo_program(
    app: &TestApp,
    teams: usize,
    stories: usize,
) -> (portfolio::demo::Demo, String) {
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let demo = portfolio::demo::load(&store, app.clock_now(), teams, stories)
        .await
        .unwrap();
    let program =
        portfolio::graphql::id::encode(portfolio::graphql::id::Kind::Program, demo.program_id);
    (demo, program.to_string())
}

/// An app whose statement counts do not depend on timing: no periodic log
/// check; loader batches gather for 20 ms, so the count does not depend on
/// how fast the machine is; no response cache, so every query really runs.
async fn counting_app() -> TestApp {
    TestApp::spawn_with(|s| {
        s.event_poll_ms = 3_600_000;
        s.webhook_poll_ms = 3_600_000;
        s.loader_delay_us = 20_000;
        s.response_cache_entries = 0;
    })
    .await
}

/// The fewest statements of three runs of `query` (background work, such as
/// the event dispatcher catching up with a demo's last notifications on a
/// busy machine, only adds), and the answers of the runs.
async fn fewest_statements(
    app: &TestApp,
    token: &str,
    query: &str,
    vars: Value,
) -> (u64, Vec<Value>) {
    let mut fewest = u64::MAX;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let before = app.statements().await;
        answers.push(app.data(token, query, vars.clone()).await);
        fewest = fewest.min(app.statements().await - before);
    }
    (fewest, answers)
}

/// Loads a demo program and returns (statements of one dashboard query, teams shown, stories shown).
async fn dashboard_cost(teams: usize, stories: usize) -> (u64, usize, usize) {
    let app = counting_app().await;
    let (demo, program) = demo_program(&app, teams, stories).await;
    let vars = json!({ "programId": program });
    // Once to warm up, then measured.
    app.data(&demo.pm_token, DASHBOARD, vars.clone()).await;
    let (cost, mut answers) = fewest_statements(&app, &demo.pm_token, DASHBOARD, vars).await;
    let data = answers.pop().unwrap_or_default();
    let shown_teams = data["program"]["teams"].as_array().unwrap().len();
    let shown_stories = data["program"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["backlog"]["edges"].as_array().unwrap().len())
        .sum();
    (cost, shown_teams, shown_stories)
}

#[tokio::test]
async fn the_dashboard_costs_the_same_statements_at_any_size() {
    let (small, small_teams, small_stories) = dashboard_cost(3, 20).await;
    // The demo replays its history through the use cases: the large
    // program is kept to a size a debug build loads in a few seconds.
    let (large, large_teams, large_stories) = dashboard_cost(10, 40).await;
    assert_eq!((small_teams, small_stories), (3, 60));
    assert_eq!((large_teams, large_stories), (10, 200));
    eprintln!("dashboard statements: {small} (3 x 20), {large} (10 x 40)");
    assert_eq!(
        small, large,
        "statements per dashboard: {small} for 3 x 20, {large} for 10 x 40"
    );
    assert!(small <= 20, "{small} statements");
}

/// `program(id:)` reads its teams, their backlog pages and what the pages'
/// stories relate to ahead, in two waves where field by field takes five
/// (`graphql::ahead`). Its answers are those of the same selection resolved
/// field by field (through `node`, which reads nothing ahead), for every page
/// shape, including those it does not foresee; it costs fewer statements;
/// and a user outside the program gets nothing.
#[tokio::test]
async fn a_program_read_ahead_answers_as_field_by_field() {
    let app = counting_app().await;
    let (demo, program) = demo_program(&app, 3, 20).await;
    let (po, _) = app.create_user("Eve Empty").await;
    app.create_team(&program, "Zeta (empty)", &po).await;
    let vars = json!({ "programId": program });
    let story = "id title points state position blocked feature { id title } \
                 dependencies { id state provider { id title team { id name } } } \
                 clarifications { id question blocking status }";
    let dashboard = format!(
        "teams {{ id name backlog(first: 5) {{ totalCount \
         pageInfo {{ hasPreviousPage hasNextPage startCursor endCursor }} \
         edges {{ cursor node {{ {story} }} }} nodes {{ id }} }} }}"
    );
    // The cursor of the third story of a backlog (`crate::page::cursor`).
    let third = "Y3Vyc29yOjM";
    let shapes = [
        dashboard.clone(),
        format!("teams {{ backlog(first: 4, after: \"{third}\") {{ edges {{ node {{ {story} }} }} }} }}"),
        "teams { backlog(states: [READY, DRAFT], first: 4) { totalCount edges { node { id state position } } } }".to_owned(),
        "teams { backlog(blocked: false) { edges { node { id blocked } } } }".to_owned(),
        "teams { backlog { edges { node { id ... on Story { title feature { title } } } } } }".to_owned(),
        "teams { a: backlog(first: 2) { edges { node { id } } } b: backlog(first: 3) { edges { node { title } } } }".to_owned(),
        "teams { backlog(first: 2) { edges { node { id } } } } more: teams { backlog(first: 2) { edges { node { id dependencies { id } } } } }".to_owned(),
        "name teams { name }".to_owned(),
        // A program asked more than its teams is resolved field by field.
        "productManager { name } teams { backlog(first: 2) { edges { node { id } } } }".to_owned(),
    ];
    let ahead =
        |shape: &str| format!("query($programId: ID!) {{ program(id: $programId) {{ {shape} }} }}");
    let by_field = |shape: &str| {
        format!(
            "query($programId: ID!) {{ node(id: $programId) {{ ... on Program {{ {shape} }} }} }}"
        )
    };
    for shape in &shapes {
        let read_ahead = app.data(&demo.pm_token, &ahead(shape), vars.clone()).await;
        let field_by_field = app
            .data(&demo.pm_token, &by_field(shape), vars.clone())
            .await;
        assert_eq!(read_ahead["program"], field_by_field["node"], "{shape}");
        assert_eq!(
            read_ahead["program"]["teams"].as_array().map(Vec::len),
            Some(4),
            "{shape}"
        );
    }
    // A page answered from memory (edges, cursors, pageInfo, totalCount)
    // is the executor's answer: a fragment sends the page the executor's way.
    let page = "totalCount pageInfo { hasPreviousPage hasNextPage startCursor endCursor } \
                edges { __typename cursor node { id title } } nodes { id }";
    let answered =
        format!("teams {{ backlog(first: 4, after: \"{third}\") {{ __typename {page} }} }}");
    let executed = format!(
        "teams {{ backlog(first: 4, after: \"{third}\") {{ ... on StoryConnection {{ __typename {page} }} }} }}"
    );
    let answered = app
        .data(&demo.pm_token, &ahead(&answered), vars.clone())
        .await;
    let executed = app
        .data(&demo.pm_token, &ahead(&executed), vars.clone())
        .await;
    assert_eq!(answered, executed);
    let first = &answered["program"]["teams"][0]["backlog"];
    assert_eq!(first["pageInfo"]["hasPreviousPage"], true, "{first:#}");
    assert_eq!(
        first["edges"].as_array().map(Vec::len),
        Some(4),
        "{first:#}"
    );
    let data = app
        .data(&demo.pm_token, &ahead(&dashboard), vars.clone())
        .await;
    let teams = data["program"]["teams"].as_array().unwrap();
    let deps: usize = teams
        .iter()
        .flat_map(|t| t["backlog"]["edges"].as_array().unwrap())
        .map(|e| e["node"]["dependencies"].as_array().unwrap().len())
        .sum();
    assert!(deps > 0, "the demo's pages show dependencies: {data:#}");
    assert_eq!(teams[3]["backlog"]["edges"], json!([]), "{data:#}");
    let (read_ahead, _) =
        fewest_statements(&app, &demo.pm_token, &ahead(&dashboard), vars.clone()).await;
    let (field_by_field, _) =
        fewest_statements(&app, &demo.pm_token, &by_field(&dashboard), vars.clone()).await;
    assert!(
        read_ahead < field_by_field,
        "{read_ahead} statements read ahead, {field_by_field} field by field"
    );
    // Nothing of a program is shown to a user outside it.
    let (_, outsider) = app.create_user("Oscar Outsider").await;
    let data = app.data(&outsider, &ahead(&dashboard), vars).await;
    assert_eq!(data["program"], Value::Null);
}

/// Backlog pages count their team's stories only when the query asks
/// `totalCount`: one statement fewer without it, and the right totals with.
#[tokio::test]
async fn backlogs_count_their_stories_only_when_asked() {
    let app = counting_app().await;
    let (demo, program) = demo_program(&app, 3, 20).await;
    let vars = json!({ "programId": program });
    let pages = "query($programId: ID!) { program(id: $programId) { teams { \
                 backlog(first: 5) { edges { node { id } } } } } }";
    let counted = "query($programId: ID!) { program(id: $programId) { teams { \
                   backlog(first: 5) { totalCount edges { node { id } } } } } }";
    app.data(&demo.pm_token, pages, vars.clone()).await;
    let (without, _) = fewest_statements(&app, &demo.pm_token, pages, vars.clone()).await;
    let (with, mut answers) = fewest_statements(&app, &demo.pm_token, counted, vars).await;
    assert_eq!(
        with,
        without + 1,
        "{with} statements with totalCount, {without} without"
    );
    let data = answers.pop().unwrap_or_default();
    let teams = data["program"]["teams"].as_array().unwrap();
    assert_eq!(teams.len(), 3);
    for team in teams {
        assert_eq!(team["backlog"]["totalCount"], 20, "{team:#}");
        assert_eq!(team["backlog"]["edges"].as_array().unwrap().len(), 5);
    }
}

async fn cached_count(app: &TestApp) -> u64 {
    let text = app.metrics_text().await;
    text.lines()
        .filter(|l| {
            l.starts_with("portfolio_graphql_requests_total{") && l.contains("outcome=\"cached\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn cached_answers_are_never_stale_after_a_write_is_acknowledged() {
    use crate::helpers::{World, str_at};
    let a = TestApp::spawn_with(|s| {
        s.event_poll_ms = 3_600_000;
        s.webhook_poll_ms = 3_600_000;
    })
    .await;
    let b = a
        .another_process(|s| {
            s.event_poll_ms = 3_600_000;
            s.webhook_poll_ms = 3_600_000;
        })
        .await;
    let w = World::build(&a).await;
    let mut ids = Vec::new();
    for t in ["A", "B", "C"] {
        ids.push(a.create_story(&w.team_a, t, json!({})).await);
    }
    let query = "query($id: ID!) { node(id: $id) { ... on Team { backlog { edges { node { title } } } } } }";
    async fn backlog(app: &TestApp, token: &str, query: &str, team: &str) -> Vec<String> {
        let data = app.data(token, query, json!({ "id": team })).await;
        data["node"]["backlog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_owned())
            .collect()
    }
    for app in [&a, &b] {
        assert_eq!(
            backlog(app, &w.po_a.token, query, &w.team_a).await,
            ["A", "B", "C"]
        );
        assert_eq!(
            backlog(app, &w.po_a.token, query, &w.team_a).await,
            ["A", "B", "C"]
        );
    }
    assert!(
        cached_count(&a).await >= 1 && cached_count(&b).await >= 1,
        "repeated reads are cached"
    );
    // A write acknowledged on A shows at once on A and on B.
    let rank = "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { id } } }";
    a.data(
        &w.po_a.token,
        rank,
        json!({ "input": { "storyId": ids[2], "beforeId": ids[0] } }),
    )
    .await;
    assert_eq!(
        backlog(&a, &w.po_a.token, query, &w.team_a).await,
        ["C", "A", "B"]
    );
    assert_eq!(
        backlog(&b, &w.po_a.token, query, &w.team_a).await,
        ["C", "A", "B"]
    );
    b.data(
        &w.po_a.token,
        rank,
        json!({ "input": { "storyId": ids[0], "beforeId": ids[2] } }),
    )
    .await;
    assert_eq!(
        backlog(&a, &w.po_a.token, query, &w.team_a).await,
        ["A", "C", "B"]
    );
    assert_eq!(
        backlog(&b, &w.po_a.token, query, &w.team_a).await,
        ["A", "C", "B"]
    );
    // Answers that read the clock are not stored.
    let pi = a.create_increment(&w.program, "PI 1", "2026-01-05").await;
    a.data(
        &w.member_a.token,
        "mutation($input: AskClarificationInput!) { askClarification(input: $input) { clarification { id } } }",
        json!({ "input": { "storyId": ids[1], "question": "?" } }),
    )
    .await;
    let age = "query($id: ID!, $pi: ID!) { program(id: $id) { metrics(incrementId: $pi) { clarifications { overall { oldestOpenAgeHours } } } } }";
    let read_age = || async {
        a.data(&w.pm.token, age, json!({ "id": w.program, "pi": pi }))
            .await["program"]["metrics"]["clarifications"]["overall"]["oldestOpenAgeHours"]
            .as_f64()
            .unwrap()
    };
    assert_eq!(read_age().await, 0.0);
    a.clock.advance(chrono::Duration::hours(5));
    assert_eq!(read_age().await, 5.0);
    let _ = str_at;
}

#[tokio::test]
async fn a_write_in_one_program_keeps_the_cached_answers_of_another() {
    use crate::helpers::World;
    let app = TestApp::spawn_with(|s| {
        s.event_poll_ms = 3_600_000;
        s.webhook_poll_ms = 3_600_000;
    })
    .await;
    let w = World::build(&app).await;
    let story = app.create_story(&w.team_a, "A", json!({})).await;
    // A second program, with its own PM.
    let (other_pm, other_token) = app.create_user("Olga Other").await;
    let other = app.create_program("Other train", &other_pm).await;
    let other_team = app.create_team(&other, "Other team", &other_pm).await;
    app.create_story(&other_team, "X", json!({})).await;
    let dashboard = "query($id: ID!) { program(id: $id) { name teams { name backlog { edges { node { title } } } } } }";
    let viewer = "{ viewer { name programs { name } } }";
    async fn read(app: &TestApp, token: &str, query: &str, program: &str) -> Value {
        app.data(token, query, json!({ "id": program })).await
    }
    let (pm, other_token) = (w.pm.token.as_str(), other_token.as_str());
    read(&app, other_token, dashboard, &other).await;
    read(&app, pm, dashboard, &w.program).await;
    read(&app, other_token, viewer, "").await;
    let before = cached_count(&app).await;
    read(&app, other_token, dashboard, &other).await;
    read(&app, pm, dashboard, &w.program).await;
    read(&app, other_token, viewer, "").await;
    assert_eq!(
        cached_count(&app).await,
        before + 3,
        "all three repeat from the cache"
    );

    // A change in the first program: the other program's dashboard stays
    // cached; the first's and the cross-program viewer query do not.
    app.data(
        &w.po_a.token,
        "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { id } } }",
        json!({ "input": { "storyId": story, "title": "A2" } }),
    )
    .await;
    let before = cached_count(&app).await;
    let mine = read(&app, pm, dashboard, &w.program).await;
    assert_eq!(
        cached_count(&app).await,
        before,
        "the changed program is read again"
    );
    assert_eq!(
        mine["program"]["teams"][0]["backlog"]["edges"][0]["node"]["title"],
        "A2"
    );
    read(&app, other_token, viewer, "").await;
    assert_eq!(
        cached_count(&app).await,
        before,
        "a cross-program query is read again"
    );
    read(&app, other_token, dashboard, &other).await;
    assert_eq!(
        cached_count(&app).await,
        before + 1,
        "the other program stays cached"
    );

    // Layout and variable order do not make a new entry.
    let spaced = "query($id: ID!) {\n  program(id: $id) {\n    name, teams { name backlog { edges { node { title } } } }\n  }\n} # again";
    read(&app, other_token, spaced, &other).await;
    assert_eq!(cached_count(&app).await, before + 2);
}

/// Everything a dashboard asks of a story, read ahead on backlog pages.
const STORY_FIELDS: &str = "id title points state position blocked
    team { id name } feature { id title wsjf { score } }
    dependencies { id state atRisk riskReasons provider { id title state team { id name } } }
    clarifications { id question blocking status }";

/// Reads the program's backlog pages (`backlog(ARGS)`) with every story
/// field, checks each story against the same story read alone through
/// `node`, and returns the stories compared.
async fn compare_pages_with_nodes(
    app: &TestApp,
    token: &str,
    program: &str,
    args: &str,
) -> Vec<Value> {
    let paged = format!(
        "query($p: ID!) {{ program(id: $p) {{ teams {{ backlog({args}) {{ edges {{ node {{ {STORY_FIELDS} }} }} }} }} }} }}"
    );
    let alone =
        format!("query($id: ID!) {{ node(id: $id) {{ ... on Story {{ {STORY_FIELDS} }} }} }}");
    let data = app.data(token, &paged, json!({ "p": program })).await;
    let mut compared = Vec::new();
    for team in data["program"]["teams"].as_array().unwrap() {
        for edge in team["backlog"]["edges"].as_array().unwrap() {
            let story = &edge["node"];
            let read = app.data(token, &alone, json!({ "id": story["id"] })).await;
            assert_eq!(&read["node"], story);
            compared.push(story.clone());
        }
    }
    compared
}

#[tokio::test]
async fn stories_read_ahead_with_their_page_answer_as_stories_read_alone() {
    let app = TestApp::spawn().await;
    let (demo, program) = demo_program(&app, 3, 12).await;
    let stories = compare_pages_with_nodes(&app, &demo.pm_token, &program, "first: 12").await;
    // The comparison covered every relation.
    assert_eq!(stories.len(), 36);
    let count = |field: &str| -> usize {
        stories
            .iter()
            .map(|s| s[field].as_array().unwrap().len())
            .sum()
    };
    let (dependencies, clarifications) = (count("dependencies"), count("clarifications"));
    assert!(
        dependencies > 0 && clarifications > 0,
        "{dependencies} {clarifications}"
    );
    // A filtered page reads ahead too, and positions still come from the backlog.
    let blocked =
        compare_pages_with_nodes(&app, &demo.pm_token, &program, "first: 50, blocked: true").await;
    assert!(!blocked.is_empty(), "the demo has blocked stories");
    assert!(blocked.iter().all(|s| s["blocked"] == json!(true)));
}

/// Backlog pages answer their stories' whole selection from memory when
/// they can (`one_pass::Answered`); an inline fragment sends the same
/// selection through the executor, and both answers are the same to the
/// byte: aliases, `__typename`, nulls, enums, lists, floats and text with
/// quotes included.
#[tokio::test]
async fn stories_answered_from_memory_are_the_executors_answer() {
    use entity::{feature, story};
    use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
    let app = TestApp::spawn().await;
    let (demo, program) = demo_program(&app, 3, 12).await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let conn = store.conn();
    // An imported story with awkward text, and a feature not fully estimated.
    let first = story::Entity::find()
        .order_by_asc(story::Column::Id)
        .one(conn)
        .await
        .unwrap()
        .unwrap();
    let mut imported: story::ActiveModel = first.into();
    imported.title = Set("\"Quoted\" \\ ünïcödé 😀".into());
    imported.external_key = Set(Some("PAY-1".into()));
    imported.update(conn).await.unwrap();
    let some = feature::Entity::find()
        .order_by_asc(feature::Column::Id)
        .one(conn)
        .await
        .unwrap()
        .unwrap();
    let mut unestimated: feature::ActiveModel = some.into();
    unestimated.job_size = Set(None);
    unestimated.update(conn).await.unwrap();

    // Nothing asked of a provider here needs a read (its `blocked` or
    // `position` would, unless it is on a page too), so stories with
    // dependencies answer from memory too.
    let fields = "__typename key: id id title externalKey points state position blocked
        team { __typename id name }
        feature { __typename id title externalKey description state businessValue
            timeCriticality riskReduction jobSize wsjf { score costOfDelay jobSize } }
        dependencies { __typename id state atRisk riskReasons declineReason
            provider { id title points state team { id name } } }
        clarifications { __typename id question blocking status }";
    let query = |node: &str| {
        format!(
            "query($p: ID!) {{ program(id: $p) {{ teams {{ backlog(first: 12) {{ edges {{ node {{ {node} }} }} }} }} }} }}"
        )
    };
    let vars = json!({ "p": program });
    let answered = app.data(&demo.pm_token, &query(fields), vars.clone()).await;
    let executed = app
        .data(
            &demo.pm_token,
            &query(&format!("... on Story {{ {fields} }}")),
            vars,
        )
        .await;
    assert_eq!(answered.to_string(), executed.to_string());

    // The comparison covered what it names.
    let stories: Vec<&Value> = answered["program"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["backlog"]["edges"].as_array().unwrap())
        .map(|e| &e["node"])
        .collect();
    assert_eq!(stories.len(), 36);
    let any = |f: &dyn Fn(&Value) -> bool| stories.iter().any(|s| f(s));
    assert!(any(&|s| s["externalKey"] == json!("PAY-1")));
    assert!(any(&|s| s["feature"].is_null()), "an enabler");
    assert!(any(&|s| s["feature"]["wsjf"].is_null()));
    assert!(any(&|s| s["feature"]["wsjf"]["score"].is_f64()));
    assert!(any(&|s| !s["dependencies"].as_array().unwrap().is_empty()));
    assert!(any(&|s| !s["clarifications"]
        .as_array()
        .unwrap()
        .is_empty()));
    assert!(any(&|s| s["blocked"] == json!(true)));
}

/// Tools take the first team `Program.teams` lists and the first PO token
/// `portfolio demo` prints (the peer comparison's writer does): they must
/// be a team and its own PO, who may rank its backlog.
#[tokio::test]
async fn the_demo_lists_its_tokens_in_the_apis_team_order() {
    let app = TestApp::spawn().await;
    let (demo, program) = demo_program(&app, 4, 4).await;
    let data = app
        .data(
            &demo.pm_token,
            "query($p: ID!) { program(id: $p) { teams { id name productOwner { name }
                members { name } backlog(first: 2) { edges { node { id } } } } } }",
            json!({ "p": program }),
        )
        .await;
    let teams = data["program"]["teams"].as_array().unwrap();
    let names: Vec<&str> = teams.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let printed: Vec<&str> = demo.po_tokens.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(printed, names);
    assert_eq!(demo.member_token.0, names[0]);
    let first = &teams[0];
    for (token, role) in [
        (&demo.po_tokens[0].1, "productOwner"),
        (&demo.member_token.1, "member"),
    ] {
        let viewer = app.data(token, "{ viewer { name } }", json!({})).await;
        let name = viewer["viewer"]["name"].clone();
        let of_team = match role {
            "productOwner" => first["productOwner"]["name"] == name,
            _ => first["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == name),
        };
        assert!(of_team, "{role} token is {name} of {}", names[0]);
    }
    let edges = first["backlog"]["edges"].as_array().unwrap();
    let moved = app
        .data(
            &demo.po_tokens[0].1,
            "mutation($i: RankStoryInput!) { rankStory(input: $i) { story { id } } }",
            json!({ "i": { "storyId": edges[1]["node"]["id"], "beforeId": edges[0]["node"]["id"] } }),
        )
        .await;
    assert_eq!(moved["rankStory"]["story"]["id"], edges[1]["node"]["id"]);
}

#[tokio::test]
async fn the_demo_goes_through_the_use_cases_and_tells_its_history() {
    let app = TestApp::spawn().await;
    let (demo, program) = demo_program(&app, 3, 12).await;
    let data = app
        .data(
            &demo.pm_token,
            "query($p: ID!) { program(id: $p) {
                events(first: 100) { totalCount edges { node { kind actor { name } } } }
                teams { backlog(first: 100) { edges { node { position } } } }
            } }",
            json!({ "p": program }),
        )
        .await;
    let events = &data["program"]["events"];
    // Every row the demo wrote came with its event.
    let total = events["totalCount"].as_u64().unwrap();
    assert!(total as usize > demo.stories * 2, "{total} events");
    let first: Vec<(String, Value)> = events["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["kind"].as_str().unwrap().to_owned(),
                e["node"]["actor"]["name"].clone(),
            )
        })
        .collect();
    assert_eq!(first[0].0, "PROGRAM_CREATED");
    // The built-in admin creates the program; the PM then forms the teams.
    assert_eq!(first[0].1, Value::Null);
    assert!(
        first
            .iter()
            .any(|(k, a)| k == "TEAM_CREATED" && a == "Pat Manager"),
        "{first:?}"
    );
    // Backlogs keep a total order, positions 1..n.
    for team in data["program"]["teams"].as_array().unwrap() {
        for (i, edge) in team["backlog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            assert_eq!(edge["node"]["position"], json!(i + 1));
        }
    }
    // The kinds a program's history has, each at least once.
    let kinds = app
        .data(
            &demo.pm_token,
            "query($p: ID!) { program(id: $p) {
                accepted: events(first: 1, kinds: [STORY_STATE_CHANGED]) { totalCount }
                requested: events(first: 1, kinds: [DEPENDENCY_REQUESTED]) { totalCount }
                answered: events(first: 1, kinds: [CLARIFICATION_ANSWERED]) { edges { node { actor { name } } } }
                scored: events(first: 1, kinds: [OBJECTIVE_SCORED]) { totalCount }
            } }",
            json!({ "p": program }),
        )
        .await;
    let p = &kinds["program"];
    assert!(p["accepted"]["totalCount"].as_u64().unwrap() > 0, "{p:#}");
    assert_eq!(
        p["requested"]["totalCount"].as_u64().unwrap() as usize,
        demo.dependencies
    );
    assert!(p["scored"]["totalCount"].as_u64().unwrap() > 0, "{p:#}");
    let answerer = p["answered"]["edges"][0]["node"]["actor"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        answerer.ends_with(" PO") || answerer == "Pat Manager",
        "answered by {answerer}"
    );
}

/// The board reads its cards packed into one JSON value on SQLite, and by
/// column position on PostgreSQL: every column of every story comes back as
/// SeaORM's row-by-row read gives it, whatever the text holds, cards keep
/// every field a card shows, and an empty read is empty.
#[tokio::test]
async fn stories_read_packed_are_the_stories_read_row_by_row() {
    use entity::story;
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    let app = TestApp::spawn().await;
    demo_program(&app, 3, 12).await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let conn = store.conn();
    let some = story::Entity::find().one(conn).await.unwrap().unwrap();
    let mut awkward: story::ActiveModel = some.into();
    awkward.title = Set("\"Quoted\" \\ back\\slash, ünïcödé 😀 <b>&amp;</b>".into());
    awkward.description = Set("two\nlines\tand a tab, 'single' quotes".into());
    awkward.rejection_reason = Set(Some("[not] {json}".into()));
    awkward.external_key = Set(Some("PAY-1".into()));
    awkward.accepted_at = Set(Some(chrono::Utc::now()));
    awkward.update(conn).await.unwrap();

    let mut plain = story::Entity::find().all(conn).await.unwrap();
    let mut packed = portfolio::backlog::packed::stories(conn, story::Entity::find())
        .await
        .unwrap();
    plain.sort_by_key(|s| s.id);
    packed.sort_by_key(|s| s.id);
    assert_eq!(packed.len(), 36);
    assert_eq!(packed, plain);
    let mut cards = portfolio::backlog::packed::cards(conn, story::Entity::find(), true)
        .await
        .unwrap();
    cards.sort_by_key(|s| s.id);
    let shown = |s: &story::Model| {
        (
            s.id,
            s.team_id,
            s.feature_id,
            s.title.clone(),
            s.points,
            s.state.clone(),
            s.iteration_id,
            s.rank_key.clone(),
            s.external_key.clone(),
        )
    };
    assert_eq!(
        cards.iter().map(shown).collect::<Vec<_>>(),
        plain.iter().map(shown).collect::<Vec<_>>()
    );
    assert!(cards.iter().all(|c| c.description.is_empty()));

    let none = story::Entity::find().filter(story::Column::Id.eq(-1));
    let none = portfolio::backlog::packed::stories(conn, none)
        .await
        .unwrap();
    assert!(none.is_empty());
}

/// Events asked as several `node`s of one query (as the webhook deliverer
/// renders a batch of them) are read together: ten cost the statements of
/// one.
#[tokio::test]
async fn events_asked_as_nodes_are_read_together() {
    let app = counting_app().await;
    let (demo, program) = demo_program(&app, 3, 5).await;
    let page = app
        .data(
            &demo.pm_token,
            "query($p: ID!) { program(id: $p) { events(first: 10) { nodes { id sequence } } } }",
            json!({ "p": program }),
        )
        .await;
    let events = page["program"]["events"]["nodes"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(events.len(), 10);
    let query = |events: &[Value]| {
        let nodes: String = events
            .iter()
            .enumerate()
            .map(|(n, e)| {
                format!(
                    " e{n}: node(id: {}) {{ ... on Event {{ sequence }} }}",
                    e["id"]
                )
            })
            .collect();
        format!("query {{{nodes} }}")
    };
    let cost = |events: &[Value]| {
        let (app, token, query) = (&app, &demo.pm_token, query(events));
        let events = events.to_vec();
        async move {
            let (fewest, answers) = fewest_statements(app, token, &query, json!({})).await;
            for data in answers {
                for (n, e) in events.iter().enumerate() {
                    assert_eq!(data[format!("e{n}")]["sequence"], e["sequence"]);
                }
            }
            fewest
        }
    };
    let one = cost(&events[..1]).await;
    let ten = cost(&events).await;
    assert_eq!(one, ten, "statements: {one} for one event, {ten} for ten");
}

/// A rank move, the write a live program makes most, costs six statements
/// besides BEGIN and COMMIT, on either store: the token; the program's write
/// lock (PostgreSQL) with the story, its team and program; the anchor's key
/// with its neighbour's; the write, which returns the row; the event with the
/// counter's step (one statement on PostgreSQL, two on SQLite). The team's
/// Product Owner needs no statement to be let see the program.
#[tokio::test]
async fn a_rank_move_costs_six_statements() {
    use crate::helpers::World;
    let app = counting_app().await;
    let w = World::build(&app).await;
    let mut ids = Vec::new();
    for title in ["A", "B", "C", "D"] {
        ids.push(app.create_story(&w.team_a, title, json!({})).await);
    }
    let rank =
        "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { id title } } }";
    let mut fewest = u64::MAX;
    // D before A, C after D, B before A, A after B: D C B A.
    let moves = [
        (3, "beforeId", 0),
        (2, "afterId", 3),
        (1, "beforeId", 0),
        (0, "afterId", 1),
    ];
    for (story, side, anchor) in moves {
        let before_count = app.statements().await;
        let input = json!({ "input": { "storyId": ids[story], side: ids[anchor] } });
        let data = app.data(&w.po_a.token, rank, input).await;
        assert_eq!(data["rankStory"]["story"]["id"], ids[story]);
        fewest = fewest.min(app.statements().await - before_count);
    }
    let titles = app.backlog_titles(&w.team_a).await;
    assert_eq!(titles, ["D", "C", "B", "A"]);
    eprintln!("rank move statements: {fewest}");
    assert!(fewest <= 6, "a rank move sent {fewest} statements");
}

/// Features and clarifications read back (by id, and ahead with a backlog
/// page; on PostgreSQL both decode rows by position) answer every column
/// as the mutations that wrote them answered.
#[tokio::test]
async fn rows_read_back_answer_every_column_as_written() {
    use crate::helpers::{ADMIN, World, str_at};
    const FEATURE: &str = "id title description state businessValue timeCriticality \
        riskReduction jobSize wsjf { score costOfDelay jobSize } targetIncrement { id } \
        createdAt updatedAt externalKey";
    const CLARIFICATION: &str = "id question status blocking askedBy { id } assignee { id } \
        answeredBy { id } askedAt answeredAt resolvedAt answer";
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let pi = app.create_increment(&w.program, "PI 1", "2026-01-05").await;
    let input = json!({ "programId": w.program, "title": "Pay", "description": "With cards",
        "businessValue": 8, "timeCriticality": 5, "riskReduction": 3, "jobSize": 2,
        "targetIncrementId": pi });
    let create = format!(
        "mutation($input: CreateFeatureInput!) {{ createFeature(input: $input) {{ feature {{ {FEATURE} }} }} }}"
    );
    let feature =
        app.data(ADMIN, &create, json!({ "input": input })).await["createFeature"]["feature"]
            .clone();
    let feature_id = str_at(&feature, "/id");
    let story = app
        .create_story(&w.team_a, "Card form", json!({ "featureId": feature_id }))
        .await;
    let asked = app
        .ask_about_story(&w.member_a.token, &story, "Which cards?", true)
        .await;
    let answer = format!(
        "mutation($input: AnswerClarificationInput!) {{ answerClarification(input: $input) {{
            clarification {{ {CLARIFICATION} }} }} }}"
    );
    let input = json!({ "input": { "clarificationId": asked, "answer": "Visa" } });
    let answered =
        app.data(&w.po_a.token, &answer, input).await["answerClarification"]["clarification"]
            .clone();
    assert_eq!(answered["answeredBy"]["id"], json!(w.po_a.id));
    let by_id = format!(
        "query($c: ID!, $f: ID!) {{ c: node(id: $c) {{ ... on Clarification {{ {CLARIFICATION} }} }}
            f: node(id: $f) {{ ... on Feature {{ {FEATURE} }} }} }}"
    );
    let read = app
        .data(ADMIN, &by_id, json!({ "c": asked, "f": feature_id }))
        .await;
    assert_eq!(read["c"], answered);
    assert_eq!(read["f"], feature);
    let ahead = format!(
        "query($p: ID!) {{ program(id: $p) {{ teams {{ backlog(first: 5) {{ edges {{ node {{
            id feature {{ {FEATURE} }} clarifications {{ {CLARIFICATION} }} }} }} }} }} }} }}"
    );
    let read = app.data(ADMIN, &ahead, json!({ "p": w.program })).await;
    let node = &read["program"]["teams"][0]["backlog"]["edges"][0]["node"];
    assert_eq!(node["id"], json!(story));
    assert_eq!(node["feature"], feature);
    assert_eq!(node["clarifications"], json!([answered]));
}

/// A page read ahead leaves out what its stories are not asked (a
/// dashboard's read them as cards); what they are asked, directly or through
/// a fragment, is answered from the whole row.
#[tokio::test]
async fn pages_read_ahead_answer_what_cards_leave_out_when_asked() {
    use crate::helpers::{ADMIN, World};
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let extra = json!({ "description": "The form", "acceptanceCriteria": "Given a card",
        "points": 3 });
    let story = app.create_story(&w.team_a, "Card form", extra).await;
    let one = "query($id: ID!, $s: ID!) { s: node(id: $s) { ... on Story { description
        acceptanceCriteria createdAt updatedAt readyAt } } program(id: $id) { teams { name
        backlog(first: 5) { edges { node { id title points ";
    let read = |selection: &'static str| {
        let (app, w, story) = (&app, &w, &story);
        async move {
            let fragment = if selection.contains("...") {
                FRAGMENT
            } else {
                ""
            };
            let query = format!("{one}{selection} }} }} }} }} }} }}{fragment}");
            let data = app
                .data(ADMIN, &query, json!({ "id": w.program, "s": story }))
                .await;
            let node = data["program"]["teams"][0]["backlog"]["edges"][0]["node"].clone();
            (data["s"].clone(), node)
        }
    };
    const FRAGMENT: &str = " fragment Texts on Story { acceptanceCriteria createdAt }";
    // Asked nothing cards leave out: the card's own fields.
    let (_, node) = read("state").await;
    assert_eq!(
        node,
        json!({ "id": story, "title": "Card form", "points": 3, "state": "DRAFT" })
    );
    // Asked directly.
    let (row, node) = read("description updatedAt readyAt").await;
    assert_eq!(node["description"], "The form");
    assert_eq!(node["updatedAt"], row["updatedAt"]);
    assert_eq!(node["readyAt"], json!(null));
    // Asked through a fragment.
    let (row, node) = read("...Texts").await;
    assert_eq!(node["acceptanceCriteria"], "Given a card");
    assert_eq!(node["createdAt"], row["createdAt"]);
}

/// The answers of a program's `shape` read ahead (`program(id:)`) and
/// field by field (through `node`, which reads nothing ahead), as the admin.
async fn ahead_and_by_field(app: &TestApp, program: &str, shape: &str) -> (Value, Value) {
    use crate::helpers::ADMIN;
    let vars = json!({ "id": program });
    let ahead = format!("query($id: ID!) {{ program(id: $id) {{ {shape} }} }}");
    let by_field =
        format!("query($id: ID!) {{ node(id: $id) {{ ... on Program {{ {shape} }} }} }}");
    let ahead = app.data(ADMIN, &ahead, vars.clone()).await;
    let by_field = app.data(ADMIN, &by_field, vars).await;
    (ahead["program"].clone(), by_field["node"].clone())
}

/// A page's dependencies read their providers as cards when the query asks
/// nothing cards leave out of the stories the dependencies reach, at any
/// depth (`graphql::preload`); asked for more, directly or through the
/// providers' own dependencies, they answer it as field by field.
#[tokio::test]
async fn providers_read_as_cards_answer_what_cards_leave_out_when_asked() {
    use crate::helpers::World;
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let text = |t: &str| json!({ "description": format!("{t} text"), "points": 2 });
    let a1 = app.create_story(&w.team_a, "A one", text("A one")).await;
    let a2 = app.create_story(&w.team_a, "A two", text("A two")).await;
    let b1 = app.create_story(&w.team_b, "B one", text("B one")).await;
    // A one needs B one, which needs A two: B one is a provider, and on a page.
    app.request_dependency(&a1, &b1).await;
    app.request_dependency(&b1, &a2).await;
    let page = |story: &str| {
        format!("teams {{ name backlog(first: 5) {{ edges {{ node {{ id {story} }} }} }} }}")
    };
    let shapes = [
        "dependencies { provider { id title points state team { name } } }",
        "dependencies { provider { title description createdAt } }",
        "dependencies { provider { ... on Story { acceptanceCriteria updatedAt } } }",
        "dependencies { provider { dependencies { dependent { title description } } } }",
        "dependencies { dependent { description } provider { title } }",
    ];
    for shape in shapes {
        let (ahead, by_field) = ahead_and_by_field(&app, &w.program, &page(shape)).await;
        assert_eq!(ahead, by_field, "{shape}");
    }
    let (ahead, _) = ahead_and_by_field(&app, &w.program, &page(shapes[1])).await;
    let first = &ahead["teams"][0]["backlog"]["edges"][0]["node"];
    assert_eq!(
        first["dependencies"][0]["provider"]["description"], "B one text",
        "{ahead:#}"
    );
    // Two levels down: A one's provider B one, and B one as the dependent of
    // its own dependency, which the page of team B read.
    let (ahead, _) = ahead_and_by_field(&app, &w.program, &page(shapes[3])).await;
    let first = &ahead["teams"][0]["backlog"]["edges"][0]["node"];
    let deep = &first["dependencies"][0]["provider"]["dependencies"][0]["dependent"];
    assert_eq!(
        deep,
        &json!({ "title": "B one", "description": "B one text" }),
        "{ahead:#}"
    );
}

/// How many dashboards' guesses of their pages held, and how many missed
/// (`portfolio_read_ahead_guesses_total`).
async fn guesses(app: &TestApp) -> (u64, u64) {
    let [held, missed] = app
        .outcomes("portfolio_read_ahead_guesses", ["held", "missed"])
        .await;
    (held, missed)
}

/// A dashboard reads its stories' relations beside its pages, on the guess
/// that its pages hold what they held the last time (`graphql::ahead`).
/// Whether the guess holds or not, it answers as field by field: after a
/// dependency and a clarification are added (it holds; what was read beside
/// the pages is no older than they are), and after a story moves into a
/// page and pushes another out (it does not).
#[tokio::test]
async fn dashboards_answer_as_field_by_field_whether_their_guess_holds_or_not() {
    use crate::helpers::{ADMIN, World};
    let app = TestApp::spawn_with(|s| s.response_cache_entries = 0).await;
    let w = World::build(&app).await;
    let feature = app.create_feature(&w.program, "Checkout", json!({})).await;
    let a1 = app.create_story(&w.team_a, "A one", json!({})).await;
    app.create_story(&w.team_a, "A two", json!({ "featureId": feature }))
        .await;
    let a3 = app.create_story(&w.team_a, "A three", json!({})).await;
    let b1 = app.create_story(&w.team_b, "B one", json!({})).await;
    let shape = "teams { name backlog(first: 2) { edges { node { id title feature { title }
        dependencies { id state provider { id title team { name } } }
        clarifications { id question blocking status } } } } }";
    let titles = |data: &Value| -> Vec<Value> {
        data["teams"][0]["backlog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].clone())
            .collect()
    };
    let (first, by_field) = ahead_and_by_field(&app, &w.program, shape).await;
    assert_eq!(first, by_field);
    assert_eq!(titles(&first), ["A one", "A two"]);
    assert_eq!(guesses(&app).await, (0, 0), "nothing to guess from yet");
    // The same stories: what the guess read beside the pages is kept.
    app.request_dependency(&a1, &b1).await;
    let (ahead, by_field) = ahead_and_by_field(&app, &w.program, shape).await;
    assert_eq!(ahead, by_field);
    let node = &ahead["teams"][0]["backlog"]["edges"][0]["node"];
    assert_eq!(node["dependencies"][0]["provider"]["title"], "B one");
    assert_eq!(guesses(&app).await, (1, 0));
    // A team added since: its page is empty, so the guess still holds, and
    // the teams it read with the pages (which the program's teams are taken
    // from) hold the new team.
    let (po, _) = app.create_user("Zed Zeta").await;
    app.create_team(&w.program, "Zeta", &po).await;
    let (ahead, by_field) = ahead_and_by_field(&app, &w.program, shape).await;
    assert_eq!(ahead, by_field);
    assert_eq!(ahead["teams"].as_array().map(Vec::len), Some(3), "{ahead}");
    assert_eq!(guesses(&app).await, (2, 0));
    // A three moves to the top: the pages no longer hold what was guessed.
    app.data(
        ADMIN,
        "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { id } } }",
        json!({ "input": { "storyId": a3, "beforeId": a1 } }),
    )
    .await;
    let (ahead, by_field) = ahead_and_by_field(&app, &w.program, shape).await;
    assert_eq!(ahead, by_field);
    assert_eq!(titles(&ahead), ["A three", "A one"]);
    let node = &ahead["teams"][0]["backlog"]["edges"][1]["node"];
    assert_eq!(node["dependencies"][0]["provider"]["title"], "B one");
    assert_eq!(guesses(&app).await, (2, 1));
    // And the guess is the new pages again.
    app.ask_about_story(ADMIN, &a3, "Which card?", true).await;
    let (ahead, by_field) = ahead_and_by_field(&app, &w.program, shape).await;
    assert_eq!(ahead, by_field);
    let node = &ahead["teams"][0]["backlog"]["edges"][0]["node"];
    assert_eq!(node["clarifications"][0]["question"], "Which card?");
    assert_eq!(guesses(&app).await, (3, 1));
}
