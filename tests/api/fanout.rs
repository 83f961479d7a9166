//! Shared subscriptions: subscribers who ask the same, as the same viewer,
//! get one resolution per event; one that falls behind ends alone and
//! resumes without a gap.

use std::{sync::Arc, time::Duration};

use futures_util::{StreamExt, stream::BoxStream};
use portfolio::{
    auth::Viewer,
    graphql::fanout::{Fanout, Shareable},
    metrics::Metrics,
};
use serde_json::{Value, json};

use crate::{
    events::InProcess,
    helpers::{TestApp, World, WsClient, next_in_time},
};

const LIVE: &str = "subscription($p: ID!) { programEvents(programId: $p) { event { sequence subject { ... on Story { title } } } } }";
const CREATE_STORY: &str = "mutation($t: ID!, $title: String!) { createStory(input: {teamId: $t, title: $title}) { story { id } } }";

fn share(query: &str, program: &str) -> Shareable {
    Shareable::of(&json!({ "query": query, "variables": { "p": program } }))
        .expect("a live subscription is shared")
}

/// The next response of a member, parsed; None once it ended.
async fn next(member: &mut BoxStream<'static, Arc<str>>) -> Option<Value> {
    let payload = next_in_time(member).await?;
    Some(serde_json::from_str(&payload).expect("a response is JSON"))
}

fn sequence(resp: &Value) -> i64 {
    resp["data"]["programEvents"]["event"]["sequence"]
        .as_i64()
        .unwrap_or_else(|| panic!("an event: {resp}"))
}

/// Creates stories until `member` shows one (a subscription says nothing
/// when it is live); returns that response.
async fn until_live(
    app: &InProcess,
    team: &str,
    member: &mut BoxStream<'static, Arc<str>>,
) -> Value {
    for i in 0..50 {
        app.data(
            CREATE_STORY,
            json!({ "t": team, "title": format!("Probe {i}") }),
        )
        .await;
        if let Ok(Some(payload)) =
            tokio::time::timeout(Duration::from_millis(500), member.next()).await
        {
            return serde_json::from_str(&payload).expect("a response is JSON");
        }
    }
    panic!("the subscription never became live");
}

#[tokio::test]
async fn a_shared_subscriber_that_falls_behind_ends_alone_and_resumes_without_a_gap() {
    const BUFFER: usize = 16;
    let app = InProcess::start(1024).await;
    let (program, teams) = app.program_with_teams(&["T"]).await;
    let team = &teams[0];
    let fanout = Fanout::new(app.schema.clone(), BUFFER, Arc::new(Metrics::new()));
    let mut keeping_up = fanout
        .join(share(LIVE, &program), &Viewer::BuiltinAdmin)
        .responses();
    let live = until_live(&app, team, &mut keeping_up).await;
    let mut slow = fanout
        .join(share(LIVE, &program), &Viewer::BuiltinAdmin)
        .responses();
    assert_eq!(fanout.groups(), 1, "both are one group");

    // Three queues' worth of events while `slow` is not polled; the other
    // takes each as it comes.
    let first = sequence(&live) + 1;
    let last = first + 3 * BUFFER as i64 - 1;
    for sequence_expected in first..=last {
        app.data(
            CREATE_STORY,
            json!({ "t": team, "title": format!("S{sequence_expected}") }),
        )
        .await;
        let got = next(&mut keeping_up).await.expect("an event");
        assert_eq!(sequence(&got), sequence_expected);
    }

    // The slow one sends what it had queued, from its first event on, then
    // the error that says where to resume.
    let mut seen = Vec::new();
    let ended = loop {
        let resp = next(&mut slow).await.expect("an error before the end");
        if resp.get("errors").is_some() {
            break resp;
        }
        seen.push(sequence(&resp));
    };
    assert_eq!(seen, (first..first + BUFFER as i64).collect::<Vec<_>>());
    let error = &ended["errors"][0];
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{ended}");
    assert_eq!(error["path"], json!(["programEvents"]), "{ended}");
    let resume = error["extensions"]["resumeAfter"]
        .as_str()
        .unwrap_or_else(|| panic!("a resume cursor: {ended}"))
        .to_owned();
    assert!(next(&mut slow).await.is_none(), "the member has ended");

    // Resuming there (a subscription of its own, from the log) gives the
    // rest, once each.
    let mut resumed = app.subscribe(
        "subscription($p: ID!, $after: String) { programEvents(programId: $p, after: $after) { event { sequence } } }",
        json!({ "p": program, "after": resume }),
    );
    for expected in first + BUFFER as i64..=last {
        let resp = tokio::time::timeout(Duration::from_secs(60), resumed.next())
            .await
            .expect("in time")
            .expect("an event");
        let resp = serde_json::to_value(&resp).expect("json");
        assert_eq!(sequence(&resp), expected, "{resp}");
    }

    // The other member goes on.
    app.data(CREATE_STORY, json!({ "t": team, "title": "After" }))
        .await;
    assert_eq!(
        sequence(&next(&mut keeping_up).await.expect("an event")),
        last + 1
    );
}

