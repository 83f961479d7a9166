//! The test app, a GraphQL client, and a helper per operation.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use portfolio::{
    app::{self, Server},
    clock::ManualClock,
    config::Settings,
};
use serde_json::{Value, json};

/// The built-in admin token every test server accepts.
pub const ADMIN: &str = "test-admin-token";

/// A server on port 0 with its own database.
pub struct TestApp {
    pub settings: Settings,
    /// The server's clock: it stands still until a test moves it.
    pub clock: Arc<ManualClock>,
    pub url: String,
    pub base: String,
    pub client: reqwest::Client,
    server: Option<Server>,
    _dir: Option<tempfile::TempDir>,
}

/// Settings for a fresh database: SQLite in a temporary folder, or a new
/// schema on the PostgreSQL server named by `PORTFOLIO_TEST_DATABASE_URL`.
pub fn fresh_database() -> (Settings, Option<tempfile::TempDir>) {
    let mut settings = Settings::defaults();
    settings.listen = "127.0.0.1:0".parse().expect("literal address");
    settings.admin_token = Some(ADMIN.to_owned());
    // Webhook receivers in the tests listen on 127.0.0.1 over http, and
    // due retries are noticed quickly once a test moves the clock.
    settings.webhook_allow_http = true;
    settings.webhook_allow_private = true;
    settings.webhook_poll_ms = 20;
    match std::env::var("PORTFOLIO_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            assert!(
                url.starts_with("postgres"),
                "PORTFOLIO_TEST_DATABASE_URL must be a postgres:// URL"
            );
            let suffix: u64 = rand_suffix();
            settings.database_url = url;
            settings.database_schema = Some(format!("test_{suffix:016x}"));
            settings.database_max_connections = 5;
            (settings, None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temporary folder");
            settings.database_url =
                format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            (settings, Some(dir))
        }
    }
}

