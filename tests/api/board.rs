//! The program board page and GraphiQL, in a real browser (headless
//! Chromium): both load from the binary alone, the board shows the demo
//! program and follows its changes live, also across a dropped connection.

use serde_json::{Value, json};

use crate::{
    browser::{Browser, PATIENCE},
    helpers::*,
};

const UPDATE: &str =
    "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { title } } }";

const BOARD: &str = "query($p: ID!, $i: ID!) { program(id: $p) {
    lastEventCursor
    board(incrementId: $i) {
      columns { title }
      rows { team { name } cells { stories { id } } }
      dependencies { id atRisk } }
    metrics(incrementId: $i) { dependencies { atRisk } } } }";

/// A server with the demo program: (app, program id, PM token, first
/// increment id, the demo).
async fn demo() -> (TestApp, String, String, String, portfolio::demo::Demo) {
    let app = TestApp::spawn().await;
    let store = portfolio::db::Store::connect(&app.settings).await.unwrap();
    let demo = portfolio::demo::load(&store, app.clock_now(), 3, 20)
        .await
        .unwrap();
    let program =
        portfolio::graphql::id::encode(portfolio::graphql::id::Kind::Program, demo.program_id)
            .to_string();
    let data = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { increments { id } } }",
            json!({ "p": program }),
        )
        .await;
    let increment = str_at(&data, "/program/increments/0/id");
    (app, program, demo.pm_token.clone(), increment, demo)
}

fn board_url(app: &TestApp, program: &str, increment: &str, token: &str) -> String {
    format!(
        "{}/board?program={program}&increment={increment}#token={token}",
        app.base
    )
}

async fn board(app: &TestApp, program: &str, increment: &str) -> Value {
    app.data(ADMIN, BOARD, json!({ "p": program, "i": increment }))
        .await
}

async fn rename(app: &TestApp, story: &str, title: &str) {
    app.data(
        ADMIN,
        UPDATE,
        json!({ "input": { "storyId": story, "title": title } }),
    )
    .await;
}

fn stories_of(board: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    for row in board["program"]["board"]["rows"].as_array().unwrap() {
        for cell in row["cells"].as_array().unwrap() {
            for story in cell["stories"].as_array().unwrap() {
                ids.push(story["id"].as_str().unwrap().to_owned());
            }
        }
    }
    ids
}

fn has_title(title: &str) -> String {
    format!(
        "[...document.querySelectorAll('.card .title')].filter(e => e.textContent === {}).length === 1",
        json!(title)
    )
}