#[tokio::test]
async fn one_group_per_viewer_and_document_until_its_last_member_leaves() {
    let app = InProcess::start(1024).await;
    let (program, teams) = app.program_with_teams(&["T"]).await;
    let metrics = Arc::new(Metrics::new());
    let fanout = Fanout::new(app.schema.clone(), 64, metrics.clone());
    let spaced = "# the same, laid out otherwise\nsubscription ( $p : ID! ) {\n  programEvents(programId: $p) {\n    event { sequence, subject { ... on Story { title } } }\n  }\n}";
    let mut a = fanout
        .join(share(LIVE, &program), &Viewer::BuiltinAdmin)
        .responses();
    let mut b = fanout
        .join(share(spaced, &program), &Viewer::BuiltinAdmin)
        .responses();
    assert_eq!(fanout.groups(), 1);
    // Another viewer, who sees the same, is a group of its own: the key is
    // who asks, not what they may see.
    let board = Viewer::Board { program_id: 1 };
    let mut c = fanout.join(share(LIVE, &program), &board).responses();
    assert_eq!(fanout.groups(), 2);
    // So is another document.
    let other = fanout
        .join(
            share(
                "subscription($p: ID!) { programEvents(programId: $p) { event { sequence } } }",
                &program,
            ),
            &Viewer::BuiltinAdmin,
        )
        .responses();
    assert_eq!(fanout.groups(), 3);
    drop(other);
    assert_eq!(fanout.groups(), 2, "its only member left");

    // Each group is live once it has shown a probe (its upstream starts on
    // its own); then all three see the marker, the two of one group in the
    // same bytes.
    let (mut a_live, mut c_live) = (false, false);
    for i in 0..50 {
        app.data(
            CREATE_STORY,
            json!({ "t": teams[0], "title": format!("Probe {i}") }),
        )
        .await;
        for (member, live) in [(&mut a, &mut a_live), (&mut c, &mut c_live)] {
            if !*live {
                *live = tokio::time::timeout(Duration::from_millis(500), member.next())
                    .await
                    .is_ok_and(|m| m.is_some());
            }
        }
        if a_live && c_live {
            break;
        }
    }
    assert!(a_live && c_live, "both groups are live");
    app.data(CREATE_STORY, json!({ "t": teams[0], "title": "Marker" }))
        .await;
    let mut marked = Vec::new();
    for member in [&mut a, &mut b, &mut c] {
        loop {
            let resp = next(member).await.expect("an event");
            if resp["data"]["programEvents"]["event"]["subject"]["title"] == "Marker" {
                marked.push(resp);
                break;
            }
        }
    }
    assert_eq!(marked[0], marked[1]);
    assert_eq!(marked[0], marked[2]);

    drop(a);
    assert_eq!(fanout.groups(), 2, "b still holds the group");
    drop(b);
    drop(c);
    assert_eq!(fanout.groups(), 0);
    let text = metrics.render(0, 0, (0, 0));
    assert!(
        text.contains("portfolio_graphql_subscription_groups 0"),
        "{text}"
    );
    assert!(
        text.contains("portfolio_graphql_subscriptions_open 0"),
        "{text}"
    );
}

