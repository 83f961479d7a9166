//! Outbound webhooks: endpoints, signatures checked by an independent
//! HMAC, order, retries on the manual clock, 410, redelivery and replay,
//! rotation, the URL guard, the policy, several processes, and SIGKILL.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::IntoResponse,
    routing::post,
};
use base64::{Engine, engine::general_purpose::STANDARD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::helpers::{ADMIN, TestApp, World, code, str_at};

/// One request a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub json: Value,
}

impl Received {
    fn sequence(&self) -> i64 {
        self.json["data"]["sequence"].as_i64().expect("a sequence")
    }
}

/// What a receiver answers next.
#[derive(Clone, Debug)]
pub struct Reply {
    status: u16,
    retry_after: Option<&'static str>,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        retry_after: None,
    }
}

#[derive(Default)]
struct ReceiverState {
    script: Mutex<VecDeque<Reply>>,
    /// How long each answer takes.
    delay: Mutex<Duration>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    tx: Mutex<Option<mpsc::UnboundedSender<Received>>>,
}

/// A local webhook receiver on port 0: answers from its script (then 200),
/// and hands each request to the test.
pub struct Receiver {
    pub url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    state: Arc<ReceiverState>,
    _task: tokio::task::JoinHandle<()>,
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.most_in_flight.fetch_max(now, Ordering::SeqCst);
    // Give a second request the chance to overlap, were one in flight.
    tokio::task::yield_now().await;
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let body = String::from_utf8(body.to_vec()).expect("the body is UTF-8");
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        json: serde_json::from_str(&body).expect("the body is JSON"),
        body,
    };
    let next = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(reply(200));
    if let Some(tx) = state.tx.lock().unwrap().as_ref() {
        let _ = tx.send(received);
    }
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    let mut out = HeaderMap::new();
    if let Some(after) = next.retry_after {
        out.insert("retry-after", after.parse().unwrap());
    }
    (
        StatusCode::from_u16(next.status).unwrap(),
        out,
        "thanks from the receiver",
    )
}

impl Receiver {
    pub async fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let (tx, rx) = mpsc::unbounded_channel();
        *state.tx.lock().unwrap() = Some(tx);
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/hook"),
            rx,
            state,
            _task: task,
        }
    }

    /// Answers these, in order, to the next requests.
    fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.state.script.lock().unwrap().extend(replies);
    }

    /// The next request, within `secs`.
    pub async fn next_within(&mut self, secs: f64) -> Option<Received> {
        tokio::time::timeout(Duration::from_secs_f64(secs), self.rx.recv())
            .await
            .ok()
            .flatten()
    }

    pub async fn next(&mut self) -> Received {
        self.next_within(60.0)
            .await
            .expect("the receiver gets a request within 60 s")
    }

    fn most_in_flight(&self) -> usize {
        self.state.most_in_flight.load(Ordering::SeqCst)
    }
}

/// HMAC-SHA256 written out from RFC 2104, independent of the server's
/// signing crate.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// Whether `secret` signed the request (one of the header's signatures).
fn signed_by(received: &Received, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64 secret");
    let content = format!("{}.{}.{}", received.id, received.timestamp, received.body);
    let expected = format!(
        "v1,{}",
        STANDARD.encode(hmac_sha256(&key, content.as_bytes()))
    );
    received.signature.split(' ').any(|s| s == expected)
}

const CREATE: &str = "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id url kinds enabled lastSequence } } }";

const STATE: &str = "query($id: ID!) { node(id: $id) { ... on Webhook { enabled disabledReason failures failingSince nextAttemptAt lastSequence deliveries(first: 100) { totalCount edges { node { sequence eventKind messageId attempt redelivery status statusCode durationMs error responseBody attemptedAt } } } } } }";

/// Creates a webhook as `token`; returns (id, secret).
async fn create_webhook(
    app: &TestApp,
    token: &str,
    program: &str,
    url: &str,
    kinds: Value,
) -> (String, String) {
    let data = app
        .data(
            token,
            CREATE,
            json!({ "input": { "programId": program, "url": url, "kinds": kinds, "description": "chat" } }),
        )
        .await;
    (
        str_at(&data, "/createWebhook/webhook/id"),
        str_at(&data, "/createWebhook/secret"),
    )
}

