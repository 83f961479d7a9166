//! The event log and live subscriptions over a real websocket
//! (graphql-transport-ws): delivery, resume without gap or duplicate,
//! visibility, and two server processes on one database.

use serde_json::{Value, json};

use crate::helpers::{ADMIN, TestApp, World, WsClient, str_at};

const COMMIT: &str = "mutation($input: CommitDependencyInput!) { commitDependency(input: $input) { dependency { id } } }";
const REQUEST: &str = "mutation($input: RequestDependencyInput!) { requestDependency(input: $input) { dependency { id } } }";
const DEPENDENCY_UPDATES: &str = "subscription($p: ID!, $t: ID) { dependencyUpdates(programId: $p, teamId: $t) {
    event { sequence cursor kind at actor { name } } dependency { id state provider { iteration { number } } } } }";
const PROGRAM_EVENTS: &str = "subscription($p: ID!, $after: String, $kinds: [EventKind!]) { programEvents(programId: $p, after: $after, kinds: $kinds) {
    event { sequence cursor kind subjectType } } }";

async fn first_iteration(app: &TestApp, program: &str) -> String {
    let pi = app.create_increment(program, "PI 1", "2026-01-05").await;
    let data = app
        .data(
            ADMIN,
            "query($id: ID!) { node(id: $id) { ... on Increment { iterations { id } } } }",
            json!({ "id": pi }),
        )
        .await;
    str_at(&data, "/node/iterations/0/id")
}

/// Makes dependency events for team A until the subscription shows one:
/// graphql-transport-ws does not acknowledge a subscription, so this is how
/// a test knows it is live. Returns the probe's messages.
async fn until_live(app: &TestApp, w: &World, ws: &mut WsClient) -> Value {
    let dependent = app.create_story(&w.team_a, "Probe needs", json!({})).await;
    for i in 0..50 {
        let provider = app
            .create_story(&w.team_b, &format!("Probe gives {i}"), json!({}))
            .await;
        app.data(
            ADMIN,
            REQUEST,
            json!({ "input": { "dependentStoryId": dependent, "providerStoryId": provider } }),
        )
        .await;
        if let Some(msg) = ws.next_within(0.5).await {
            return msg;
        }
    }
    panic!("the subscription never became live");
}

#[tokio::test]
async fn a_dependent_team_subscriber_sees_the_provider_commit() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let iteration = first_iteration(&app, &w.program).await;
    let a = app.create_story(&w.team_a, "A", json!({})).await;
    let b = app.create_story(&w.team_b, "B", json!({})).await;
    let dep = str_at(
        &app.data(
            &w.member_a.token,
            REQUEST,
            json!({ "input": { "dependentStoryId": a, "providerStoryId": b } }),
        )
        .await,
        "/requestDependency/dependency/id",
    );
    let mut ws = WsClient::connect(&app, Some(&w.member_a.token)).await;
    ws.subscribe(
        "1",
        DEPENDENCY_UPDATES,
        json!({ "p": w.program, "t": w.team_a }),
    )
    .await;
    until_live(&app, &w, &mut ws).await;
    // Drain the probe's own events (request, maybe at-risk) before the commit.
    while ws.next_within(0.3).await.is_some() {}
    app.data(
        &w.po_b.token,
        COMMIT,
        json!({ "input": { "dependencyId": dep, "iterationId": iteration } }),
    )
    .await;
    let msg = ws.next().await;
    assert_eq!(msg["type"], "next", "{msg}");
    let update = &msg["payload"]["data"]["dependencyUpdates"];
    assert_eq!(update["event"]["kind"], "DEPENDENCY_COMMITTED");
    assert_eq!(update["event"]["actor"]["name"], "Otto Owner");
    assert!(update["event"]["sequence"].as_i64().unwrap() > 0);
    assert_eq!(
        update["dependency"],
        json!({ "id": dep, "state": "COMMITTED", "provider": { "iteration": { "number": 1 } } })
    );
    ws.close().await;
}

