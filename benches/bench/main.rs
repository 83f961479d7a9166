//! Benchmarks, run by hand (never as tests): `cargo bench --bench bench -- --help`.
//!
//! - `rank`: median and p99 latency of `rankStory` on backlogs of several
//!   sizes, and the rows each move writes.
//! - `dependency`: `requestDependency` on a program of 50,000 stories and
//!   50,000 dependencies (the cycle check reads one level per query).
//! - `subscribers`: N websocket subscribers on one server process: time from
//!   a mutation's response to each subscriber, and memory per subscription.
//! - `dashboard`: the dashboard query (tests/queries/dashboard.graphql) from C
//!   concurrent clients for D seconds against a server process, and the same
//!   for `{ __typename }` as the ceiling of the HTTP + GraphQL layer; with
//!   the response cache off (`--cache-off`), and with rank moves at a rate
//!   (`--writes-per-second`) in the same program or another one
//!   (`--writes-elsewhere`); `--alternate N` then measures the writes' cost
//!   on one server, N windows without them each followed by one with them.
//! - `board-page`: the live board in headless Chromium on a demo program
//!   (by default 20 teams x 500 stories): navigation to the whole board, and
//!   one change from the event's arrival to its card patched.
//! - `planning`: `Program.planningReadiness` and the board with capacity
//!   on 50 teams, 1,000 features and 50,000 stories, cache off; then a PO's
//!   `waitingOnMe` and `Program.waits` with 5,000 open waits.
//! - `webhooks`: events at a steady rate (1,000/s by default, from
//!   `updateStory` writers) POSTed to 10 local endpoints for 60 s: the time
//!   from each event to its receipt, and the events lost.
//! - `import`: a Jira export of 20,000 rows (1,000 epics, 20 teams, 2,000
//!   Blocks links) imported into an empty program, then again unchanged.
//! - `writes`: writes per second on one program from 1, 4 and 16 concurrent
//!   clients of a server process (a mix of story, feature and clarification
//!   changes), with latency and failures.

use std::{sync::Arc, time::Instant};

use async_graphql::{Request, Variables};
use chrono::Utc;
use clap::{Parser, Subcommand};
use entity::{program, story, team, user};
use portfolio::{
    auth::Viewer,
    clock::SystemClock,
    config::Settings,
    db::Store,
    events::bus::EventBus,
    graphql::{
        build_schema,
        id::{Kind, encode},
    },
    metrics::Metrics,
    ranking::key,
};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::json;