async fn webhook_state(app: &TestApp, id: &str) -> Value {
    app.data(ADMIN, STATE, json!({ "id": id })).await["node"].clone()
}

/// Reads the webhook until `done` holds of it (the deliverer records an
/// attempt just after the receiver answers it), within 10 s.
async fn webhook_when(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let state = webhook_state(app, id).await;
        if done(&state) {
            return state;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the webhook did not reach the expected state: {state:#}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Moves the server's clock just past the webhook's next attempt.
async fn pass_next_attempt(app: &TestApp, id: &str) -> chrono::DateTime<chrono::Utc> {
    let state = webhook_when(app, id, |s| s["nextAttemptAt"].is_string()).await;
    let at: chrono::DateTime<chrono::Utc> =
        state["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    app.clock.set(at + chrono::Duration::seconds(1));
    at
}

#[tokio::test]
async fn events_reach_the_endpoint_signed_in_order_with_global_ids() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut all = Receiver::start().await;
    let mut stories_only = Receiver::start().await;
    let (hook, secret) = create_webhook(&app, &w.pm.token, &w.program, &all.url, json!([])).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let (_, only_secret) = create_webhook(
        &app,
        ADMIN,
        &w.program,
        &stories_only.url,
        json!(["STORY_CREATED"]),
    )
    .await;
    let story = app
        .create_story(&w.team_a, "Checkout", json!({ "points": 3 }))
        .await;
    app.create_story(&w.team_a, "Receipt", json!({})).await;
    let feature = app.create_feature(&w.program, "Payments", json!({})).await;

    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(all.next().await);
    }
    let sequences: Vec<i64> = got.iter().map(Received::sequence).collect();
    assert!(
        sequences.windows(2).all(|p| p[1] == p[0] + 1),
        "in log order, none skipped: {sequences:?}"
    );
    let first = &got[0];
    assert!(
        signed_by(first, &secret),
        "the signature checks out: {first:?}"
    );
    assert!(
        !signed_by(first, &only_secret),
        "another endpoint's secret does not"
    );
    assert_eq!(
        first.timestamp,
        app.clock_now().timestamp().to_string(),
        "stamped with the server's clock"
    );
    assert_eq!(first.json["type"], "STORY_CREATED");
    assert_eq!(first.json["data"]["subject"]["id"], story.as_str());
    assert_eq!(first.json["data"]["subject"]["__typename"], "Story");
    assert_eq!(first.json["data"]["subject"]["title"], "Checkout");
    assert_eq!(first.json["data"]["subject"]["points"], 3);
    assert_eq!(
        first.json["data"]["subject"]["team"]["id"],
        w.team_a.as_str()
    );
    assert_eq!(first.json["data"]["program"]["id"], w.program.as_str());
    assert_eq!(got[2].json["data"]["subject"]["id"], feature.as_str());
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert!(
        ids.iter().collect::<std::collections::HashSet<_>>().len() == 3,
        "one webhook-id per event: {ids:?}"
    );
    assert!(
        !first.body.contains("\"id\":1,"),
        "no raw database ids: {}",
        first.body
    );

    // The filtered endpoint gets only the stories, in order.
    let a = stories_only.next().await;
    let b = stories_only.next().await;
    assert_eq!(
        (a.json["type"].as_str(), b.json["type"].as_str()),
        (Some("STORY_CREATED"), Some("STORY_CREATED"))
    );
    assert!(a.sequence() < b.sequence());
    assert!(
        stories_only.next_within(0.3).await.is_none(),
        "no feature event"
    );
    assert_eq!(stories_only.most_in_flight(), 1);

    let state = webhook_when(&app, &hook, |s| s["deliveries"]["totalCount"] == 3).await;
    let log = &state["deliveries"]["edges"];
    assert_eq!(log[0]["node"]["sequence"], sequences[2], "newest first");
    assert_eq!(log[0]["node"]["status"], "SUCCEEDED");
    assert_eq!(log[0]["node"]["statusCode"], 200);
    assert_eq!(log[0]["node"]["attempt"], 1);
    assert_eq!(log[0]["node"]["messageId"], got[2].id.as_str());
    assert_eq!(log[0]["node"]["responseBody"], "thanks from the receiver");
    assert_eq!(state["lastSequence"], sequences[2]);
    assert_eq!(all.most_in_flight(), 1, "one request in flight at a time");
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"portfolio_webhook_deliveries_total{outcome="succeeded"} 5"#),
        "3 + 2 deliveries counted: {metrics}"
    );
    assert!(metrics.contains("portfolio_webhook_delivery_delay_seconds_count 5"));
}

#[tokio::test]
async fn only_the_pm_and_admins_see_and_manage_webhooks() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let receiver = Receiver::start().await;
    let input = json!({ "input": { "programId": w.program, "url": receiver.url } });
    for token in [&w.po_a.token, &w.member_a.token, &w.po_b.token] {
        assert_eq!(
            app.error_code(Some(token), CREATE, input.clone()).await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(Some(&w.outsider.token), CREATE, input.clone())
            .await,
        "NOT_FOUND"
    );
    let (hook, _) = create_webhook(&app, &w.pm.token, &w.program, &receiver.url, json!([])).await;
    let list = "query($id: ID!) { program(id: $id) { webhooks { id url } } }";
    let pm_sees = app
        .data(&w.pm.token, list, json!({ "id": w.program }))
        .await;
    assert_eq!(pm_sees["program"]["webhooks"][0]["id"], hook.as_str());
    let resp = app
        .gql(Some(&w.po_a.token), list, json!({ "id": w.program }))
        .await;
    assert_eq!(code(&resp), "FORBIDDEN");
    let board = app
        .data(
            &w.pm.token,
            "mutation($input: CreateBoardTokenInput!) { createBoardToken(input: $input) { secret } }",
            json!({ "input": { "programId": w.program, "label": "wall" } }),
        )
        .await;
    let board = str_at(&board, "/createBoardToken/secret");
    let resp = app
        .gql(Some(&board), list, json!({ "id": w.program }))
        .await;
    assert_eq!(
        code(&resp),
        "FORBIDDEN",
        "a board token does not see webhooks"
    );
    let node = "query($id: ID!) { node(id: $id) { id } }";
    let hidden = app
        .data(&w.member_a.token, node, json!({ "id": hook }))
        .await;
    assert!(hidden["node"].is_null(), "{hidden}");
    for (mutation, input) in [
        (
            "mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { id } } }",
            json!({ "webhookId": hook, "description": "x" }),
        ),
        (
            "mutation($input: DeleteWebhookInput!) { deleteWebhook(input: $input) { deletedWebhookId } }",
            json!({ "webhookId": hook }),
        ),
        (
            "mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { secret } }",
            json!({ "webhookId": hook }),
        ),
        (
            "mutation($input: ReplayWebhookInput!) { replayWebhook(input: $input) { webhook { id } } }",
            json!({ "webhookId": hook, "afterSequence": 0 }),
        ),
        (
            "mutation($input: RedeliverWebhookEventInput!) { redeliverWebhookEvent(input: $input) { webhook { id } } }",
            json!({ "webhookId": hook, "sequence": 1 }),
        ),
    ] {
        let vars = json!({ "input": input });
        assert_eq!(
            app.error_code(Some(&w.po_a.token), mutation, vars.clone())
                .await,
            "FORBIDDEN",
            "{mutation}"
        );
        assert_eq!(
            app.error_code(Some(&w.outsider.token), mutation, vars)
                .await,
            "NOT_FOUND",
            "{mutation}"
        );
    }
    // Bad input is refused with the reason, and changes nothing.
    let bad = app
        .gql(
            Some(&w.pm.token),
            "mutation($input: ReplayWebhookInput!) { replayWebhook(input: $input) { webhook { id } } }",
            json!({ "input": { "webhookId": hook, "afterSequence": 9999 } }),
        )
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT", "{bad}");
    let deleted = app
        .data(
            &w.pm.token,
            "mutation($input: DeleteWebhookInput!) { deleteWebhook(input: $input) { deletedWebhookId } }",
            json!({ "input": { "webhookId": hook } }),
        )
        .await;
    assert_eq!(deleted["deleteWebhook"]["deletedWebhookId"], hook.as_str());
    let after = app
        .data(&w.pm.token, list, json!({ "id": w.program }))
        .await;
    assert_eq!(after["program"]["webhooks"], json!([]));
}

#[tokio::test]
async fn the_url_guard_refuses_private_addresses_unless_allowed() {
    let app = TestApp::spawn_with(|s| {
        s.webhook_allow_http = false;
        s.webhook_allow_private = false;
    })
    .await;
    let w = World::build(&app).await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost/hook",
        "https://[::1]/hook",
        "http://93.184.216.34/hook",
    ] {
        let resp = app
            .gql(
                Some(&w.pm.token),
                CREATE,
                json!({ "input": { "programId": w.program, "url": url } }),
            )
            .await;
        assert_eq!(code(&resp), "BAD_USER_INPUT", "{url}: {resp}");
        let message = resp["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with("url:"), "{message}");
    }
    let list = "query($id: ID!) { program(id: $id) { webhooks { id } } }";
    let none = app
        .data(&w.pm.token, list, json!({ "id": w.program }))
        .await;
    assert_eq!(
        none["program"]["webhooks"],
        json!([]),
        "nothing was created"
    );
}

#[tokio::test]
async fn a_failing_endpoint_is_retried_on_the_schedule_honouring_retry_after() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut receiver = Receiver::start().await;
    receiver.script([
        reply(500),
        Reply {
            status: 503,
            retry_after: Some("600"),
        },
    ]);
    let (hook, _) = create_webhook(&app, &w.pm.token, &w.program, &receiver.url, json!([])).await;
    app.create_story(&w.team_a, "One", json!({})).await;
    app.create_story(&w.team_a, "Two", json!({})).await;

    let first = receiver.next().await;
    let start = app.clock_now();
    let state = webhook_when(&app, &hook, |s| s["failures"] == 1).await;
    let next: chrono::DateTime<chrono::Utc> =
        state["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    let wait = (next - start).num_milliseconds();
    assert!(
        (4500..=5500).contains(&wait),
        "5 s give or take 10%: {wait} ms"
    );
    assert_eq!(
        state["failingSince"]
            .as_str()
            .map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap()),
        Some(start)
    );
    assert!(
        receiver.next_within(0.3).await.is_none(),
        "nothing is sent before the retry is due"
    );

    pass_next_attempt(&app, &hook).await;
    let second = receiver.next().await;
    assert_eq!(second.id, first.id, "the same event, the same webhook-id");
    assert_eq!(second.sequence(), first.sequence());
    let at = app.clock_now();
    let state = webhook_when(&app, &hook, |s| s["failures"] == 2).await;
    let next: chrono::DateTime<chrono::Utc> =
        state["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    assert!(
        next - at >= chrono::Duration::seconds(600),
        "Retry-After: 600 beats the schedule's 5 min: {}",
        next - at
    );

    pass_next_attempt(&app, &hook).await;
    let third = receiver.next().await;
    assert_eq!(third.id, first.id);
    let fourth = receiver.next().await;
    assert_eq!(
        fourth.sequence(),
        first.sequence() + 1,
        "then the next event, in order"
    );
    // The row and its delivery log are read by separate statements, so one
    // read may show the fourth attempt beside the row from before it: wait
    // for both (a success that did not clear the failures times out here).
    let state = webhook_when(&app, &hook, |s| {
        s["deliveries"]["totalCount"] == 4 && s["failures"] == 0
    })
    .await;
    assert!(state["nextAttemptAt"].is_null() && state["failingSince"].is_null());
    let log: Vec<(i64, String, i64)> = state["deliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["attempt"].as_i64().unwrap(),
                e["node"]["status"].as_str().unwrap().to_owned(),
                e["node"]["statusCode"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        log,
        vec![
            (1, "SUCCEEDED".into(), 200),
            (3, "SUCCEEDED".into(), 200),
            (2, "FAILED".into(), 503),
            (1, "FAILED".into(), 500),
        ]
    );
}

#[tokio::test]
async fn gone_disables_at_once_and_enabling_sends_what_was_missed() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut receiver = Receiver::start().await;
    receiver.script([reply(410)]);
    let (hook, _) = create_webhook(&app, &w.pm.token, &w.program, &receiver.url, json!([])).await;
    app.create_story(&w.team_a, "One", json!({})).await;
    let gone = receiver.next().await;
    let state = webhook_when(&app, &hook, |s| s["enabled"] == false).await;
    assert!(
        state["disabledReason"].as_str().unwrap().contains("410"),
        "{state}"
    );
    let events = app
        .data(
            &w.pm.token,
            "query($id: ID!) { program(id: $id) { events(kinds: [WEBHOOK_DISABLED]) { edges { node { subjectId payload } } } } }",
            json!({ "id": w.program }),
        )
        .await;
    let disabled = &events["program"]["events"]["edges"][0]["node"];
    assert_eq!(disabled["subjectId"], hook.as_str(), "{events}");
    assert!(
        disabled["payload"]["reason"]
            .as_str()
            .unwrap()
            .contains("410")
    );

    app.create_story(&w.team_a, "Two", json!({})).await;
    assert!(
        receiver.next_within(0.3).await.is_none(),
        "a disabled endpoint gets nothing"
    );
    app.data(
        &w.pm.token,
        "mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { enabled } } }",
        json!({ "input": { "webhookId": hook, "enabled": true } }),
    )
    .await;
    let again = receiver.next().await;
    assert_eq!(
        again.id, gone.id,
        "it starts again at the event it stopped at"
    );
    // Then what followed, in order: first the WEBHOOK_DISABLED event itself.
    let next = receiver.next().await;
    assert_eq!(next.sequence(), gone.sequence() + 1);
    assert_eq!(next.json["type"], "WEBHOOK_DISABLED");
}