fn sequences(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| {
            m["payload"]["data"]["programEvents"]["event"]["sequence"]
                .as_i64()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_client_resumes_from_its_cursor_without_gap_or_duplicate() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    // The log so far: program, teams, member (World) -> read the feed.
    let feed = app
        .data(&w.pm.token, "query($id: ID!) { program(id: $id) { events { totalCount edges { cursor node { sequence kind } } } } }", json!({ "id": w.program }))
        .await;
    let edges = feed["program"]["events"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    let seqs: Vec<i64> = edges
        .iter()
        .map(|e| e["node"]["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "gap-free from 1"
    );
    assert_eq!(edges[0]["node"]["kind"], "PROGRAM_CREATED");
    let first_cursor = str_at(&edges[0], "/cursor");
    // Subscribe after the first event: the rest of the log arrives first.
    let mut ws = WsClient::connect(&app, Some(&w.pm.token)).await;
    ws.subscribe(
        "1",
        PROGRAM_EVENTS,
        json!({ "p": w.program, "after": first_cursor }),
    )
    .await;
    let mut got = Vec::new();
    for _ in 1..seqs.len() {
        got.push(ws.next().await);
    }
    assert_eq!(sequences(&got), seqs[1..].to_vec());
    // A live one.
    app.create_story(&w.team_a, "Live 1", json!({})).await;
    got.push(ws.next().await);
    let last = got.last().unwrap()["payload"]["data"]["programEvents"]["event"].clone();
    assert_eq!(last["kind"], "STORY_CREATED");
    let cursor = last["cursor"].as_str().unwrap().to_owned();
    ws.close().await;
    // While disconnected, things happen.
    for i in 0..5 {
        app.create_story(&w.team_b, &format!("Missed {i}"), json!({}))
            .await;
    }
    let mut ws = WsClient::connect(&app, Some(&w.pm.token)).await;
    ws.subscribe(
        "2",
        PROGRAM_EVENTS,
        json!({ "p": w.program, "after": cursor }),
    )
    .await;
    let mut resumed = Vec::new();
    for _ in 0..5 {
        resumed.push(ws.next().await);
    }
    // ... and live ones after the seam.
    app.create_story(&w.team_a, "Live 2", json!({})).await;
    resumed.push(ws.next().await);
    let after_seam = sequences(&resumed);
    let start = last["sequence"].as_i64().unwrap() + 1;
    assert_eq!(
        after_seam,
        (start..start + 6).collect::<Vec<_>>(),
        "each missed event once, in order"
    );
    assert!(
        ws.next_within(0.5).await.is_none(),
        "no duplicate at the seam"
    );
    // Kinds filter.
    ws.subscribe(
        "3",
        PROGRAM_EVENTS,
        json!({ "p": w.program, "after": cursor, "kinds": ["STORY_CREATED"] }),
    )
    .await;
    let filtered = ws.next().await;
    assert_eq!(filtered["id"], "3");
    assert_eq!(
        filtered["payload"]["data"]["programEvents"]["event"]["kind"],
        "STORY_CREATED"
    );
    ws.close().await;
}

/// The error code of the next refusal, past any "complete" message.
async fn refusal(ws: &mut WsClient) -> Value {
    loop {
        let msg = ws.next().await;
        match msg["type"].as_str() {
            Some("complete") => continue,
            Some("error") => return msg["payload"][0]["extensions"]["code"].clone(),
            _ => return msg["payload"]["errors"][0]["extensions"]["code"].clone(),
        }
    }
}

#[tokio::test]
async fn outsiders_and_anonymous_clients_get_nothing() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut ws = WsClient::connect(&app, Some(&w.outsider.token)).await;
    ws.subscribe(
        "1",
        PROGRAM_EVENTS,
        json!({ "p": w.program, "after": null }),
    )
    .await;
    assert_eq!(refusal(&mut ws).await, "NOT_FOUND");
    ws.subscribe(
        "2",
        DEPENDENCY_UPDATES,
        json!({ "p": w.program, "t": null }),
    )
    .await;
    assert_eq!(refusal(&mut ws).await, "NOT_FOUND");
    ws.subscribe(
        "3",
        "subscription($t: ID!) { backlogUpdates(teamId: $t) { event { kind } } }",
        json!({ "t": w.team_a }),
    )
    .await;
    assert_eq!(refusal(&mut ws).await, "NOT_FOUND");
    // Events of the program never reach it.
    app.create_story(&w.team_a, "Secret", json!({})).await;
    while let Some(m) = ws.next_within(0.5).await {
        assert_ne!(m["type"], "next", "leaked: {m}");
    }
    ws.close().await;
    let mut anon = WsClient::connect(&app, None).await;
    anon.subscribe("1", PROGRAM_EVENTS, json!({ "p": w.program }))
        .await;
    assert_eq!(refusal(&mut anon).await, "UNAUTHENTICATED");
    anon.close().await;
}

#[tokio::test]
async fn a_subscriber_removed_from_the_program_is_cut_off() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut ws = WsClient::connect(&app, Some(&w.member_a.token)).await;
    // From after the first event: the log's events arrive, so it is live.
    ws.subscribe(
        "1",
        PROGRAM_EVENTS,
        json!({ "p": w.program, "after": "Y3Vyc29yOjE" }),
    )
    .await;
    let seen = ws.next().await;
    assert_eq!(seen["type"], "next", "{seen}");
    // The team's PO removes them from their only team.
    w.remove_member_a(&app).await;
    // Whatever was sent before, the subscription ends with NOT_FOUND ...
    let code = loop {
        let msg = ws.next().await;
        if let Some(errors) = msg["payload"]["errors"].as_array() {
            break errors[0]["extensions"]["code"].clone();
        }
        assert_ne!(
            msg["payload"]["data"]["programEvents"]["event"]["kind"], "TEAM_MEMBER_REMOVED",
            "the removal itself is not shown: {msg}"
        );
    };
    assert_eq!(code, "NOT_FOUND");
    assert_eq!(ws.next().await["type"], "complete");
    // ... and later events of the program never reach the connection.
    app.create_story(&w.team_a, "After", json!({})).await;
    while let Some(m) = ws.next_within(0.5).await {
        assert_ne!(m["type"], "next", "leaked: {m}");
    }
    ws.close().await;
}

#[tokio::test]
async fn a_mutation_on_one_process_reaches_a_subscriber_on_another() {
    let on_postgres = std::env::var("PORTFOLIO_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    // On PostgreSQL only LISTEN/NOTIFY may deliver (the safety check is
    // pushed out of reach); on SQLite the processes share the file and
    // the dispatcher's check of the log delivers.
    let poll_ms = if on_postgres { 3_600_000 } else { 100 };
    let a = TestApp::spawn_with(|s| s.event_poll_ms = poll_ms).await;
    let b = a.another_process(|s| s.event_poll_ms = poll_ms).await;
    let w = World::build(&a).await;
    let feed = b
        .data(
            &w.pm.token,
            "query($id: ID!) { program(id: $id) { events(first: 100) { edges { cursor } } } }",
            json!({ "id": w.program }),
        )
        .await;
    let cursor = feed["program"]["events"]["edges"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["cursor"]
        .clone();
    let mut ws = WsClient::connect(&b, Some(&w.pm.token)).await;
    ws.subscribe(
        "1",
        PROGRAM_EVENTS,
        json!({ "p": w.program, "after": cursor }),
    )
    .await;
    // Write on A until B's subscriber sees it (it cannot see it any other way).
    let mut seen = None;
    for i in 0..40 {
        a.create_story(&w.team_a, &format!("From A {i}"), json!({}))
            .await;
        if let Some(msg) = ws.next_within(0.5).await {
            seen = Some(msg);
            break;
        }
    }
    let msg = seen.expect("an event written on process A reached process B");
    assert_eq!(
        msg["payload"]["data"]["programEvents"]["event"]["kind"],
        "STORY_CREATED"
    );
    if on_postgres {
        // Kill B's LISTEN connection: it reconnects and catches up.
        let store = portfolio::db::Store::connect(&b.settings).await.unwrap();
        use sea_orm::ConnectionTrait;
        let channel = store.channel().to_owned();
        store
            .conn()
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE 'LISTEN%{channel}%' AND pid <> pg_backend_pid()"
            ))
            .await
            .unwrap();
        while ws.next_within(0.3).await.is_some() {}
        let mut again = None;
        for i in 0..40 {
            a.create_story(&w.team_b, &format!("After reconnect {i}"), json!({}))
                .await;
            if let Some(msg) = ws.next_within(0.5).await {
                again = Some(msg);
                break;
            }
        }
        assert!(
            again.is_some(),
            "events flow again after the listener reconnects"
        );
    }
    ws.close().await;
}

/// A process reads another process's events from the log only for programs
/// someone there follows; a subscription that starts later, or resumes from
/// before the events it skipped, still gets each of them once, then live ones.
#[tokio::test]
async fn a_process_reads_other_processes_events_only_for_its_subscribers() {
    let on_postgres = std::env::var("PORTFOLIO_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    // As above: on PostgreSQL only NOTIFY wakes B; on SQLite its check does.
    // No periodic look for webhooks: B's statements are its dispatcher's.
    let poll_ms = if on_postgres { 3_600_000 } else { 100 };
    let settle = move |s: &mut portfolio::config::Settings| {
        s.event_poll_ms = poll_ms;
        s.webhook_poll_ms = 3_600_000;
    };
    let a = TestApp::spawn_with(settle).await;
    let b = a.another_process(settle).await;
    let w = World::build(&a).await;
    let other = a.create_program("Elsewhere", &w.pm.id).await;
    let other_team = a.create_team(&other, "Team E", &w.po_b.id).await;
    // B follows the other program only; it is live once it shows a write.
    let mut watcher = WsClient::connect(&b, Some(&w.pm.token)).await;
    watcher
        .subscribe("o", PROGRAM_EVENTS, json!({ "p": other }))
        .await;
    let mut live = false;
    for i in 0..40 {
        a.create_story(&other_team, &format!("Probe {i}"), json!({}))
            .await;
        if watcher.next_within(0.5).await.is_some() {
            live = true;
            break;
        }
    }
    assert!(live, "B's subscriber sees writes made on A");
    while watcher.next_within(0.3).await.is_some() {}
    let cursor = a.last_event_cursor(&w.program).await;
    let before = b.statements().await;
    for i in 0..5 {
        a.create_story(&w.team_a, &format!("Unwatched {i}"), json!({}))
            .await;
    }
    // Notices arrive in commit order: once B shows this one, it has had
    // the five before.
    a.create_story(&other_team, "Watched", json!({})).await;
    let shown = watcher.next_within(10.0).await.expect("the watched write");
    assert_eq!(
        shown["payload"]["data"]["programEvents"]["event"]["kind"],
        "STORY_CREATED"
    );
    let read = b.statements().await - before;
    if on_postgres {
        // One read of the watched program's log; none of the other's.
        assert!(read <= 2, "B sent {read} statements for six writes");
    }
    // A subscription from before the skipped events gets them, in order.
    let mut late = WsClient::connect(&b, Some(&w.pm.token)).await;
    late.subscribe(
        "r",
        PROGRAM_EVENTS,
        json!({ "p": w.program, "after": cursor }),
    )
    .await;
    let mut sequences = Vec::new();
    for _ in 0..5 {
        let msg = late.next_within(10.0).await.expect("a skipped event");
        sequences.push(msg["payload"]["data"]["programEvents"]["event"]["sequence"].clone());
    }
    // Then a live one, written after it started, with the next sequence.
    a.create_story(&w.team_a, "Live", json!({})).await;
    let msg = late.next_within(10.0).await.expect("the live event");
    sequences.push(msg["payload"]["data"]["programEvents"]["event"]["sequence"].clone());
    let first = sequences[0].as_i64().expect("a sequence");
    let expected: Vec<Value> = (first..first + 6).map(Value::from).collect();
    assert_eq!(sequences, expected);
    assert!(late.next_within(0.3).await.is_none(), "nothing twice");
    watcher.close().await;
    late.close().await;
}

/// The schema in this process, without a server: the test decides when a
/// subscription's stream is polled, which a websocket client cannot (the
/// kernel's socket buffers would absorb thousands of events first).
pub struct InProcess {
    pub schema: portfolio::graphql::AppSchema,
    _dir: Option<tempfile::TempDir>,
}

impl InProcess {
    pub async fn start(buffer: usize) -> Self {
        use std::{sync::Arc, time::Duration};

        use portfolio::{
            app, clock::ManualClock, events::bus::EventBus, graphql::build_schema, metrics::Metrics,
        };
        let (settings, dir) = crate::helpers::fresh_database();
        let store = app::open_store(&settings).await.expect("store opens");
        let bus = EventBus::start(
            store.clone(),
            buffer,
            Duration::from_millis(settings.event_poll_ms),
        )
        .await
        .expect("bus starts");
        let clock = Arc::new(ManualClock::new(crate::helpers::start_time()));
        let schema = build_schema(&settings, store, Arc::new(Metrics::new()), clock, bus);
        Self { schema, _dir: dir }
    }

    fn request(query: &str, variables: Value) -> async_graphql::Request {
        async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables))
            .data(portfolio::auth::Viewer::BuiltinAdmin)
    }

    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let resp = self.schema.execute(Self::request(query, variables)).await;
        assert!(resp.errors.is_empty(), "{:?}", resp.errors);
        resp.data.into_json().expect("json data")
    }

    /// A program and teams of it, all led by one user; their global IDs.
    pub async fn program_with_teams(&self, names: &[&str]) -> (String, Vec<String>) {
        let user = self
            .data(
                "mutation { createUser(input: {name: \"Pam\", email: \"pam@example.com\"}) { user { id } } }",
                json!({}),
            )
            .await;
        let pm = str_at(&user, "/createUser/user/id");
        let program = self
            .data(
                "mutation($pm: ID!) { createProgram(input: {name: \"P\", productManagerId: $pm}) { program { id } } }",
                json!({ "pm": pm }),
            )
            .await;
        let program = str_at(&program, "/createProgram/program/id");
        let mut teams = Vec::new();
        for name in names {
            let team = self
                .data(
                    "mutation($p: ID!, $po: ID!, $name: String!) { createTeam(input: {programId: $p, name: $name, productOwnerId: $po}) { team { id } } }",
                    json!({ "p": program, "po": pm, "name": name }),
                )
                .await;
            teams.push(str_at(&team, "/createTeam/team/id"));
        }
        (program, teams)
    }

    /// The cursor of a program's first event.
    async fn first_cursor(&self, program: &str) -> String {
        let feed = self
            .data(
                "query($p: ID!) { program(id: $p) { events(first: 1) { edges { cursor } } } }",
                json!({ "p": program }),
            )
            .await;
        str_at(&feed, "/program/events/edges/0/cursor")
    }

    pub fn subscribe(
        &self,
        query: &str,
        variables: Value,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        use futures_util::StreamExt;
        self.schema
            .execute_stream(Self::request(query, variables))
            .boxed()
    }
}