/// The server's allocator, so the figures are the server's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(name = "bench", about = "Benchmarks of the portfolio server")]
struct Cli {
    /// Database: `sqlite` (a fresh file in a temporary folder) or a postgres:// URL
    /// (a fresh schema is created in it).
    #[arg(long, default_value = "sqlite")]
    database: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// `portfolio import jira` on a generated export, then again unchanged.
    Import {
        /// Rows of the export, epics included.
        #[arg(long, default_value_t = 20_000)]
        rows: usize,
        /// Teams (the stories are spread over them).
        #[arg(long, default_value_t = 20)]
        teams: usize,
        /// Epics (the first rows).
        #[arg(long, default_value_t = 1_000)]
        epics: usize,
        /// Blocks links between stories.
        #[arg(long, default_value_t = 2_000)]
        links: usize,
    },
    /// requestDependency latency on a large program.
    Dependency {
        /// Teams (stories are spread evenly over them).
        #[arg(long, default_value_t = 50)]
        teams: usize,
        /// Stories in the program.
        #[arg(long, default_value_t = 50_000)]
        stories: usize,
        /// Dependencies already there.
        #[arg(long, default_value_t = 50_000)]
        dependencies: usize,
        /// Requests measured.
        #[arg(long, default_value_t = 500)]
        requests: usize,
    },
    /// Websocket subscribers on one server process.
    Subscribers {
        /// How many subscribers.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
        counts: Vec<usize>,
        /// Mutations measured per count.
        #[arg(long, default_value_t = 20)]
        mutations: usize,
        /// Select the story each event is about (title, position, state,
        /// blocked, feature, dependencies with providers).
        #[arg(long)]
        select_story: bool,
    },
    /// The dashboard query against a server process.
    Dashboard {
        /// Teams of the sample program.
        #[arg(long, default_value_t = 12)]
        teams: usize,
        /// Stories per team.
        #[arg(long, default_value_t = 250)]
        stories_per_team: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Serve with the response cache off.
        #[arg(long)]
        cache_off: bool,
        /// Rank moves per second in the program while measuring (0: none).
        #[arg(long, default_value_t = 0.0)]
        writes_per_second: f64,
        /// Make the rank moves in a second program of the same size instead.
        #[arg(long)]
        writes_elsewhere: bool,
        /// Then this many rounds, on the same server, of a window without
        /// the writes and one with them, each round's ratio printed: the
        /// writes' cost apart from the machine's drift over the run.
        #[arg(long, default_value_t = 0)]
        alternate: usize,
    },
    /// The live board page in headless Chromium: first render, one change.
    BoardPage {
        /// Teams of the demo program.
        #[arg(long, default_value_t = 20)]
        teams: usize,
        /// Stories per team.
        #[arg(long, default_value_t = 500)]
        stories_per_team: usize,
        /// Page loads measured.
        #[arg(long, default_value_t = 5)]
        loads: usize,
        /// Changes measured.
        #[arg(long, default_value_t = 20)]
        updates: usize,
    },
    /// planningReadiness and the board with capacity on a large program.
    Planning {
        /// Teams.
        #[arg(long, default_value_t = 50)]
        teams: usize,
        /// Features, spread evenly over the increments.
        #[arg(long, default_value_t = 1_000)]
        features: usize,
        /// Stories, spread evenly over the teams.
        #[arg(long, default_value_t = 50_000)]
        stories: usize,
        /// Increments of five iterations (the second is measured).
        #[arg(long, default_value_t = 4)]
        increments: usize,
        /// Requests measured per query.
        #[arg(long, default_value_t = 50)]
        requests: usize,
        /// Measure this board query (a file; variables `$p` and `$i`) instead.
        #[arg(long)]
        board_query: Option<String>,
        /// Open waits (and four times as many finished ones).
        #[arg(long, default_value_t = 5_000)]
        open_waits: usize,
    },
    /// Writes per second on one program from concurrent clients.
    Writes {
        /// Concurrent writers to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
        writers: Vec<usize>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Events at a steady rate, delivered to local webhook endpoints.
    Webhooks {
        /// Endpoints of the program.
        #[arg(long, default_value_t = 10)]
        endpoints: usize,
        /// Events per second to write.
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        /// Seconds of writing.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Concurrent writers (one story each).
        #[arg(long, default_value_t = 32)]
        writers: usize,
    },
    /// rankStory latency on backlogs of several sizes.
    Rank {
        /// Backlog sizes to measure.
        #[arg(long, value_delimiter = ',', default_value = "1000,10000,100000")]
        sizes: Vec<usize>,
        /// Moves per size.
        #[arg(long, default_value_t = 500)]
        moves: usize,
    },
}

/// A fresh database for one measurement.
pub async fn fresh_store(
    database: &str,
    label: &str,
) -> Result<(Store, Settings, Option<tempfile_dir::Dir>), BoxError> {
    let mut settings = Settings::defaults();
    let dir = if database == "sqlite" {
        let dir = tempfile_dir::Dir::new(label)?;
        settings.database_url =
            format!("sqlite://{}?mode=rwc", dir.path.join("bench.db").display());
        Some(dir)
    } else {
        settings.database_url = database.to_owned();
        settings.database_schema = Some(format!("bench_{label}_{}", Utc::now().timestamp_millis()));
        None
    };
    let store = Store::connect(&settings).await?;
    store.migrate().await?;
    Ok((store, settings, dir))
}

/// A temporary folder removed on drop (the bench avoids a dev-only crate).
pub mod tempfile_dir {
    pub struct Dir {
        pub path: std::path::PathBuf,
    }