#[tokio::test]
async fn three_days_of_failures_disable_the_endpoint() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut receiver = Receiver::start().await;
    receiver.script(std::iter::repeat_n(reply(500), 20));
    let (hook, _) = create_webhook(&app, &w.pm.token, &w.program, &receiver.url, json!([])).await;
    app.create_story(&w.team_a, "One", json!({})).await;
    let start = app.clock_now();
    receiver.next().await;
    let mut attempts = 1;
    loop {
        let state = webhook_when(&app, &hook, |s| s["failures"] == attempts).await;
        if state["enabled"] == false {
            let reason = state["disabledReason"].as_str().unwrap();
            assert!(reason.contains("72 hours"), "{reason}");
            break;
        }
        assert!(
            attempts < 12,
            "still enabled after {attempts} attempts: {state}"
        );
        pass_next_attempt(&app, &hook).await;
        receiver.next().await;
        attempts += 1;
    }
    let failed_for = app.clock_now() - start;
    assert!(
        failed_for >= chrono::Duration::hours(72) && failed_for < chrono::Duration::hours(100),
        "{failed_for}"
    );
    // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 24 h, 24 h, then past 72 h.
    assert_eq!(attempts, 10);
}

#[tokio::test]
async fn redeliver_and_replay_send_events_again() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut receiver = Receiver::start().await;
    let (hook, _) = create_webhook(&app, &w.pm.token, &w.program, &receiver.url, json!([])).await;
    for title in ["One", "Two", "Three"] {
        app.create_story(&w.team_a, title, json!({})).await;
    }
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(receiver.next().await);
    }
    webhook_when(&app, &hook, |s| s["deliveries"]["totalCount"] == 3).await;
    let middle = first[1].sequence();
    app.data(
        &w.pm.token,
        "mutation($input: RedeliverWebhookEventInput!) { redeliverWebhookEvent(input: $input) { webhook { id } } }",
        json!({ "input": { "webhookId": hook, "sequence": middle } }),
    )
    .await;
    let again = receiver.next().await;
    assert_eq!(again.id, first[1].id);
    assert_eq!(again.body, first[1].body);
    let state = webhook_when(&app, &hook, |s| s["deliveries"]["totalCount"] == 4).await;
    assert_eq!(state["deliveries"]["edges"][0]["node"]["redelivery"], true);
    assert!(receiver.next_within(0.3).await.is_none(), "once");

    let replay_after = first[0].sequence();
    app.data(
        &w.pm.token,
        "mutation($input: ReplayWebhookInput!) { replayWebhook(input: $input) { webhook { lastSequence } } }",
        json!({ "input": { "webhookId": hook, "afterSequence": replay_after } }),
    )
    .await;
    let r1 = receiver.next().await;
    let r2 = receiver.next().await;
    assert_eq!(
        (r1.id.as_str(), r2.id.as_str()),
        (first[1].id.as_str(), first[2].id.as_str())
    );
    assert!(receiver.next_within(0.3).await.is_none());
    let state = webhook_when(&app, &hook, |s| s["deliveries"]["totalCount"] == 6).await;
    assert_eq!(state["lastSequence"], first[2].sequence());

    // A week on, the log has let the old attempts go, and keeps new ones.
    app.clock.advance(chrono::Duration::days(8));
    app.create_story(&w.team_a, "Four", json!({})).await;
    receiver.next().await;
    webhook_when(&app, &hook, |s| s["deliveries"]["totalCount"] == 1).await;
    let bad = app
        .gql(
            Some(&w.pm.token),
            "mutation($input: RedeliverWebhookEventInput!) { redeliverWebhookEvent(input: $input) { webhook { id } } }",
            json!({ "input": { "webhookId": hook, "sequence": 0 } }),
        )
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_for_a_day() {
    let app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut receiver = Receiver::start().await;
    let (hook, old) = create_webhook(&app, &w.pm.token, &w.program, &receiver.url, json!([])).await;
    let rotated = app
        .data(
            &w.pm.token,
            "mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) { secret webhook { previousSecretExpiresAt } } }",
            json!({ "input": { "webhookId": hook } }),
        )
        .await;
    let new = str_at(&rotated, "/rotateWebhookSecret/secret");
    assert_ne!(new, old);
    app.create_story(&w.team_a, "One", json!({})).await;
    let during = receiver.next().await;
    assert_eq!(
        during.signature.split(' ').count(),
        2,
        "{}",
        during.signature
    );
    assert!(signed_by(&during, &new) && signed_by(&during, &old));
    app.clock.advance(chrono::Duration::hours(25));
    app.create_story(&w.team_a, "Two", json!({})).await;
    let after = receiver.next().await;
    assert!(signed_by(&after, &new));
    assert!(
        !signed_by(&after, &old),
        "the old secret stops after 24 hours"
    );
}

