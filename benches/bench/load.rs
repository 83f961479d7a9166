//! The benchmarks that need volume or other processes: dependencies on a
//! large program, many websocket subscribers, and the dashboard under load.

use std::{
    collections::HashMap,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{Request, Variables};
use chrono::Utc;
use entity::{dependency, story, team};
use futures_util::{SinkExt, StreamExt};
use portfolio::{
    auth::Viewer,
    clock::SystemClock,
    events::bus::EventBus,
    graphql::{
        build_schema,
        id::{Kind, encode},
    },
    metrics::Metrics,
    ranking::key,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::{
    Message, client::IntoClientRequest, http::HeaderValue, protocol::WebSocketConfig,
};

use super::{BoxError, fresh_store, percentile};

pub async fn insert_chunked<A>(
    conn: &impl sea_orm::ConnectionTrait,
    rows: Vec<A>,
) -> Result<(), BoxError>
where
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(1000).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// A REQUESTED dependency row of `dependent` on `provider`.
pub fn requested(
    program_id: i64,
    dependent: i64,
    provider: i64,
    now: chrono::DateTime<Utc>,
) -> dependency::ActiveModel {
    dependency::ActiveModel {
        program_id: Set(program_id),
        dependent_story_id: Set(dependent),
        provider_story_id: Set(provider),
        state: Set("REQUESTED".into()),
        resolved_from: Set(None),
        needed_by_iteration_id: Set(None),
        decline_reason: Set(None),
        requested_by_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

pub fn xorshift(state: &mut u64, below: usize) -> usize {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % below.max(1) as u64) as usize
}

pub async fn dependency(
    database: &str,
    teams: usize,
    stories: usize,
    dependencies: usize,
    requests: usize,
) -> Result<(), BoxError> {
    let (store, settings, _dir) = fresh_store(database, "deps").await?;
    let conn = store.conn();
    let now = Utc::now();
    let seeded = Instant::now();
    let (pm, program) = super::seed_program(conn, "PM", "Big").await?;
    let per_team = stories.div_ceil(teams.max(1));
    let keys = key::spread(per_team);
    for t in 0..teams {
        let team = team::ActiveModel {
            program_id: Set(program.id),
            name: Set(format!("Team {t}")),
            product_owner_id: Set(pm.id),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        let rows = keys
            .iter()
            .map(|k| super::draft_story(team.id, format!("T{t} {k}"), k, now))
            .collect();
        insert_chunked(conn, rows).await?;
    }
    let ids: Vec<i64> = story::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    // Edges from a later story to an earlier one: a DAG, as a real program is.
    let mut rng = 0x1234_5678_9abc_def1u64;
    let mut pairs = std::collections::HashSet::new();
    while pairs.len() < dependencies {
        let a = xorshift(&mut rng, ids.len());
        let b = xorshift(&mut rng, ids.len());
        if a != b {
            pairs.insert((ids[a.max(b)], ids[a.min(b)]));
        }
    }
    let rows = pairs
        .iter()
        .map(|(d, p)| requested(program.id, *d, *p, now))
        .collect();
    insert_chunked(conn, rows).await?;
    let seed_secs = seeded.elapsed().as_secs_f64();
    let bus = EventBus::start(store.clone(), 1024, Duration::from_secs(3600)).await?;
    let schema = build_schema(
        &settings,
        store.clone(),
        Arc::new(Metrics::new()),
        Arc::new(SystemClock),
        bus,
    );
    let mutation = "mutation($input: RequestDependencyInput!) { requestDependency(input: $input) { dependency { id } } }";
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    let (reads_before, _) = store.statements().get();
    while accepted.len() + refused.len() < requests {
        let a = xorshift(&mut rng, ids.len());
        let b = xorshift(&mut rng, ids.len());
        // Half go "later needs earlier" (accepted after a full search),
        // half the other way (often a cycle, refused with its path).
        let (d, p) = if accepted.len() <= refused.len() {
            (ids[a.max(b)], ids[a.min(b)])
        } else {
            (ids[a.min(b)], ids[a.max(b)])
        };
        if d == p || pairs.contains(&(d, p)) {
            continue;
        }
        pairs.insert((d, p));
        let vars = json!({ "input": { "dependentStoryId": encode(Kind::Story, d).0, "providerStoryId": encode(Kind::Story, p).0 } });
        let request = Request::new(mutation)
            .variables(Variables::from_json(vars))
            .data(Viewer::BuiltinAdmin);
        let started = Instant::now();
        let resp = schema.execute(request).await;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        if resp.errors.is_empty() {
            accepted.push(ms);
        } else if resp.errors[0].message.contains("cycle") {
            refused.push(ms);
        } else {
            return Err(format!("requestDependency failed: {:?}", resp.errors).into());
        }
    }
    let (reads_after, _) = store.statements().get();
    let mut all: Vec<f64> = accepted.iter().chain(&refused).copied().collect();
    for v in [&mut accepted, &mut refused, &mut all] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "requestDependency on {database}: {} stories, {} dependencies (seeded in {seed_secs:.1} s)",
        ids.len(),
        dependencies
    );
    println!(
        "{:>10} {:>7} {:>10} {:>10} {:>10}",
        "outcome", "count", "median ms", "p99 ms", "max ms"
    );
    for (label, v) in [("accepted", &accepted), ("cycle", &refused), ("all", &all)] {
        println!(
            "{label:>10} {:>7} {:>10.3} {:>10.3} {:>10.3}",
            v.len(),
            percentile(v, 50.0),
            percentile(v, 99.0),
            v.last().copied().unwrap_or(f64::NAN)
        );
    }
    println!(
        "reads per request: {:.1}",
        (reads_after - reads_before) as f64 / all.len().max(1) as f64
    );
    Ok(())
}

/// A `portfolio serve` child process on a fresh database.
pub struct Server {
    child: tokio::process::Child,
    pub base: String,
    pub pid: u32,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

pub fn portfolio_binary() -> &'static str {
    env!("CARGO_BIN_EXE_portfolio")
}

pub fn database_args(database: &str, dir: &std::path::Path, label: &str) -> Vec<String> {
    if database == "sqlite" {
        vec![
            "--database-url".into(),
            format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
        ]
    } else {
        vec![
            "--database-url".into(),
            database.into(),
            "--database-schema".into(),
            format!("bench_{label}_{}", Utc::now().timestamp_millis()),
        ]
    }
}

pub async fn start_server(db_args: &[String], extra: &[&str]) -> Result<Server, BoxError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // PORTFOLIO_BENCH_WRAPPER runs the server under a tool, e.g. "heaptrack -o /tmp/ht".
    let wrapper = std::env::var("PORTFOLIO_BENCH_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(tool) => {
            let mut c = tokio::process::Command::new(tool);
            c.args(words).arg(portfolio_binary());
            c
        }
        None => tokio::process::Command::new(portfolio_binary()),
    };
    let mut child = command
        .args(db_args)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--admin-token",
            "bench-admin",
        ])
        .args(extra)
        .arg("serve")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(Server { child, base, pid });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server exited: {status}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err("server did not become ready".into())
}