async fn next_of(
    stream: &mut futures_util::stream::BoxStream<'static, async_graphql::Response>,
) -> Option<Value> {
    let resp = crate::helpers::next_in_time(stream).await?;
    Some(serde_json::to_value(&resp).expect("response serializes"))
}

fn sequence_of(resp: &Value) -> i64 {
    resp["data"]["programEvents"]["event"]["sequence"]
        .as_i64()
        .unwrap_or_else(|| panic!("an event: {resp}"))
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_ended_with_its_resume_cursor() {
    const BUFFER: usize = 16;
    let app = InProcess::start(BUFFER).await;
    let (program, teams) = app.program_with_teams(&["T"]).await;
    let team = &teams[0];
    let head = app
        .data(
            "query($p: ID!) { program(id: $p) { events { totalCount } } }",
            json!({ "p": program }),
        )
        .await["program"]["events"]["totalCount"]
        .as_i64()
        .unwrap();
    let create_story = "mutation($t: ID!, $title: String!) { createStory(input: {teamId: $t, title: $title}) { story { id } } }";

    // Two subscribers from the first event on: both read the log up to the
    // head, which also proves they are live.
    let first = app.first_cursor(&program).await;
    let mut slow = app.subscribe(PROGRAM_EVENTS, json!({ "p": program, "after": first }));
    let mut keeping_up = app.subscribe(PROGRAM_EVENTS, json!({ "p": program, "after": first }));
    for sequence in 2..=head {
        assert_eq!(sequence_of(&next_of(&mut slow).await.unwrap()), sequence);
        assert_eq!(
            sequence_of(&next_of(&mut keeping_up).await.unwrap()),
            sequence
        );
    }

    // Three buffers' worth of events while `slow` is not polled. The other
    // subscriber takes each before the next is made, so it never falls
    // behind, and once it has them all the dispatcher has sent them all.
    let missed = 3 * BUFFER as i64;
    for i in 0..missed {
        app.data(create_story, json!({ "t": team, "title": format!("S{i}") }))
            .await;
        let got = next_of(&mut keeping_up).await.unwrap();
        assert_eq!(sequence_of(&got), head + 1 + i);
    }

    // The slow one is ended with an error that says where to resume.
    let ended = next_of(&mut slow).await.expect("an error, not the end");
    let error = &ended["errors"][0];
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{ended}");
    let resume = error["extensions"]["resumeAfter"]
        .as_str()
        .unwrap_or_else(|| panic!("a resume cursor: {ended}"))
        .to_owned();
    assert!(
        error["message"].as_str().unwrap().contains(&resume),
        "{ended}"
    );
    assert!(next_of(&mut slow).await.is_none(), "the stream has ended");

    // Resuming from that cursor gives every missed event once, then live ones.
    let mut resumed = app.subscribe(PROGRAM_EVENTS, json!({ "p": program, "after": resume }));
    for sequence in head + 1..=head + missed {
        assert_eq!(sequence_of(&next_of(&mut resumed).await.unwrap()), sequence);
    }
    app.data(create_story, json!({ "t": team, "title": "Live" }))
        .await;
    assert_eq!(
        sequence_of(&next_of(&mut resumed).await.unwrap()),
        head + missed + 1
    );
}

#[tokio::test]
async fn every_subscription_can_resume_after_a_cursor() {
    let app = InProcess::start(64).await;
    let (program, teams) = app.program_with_teams(&["A", "B"]).await;
    let first = app.first_cursor(&program).await;
    let create_story = "mutation($t: ID!, $title: String!) { createStory(input: {teamId: $t, title: $title}) { story { id } } }";
    let mut stories = Vec::new();
    for (team, title) in [(&teams[0], "A1"), (&teams[1], "B1"), (&teams[0], "A2")] {
        let story = app
            .data(create_story, json!({ "t": team, "title": title }))
            .await;
        stories.push(str_at(&story, "/createStory/story/id"));
    }
    app.data(
        REQUEST,
        json!({ "input": { "dependentStoryId": stories[0], "providerStoryId": stories[1] } }),
    )
    .await;
    app.data(
        "mutation($s: ID!) { askClarification(input: {storyId: $s, question: \"Which API?\"}) { clarification { id } } }",
        json!({ "s": stories[2] }),
    )
    .await;

    // Team A's backlog from the start of the log: its two stories, in order,
    // then a live one.
    let mut backlog = app.subscribe(
        "subscription($t: ID!, $after: String) { backlogUpdates(teamId: $t, after: $after) {
            event { kind } story { title } } }",
        json!({ "t": teams[0], "after": first }),
    );
    let mut titles = Vec::new();
    for _ in 0..2 {
        let msg = next_of(&mut backlog).await.unwrap();
        titles.push(msg["data"]["backlogUpdates"]["story"]["title"].clone());
    }
    app.data(create_story, json!({ "t": teams[0], "title": "A3" }))
        .await;
    let msg = next_of(&mut backlog).await.unwrap();
    titles.push(msg["data"]["backlogUpdates"]["story"]["title"].clone());
    assert_eq!(titles, vec![json!("A1"), json!("A2"), json!("A3")]);

    // The dependency and the clarification, replayed from the log.
    let mut dependencies = app.subscribe(
        "subscription($p: ID!, $after: String) { dependencyUpdates(programId: $p, after: $after) { event { kind } } }",
        json!({ "p": program, "after": first }),
    );
    let msg = next_of(&mut dependencies).await.unwrap();
    assert_eq!(
        msg["data"]["dependencyUpdates"]["event"]["kind"], "DEPENDENCY_REQUESTED",
        "{msg}"
    );
    let mut clarifications = app.subscribe(
        "subscription($p: ID!, $after: String) { clarificationUpdates(programId: $p, after: $after) { event { kind } clarification { question } } }",
        json!({ "p": program, "after": first }),
    );
    let msg = next_of(&mut clarifications).await.unwrap();
    assert_eq!(
        msg["data"]["clarificationUpdates"]["clarification"]["question"], "Which API?",
        "{msg}"
    );
}