/// Where every test server's clock starts: Monday 5 January 2026, 09:00 UTC.
pub fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0)
        .single()
        .expect("valid literal time")
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a second server on the same database as `self` (another process,
    /// as far as the server can tell: its own pool, bus and dispatcher).
    pub async fn another_process(&self, adjust: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        let clock = Arc::new(ManualClock::new(start_time()));
        let server = app::start_with_clock(&settings, clock.clone(), std::future::pending())
            .await
            .expect("second test server starts");
        let base = format!("http://{}", server.addr);
        Self {
            url: format!("{base}/graphql"),
            base,
            settings,
            clock,
            client: reqwest::Client::new(),
            server: Some(server),
            _dir: None,
        }
    }

    /// Starts a server after `adjust` changed the settings.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        // reqwest has no TLS provider of its own here (the server installs
        // ring when it builds its webhook client); the test clients need one
        // before the first server starts.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Logs show with `RUST_LOG=... cargo test -- --nocapture`; errors by default.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
            )
            .with_test_writer()
            .try_init();
        let (mut settings, dir) = fresh_database();
        adjust(&mut settings);
        let clock = Arc::new(ManualClock::new(start_time()));
        let server = app::start_with_clock(&settings, clock.clone(), std::future::pending())
            .await
            .expect("test server starts");
        let base = format!("http://{}", server.addr);
        Self {
            url: format!("{base}/graphql"),
            base,
            settings,
            clock,
            client: reqwest::Client::new(),
            server: Some(server),
            _dir: dir,
        }
    }

    /// Runs the `portfolio` command on this server's database and waits for
    /// it without blocking the runtime: a `#[tokio::test]` runs the server
    /// on its one thread, so a blocking wait would stall a write the server
    /// has in flight, holding SQLite's write lock until the command gives up.
    pub async fn cli(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_portfolio"));
        cmd.arg("--database-url").arg(&self.settings.database_url);
        if let Some(schema) = &self.settings.database_schema {
            cmd.arg("--database-schema").arg(schema);
        }
        cmd.args(args)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("the portfolio command runs")
    }

    /// The server clock's time.
    pub fn clock_now(&self) -> chrono::DateTime<Utc> {
        use portfolio::clock::Clock;
        self.clock.now()
    }

    /// The websocket URL.
    pub fn ws_url(&self) -> String {
        format!("{}/graphql/ws", self.base.replacen("http", "ws", 1))
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("server stops cleanly");
        }
    }

    /// Stops the server but keeps its database (another process may go on
    /// with it).
    pub async fn halt(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("server stops cleanly");
        }
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("metrics are served")
            .text()
            .await
            .expect("metrics are text")
    }

    /// A counter's value by outcome, from /metrics: `name` is the series
    /// without `_total`; an outcome not yet counted is 0.
    pub async fn outcomes<const N: usize>(&self, name: &str, outcomes: [&str; N]) -> [u64; N] {
        let text = self.metrics_text().await;
        outcomes.map(|outcome| {
            let series = format!("{name}_total{{outcome=\"{outcome}\"}} ");
            text.lines()
                .find_map(|line| line.strip_prefix(&series))
                .map_or(0, |n| n.trim().parse().expect("a counter is a number"))
        })
    }

    /// SQL statements this process has sent so far (reads and writes, not
    /// transaction control), from /metrics.
    pub async fn statements(&self) -> u64 {
        self.metrics_text()
            .await
            .lines()
            .filter(|l| l.starts_with("portfolio_db_statements_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// Sends a GraphQL request; returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request is answered");
        resp.json().await.expect("response is JSON")
    }

    /// Sends a GraphQL request that must succeed; returns `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let resp = self.gql(Some(token), query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {resp:#}");
        resp["data"].clone()
    }

    /// Sends a GraphQL request that must fail; returns the first error's code.
    pub async fn error_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let resp = self.gql(token, query, variables).await;
        code(&resp)
    }

    // --- a helper per operation ---

    /// Creates a user as the admin; returns (id, token).
    pub async fn create_user(&self, name: &str) -> (String, String) {
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
        let data = self
            .data(
                ADMIN,
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } token } }",
                json!({ "input": { "name": name, "email": email } }),
            )
            .await;
        (
            str_at(&data, "/createUser/user/id"),
            str_at(&data, "/createUser/token"),
        )
    }

    /// Creates a program as the admin; returns its id.
    pub async fn create_program(&self, name: &str, pm: &str) -> String {
        let data = self
            .data(
                ADMIN,
                "mutation($input: CreateProgramInput!) { createProgram(input: $input) { program { id } } }",
                json!({ "input": { "name": name, "vision": "Ship it", "productManagerId": pm } }),
            )
            .await;
        str_at(&data, "/createProgram/program/id")
    }

    /// Creates a team with `token`; returns the whole response.
    pub async fn create_team_as(&self, token: &str, program: &str, name: &str, po: &str) -> Value {
        self.gql(
            Some(token),
            "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id name } } }",
            json!({ "input": { "programId": program, "name": name, "productOwnerId": po } }),
        )
        .await
    }

    /// Creates a team as the admin; returns its id.
    pub async fn create_team(&self, program: &str, name: &str, po: &str) -> String {
        let resp = self.create_team_as(ADMIN, program, name, po).await;
        assert!(resp.get("errors").is_none(), "createTeam failed: {resp:#}");
        str_at(&resp, "/data/createTeam/team/id")
    }

    /// Adds a member with `token`; returns the whole response.
    pub async fn add_member_as(&self, token: &str, team: &str, user: &str) -> Value {
        self.gql(
            Some(token),
            "mutation($input: AddTeamMemberInput!) { addTeamMember(input: $input) { team { id members { id } } } }",
            json!({ "input": { "teamId": team, "userId": user } }),
        )
        .await
    }
}

/// The first error's `extensions.code` (panics when there is none).
pub fn code(resp: &Value) -> String {
    resp.pointer("/errors/0/extensions/code")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("expected an error with a code, got {resp:#}"))
        .to_owned()
}

/// The string at a JSON pointer (panics when missing).
pub fn str_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value:#}"))
        .to_owned()
}

/// A user and their token.
pub struct Person {
    pub id: String,
    pub token: String,
}

/// A program with a PM, two teams (A with a PO and a member, B with a PO)
/// and an outsider who is part of no program.
pub struct World {
    pub program: String,
    pub pm: Person,
    pub po_a: Person,
    pub po_b: Person,
    pub member_a: Person,
    pub outsider: Person,
    pub team_a: String,
    #[allow(dead_code)]
    pub team_b: String,
}

impl World {
    pub async fn build(app: &TestApp) -> Self {
        let person = |(id, token)| Person { id, token };
        let pm = person(app.create_user("Pam Manager").await);
        let po_a = person(app.create_user("Olga Owner").await);
        let po_b = person(app.create_user("Otto Owner").await);
        let member_a = person(app.create_user("Mia Member").await);
        let outsider = person(app.create_user("Oscar Outsider").await);
        let program = app.create_program("Train", &pm.id).await;
        let team_a = app.create_team(&program, "Team A", &po_a.id).await;
        let team_b = app.create_team(&program, "Team B", &po_b.id).await;
        let resp = app.add_member_as(ADMIN, &team_a, &member_a.id).await;
        assert!(resp.get("errors").is_none(), "{resp:#}");
        Self {
            program,
            pm,
            po_a,
            po_b,
            member_a,
            outsider,
            team_a,
            team_b,
        }
    }
}