fn on_postgres(app: &TestApp) -> bool {
    app.settings.database_url.starts_with("postgres")
}

#[tokio::test]
async fn two_processes_on_postgresql_deliver_each_event_once() {
    let app = TestApp::spawn().await;
    if !on_postgres(&app) {
        // On SQLite one process serves the file; the PostgreSQL run of the
        // suite checks several.
        return;
    }
    let other = app.another_process(|_| {}).await;
    let w = World::build(&app).await;
    let mut receiver = Receiver::start().await;
    let (hook, _) = create_webhook(&app, &w.pm.token, &w.program, &receiver.url, json!([])).await;
    for i in 0..20 {
        let on = if i % 2 == 0 { &app } else { &other };
        on.create_story(&w.team_a, &format!("Story {i}"), json!({}))
            .await;
    }
    let mut sequences = Vec::new();
    while sequences.len() < 20 {
        sequences.push(receiver.next().await.sequence());
    }
    assert!(
        receiver.next_within(0.5).await.is_none(),
        "no event twice: {sequences:?}"
    );
    assert!(
        sequences.windows(2).all(|p| p[1] == p[0] + 1),
        "{sequences:?}"
    );
    assert_eq!(receiver.most_in_flight(), 1);
    webhook_when(&app, &hook, |s| s["deliveries"]["totalCount"] == 20).await;
}