#[tokio::test]
async fn a_commit_reaches_the_provider_backlog_as_a_planned_story() {
    let app = InProcess::start(64).await;
    let (program, teams) = app.program_with_teams(&["A", "B"]).await;
    let increment = app
        .data(
            "mutation($p: ID!) { createIncrement(input: {programId: $p, name: \"PI\", startDate: \"2026-01-05\",
                iterationCount: 2, iterationLengthDays: 14}) { increment { iterations { id } } } }",
            json!({ "p": program }),
        )
        .await;
    let iteration = str_at(&increment, "/createIncrement/increment/iterations/1/id");
    let create_story = "mutation($t: ID!, $title: String!) { createStory(input: {teamId: $t, title: $title}) { story { id } } }";
    let needs = app
        .data(create_story, json!({ "t": teams[0], "title": "Pay" }))
        .await;
    let gives = app
        .data(create_story, json!({ "t": teams[1], "title": "Card API" }))
        .await;
    let dep = app
        .data(
            REQUEST,
            json!({ "input": {
                "dependentStoryId": str_at(&needs, "/createStory/story/id"),
                "providerStoryId": str_at(&gives, "/createStory/story/id"),
            } }),
        )
        .await;
    let after = app.first_cursor(&program).await;
    let mut backlog = app.subscribe(
        "subscription($t: ID!, $after: String) { backlogUpdates(teamId: $t, after: $after) {
            event { kind payload } story { title iteration { number } } } }",
        json!({ "t": teams[1], "after": after }),
    );
    app.data(
        COMMIT,
        json!({ "input": {
            "dependencyId": str_at(&dep, "/requestDependency/dependency/id"),
            "iterationId": iteration,
        } }),
    )
    .await;
    // Team B's backlog: its story was created, then planned by the commit.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let msg = next_of(&mut backlog).await.unwrap();
        seen.push(msg["data"]["backlogUpdates"].clone());
    }
    assert_eq!(seen[0]["event"]["kind"], "STORY_CREATED", "{seen:#?}");
    assert_eq!(seen[1]["event"]["kind"], "STORY_UPDATED", "{seen:#?}");
    assert_eq!(
        seen[1]["event"]["payload"]["fields"],
        json!(["iterationId"])
    );
    assert_eq!(seen[1]["story"]["title"], "Card API");
    assert_eq!(seen[1]["story"]["iteration"]["number"], 2);
}