    impl Dir {
        pub fn new(label: &str) -> std::io::Result<Self> {
            let path = std::env::temp_dir()
                .join(format!("portfolio-bench-{label}-{}", std::process::id()));
            std::fs::create_dir_all(&path)?;
            Ok(Self { path })
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A user (`who`) and a program (`name`) they manage, with its event counter.
async fn seed_program(
    conn: &sea_orm::DatabaseConnection,
    who: &str,
    name: &str,
) -> Result<(user::Model, program::Model), BoxError> {
    let now = Utc::now();
    let user = user::ActiveModel {
        name: Set(who.into()),
        email: Set(format!("{}@example.com", who.to_lowercase())),
        admin: Set(false),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let program = program::ActiveModel {
        name: Set(name.into()),
        vision: Set(String::new()),
        product_manager_id: Set(user.id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    portfolio::events::log::start_counter(conn, program.id)
        .await
        .map_err(|e| e.message().to_owned())?;
    Ok((user, program))
}

/// A new DRAFT story row of `team` at rank `key`.
fn draft_story(
    team: i64,
    title: String,
    key: &str,
    now: chrono::DateTime<Utc>,
) -> story::ActiveModel {
    story::ActiveModel {
        team_id: Set(team),
        feature_id: Set(None),
        title: Set(title),
        description: Set(String::new()),
        acceptance_criteria: Set(String::new()),
        points: Set(None),
        state: Set("DRAFT".into()),
        iteration_id: Set(None),
        rank_key: Set(key.to_owned()),
        rejection_reason: Set(None),
        ready_at: Set(None),
        accepted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// A user, program and team with `n` stories; returns (team id, story ids).
async fn seed_backlog(store: &Store, n: usize) -> Result<(i64, Vec<i64>), BoxError> {
    let now = Utc::now();
    let conn = store.conn();
    let (po, program) = seed_program(conn, "PO", "Bench").await?;
    let team = team::ActiveModel {
        program_id: Set(program.id),
        name: Set("Team".into()),
        product_owner_id: Set(po.id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let keys = key::spread(n);
    for chunk in keys.chunks(1000) {
        let rows = chunk
            .iter()
            .map(|k| draft_story(team.id, format!("Story {k}"), k, now));
        story::Entity::insert_many(rows).exec(conn).await?;
    }
    let ids = story::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    Ok((team.id, ids))
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn rank(database: &str, sizes: &[usize], moves: usize) -> Result<(), BoxError> {
    println!("rankStory on {database}: {moves} random moves per backlog");
    println!(
        "{:>9} {:>10} {:>10} {:>10} {:>12} {:>10}",
        "stories", "median ms", "p99 ms", "max ms", "writes/move", "seed s"
    );
    for &n in sizes {
        let (store, settings, _dir) = fresh_store(database, &format!("rank{n}")).await?;
        let seeded = Instant::now();
        let (_, ids) = seed_backlog(&store, n).await?;
        let seed_secs = seeded.elapsed().as_secs_f64();
        let schema = build_schema(
            &settings,
            store.clone(),
            Arc::new(Metrics::new()),
            Arc::new(SystemClock),
            EventBus::start(store.clone(), 1024, std::time::Duration::from_secs(2)).await?,
        );
        let mutation =
            "mutation($input: RankStoryInput!) { rankStory(input: $input) { story { id } } }";
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut pick = |below: usize| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng % below as u64) as usize
        };
        let mut latencies = Vec::with_capacity(moves);
        let (_, writes_before) = store.statements().get();
        let mut done = 0u64;
        while latencies.len() < moves {
            let (a, b) = (ids[pick(ids.len())], ids[pick(ids.len())]);
            if a == b {
                continue;
            }
            let side = if pick(2) == 0 { "beforeId" } else { "afterId" };
            let vars = json!({ "input": { "storyId": encode(Kind::Story, a).0, side: encode(Kind::Story, b).0 } });
            let request = Request::new(mutation)
                .variables(Variables::from_json(vars))
                .data(Viewer::BuiltinAdmin);
            let started = Instant::now();
            let resp = schema.execute(request).await;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            if !resp.errors.is_empty() {
                return Err(format!("rankStory failed: {:?}", resp.errors).into());
            }
            done += 1;
        }
        let (_, writes_after) = store.statements().get();
        latencies.sort_by(f64::total_cmp);
        println!(
            "{:>9} {:>10.3} {:>10.3} {:>10.3} {:>12.2} {:>10.1}",
            n,
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0),
            latencies.last().copied().unwrap_or(f64::NAN),
            (writes_after - writes_before) as f64 / done as f64,
            seed_secs
        );
    }
    Ok(())
}

/// The page tests' browser driver, shared with the `board-page` benchmark.
#[allow(dead_code)]
#[path = "../../tests/api/browser.rs"]
mod browser;
mod import;
mod load;
mod page;
mod planning;
mod webhooks;
use load::{dashboard, dependency, subscribers, writes};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // `cargo bench` adds a `--bench` flag of its own; drop it.
    let cli = Cli::parse_from(std::env::args().filter(|a| a != "--bench"));
    // reqwest is built without a TLS provider of its own (the server's
    // webhook client installs ring); the bench's clients need one too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // In-process benches log what RUST_LOG asks for (for example each SQL
    // statement and its time: `RUST_LOG=portfolio::sql=trace`).
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    match cli.command {
        Command::Import {
            rows,
            teams,
            epics,
            links,
        } => {
            let options = import::ImportOptions {
                rows,
                teams,
                epics,
                links,
            };
            import::import(&cli.database, &options).await
        }
        Command::Rank { sizes, moves } => rank(&cli.database, &sizes, moves).await,
        Command::Dependency {
            teams,
            stories,
            dependencies,
            requests,
        } => dependency(&cli.database, teams, stories, dependencies, requests).await,
        Command::Subscribers {
            counts,
            mutations,
            select_story,
        } => subscribers(&cli.database, &counts, mutations, select_story).await,
        Command::Dashboard {
            teams,
            stories_per_team,
            clients,
            seconds,
            cache_off,
            writes_per_second,
            writes_elsewhere,
            alternate,
        } => {
            let options = load::DashboardOptions {
                teams,
                stories_per_team,
                clients,
                seconds,
                cache_off,
                writes_per_second,
                writes_elsewhere,
                alternate,
            };
            dashboard(&cli.database, &options).await
        }
        Command::Planning {
            teams,
            features,
            stories,
            increments,
            requests,
            board_query,
            open_waits,
        } => {
            let options = planning::PlanningOptions {
                teams,
                features,
                stories,
                increments,
                requests,
                board_query,
                open_waits,
            };
            planning::planning(&cli.database, &options).await
        }
        Command::BoardPage {
            teams,
            stories_per_team,
            loads,
            updates,
        } => page::board_page(&cli.database, teams, stories_per_team, loads, updates).await,
        Command::Writes { writers, seconds } => writes(&cli.database, &writers, seconds).await,
        Command::Webhooks {
            endpoints,
            rate,
            seconds,
            writers,
        } => webhooks::webhooks(&cli.database, endpoints, rate, seconds, writers).await,
    }
}