/// `portfolio serve` as a child process on the test app's database.
struct Child {
    process: tokio::process::Child,
    base: String,
}

impl Child {
    async fn start(app: &TestApp) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_portfolio"));
        cmd.arg("serve")
            .env("PORTFOLIO_DATABASE_URL", &app.settings.database_url)
            .env_remove("PORTFOLIO_DATABASE_SCHEMA")
            .env("PORTFOLIO_LISTEN", "127.0.0.1:0")
            .env("PORTFOLIO_ADMIN_TOKEN", ADMIN)
            .env("PORTFOLIO_WEBHOOK_ALLOW_HTTP", "true")
            .env("PORTFOLIO_WEBHOOK_ALLOW_PRIVATE", "true")
            .env("PORTFOLIO_WEBHOOK_POLL_MS", "20")
            .env("RUST_LOG", "info")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(schema) = &app.settings.database_schema {
            cmd.env("PORTFOLIO_DATABASE_SCHEMA", schema);
        }
        let mut process = cmd.spawn().expect("the server binary starts");
        let stderr = process.stderr.take().expect("piped stderr");
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            let mut tx = Some(tx);
            // Read to the end, so the child never blocks on a full pipe.
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(rest) = line.split("serving GraphQL on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let addr = rest.split('/').next().unwrap_or_default().to_owned();
                    let _ = tx.send(addr);
                }
            }
        });
        let addr = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .expect("the child serves within 30 s")
            .expect("the child says where it listens");
        Self {
            process,
            base: format!("http://{addr}"),
        }
    }

    async fn data(&self, query: &str, variables: Value) -> Value {
        let resp: Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .bearer_auth(ADMIN)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("the child answers")
            .json()
            .await
            .expect("JSON");
        assert!(resp.get("errors").is_none(), "{resp:#}");
        resp["data"].clone()
    }

    /// SIGKILL: no shutdown, no last writes.
    async fn kill(mut self) {
        self.process.start_kill().expect("SIGKILL is sent");
        self.process.wait().await.expect("the child ends");
    }
}

