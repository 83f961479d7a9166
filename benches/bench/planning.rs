//! `planning`: `Program.planningReadiness` and the board with capacity on a
//! large program (by default 50 teams, 1,000 features and 50,000 stories
//! over four increments), executed on the schema with no response cache.

use std::{sync::Arc, time::Instant};

use async_graphql::{Request, Variables};
use chrono::{Duration, NaiveDate, Utc};
use entity::{
    clarification, feature, feature_allocation, increment, iteration, story, team, team_capacity,
    wait,
};
use portfolio::{
    auth::Viewer,
    clock::SystemClock,
    events::bus::EventBus,
    graphql::{
        build_schemas,
        id::{Kind, encode},
    },
    metrics::Metrics,
    ranking::key,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::json;

use super::{BoxError, fresh_store, percentile};
use crate::load::{insert_chunked, requested, xorshift};

/// The sizes of the program.
pub struct PlanningOptions {
    pub teams: usize,
    pub features: usize,
    pub stories: usize,
    pub increments: usize,
    pub requests: usize,
    /// Another board query (a file of GraphQL with `$p` and `$i`), to see
    /// where the time goes.
    pub board_query: Option<String>,
    /// Open waits (plus four times as many finished ones).
    pub open_waits: usize,
}

const READINESS: &str =
    "query($p: ID!, $i: ID!) { program(id: $p) { planningReadiness(incrementId: $i) {
    features readyFeatures { id title }
    unallocated { id title }
    notBrokenDown { feature { id title } teams { id name } ageHours }
    blockedByClarifications { feature { id title } clarifications { id question } oldestAgeHours }
    teamsWithNothingAllocated { id name } } } }";

const BOARD: &str = "query($p: ID!, $i: ID!) { program(id: $p) { board(incrementId: $i) {
    columns { title iteration { id number } }
    rows { team { id name } cells { capacity load overloaded stories { id title points state } } }
    dependencies { id state atRisk riskReasons } } } }";

const WAITING: &str = "query($p: ID!) { viewer { waitingOnMe(programId: $p) {
    kind subjectId team { id name } since ageHours action } } }";

const WAITS: &str = "query($p: ID!, $i: ID!) { program(id: $p) { waits(incrementId: $i) {
    person { id name } productManager teams { id name }
    kinds { kind open oldestOpenAgeHours finished medianHours p90Hours }
    iterations { iteration { number } kinds { kind open finished medianHours p90Hours } } } } }";

