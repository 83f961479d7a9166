//! `webhooks`: events at a steady rate into one program of a server process,
//! POSTed to N local endpoints; the time from the event to its receipt, and
//! the events lost (expected 0).

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, State},
    routing::post,
};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{
    BoxError,
    load::{database_args, gql, start_server},
    percentile, tempfile_dir,
};

/// One receipt: endpoint, sequence, milliseconds from the event to receipt.
type Receipt = (usize, i64, f64);

#[derive(Clone, Default)]
struct Receipts(Arc<Mutex<Vec<Receipt>>>);

/// What a receipt reads of a delivery: the event's sequence and time (the
/// rest of the body is skipped, not built into a value: the receivers share
/// the machine with the server they measure).
#[derive(serde::Deserialize)]
struct Delivery<'a> {
    #[serde(borrow)]
    data: Delivered<'a>,
}

#[derive(serde::Deserialize)]
struct Delivered<'a> {
    sequence: i64,
    at: &'a str,
}

async fn receive(
    State(receipts): State<Receipts>,
    Path(endpoint): Path<usize>,
    body: Bytes,
) -> &'static str {
    let now = Utc::now();
    if let Ok(v) = serde_json::from_slice::<Delivery>(&body) {
        let at = v.data.at.parse::<DateTime<Utc>>().unwrap_or(now);
        let ms = (now - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
        receipts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((endpoint, v.data.sequence, ms));
    }
    "ok"
}

pub async fn webhooks(
    database: &str,
    endpoints: usize,
    rate: f64,
    seconds: u64,
    writers: usize,
) -> Result<(), BoxError> {
    println!(
        "webhooks on {database}: {rate} events/s for {seconds} s from {writers} writers, {endpoints} endpoints"
    );
    let receipts = Receipts::default();
    let app = Router::new()
        .route("/hook/{n}", post(receive))
        .with_state(receipts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hooks = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    let dir = tempfile_dir::Dir::new("webhooks")?;
    let db_args = database_args(database, &dir.path, "webhooks");
    let server = start_server(
        &db_args,
        &["--webhook-allow-http", "--webhook-allow-private"],
    )
    .await?;
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
    let team = run(
        "mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } } }",
        json!({ "programId": program, "name": "A", "productOwnerId": pm }),
    )
    .await?["createTeam"]["team"]["id"]
        .clone();
    let mut stories = Vec::new();
    for i in 0..writers.max(1) {
        let story = run(
            "mutation($input: CreateStoryInput!) { createStory(input: $input) { story { id } } }",
            json!({ "teamId": team, "title": format!("Story {i}") }),
        )
        .await?["createStory"]["story"]["id"]
            .clone();
        stories.push(story);
    }
    let count = "query($id: ID!) { program(id: $id) { events(first: 0) { totalCount } } }";
    let head = |data: Value| {
        data["program"]["events"]["totalCount"]
            .as_i64()
            .unwrap_or(0)
    };
    for n in 0..endpoints {
        run(
            "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }",
            json!({ "programId": program, "url": format!("{hooks}/hook/{n}") }),
        )
        .await?;
    }
    let start_head = head(
        gql(
            &client,
            &server.base,
            admin,
            count,
            json!({ "id": program }),
        )
        .await?,
    );

    let cpu_before = cpu_seconds(server.pid);
    let started = Instant::now();
    let period = Duration::from_secs_f64(writers as f64 / rate);
    let tasks: Vec<_> = stories
        .iter()
        .cloned()
        .enumerate()
        .map(|(w, story)| {
            let base = server.base.clone();
            let client = client.clone();
            tokio::spawn(async move {
                // Each writer's k-th write is due at a fixed time; one that
                // is late is sent at once, so a slow answer does not lower
                // the rate asked (a writer falling behind shows in `late`).
                let offset = Duration::from_secs_f64(w as f64 / rate);
                let mut tick = tokio::time::interval_at(
                    tokio::time::Instant::from_std(started + offset),
                    period,
                );
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut outcome = Writer::default();
                let mut k = 0u64;
                loop {
                    let due = tick.tick().await;
                    if started.elapsed() >= Duration::from_secs(seconds) {
                        break;
                    }
                    if due.elapsed() > period {
                        outcome.late += 1;
                    }
                    k += 1;
                    let input = json!({ "input": { "storyId": story, "title": format!("Story {w}.{k}") } });
                    let sent = Instant::now();
                    match gql(
                        &client,
                        &base,
                        "bench-admin",
                        "mutation($input: UpdateStoryInput!) { updateStory(input: $input) { story { id } } }",
                        input,
                    )
                    .await
                    {
                        Ok(_) => {
                            outcome.done += 1;
                            outcome.ms.push(sent.elapsed().as_secs_f64() * 1000.0);
                        }
                        Err(_) => outcome.failed += 1,
                    }
                }
                outcome
            })
        })
        .collect();
    let mut all_writes = Writer::default();
    for t in tasks {
        let w = t.await?;
        all_writes.done += w.done;
        all_writes.failed += w.failed;
        all_writes.late += w.late;
        all_writes.ms.extend(w.ms);
    }
    let (written, failed) = (all_writes.done, all_writes.failed);
    let mut write_ms = all_writes.ms;
    write_ms.sort_by(f64::total_cmp);
    let writing = started.elapsed().as_secs_f64();
    let end_head = head(
        gql(
            &client,
            &server.base,
            admin,
            count,
            json!({ "id": program }),
        )
        .await?,
    );
    let events = end_head - start_head;
    let expected = usize::try_from(events).unwrap_or(0) * endpoints;
    // Everything should arrive; wait up to two minutes for the tail.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = receipts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len();
        if got >= expected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds(server.pid) - cpu_before;
    let all = receipts
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut out_of_order = 0;
    let mut last = vec![start_head; endpoints];
    let mut latencies = Vec::with_capacity(all.len());
    for &(endpoint, sequence, ms) in &all {
        if !seen.insert((endpoint, sequence)) {
            duplicates += 1;
            continue;
        }
        if endpoint < endpoints {
            if sequence < last[endpoint] {
                out_of_order += 1;
            }
            last[endpoint] = last[endpoint].max(sequence);
        }
        if sequence > start_head && sequence <= end_head {
            latencies.push(ms);
        }
    }
    let mut lost = 0;
    for endpoint in 0..endpoints {
        for sequence in start_head + 1..=end_head {
            if !seen.contains(&(endpoint, sequence)) {
                lost += 1;
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "events written {events} ({:.0}/s over {writing:.1} s; {written} writes ok, {failed} failed)",
        events as f64 / writing
    );
    println!(
        "writes: p50 {:.1} ms, p99 {:.1} ms; {} sent late (over a period behind)",
        percentile(&write_ms, 50.0),
        percentile(&write_ms, 99.0),
        all_writes.late
    );
    println!(
        "deliveries {} of {expected} expected, all in by {drained:.1} s; lost {lost}, duplicates {duplicates}, out of order {out_of_order}",
        seen.len()
    );
    println!(
        "event to receipt: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "server CPU {cpu:.1} s until all were in: {:.0} µs per event written and delivered {endpoints} times",
        cpu * 1e6 / events.max(1) as f64
    );
    Ok(())
}

/// What one writer did.
#[derive(Default)]
struct Writer {
    done: u64,
    failed: u64,
    /// Writes sent more than a period after they were due.
    late: u64,
    /// Each successful write's round trip.
    ms: Vec<f64>,
}

/// CPU time (user and system) a process has used so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name, which is in parentheses and may hold spaces;
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks.
    let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return f64::NAN;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / clock_ticks()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux when it cannot be asked).
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}