#[tokio::test]
async fn a_server_killed_mid_stream_delivers_every_event_in_order_after_a_restart() {
    let mut app = TestApp::spawn().await;
    let w = World::build(&app).await;
    let mut receiver = Receiver::start().await;
    *receiver.state.delay.lock().unwrap() = Duration::from_millis(15);
    let (hook, _) = create_webhook(
        &app,
        &w.pm.token,
        &w.program,
        &receiver.url,
        json!(["STORY_CREATED"]),
    )
    .await;
    // A backlog of 30 events, held back until the child process runs.
    let update = "mutation($input: UpdateWebhookInput!) { updateWebhook(input: $input) { webhook { enabled } } }";
    app.data(
        ADMIN,
        update,
        json!({ "input": { "webhookId": hook, "enabled": false } }),
    )
    .await;
    for i in 0..30 {
        app.create_story(&w.team_a, &format!("Story {i}"), json!({}))
            .await;
    }
    let events = app
        .data(
            ADMIN,
            "query($id: ID!) { program(id: $id) { events(kinds: [STORY_CREATED], first: 100) { edges { node { sequence } } } } }",
            json!({ "id": w.program }),
        )
        .await;
    let expected: Vec<i64> = events["program"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(expected.len(), 30);
    app.halt().await;

    let child = Child::start(&app).await;
    child
        .data(
            update,
            json!({ "input": { "webhookId": hook, "enabled": true } }),
        )
        .await;
    let mut received = Vec::new();
    while received.len() < 10 {
        received.push(receiver.next().await.sequence());
    }
    // The 10th request is still being answered: kill the server under it.
    child.kill().await;
    let child = Child::start(&app).await;
    let mut first_seen: Vec<i64> = Vec::new();
    for s in &received {
        if !first_seen.contains(s) {
            first_seen.push(*s);
        }
    }
    while first_seen.len() < expected.len() {
        let s = receiver.next().await.sequence();
        received.push(s);
        if !first_seen.contains(&s) {
            first_seen.push(s);
        }
    }
    assert_eq!(first_seen, expected, "every event, none skipped, in order");
    // What was sent but not yet recorded when the server died comes
    // again: one step back at the restart, then on in order.
    let rewinds = received.windows(2).filter(|p| p[1] < p[0]).count();
    assert!(rewinds <= 1, "in order but for the restart: {received:?}");
    let again = received.len() - expected.len();
    assert!(again <= 100, "at most one batch comes twice: {received:?}");
    child.kill().await;
}