#[tokio::test]
async fn the_board_shows_every_team_iteration_and_risk_and_graphiql_loads_offline() {
    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    let (app, program, pm, increment, _) = demo().await;
    let expected = board(&app, &program, &increment).await;
    let deps = expected["program"]["board"]["dependencies"]
        .as_array()
        .unwrap();
    let at_risk = deps.iter().filter(|d| d["atRisk"] == json!(true)).count();
    assert!(at_risk > 0, "the demo has dependencies at risk");

    browser
        .goto(&board_url(&app, &program, &increment, &pm))
        .await;
    browser
        .wait_for("document.body.dataset.ready === '1'", PATIENCE)
        .await;
    let teams = browser
        .eval("[...document.querySelectorAll('.team h2')].map(e => e.textContent)")
        .await;
    let names: Vec<Value> = expected["program"]["board"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["team"]["name"].clone())
        .collect();
    assert_eq!(teams, json!(names));
    let columns = browser
        .eval("[...document.querySelectorAll('.head.column')].map(e => e.firstChild.textContent)")
        .await;
    let titles: Vec<Value> = expected["program"]["board"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].clone())
        .collect();
    assert_eq!(columns, json!(titles));
    assert_eq!(titles.len(), 6, "five iterations and the unplanned column");
    let cards = browser
        .eval("document.querySelectorAll('.card').length")
        .await;
    assert_eq!(cards, json!(stories_of(&expected).len()));
    // One line per dependency, red exactly for those at risk.
    let lines = browser
        .eval("document.querySelectorAll('#lines path').length")
        .await;
    assert_eq!(lines, json!(deps.len()));
    let red = browser
        .eval("document.querySelectorAll('#lines path.risk').length")
        .await;
    assert_eq!(red, json!(at_risk));
    let reasons = browser
        .eval("document.querySelector('#lines path.risk').dataset.reasons")
        .await;
    assert!(reasons.as_str().unwrap().contains("at risk:"), "{reasons}");
    let counted = browser
        .eval("document.getElementById('at-risk').textContent")
        .await;
    assert_eq!(
        counted,
        json!(expected["program"]["metrics"]["dependencies"]["atRisk"].to_string())
    );
    // The header names what has waited longest, oldest first.
    let oldest = app
        .data(
            ADMIN,
            "query($p: ID!) { program(id: $p) { oldestWaits { ageHours waitingOn { name } } } }",
            json!({ "p": program }),
        )
        .await;
    let oldest = oldest["program"]["oldestWaits"].as_array().unwrap().clone();
    assert_eq!(oldest.len(), 3, "the demo has old waits");
    let shown = browser
        .eval("[...document.querySelectorAll('#waits li')].map(e => e.textContent)")
        .await;
    let shown: Vec<String> = serde_json::from_value(shown).unwrap();
    assert_eq!(shown.len(), 3);
    for (line, wait) in shown.iter().zip(&oldest) {
        let name = wait["waitingOn"]["name"].as_str().unwrap();
        assert!(line.contains(name), "{line:?} names {name}");
    }
    let shot = browser.screenshot("board.png").await;
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);

    // The wall screen, on a read-only board token: large type, no sign-in
    // form, scaled to the screen.
    let created = app
        .data(
            &pm,
            "mutation($input: CreateBoardTokenInput!) { createBoardToken(input: $input) { secret } }",
            json!({ "input": { "programId": program, "label": "Wall" } }),
        )
        .await;
    let wall = str_at(&created, "/createBoardToken/secret");
    browser
        .goto(&format!(
            "{}/board?program={program}&increment={increment}&kiosk=1#token={wall}",
            app.base
        ))
        .await;
    browser
        .wait_for(
            "document.body.classList.contains('kiosk') && document.body.dataset.ready === '1' && document.getElementById('status').dataset.state === 'live'",
            PATIENCE,
        )
        .await;
    assert_eq!(
        browser
            .eval("document.body.classList.contains('kiosk')")
            .await,
        json!(true)
    );
    let fits = browser
        .eval("(() => { const r = document.getElementById('board').getBoundingClientRect(); return r.right <= window.innerWidth + 1 && r.bottom <= window.innerHeight + 1; })()")
        .await;
    assert_eq!(fits, json!(true));
    browser.screenshot("board-kiosk.png").await;

    // GraphiQL from the binary alone: its bundle, styles and React, the
    // schema's docs, and subscriptions with the token from the headers.
    browser.goto(&format!("{}/graphql", app.base)).await;
    browser
        .wait_for(
            "document.querySelector('.graphiql-container') && window.portfolioGraphiQL",
            PATIENCE,
        )
        .await;
    browser
        .eval("document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click()")
        .await;
    browser
        .wait_for(
            "document.querySelector('.graphiql-doc-explorer') && document.querySelector('.graphiql-doc-explorer').textContent.includes('Query')",
            PATIENCE,
        )
        .await;
    let cursor = board(&app, &program, &increment).await["program"]["lastEventCursor"].clone();
    let subscribe = format!(
        "window.events = window.portfolioGraphiQL.fetcher(
           {{ query: 'subscription($p: ID!, $a: String) {{ programEvents(programId: $p, after: $a) {{ event {{ kind }} }} }}',
              variables: {{ p: {}, a: {cursor} }} }},
           {{ headers: {{ Authorization: 'Bearer ' + {} }} }})[Symbol.asyncIterator]();
         window.firstEvent = window.events.next(); true",
        json!(program),
        json!(pm)
    );
    browser.eval(&subscribe).await;
    let stories = stories_of(&expected);
    rename(&app, &stories[0], "Seen in GraphiQL").await;
    let first = browser.eval("window.firstEvent.then(r => r.value)").await;
    assert_eq!(
        first["data"]["programEvents"]["event"]["kind"], "STORY_UPDATED",
        "{first:#}"
    );
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn the_board_applies_changes_live_and_after_a_reconnect_once_each() {
    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    let (app, program, pm, increment, _) = demo().await;
    let stories = stories_of(&board(&app, &program, &increment).await);
    assert!(stories.len() >= 3);
    browser
        .goto(&board_url(&app, &program, &increment, &pm))
        .await;
    browser
        .wait_for(
            "document.body.dataset.ready === '1' && document.getElementById('status').dataset.state === 'live'",
            PATIENCE,
        )
        .await;

    // A change made through the API shows on the open board: a story's
    // own change patches its card, without reloading the board.
    let loads = browser.eval("window.portfolioBoard.state.loads").await;
    rename(&app, &stories[0], "Renamed while watching").await;
    let took = browser
        .wait_for(&has_title("Renamed while watching"), PATIENCE)
        .await;
    eprintln!("a change showed on the board after {took:?}");
    browser
        .wait_for("!window.portfolioBoard.state.refreshing", PATIENCE)
        .await;
    assert_eq!(
        browser.eval("window.portfolioBoard.state.loads").await,
        loads
    );

    // The connection drops; two changes are made meanwhile.
    browser.eval("window.portfolioBoard.disconnect()").await;
    browser
        .wait_for(
            "document.getElementById('status').dataset.state === 'reconnecting'",
            PATIENCE,
        )
        .await;
    let status = browser
        .eval("document.getElementById('status').textContent")
        .await;
    assert!(status.as_str().unwrap().contains("last update"), "{status}");
    let applied_before = browser
        .eval("window.portfolioBoard.state.applied.length")
        .await;
    rename(&app, &stories[1], "Changed while away, 1").await;
    rename(&app, &stories[2], "Changed while away, 2").await;
    assert_eq!(
        browser.eval(&has_title("Changed while away, 1")).await,
        json!(false),
        "nothing arrives while disconnected"
    );

    // After the reconnect both show, each applied once.
    browser.eval("window.portfolioBoard.reconnect()").await;
    browser
        .wait_for(
            &format!(
                "{} && {}",
                has_title("Changed while away, 1"),
                has_title("Changed while away, 2")
            ),
            PATIENCE,
        )
        .await;
    let head = board(&app, &program, &increment).await["program"]["lastEventCursor"].clone();
    browser
        .wait_for(
            &format!(
                "window.portfolioBoard.state.cursor === {head} && !window.portfolioBoard.state.refreshing"
            ),
            PATIENCE,
        )
        .await;
    let applied = browser.eval("window.portfolioBoard.state.applied").await;
    let applied: Vec<i64> = serde_json::from_value(applied).unwrap();
    let mut unique = applied.clone();
    unique.dedup();
    assert_eq!(unique, applied, "an event was applied twice: {applied:?}");
    assert!(applied.windows(2).all(|w| w[0] < w[1]), "{applied:?}");
    assert_eq!(
        applied.len() as u64,
        applied_before.as_u64().unwrap() + 2,
        "the two changes made while away, once each: {applied:?}"
    );
    assert_eq!(
        browser
            .eval("document.getElementById('status').dataset.state")
            .await,
        json!("live")
    );
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_po_commits_from_the_coordination_view_and_another_board_shows_it() {
    let Some(mut browser) = Browser::launch().await else {
        return;
    };
    let (app, program, pm, increment, demo) = demo().await;
    // A dependency on this board, still asked of its provider team.
    let asked = app
        .data(
            ADMIN,
            "query($p: ID!, $i: ID!) { program(id: $p) { board(incrementId: $i) {
               dependencies { id state provider { team { name } } } } } }",
            json!({ "p": program, "i": increment }),
        )
        .await;
    let dependency = asked["program"]["board"]["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["state"] == "REQUESTED")
        .cloned()
        .expect("the demo board has a requested dependency");
    let id = dependency["id"].as_str().unwrap().to_owned();
    let provider = dependency["provider"]["team"]["name"].as_str().unwrap();
    let po = demo
        .po_tokens
        .iter()
        .find(|(team, _)| team == provider)
        .map(|(_, token)| token.clone())
        .expect("the provider team's PO");
    let line = format!("document.querySelector('#lines path[data-dependency=\"{id}\"]')");

    // One board watches (the PM's); the PO's has the coordination view.
    browser
        .goto(&board_url(&app, &program, &increment, &pm))
        .await;
    browser
        .wait_for(
            &format!("document.getElementById('status').dataset.state === 'live' && {line}"),
            PATIENCE,
        )
        .await;
    assert_eq!(
        browser
            .eval(&format!("{line}.dataset.reasons.includes(': requested')"))
            .await,
        json!(true)
    );
    let watching = browser.open_page().await;
    browser
        .goto(&board_url(&app, &program, &increment, &po))
        .await;
    let item = format!("document.querySelector('li[data-dependency=\"{id}\"]')");
    browser
        .wait_for(
            &format!("document.getElementById('status').dataset.state === 'live' && {item}"),
            PATIENCE,
        )
        .await;
    browser.screenshot("coordination.png").await;
    browser
        .eval(&format!(
            "{item}.querySelector('form[data-action=commit] button').click()"
        ))
        .await;
    browser
        .wait_for(
            &format!(
                "document.getElementById('coordination-result').textContent === 'Done: commit.' && !{item}"
            ),
            PATIENCE,
        )
        .await;

    // The other board shows it committed.
    browser.switch_to(watching);
    browser
        .wait_for(
            &format!("{line}.dataset.reasons.includes(': committed')"),
            PATIENCE,
        )
        .await;
    let stored = app
        .data(
            ADMIN,
            "query($d: ID!) { node(id: $d) { ... on Dependency { state } } }",
            json!({ "d": id }),
        )
        .await;
    assert_eq!(stored["node"]["state"], "COMMITTED");
    browser.close().await;
    app.stop().await;
}