pub async fn planning(database: &str, o: &PlanningOptions) -> Result<(), BoxError> {
    let (store, settings, _dir) = fresh_store(database, "planning").await?;
    let conn = store.conn();
    let now = Utc::now();
    let seeded = Instant::now();
    let (pm, program) = super::seed_program(conn, "PM", "Big").await?;
    let mut rng = 0x2545_f491_4f6c_dd1du64;

    // Teams, increments of five two-week iterations, capacities.
    let mut teams = Vec::new();
    let mut pos = Vec::new();
    for t in 0..o.teams {
        let po_row = entity::user::ActiveModel {
            name: Set(format!("PO {t:02}")),
            email: Set(format!("po{t}@example.com")),
            admin: Set(false),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        pos.push(po_row.id);
        let row = team::ActiveModel {
            program_id: Set(program.id),
            name: Set(format!("Team {t:02}")),
            product_owner_id: Set(po_row.id),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        teams.push(row.id);
    }
    let first = NaiveDate::from_ymd_opt(2026, 1, 5).ok_or("date")?;
    let mut increments = Vec::new();
    let mut iterations: Vec<Vec<i64>> = Vec::new();
    for i in 0..o.increments {
        let start = first + Duration::days(70 * i as i64);
        let inc = increment::ActiveModel {
            program_id: Set(program.id),
            name: Set(format!("PI {}", i + 1)),
            start_date: Set(start),
            end_date: Set(start + Duration::days(69)),
            iteration_count: Set(5),
            iteration_length_days: Set(14),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        let mut its = Vec::new();
        for n in 0..5 {
            let it = iteration::ActiveModel {
                increment_id: Set(inc.id),
                number: Set(n + 1),
                start_date: Set(start + Duration::days(14 * i64::from(n))),
                end_date: Set(start + Duration::days(14 * i64::from(n) + 13)),
                ..Default::default()
            }
            .insert(conn)
            .await?;
            its.push(it.id);
        }
        increments.push(inc.id);
        iterations.push(its);
    }
    let capacities = teams
        .iter()
        .flat_map(|t| iterations.iter().flatten().map(move |i| (*t, *i)))
        .map(|(t, i)| team_capacity::ActiveModel {
            team_id: Set(t),
            iteration_id: Set(i),
            points: Set(20 + (t + i) as i32 % 15),
            set_at: Set(now),
            set_by_id: Set(Some(pm.id)),
        })
        .collect();
    insert_chunked(conn, capacities).await?;

    // Features spread over the increments, each allocated to two teams.
    let keys = key::spread(o.features);
    let rows = keys
        .iter()
        .enumerate()
        .map(|(n, k)| feature::ActiveModel {
            program_id: Set(program.id),
            title: Set(format!("Feature {n:04}")),
            description: Set(String::new()),
            state: Set("BACKLOG".into()),
            business_value: Set(Some(8)),
            time_criticality: Set(Some(5)),
            risk_reduction: Set(Some(3)),
            job_size: Set(Some(5)),
            wsjf_score: Set(Some(3.2)),
            target_increment_id: Set(Some(increments[n % increments.len()])),
            rank_key: Set(k.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, rows).await?;
    let features: Vec<(i64, i64)> = feature::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|f| (f.id, f.target_increment_id.unwrap_or_default()))
        .collect();
    let mut allocated: Vec<Vec<(i64, i64)>> = vec![Vec::new(); teams.len()];
    let mut allocations = Vec::new();
    for (n, (f, inc)) in features.iter().enumerate() {
        for t in [n % teams.len(), (n * 7 + 3) % teams.len()] {
            if allocations
                .iter()
                .any(|a: &feature_allocation::ActiveModel| {
                    a.feature_id.as_ref() == f && a.team_id.as_ref() == &teams[t]
                })
            {
                continue;
            }
            allocated[t].push((*f, *inc));
            allocations.push(feature_allocation::ActiveModel {
                feature_id: Set(*f),
                team_id: Set(teams[t]),
                note: Set(String::new()),
                allocated_at: Set(now - Duration::hours((n % 300) as i64)),
                allocated_by_id: Set(Some(pm.id)),
            });
        }
    }
    insert_chunked(conn, allocations).await?;

    // Stories under the team's allocated features (one in ten left without
    // any), most planned into their increment, in every state.
    let per_team = o.stories.div_ceil(teams.len().max(1));
    let keys = key::spread(per_team);
    let states = ["DRAFT", "READY", "READY", "IN_PROGRESS", "DONE", "ACCEPTED"];
    let points = [1, 2, 3, 5, 8];
    let inc_index: std::collections::HashMap<i64, usize> = increments
        .iter()
        .enumerate()
        .map(|(i, id)| (*id, i))
        .collect();
    for (t, team) in teams.iter().enumerate() {
        let mine: Vec<(i64, i64)> = allocated[t]
            .iter()
            .enumerate()
            .filter(|(n, _)| n % 10 != 9)
            .map(|(_, f)| *f)
            .collect();
        let rows = keys
            .iter()
            .enumerate()
            .map(|(s, k)| {
                let (f, inc) = mine[s % mine.len().max(1)];
                let planned = xorshift(&mut rng, 10) < 7;
                let its = &iterations[inc_index[&inc]];
                let state = states[xorshift(&mut rng, states.len())];
                let mut row = super::draft_story(*team, format!("T{t} story {s}"), k, now);
                row.feature_id = Set(Some(f));
                row.points = Set(Some(points[xorshift(&mut rng, points.len())]));
                row.state = Set(state.into());
                row.acceptance_criteria = Set("works".into());
                row.iteration_id = Set(planned.then(|| its[xorshift(&mut rng, its.len())]));
                row
            })
            .collect();
        insert_chunked(conn, rows).await?;
    }
    let stories: Vec<story::Model> = story::Entity::find().all(conn).await?;

    // Dependencies (one per ten stories, later on earlier) and questions
    // (one per 25 stories, a fifth blocking, half of those open).
    let mut pairs = std::collections::HashSet::new();
    while pairs.len() < stories.len() / 10 {
        let a = xorshift(&mut rng, stories.len());
        let b = xorshift(&mut rng, stories.len());
        if a != b {
            pairs.insert((stories[a.max(b)].id, stories[a.min(b)].id));
        }
    }
    let rows = pairs
        .iter()
        .map(|(d, p)| requested(program.id, *d, *p, now))
        .collect();
    insert_chunked(conn, rows).await?;
    let rows = stories
        .iter()
        .step_by(25)
        .enumerate()
        .map(|(n, s)| clarification::ActiveModel {
            program_id: Set(program.id),
            story_id: Set(Some(s.id)),
            feature_id: Set(None),
            team_id: Set(Some(s.team_id)),
            question: Set("Which edge cases?".into()),
            asker_id: Set(None),
            assignee_id: Set(pm.id),
            status: Set(if n % 2 == 0 { "OPEN" } else { "RESOLVED" }.into()),
            blocking: Set(n % 5 == 0),
            asked_at: Set(now - Duration::hours((n % 500) as i64)),
            answered_at: Set(None),
            answered_by_id: Set(None),
            resolved_at: Set(None),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    insert_chunked(conn, rows).await?;
    portfolio::dependency::service::store_all_risks(&store)
        .await
        .map_err(|e| e.message().to_owned())?;
    // Waits: `open_waits` open ones spread over the POs and the PM, and
    // four times as many finished over the increments' weeks.
    let owners: Vec<i64> = pos.iter().copied().chain([pm.id]).collect();
    let kinds = [
        "ANSWER",
        "ACCEPTANCE",
        "DECISION",
        "BREAKDOWN",
        "RESOLUTION",
    ];
    let span = Duration::days(70 * o.increments as i64);
    let rows = (0..o.open_waits * 5)
        .map(|n| {
            let story = &stories[n % stories.len()];
            let started = portfolio::clock::start_of_day(first)
                + Duration::minutes(xorshift(&mut rng, span.num_minutes() as usize) as i64);
            let open = n < o.open_waits;
            wait::ActiveModel {
                program_id: Set(program.id),
                kind: Set(kinds[n % kinds.len()].into()),
                subject_type: Set("Story".into()),
                subject_id: Set(story.id),
                team_id: Set(Some(story.team_id)),
                owner_id: Set(owners[n % owners.len()]),
                again: Set(false),
                started_at: Set(started),
                ended_at: Set((!open)
                    .then(|| started + Duration::minutes(30 + xorshift(&mut rng, 5000) as i64))),
                outcome: Set((!open).then(|| "DONE".to_owned())),
                ..Default::default()
            }
        })
        .collect();
    insert_chunked(conn, rows).await?;
    // Planner statistics, as autovacuum (PostgreSQL) or the server's
    // start (SQLite's `PRAGMA optimize`) would have them after a bulk load.
    sea_orm::ConnectionTrait::execute_unprepared(conn, "ANALYZE").await?;
    let seed_secs = seeded.elapsed().as_secs_f64();

    let bus = EventBus::start(store.clone(), 1024, std::time::Duration::from_secs(3600)).await?;
    // The schema HTTP queries run on (no extension, no loader delay).
    let schema = build_schemas(
        &settings,
        store.clone(),
        Arc::new(Metrics::new()),
        Arc::new(SystemClock),
        bus,
    )
    .http;
    // The second increment: one under way, with history before it.
    let measured = increments[1.min(increments.len() - 1)];
    let vars = json!({ "p": encode(Kind::Program, program.id).0, "i": encode(Kind::Increment, measured).0 });
    println!(
        "planning on {database}: {} teams, {} features, {} stories, {} dependencies, {} increments, {} open waits (seeded in {seed_secs:.1} s)",
        teams.len(),
        features.len(),
        stories.len(),
        pairs.len(),
        increments.len(),
        o.open_waits
    );
    println!(
        "{:>20} {:>9} {:>9} {:>9} {:>11} {:>9}",
        "query", "p50 ms", "p90 ms", "max ms", "statements", "KiB"
    );
    let board = match &o.board_query {
        Some(file) => std::fs::read_to_string(file)?,
        None => BOARD.to_owned(),
    };
    let po = Viewer::User(
        entity::user::Entity::find_by_id(pos[0])
            .one(conn)
            .await?
            .ok_or("the first PO is missing")?,
    );
    for (label, query, viewer) in [
        ("planningReadiness", READINESS, Viewer::BuiltinAdmin),
        ("board", board.as_str(), Viewer::BuiltinAdmin),
        ("waitingOnMe", WAITING, po.clone()),
        ("Program.waits", WAITS, po.clone()),
    ] {
        let mut times = Vec::new();
        let mut bytes = 0;
        let (before, _) = store.statements().get();
        for _ in 0..o.requests {
            let request = Request::new(query)
                .variables(Variables::from_json(vars.clone()))
                .data(viewer.clone());
            let started = Instant::now();
            let resp = schema.execute(request).await;
            let body = serde_json::to_vec(&resp)?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if !resp.errors.is_empty() {
                return Err(format!("{label} failed: {:?}", resp.errors).into());
            }
            bytes = body.len();
        }
        let (after, _) = store.statements().get();
        times.sort_by(f64::total_cmp);
        println!(
            "{label:>20} {:>9.2} {:>9.2} {:>9.2} {:>11.1} {:>9}",
            percentile(&times, 50.0),
            percentile(&times, 90.0),
            times.last().copied().unwrap_or(f64::NAN),
            (after - before) as f64 / o.requests.max(1) as f64,
            bytes / 1024
        );
    }
    Ok(())
}