impl World {
    /// Team A's PO takes the member off team A, their only team: they are
    /// no longer part of the program.
    pub async fn remove_member_a(&self, app: &TestApp) {
        let removed = app
            .gql(
                Some(&self.po_a.token),
                "mutation($t: ID!, $u: ID!) { removeTeamMember(input: {teamId: $t, userId: $u}) { team { id } } }",
                json!({ "t": self.team_a, "u": self.member_a.id }),
            )
            .await;
        assert!(removed.get("errors").is_none(), "{removed}");
    }
}

impl TestApp {
    /// Creates an increment as `token`; returns the whole response.
    pub async fn create_increment_as(
        &self,
        token: &str,
        program: &str,
        name: &str,
        start: &str,
        count: i32,
        days: i32,
    ) -> Value {
        self.gql(
            Some(token),
            "mutation($input: CreateIncrementInput!) { createIncrement(input: $input) {
                increment { id name startDate endDate iterations { id number startDate endDate } } } }",
            json!({ "input": { "programId": program, "name": name, "startDate": start,
                               "iterationCount": count, "iterationLengthDays": days } }),
        )
        .await
    }

    /// Creates an increment as the admin; returns its id.
    pub async fn create_increment(&self, program: &str, name: &str, start: &str) -> String {
        let resp = self
            .create_increment_as(ADMIN, program, name, start, 5, 14)
            .await;
        assert!(
            resp.get("errors").is_none(),
            "createIncrement failed: {resp:#}"
        );
        str_at(&resp, "/data/createIncrement/increment/id")
    }

    /// Creates a feature as `token` with extra input fields; returns the whole response.
    pub async fn create_feature_as(
        &self,
        token: &str,
        program: &str,
        title: &str,
        extra: Value,
    ) -> Value {
        let mut input = json!({ "programId": program, "title": title });
        if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            input.extend(extra.clone());
        }
        self.gql(
            Some(token),
            "mutation($input: CreateFeatureInput!) { createFeature(input: $input) {
                feature { id title state wsjf { score costOfDelay jobSize } targetIncrement { id } } } }",
            json!({ "input": input }),
        )
        .await
    }

    /// Creates a feature as the admin; returns its id.
    pub async fn create_feature(&self, program: &str, title: &str, extra: Value) -> String {
        let resp = self.create_feature_as(ADMIN, program, title, extra).await;
        assert!(
            resp.get("errors").is_none(),
            "createFeature failed: {resp:#}"
        );
        str_at(&resp, "/data/createFeature/feature/id")
    }
}