/// The event sequence in a `next` message of the subscribers benchmark
/// (`{"type":"next",...,"event":{"sequence":N}}`), without building a tree.
fn sequence_in(text: &str) -> Option<i64> {
    let rest = &text[text.find("\"sequence\":")? + "\"sequence\":".len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

pub async fn gql(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    vars: Value,
) -> Result<Value, BoxError> {
    let resp: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": vars }))
        .send()
        .await?
        .json()
        .await?;
    if resp.get("errors").is_some() {
        return Err(format!("GraphQL errors: {resp}").into());
    }
    Ok(resp["data"].clone())
}

pub async fn subscribers(
    database: &str,
    counts: &[usize],
    mutations: usize,
    select_story: bool,
) -> Result<(), BoxError> {
    // Either the event alone, or the story it is about as a board shows it.
    let subscription = if select_story {
        "subscription($p: ID!) { programEvents(programId: $p) { event { sequence subject { ... on Story { title position state blocked feature { title } dependencies { provider { title } } } } } } }"
    } else {
        "subscription($p: ID!) { programEvents(programId: $p) { event { sequence } } }"
    };
    println!(
        "websocket subscribers to programEvents{} on one server process ({database})",
        if select_story {
            ", selecting the story"
        } else {
            ""
        }
    );
    println!(
        "{:>7} {:>9} {:>9} {:>9} {:>14} {:>12} {:>12}",
        "subs", "p50 ms", "p99 ms", "max ms", "KiB/idle sub", "connect s", "stmts/event"
    );
    for &n in counts {
        let dir = super::tempfile_dir::Dir::new(&format!("subs{n}"))?;
        let server = start_server(
            &database_args(database, &dir.path, &format!("subs{n}")),
            &[],
        )
        .await?;
        let client = reqwest::Client::new();
        let admin = "bench-admin";
        let pm = gql(&client, &server.base, admin, "mutation { createUser(input: {name: \"PM\", email: \"pm@example.com\"}) { user { id } token } }", json!({})).await?;
        let pm_id = pm["createUser"]["user"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let pm_token = pm["createUser"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let program = gql(&client, &server.base, admin, "mutation($pm: ID!) { createProgram(input: {name: \"P\", productManagerId: $pm}) { program { id } } }", json!({ "pm": pm_id })).await?;
        let program_id = program["createProgram"]["program"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let team = gql(&client, &server.base, admin, "mutation($p: ID!, $po: ID!) { createTeam(input: {programId: $p, name: \"T\", productOwnerId: $po}) { team { id } } }", json!({ "p": program_id, "po": pm_id })).await?;
        let team_id = team["createTeam"]["team"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let rss_before = rss_kib(server.pid);
        // Connect n subscribers; each reports (sequence, arrival) to a collector.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(i64, Instant)>();
        let connect_started = Instant::now();
        let ws_url = format!("{}/graphql/ws", server.base.replacen("http", "ws", 1));
        let mut tasks = Vec::new();
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        for i in 0..n {
            let (url, token, program_id, tx, ready_tx) = (
                ws_url.clone(),
                pm_token.clone(),
                program_id.clone(),
                tx.clone(),
                ready_tx.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut request = url.into_client_request()?;
                request.headers_mut().insert("Sec-WebSocket-Protocol", HeaderValue::from_static("graphql-transport-ws"));
                // A lean client (small read buffer, no JSON tree per message):
                // it shares the 2 cores with the server it measures.
                let config = WebSocketConfig::default().read_buffer_size(4096);
                let (mut socket, _) =
                    tokio_tungstenite::connect_async_with_config(request, Some(config), false).await?;
                socket.send(Message::text(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }).to_string())).await?;
                let _ack = socket.next().await;
                let sub = json!({ "type": "subscribe", "id": format!("{i}"), "payload": {
                    "query": subscription,
                    "variables": { "p": program_id } } });
                socket.send(Message::text(sub.to_string())).await?;
                let _ = ready_tx.send(());
                while let Some(Ok(msg)) = socket.next().await {
                    if let Message::Text(text) = msg
                        && let Some(seq) = sequence_in(&text)
                    {
                        let _ = tx.send((seq, Instant::now()));
                    }
                }
                Ok::<_, BoxError>(())
            }));
        }
        for _ in 0..n {
            ready_rx.recv().await;
        }
        // Until every subscriber has seen an event, they are not all live.
        let mut live: HashMap<i64, usize> = HashMap::new();
        let story_mutation =
            "mutation($t: ID!) { createStory(input: {teamId: $t, title: \"S\"}) { story { id } } }";
        let mut warm_until = 0;
        'warm: for _ in 0..200 {
            gql(
                &client,
                &server.base,
                &pm_token,
                story_mutation,
                json!({ "t": team_id }),
            )
            .await?;
            let deadline = Instant::now() + Duration::from_millis(500);
            while let Ok(Some((seq, _))) = tokio::time::timeout_at(deadline.into(), rx.recv()).await
            {
                *live.entry(seq).or_default() += 1;
                if live[&seq] == n {
                    warm_until = seq;
                    break 'warm;
                }
            }
        }
        let connect_secs = connect_started.elapsed().as_secs_f64();
        // Drain, let the process settle (the allocator returns memory freed
        // after the connection burst within a second or so), then read its memory.
        while tokio::time::timeout(Duration::from_millis(300), rx.recv())
            .await
            .is_ok()
        {}
        tokio::time::sleep(Duration::from_secs(3)).await;
        let rss_idle = rss_kib(server.pid);
        let mut sent_at: HashMap<i64, Instant> = HashMap::new();
        let mut latencies = Vec::with_capacity(n * mutations);
        let statements_before = statements(&server.base).await?;
        for _ in 0..mutations {
            let data = gql(&client, &server.base, &pm_token, "mutation($t: ID!) { createStory(input: {teamId: $t, title: \"M\"}) { story { id } } }", json!({ "t": team_id })).await?;
            let responded = Instant::now();
            let _ = data;
            let mut got = 0;
            let mut seq_of_this = None;
            let deadline = Instant::now() + Duration::from_secs(30);
            while got < n {
                let Ok(Some((seq, at))) = tokio::time::timeout_at(deadline.into(), rx.recv()).await
                else {
                    break;
                };
                if seq <= warm_until {
                    continue;
                }
                let t0 = *sent_at.entry(seq).or_insert(responded);
                seq_of_this.get_or_insert(seq);
                latencies.push(at.saturating_duration_since(t0).as_secs_f64() * 1000.0);
                got += 1;
            }
        }
        // Statements per event: the mutation's own writes included.
        let per_event =
            (statements(&server.base).await? - statements_before) as f64 / mutations.max(1) as f64;
        latencies.sort_by(f64::total_cmp);
        let per_sub = (rss_idle.saturating_sub(rss_before)) as f64 / n as f64;
        println!(
            "{:>7} {:>9.1} {:>9.1} {:>9.1} {:>14.1} {:>12.1} {:>12.1}",
            n,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
            per_sub,
            connect_secs,
            per_event
        );
        for t in tasks {
            t.abort();
        }
    }
    Ok(())
}

struct LoadResult {
    requests: usize,
    seconds: f64,
    latencies: Vec<f64>,
}

async fn load(
    base: &str,
    token: &str,
    body: Value,
    clients: usize,
    seconds: u64,
) -> Result<LoadResult, BoxError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let stop = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, token, body) = (
            client.clone(),
            format!("{base}/graphql"),
            token.to_owned(),
            body.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < stop {
                let t0 = Instant::now();
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await?;
                let bytes = resp.bytes().await?;
                latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
                if bytes.starts_with(b"{\"errors\"") {
                    return Err::<Vec<f64>, BoxError>(
                        format!("errors: {}", String::from_utf8_lossy(&bytes)).into(),
                    );
                }
            }
            Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    Ok(LoadResult {
        requests: latencies.len(),
        seconds,
        latencies,
    })
}