/// Waits (60 s at most) for `ws` to send the `next` of the story titled
/// `title`, reading past earlier events.
async fn story_event(ws: &mut WsClient, title: &str) -> Value {
    loop {
        let msg = ws.next().await;
        assert_eq!(msg["type"], "next", "{msg}");
        if msg["payload"]["data"]["programEvents"]["event"]["subject"]["title"] == title {
            return msg;
        }
    }
}

/// Creates stories in `team` until every connection has shown one: a
/// subscription says nothing when it is live, and each group starts its
/// upstream on its own.
async fn until_all_live(app: &TestApp, team: &str, connections: &mut [&mut WsClient]) {
    let mut live = vec![false; connections.len()];
    for i in 0..50 {
        app.create_story(team, &format!("Probe {i}"), json!({}))
            .await;
        for (ws, live) in connections.iter_mut().zip(&mut live) {
            if !*live && ws.next_within(0.5).await.is_some() {
                *live = true;
            }
        }
        if live.iter().all(|l| *l) {
            return;
        }
    }
    panic!("not every subscriber became live: {live:?}");
}

#[tokio::test]
async fn websocket_subscribers_asking_the_same_share_one_resolution() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let spaced = "subscription($p: ID!) {\n  programEvents(programId: $p) { event { sequence, subject { ... on Story { title } } } }\n}";
    let mut first = WsClient::connect(&app, Some(&w.pm.token)).await;
    let mut second = WsClient::connect(&app, Some(&w.pm.token)).await;
    let mut other = WsClient::connect(&app, Some(&w.po_a.token)).await;
    first.subscribe("a", LIVE, json!({ "p": w.program })).await;
    second
        .subscribe("b", spaced, json!({ "p": w.program }))
        .await;
    other.subscribe("a", LIVE, json!({ "p": w.program })).await;

    until_all_live(&app, &w.team_a, &mut [&mut first, &mut second, &mut other]).await;

    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains("portfolio_graphql_subscriptions_open 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("portfolio_graphql_subscription_groups 2"),
        "{metrics}"
    );

    app.create_story(&w.team_a, "Marker", json!({})).await;
    let a = story_event(&mut first, "Marker").await;
    let b = story_event(&mut second, "Marker").await;
    let c = story_event(&mut other, "Marker").await;
    assert_eq!(a["id"], "a");
    assert_eq!(b["id"], "b");
    assert_eq!(a["payload"], b["payload"]);
    assert_eq!(a["payload"], c["payload"]);

    // One member stops; the other goes on, and the stopped one hears no more.
    first.send_complete("a").await;
    app.create_story(&w.team_a, "Later", json!({})).await;
    story_event(&mut second, "Later").await;
    while let Some(msg) = first.next_within(0.5).await {
        assert_ne!(msg["type"], "next", "after complete: {msg}");
    }
    // The id is free again: subscribing with it joins the group anew.
    first.subscribe("a", LIVE, json!({ "p": w.program })).await;
    app.create_story(&w.team_a, "Again", json!({})).await;
    story_event(&mut second, "Again").await;
    for ws in [first, second, other] {
        ws.close().await;
    }
}

#[tokio::test]
async fn shared_subscribers_removed_from_the_program_are_all_cut_off() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut one = WsClient::connect(&app, Some(&w.member_a.token)).await;
    let mut two = WsClient::connect(&app, Some(&w.member_a.token)).await;
    one.subscribe("1", LIVE, json!({ "p": w.program })).await;
    two.subscribe("1", LIVE, json!({ "p": w.program })).await;
    until_all_live(&app, &w.team_a, &mut [&mut one, &mut two]).await;
    w.remove_member_a(&app).await;
    for ws in [&mut one, &mut two] {
        let code = loop {
            let msg = ws.next().await;
            if let Some(errors) = msg["payload"]["errors"].as_array() {
                break errors[0]["extensions"]["code"].clone();
            }
        };
        assert_eq!(code, "NOT_FOUND");
        assert_eq!(ws.next().await["type"], "complete");
    }
    // A new subscription of theirs is refused at once.
    one.subscribe("2", LIVE, json!({ "p": w.program })).await;
    let msg = one.next().await;
    assert_eq!(
        msg["payload"]["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{msg}"
    );
    one.close().await;
    two.close().await;
}