#[tokio::test]
async fn an_event_the_server_cannot_read_is_an_error_not_a_guess() {
    use sea_orm::ConnectionTrait;
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    // Rows written by a newer or broken server: a garbled payload, a
    // subject type this server does not know.
    store
        .conn()
        .execute_unprepared(
            "UPDATE events SET payload = '{oops' WHERE sequence = 1; \
             UPDATE events SET subject_type = 'Gadget' WHERE sequence = 2",
        )
        .await
        .unwrap();
    let feed = "query($p: ID!) { program(id: $p) { events(first: 2) { edges { node { sequence %s } } } } }";
    let payload = app
        .gql(
            Some(ADMIN),
            &feed.replace("%s", "payload"),
            json!({ "p": w.program }),
        )
        .await;
    assert_eq!(
        payload.pointer("/errors/0/extensions/code"),
        Some(&json!("INTERNAL")),
        "{payload:#}"
    );
    assert_eq!(payload["errors"][0]["message"], "internal error");
    let subject = app
        .gql(
            Some(ADMIN),
            &feed.replace("%s", "subjectId"),
            json!({ "p": w.program }),
        )
        .await;
    assert_eq!(
        subject.pointer("/errors/0/extensions/code"),
        Some(&json!("INTERNAL")),
        "{subject:#}"
    );
    assert_eq!(subject["errors"][0]["path"][5], "subjectId");
}