async fn statements(base: &str) -> Result<u64, BoxError> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    Ok(text
        .lines()
        .filter(|l| l.starts_with("portfolio_db_statements_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum())
}

/// What the `dashboard` benchmark measures.
pub struct DashboardOptions {
    pub teams: usize,
    pub stories_per_team: usize,
    pub clients: usize,
    pub seconds: u64,
    pub cache_off: bool,
    pub writes_per_second: f64,
    pub writes_elsewhere: bool,
    /// Rounds of windows without and with the writes, on one server.
    pub alternate: usize,
}

/// Loads a demo program with `portfolio demo`: its id and the PM's token.
pub async fn seed_demo(
    db_args: &[String],
    teams: usize,
    stories_per_team: usize,
) -> Result<(String, String), BoxError> {
    let mut demo = tokio::process::Command::new(portfolio_binary())
        .args(db_args)
        .args([
            "demo",
            "--teams",
            &teams.to_string(),
            "--stories-per-team",
            &stories_per_team.to_string(),
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()?;
    let mut lines = BufReader::new(demo.stdout.take().ok_or("no stdout")?).lines();
    let (mut program, mut token) = (String::new(), String::new());
    while let Some(line) = lines.next_line().await? {
        if let Some(rest) = line.strip_prefix("loaded program ") {
            program = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
        if let Some(rest) = line.strip_prefix("the Product Manager: ") {
            token = rest.trim().to_owned();
        }
    }
    demo.wait().await?;
    Ok((program, token))
}

/// Rank moves in the first team of `program` at `rate` per second (as the
/// built-in admin) until `stop` is set; returns (moves, failed moves).
async fn rank_moves(
    base: String,
    program: String,
    rate: f64,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<(u64, u64), BoxError> {
    let client = reqwest::Client::new();
    let url = format!("{base}/graphql");
    let post = |body: Value| {
        client
            .post(&url)
            .bearer_auth("bench-admin")
            .json(&body)
            .send()
    };
    let query = "query($p: ID!) { program(id: $p) { teams { backlog(first: 40) { edges { node { id } } } } } }";
    let read: Value = post(json!({ "query": query, "variables": { "p": program } }))
        .await?
        .json()
        .await?;
    let ids: Vec<String> = read["data"]["program"]["teams"][0]["backlog"]["edges"]
        .as_array()
        .ok_or("no backlog to move stories in")?
        .iter()
        .filter_map(|e| e["node"]["id"].as_str().map(str::to_owned))
        .collect();
    if ids.len() < 2 {
        return Err("the backlog has fewer than two stories".into());
    }
    let rank = "mutation($i: RankStoryInput!) { rankStory(input: $i) { story { id } } }";
    let (mut moves, mut failed) = (0u64, 0u64);
    let started = Instant::now();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let (a, b) = (
            &ids[moves as usize % ids.len()],
            &ids[(moves as usize * 7 + 3) % ids.len()],
        );
        if a != b {
            let reply: Value = post(
                json!({ "query": rank, "variables": { "i": { "storyId": a, "beforeId": b } } }),
            )
            .await?
            .json()
            .await?;
            failed += u64::from(reply.get("errors").is_some());
        }
        moves += 1;
        let due = started + Duration::from_secs_f64(moves as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
    }
    Ok((moves, failed))
}

pub async fn dashboard(database: &str, o: &DashboardOptions) -> Result<(), BoxError> {
    if o.alternate > 0 && o.writes_per_second <= 0.0 {
        return Err(
            "--alternate compares windows with and without writes: give --writes-per-second".into(),
        );
    }
    let dir = super::tempfile_dir::Dir::new("dashboard")?;
    let db_args = database_args(database, &dir.path, "dash");
    let seeded = Instant::now();
    let (program, token) = seed_demo(&db_args, o.teams, o.stories_per_team).await?;
    let written = if o.writes_elsewhere {
        seed_demo(&db_args, o.teams, o.stories_per_team).await?.0
    } else {
        program.clone()
    };
    let seed_secs = seeded.elapsed().as_secs_f64();
    let mut extra = vec!["--event-poll-ms", "3600000"];
    if o.cache_off {
        extra.extend(["--response-cache-entries", "0"]);
    }
    let server = start_server(&db_args, &extra).await?;
    let query = include_str!("../../tests/queries/dashboard.graphql");
    let dashboard = json!({ "query": query, "variables": { "programId": program } });
    let typename = json!({ "query": "{ __typename }" });
    let writes = match (o.writes_per_second > 0.0, o.writes_elsewhere) {
        (false, _) => "no writes".to_owned(),
        (true, false) => format!("{} rank moves/s in the same program", o.writes_per_second),
        (true, true) => format!("{} rank moves/s in another program", o.writes_per_second),
    };
    println!(
        "dashboard on {database}: {} teams x {} stories (seeded in {seed_secs:.1} s), {} clients, {} s each, cache {}, {writes}",
        o.teams,
        o.stories_per_team,
        o.clients,
        o.seconds,
        if o.cache_off { "off" } else { "on" },
    );
    println!(
        "{:>12} {:>8} {:>9} {:>10} {:>9} {:>9} {:>12}",
        "query", "clients", "requests", "req/s", "p50 ms", "p99 ms", "stmts/req"
    );
    // Warm up.
    load(&server.base, &token, dashboard.clone(), 2, 1).await?;
    let writer = (o.writes_per_second > 0.0).then_some((written.as_str(), o.writes_per_second));
    for (label, body, c) in [
        ("dashboard", &dashboard, 1),
        ("dashboard", &dashboard, o.clients),
        ("__typename", &typename, o.clients),
    ] {
        let w = window(&server.base, &token, body, c, o.seconds, writer).await?;
        let moved = match w.moves {
            Some((moves, failed)) => format!("  ({moves} moves, {failed} failed)"),
            None => String::new(),
        };
        println!(
            "{label:>12} {c:>8} {:>9} {:>10.1} {:>9.2} {:>9.2} {:>12.1}{moved}",
            w.load.requests,
            w.rate(),
            percentile(&w.load.latencies, 50.0),
            percentile(&w.load.latencies, 99.0),
            w.statements as f64 / w.load.requests.max(1) as f64
        );
    }
    if let Some(writer) = writer.filter(|_| o.alternate > 0) {
        alternate(&server.base, &token, &dashboard, o, writer).await?;
    }
    Ok(())
}

/// One measured window: the load, the statements the server ran meanwhile,
/// and the rank moves made meanwhile, if any.
struct Window {
    load: LoadResult,
    statements: u64,
    moves: Option<(u64, u64)>,
}

impl Window {
    fn rate(&self) -> f64 {
        self.load.requests as f64 / self.load.seconds
    }
}

/// `body` from `clients` clients for `seconds`, while `writer` (a program,
/// moves per second) ranks stories, when given.
async fn window(
    base: &str,
    token: &str,
    body: &Value,
    clients: usize,
    seconds: u64,
    writer: Option<(&str, f64)>,
) -> Result<Window, BoxError> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mover = writer.map(|(program, rate)| {
        tokio::spawn(rank_moves(
            base.to_owned(),
            program.to_owned(),
            rate,
            stop.clone(),
        ))
    });
    let before = statements(base).await?;
    let load = load(base, token, body.clone(), clients, seconds).await?;
    let after = statements(base).await?;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let moves = match mover {
        Some(task) => Some(task.await??),
        None => None,
    };
    Ok(Window {
        load,
        statements: after - before,
        moves,
    })
}

/// What the writes cost the dashboards, apart from the machine's drift:
/// windows without and with them, one after the other on the same server,
/// each round compared on its own.
async fn alternate(
    base: &str,
    token: &str,
    dashboard: &Value,
    o: &DashboardOptions,
    writer: (&str, f64),
) -> Result<(), BoxError> {
    println!(
        "alternating on this server, {} clients, {} s windows: dashboards/s without writes, with them, and their ratio",
        o.clients, o.seconds
    );
    println!(
        "{:>6} {:>10} {:>10} {:>7}",
        "round", "without", "with", "ratio"
    );
    let mut ratios = Vec::with_capacity(o.alternate);
    for round in 1..=o.alternate {
        let without = window(base, token, dashboard, o.clients, o.seconds, None).await?;
        let with = window(base, token, dashboard, o.clients, o.seconds, Some(writer)).await?;
        let ratio = with.rate() / without.rate();
        ratios.push(ratio);
        println!(
            "{round:>6} {:>10.1} {:>10.1} {ratio:>7.3}",
            without.rate(),
            with.rate()
        );
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    ratios.sort_by(f64::total_cmp);
    println!(
        "ratio with writes / without: mean {mean:.3}, median {:.3}, range {:.3} to {:.3}",
        percentile(&ratios, 50.0),
        ratios[0],
        ratios[ratios.len() - 1]
    );
    Ok(())
}

/// One writer's loop: a story created, changed, ranked to the top, made
/// READY and asked about, over and over, until `until`. Returns (latency of
/// each write in ms, failed writes with their first error).
async fn writer(
    base: String,
    shared: Arc<Value>,
    writer: usize,
    until: Instant,
) -> (Vec<f64>, Vec<String>) {
    let client = reqwest::Client::new();
    let (mut latencies, mut failures) = (Vec::new(), Vec::new());
    let team = &shared["teams"][writer % 2];
    let top = &shared["tops"][writer % 2];
    let mut round = 0;
    while Instant::now() < until {
        round += 1;
        let mut write = async |query: &str, input: Value| -> Option<Value> {
            let started = Instant::now();
            let result = gql(
                &client,
                &base,
                "bench-admin",
                query,
                json!({ "input": input }),
            )
            .await;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            result.map_err(|e| failures.push(e.to_string())).ok()
        };
        let Some(created) = write(
            "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
            json!({ "teamId": team, "title": format!("w{writer} r{round}") }),
        )
        .await
        else {
            continue;
        };
        let story = created["createStory"]["story"]["id"].clone();
        write(
            "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { id } } }",
            json!({ "storyId": story, "points": 3, "acceptanceCriteria": "works" }),
        )
        .await;
        write(
            "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { id } } }",
            json!({ "storyId": story, "beforeId": top }),
        )
        .await;
        write(
            "mutation($input: SetStoryStateInput!) { setStoryState(input: $input) { story { id } } }",
            json!({ "storyId": story, "state": "READY" }),
        )
        .await;
        write(
            "mutation($input: AskClarificationInput!) { askClarification(input: $input) { clarification { id } } }",
            json!({ "storyId": story, "question": "Why?" }),
        )
        .await;
        write(
            "mutation($input: CreateFeatureInput!) { createFeature(input: $input) { feature { id } } }",
            json!({ "programId": shared["program"], "title": format!("w{writer} r{round}") }),
        )
        .await;
    }
    (latencies, failures)
}

/// Writes per second on one program with `writers` concurrent clients of a
/// server process, each for `seconds`.
pub async fn writes(database: &str, writers: &[usize], seconds: u64) -> Result<(), BoxError> {
    println!("writes on one program, {database}: {seconds} s per measurement");
    println!(
        "{:>8} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "writers", "writes", "writes/s", "p50 ms", "p99 ms", "failed"
    );
    for &n in writers {
        let dir = super::tempfile_dir::Dir::new(&format!("writes{n}"))?;
        let db_args = database_args(database, &dir.path, &format!("writes{n}"));
        let server = start_server(&db_args, &[]).await?;
        let client = reqwest::Client::new();
        let admin = "bench-admin";
        let base = server.base.clone();
        let run = async |query: &str, input: Value| {
            gql(&client, &base, admin, query, json!({ "input": input })).await
        };
        let pm = run(
            "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } } }",
            json!({ "name": "PM", "email": "pm@bench.example" }),
        )
        .await?["createUser"]["user"]["id"]
            .clone();
        let program = run(
            "mutation($input: CreateProgramInput!) { createProgram(input: $input) { program { id } } }",
            json!({ "name": "Bench", "productManagerId": pm }),
        )
        .await?["createProgram"]["program"]["id"]
            .clone();
        let (mut teams, mut tops) = (Vec::new(), Vec::new());
        for name in ["A", "B"] {
            let team = run(
                "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
                json!({ "programId": program, "name": name, "productOwnerId": pm }),
            )
            .await?["createTeam"]["team"]["id"]
                .clone();
            let top = run(
                "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
                json!({ "teamId": team, "title": "top" }),
            )
            .await?["createStory"]["story"]["id"]
                .clone();
            teams.push(team);
            tops.push(top);
        }
        let shared = Arc::new(json!({ "program": program, "teams": teams, "tops": tops }));
        let started = Instant::now();
        let until = started + Duration::from_secs(seconds);
        let tasks: Vec<_> = (0..n)
            .map(|w| tokio::spawn(writer(server.base.clone(), shared.clone(), w, until)))
            .collect();
        let (mut latencies, mut failures) = (Vec::new(), Vec::new());
        for task in tasks {
            let (l, f) = task.await?;
            latencies.extend(l);
            failures.extend(f);
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort_by(f64::total_cmp);
        println!(
            "{n:>8} {:>9} {:>10.1} {:>9.2} {:>9.2} {:>9}",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            failures.len()
        );
        if let Some(first) = failures.first() {
            println!("    first failure: {first}");
        }
    }
    Ok(())
}