impl TestApp {
    /// Creates a story as `token` with extra input fields; returns the whole response.
    pub async fn create_story_as(
        &self,
        token: &str,
        team: &str,
        title: &str,
        extra: Value,
    ) -> Value {
        let mut input = json!({ "teamId": team, "title": title });
        if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            input.extend(extra.clone());
        }
        self.gql(
            Some(token),
            "mutation($input: CreateStoryInput!) { createStory(input: $input) {
                story { id title state points position feature { id } } } }",
            json!({ "input": input }),
        )
        .await
    }

    /// Creates a story as the admin; returns its id.
    pub async fn create_story(&self, team: &str, title: &str, extra: Value) -> String {
        let resp = self.create_story_as(ADMIN, team, title, extra).await;
        assert!(resp.get("errors").is_none(), "createStory failed: {resp:#}");
        str_at(&resp, "/data/createStory/story/id")
    }

    /// Moves a story to `state` as `token`; returns the whole response.
    pub async fn set_story_state_as(&self, token: &str, story: &str, state: &str) -> Value {
        self.gql(
            Some(token),
            "mutation($input: SetStoryStateInput!) { setStoryState(input: $input) { story { state } } }",
            json!({ "input": { "storyId": story, "state": state } }),
        )
        .await
    }

    /// Walks a story through the given states as the admin.
    pub async fn walk_story(&self, story: &str, states: &[&str]) {
        for state in states {
            let resp = self.set_story_state_as(ADMIN, story, state).await;
            assert!(resp.get("errors").is_none(), "to {state}: {resp:#}");
        }
    }

    /// Asks a question about a story as `token`; returns its id.
    pub async fn ask_about_story(
        &self,
        token: &str,
        story: &str,
        question: &str,
        blocking: bool,
    ) -> String {
        let asked = self
            .data(
                token,
                "mutation($input: AskClarificationInput!) { askClarification(input: $input) { clarification { id } } }",
                json!({ "input": { "storyId": story, "question": question, "blocking": blocking } }),
            )
            .await;
        str_at(&asked, "/askClarification/clarification/id")
    }

    /// A dependency of `dependent` on `provider`, requested by the admin;
    /// its id.
    pub async fn request_dependency(&self, dependent: &str, provider: &str) -> String {
        let requested = self
            .data(
                ADMIN,
                "mutation($input: RequestDependencyInput!) { requestDependency(input: $input) { dependency { id } } }",
                json!({ "input": { "dependentStoryId": dependent, "providerStoryId": provider } }),
            )
            .await;
        str_at(&requested, "/requestDependency/dependency/id")
    }

    /// The cursor of the program's latest event (of its first 100), read
    /// by the admin: a subscription `after` it misses nothing that follows.
    pub async fn last_event_cursor(&self, program: &str) -> Value {
        let feed = self
            .data(
                ADMIN,
                "query($p: ID!) { program(id: $p) { events(first: 100) { edges { cursor } } } }",
                json!({ "p": program }),
            )
            .await;
        let edges = feed["program"]["events"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        edges
            .last()
            .map(|e| e["cursor"].clone())
            .unwrap_or_default()
    }

    /// Titles of a team backlog, in order.
    pub async fn backlog_titles(&self, team: &str) -> Vec<String> {
        let data = self
            .data(
                ADMIN,
                "query($id: ID!) { node(id: $id) { ... on Team { backlog(first: 100) { edges { node { title position } } } } } }",
                json!({ "id": team }),
            )
            .await;
        let edges = data["node"]["backlog"]["edges"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for (i, e) in edges.iter().enumerate() {
            assert_eq!(e["node"]["position"], json!(i + 1), "positions are 1..n");
        }
        edges
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// The next item of a stream, which must come within 60 seconds; None once
/// the stream has ended.
pub async fn next_in_time<T>(
    stream: &mut futures_util::stream::BoxStream<'static, T>,
) -> Option<T> {
    use futures_util::StreamExt;
    tokio::time::timeout(std::time::Duration::from_secs(60), stream.next())
        .await
        .expect("the stream answers within 60 s")
}

/// A graphql-transport-ws client for the tests.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsClient {
    /// Connects and initialises with `token` (none: anonymous).
    pub async fn connect(app: &TestApp, token: Option<&str>) -> Self {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::{
            Message, client::IntoClientRequest, http::HeaderValue,
        };
        let mut request = app.ws_url().into_client_request().expect("ws url");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("ws connects");
        let payload = match token {
            Some(t) => json!({ "authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        socket
            .send(Message::text(
                json!({ "type": "connection_init", "payload": payload }).to_string(),
            ))
            .await
            .expect("init sent");
        let ack = tokio::time::timeout(std::time::Duration::from_secs(60), socket.next())
            .await
            .expect("ack in time");
        match ack {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                assert_eq!(v["type"], "connection_ack", "{v}");
            }
            other => panic!("no ack: {other:?}"),
        }
        Self { socket }
    }

    /// Starts a subscription.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        let msg = json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } });
        self.socket
            .send(Message::text(msg.to_string()))
            .await
            .expect("subscribe sent");
    }

    /// Completes a subscription, and returns once the server has read that:
    /// it answers a ping sent after it (in order) with a pong.
    pub async fn send_complete(&mut self, id: &str) {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        for msg in [
            json!({ "type": "complete", "id": id }),
            json!({ "type": "ping" }),
        ] {
            self.socket
                .send(Message::text(msg.to_string()))
                .await
                .expect("sent");
        }
        loop {
            let msg = tokio::time::timeout(std::time::Duration::from_secs(60), self.socket.next())
                .await
                .expect("a pong within 60 s");
            if let Some(Ok(Message::Text(t))) = msg {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["type"] == "pong" {
                    return;
                }
            } else {
                panic!("the connection ended before the pong: {msg:?}");
            }
        }
    }

    /// The next protocol message (next, error, complete), or None after `secs`.
    pub async fn next_within(&mut self, secs: f64) -> Option<Value> {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match msg {
                Ok(Message::Text(t)) => {
                    let v: Value = serde_json::from_str(&t).expect("json");
                    match v["type"].as_str() {
                        Some("ping") => {
                            let _ = self
                                .socket
                                .send(Message::text(json!({ "type": "pong" }).to_string()))
                                .await;
                        }
                        Some("pong") => {}
                        _ => return Some(v),
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The close code the server ends the connection with, reading past
    /// other messages; None when it does not close within `secs`.
    pub async fn close_code_within(&mut self, secs: f64) -> Option<u16> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .ok()??;
            match msg {
                Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
                Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// The next message, which must come within 10 seconds.
    pub async fn next(&mut self) -> Value {
        self.next_within(60.0).await.expect("a message within 60 s")
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
