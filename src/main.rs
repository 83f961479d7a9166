//! The `portfolio` binary: parse settings, start logging, run the subcommand.

use clap::Parser;
use portfolio::{
    app,
    config::{Cli, Command, ImportCommand, UserCommand},
    graphql, user, work,
};
use tracing_subscriber::EnvFilter;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// mimalloc rather than the system allocator: a server holding many idle
/// websocket subscriptions keeps less memory after bursts of connections
/// (see README, "Benchmarks").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    // An import is one sequential conversation with the database: on one
    // thread, each answer wakes the task where it waits instead of handing
    // it across worker threads (a quarter of its time on this 2-core kind).
    let mut runtime = match cli.command {
        Some(Command::Import(_)) => tokio::runtime::Builder::new_current_thread(),
        _ => tokio::runtime::Builder::new_multi_thread(),
    };
    runtime.enable_all().build()?.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<(), BoxError> {
    let settings = cli.settings;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let server = app::start(&settings, shutdown_signal()).await?;
            tracing::info!(
                "serving GraphQL on http://{}/graphql (websocket: ws://{}/graphql/ws)",
                server.addr,
                server.addr
            );
            server.wait().await?;
        }
        Command::Migrate => {
            app::open_store(&settings).await?;
            tracing::info!("database is migrated");
        }
        Command::Schema => print!("{}", graphql::sdl()),
        Command::Demo {
            teams,
            stories_per_team,
        } => {
            let store = app::open_store(&settings).await?;
            let started = std::time::Instant::now();
            let demo = portfolio::demo::load(&store, chrono::Utc::now(), teams, stories_per_team)
                .await
                .map_err(describe)?;
            let program = portfolio::graphql::id::encode(
                portfolio::graphql::id::Kind::Program,
                demo.program_id,
            );
            println!(
                "loaded program {} in {:.1} s: {} teams, {} stories, {} dependencies, {} clarifications",
                program.as_str(),
                started.elapsed().as_secs_f64(),
                teams,
                demo.stories,
                demo.dependencies,
                demo.clarifications
            );
            for (team, token) in &demo.po_tokens {
                println!("PO of {team}: {token}");
            }
            let (team, token) = &demo.member_token;
            println!("a member of {team}: {token}");
            println!("the Product Manager: {}", demo.pm_token);
        }
        Command::User(cmd) => {
            // The command line acts as the built-in administrator, through
            // the same use cases as the API.
            let store = app::open_store(&settings).await?;
            let admin = portfolio::auth::Actor::BuiltinAdmin;
            let clock = portfolio::clock::SystemClock;
            let find = async |email: &str| -> Result<_, BoxError> {
                let found = user::service::find_by_email(store.conn(), email)
                    .await
                    .map_err(describe)?
                    .ok_or_else(|| format!("no user with email {email}"))?;
                Ok(portfolio::ids::UserId(found.id))
            };
            let (user, token) = match cmd {
                UserCommand::Add {
                    name,
                    email,
                    admin: make_admin,
                } => work::perform(&store, &clock, admin, |w| {
                    Box::pin(user::usecase::create_user(
                        w,
                        name.clone(),
                        email.clone(),
                        make_admin,
                    ))
                })
                .await
                .map_err(describe)?,
                UserCommand::Token { email, label } => {
                    let id = find(&email).await?;
                    work::perform(&store, &clock, admin, |w| {
                        Box::pin(user::usecase::issue_token(w, id, label.clone(), None))
                    })
                    .await
                    .map_err(describe)?
                }
                UserCommand::Revoke { email } => {
                    let id = find(&email).await?;
                    let ended = work::perform(&store, &clock, admin, |w| {
                        Box::pin(user::usecase::revoke_all_tokens(w, id))
                    })
                    .await
                    .map_err(describe)?;
                    println!("revoked {ended} token(s) of {email}");
                    return Ok(());
                }
            };
            println!(
                "user {} <{}> (admin: {})",
                user.name, user.email, user.admin
            );
            println!("{token}");
        }
        Command::Import(ImportCommand::Jira {
            csv,
            program,
            new_program,
            pm,
            po,
            team_field,
            increment,
            accept_done,
            dry_run,
        }) => {
            let store = app::open_store(&settings).await?;
            let user_by_email = async |email: &str| -> Result<_, BoxError> {
                let found = user::service::find_by_email(store.conn(), email)
                    .await
                    .map_err(describe)?
                    .ok_or_else(|| {
                        format!("no user with email {email}; add one with `portfolio user add`")
                    })?;
                Ok(portfolio::ids::UserId(found.id))
            };
            let target = match (program, new_program) {
                (Some(id), _) => {
                    let id = portfolio::graphql::id::decode_as(
                        portfolio::graphql::id::Kind::Program,
                        "--program",
                        &async_graphql::ID(id),
                    )
                    .map_err(describe)?;
                    portfolio::import::Target::Program(portfolio::ids::ProgramId(id))
                }
                (None, Some(name)) => {
                    let pm = pm.as_deref().or(po.as_deref()).ok_or(
                        "a new program needs its Product Manager: give --pm EMAIL (or --po EMAIL)",
                    )?;
                    portfolio::import::Target::New {
                        name,
                        product_manager: user_by_email(pm).await?,
                    }
                }
                (None, None) => return Err("give --program ID or --new-program NAME".into()),
            };
            let increment = increment
                .map(|id| {
                    portfolio::graphql::id::decode_as(
                        portfolio::graphql::id::Kind::Increment,
                        "--increment",
                        &async_graphql::ID(id),
                    )
                    .map(portfolio::ids::IncrementId)
                })
                .transpose()
                .map_err(describe)?;
            let mut files = Vec::new();
            for path in &csv {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                files.push((path.display().to_string(), text));
            }
            let import = portfolio::import::Import {
                files,
                target,
                team_field,
                product_owner: po.map(portfolio::auth::policy::Someone::Email),
                increment,
                accept_done,
                dry_run,
            };
            let shown = std::sync::Arc::new(portfolio::import::progress::Shown::on_stderr());
            let started = std::time::Instant::now();
            // The command line acts as the built-in administrator.
            let summary = portfolio::import::apply::run(
                &store,
                &portfolio::clock::SystemClock,
                portfolio::auth::Actor::BuiltinAdmin,
                import,
                shown.clone(),
            )
            .await
            .map_err(describe)?;
            shown.finish();
            let program = portfolio::graphql::id::encode(
                portfolio::graphql::id::Kind::Program,
                summary.program_id,
            );
            print!("{}", summary.render(program.as_str()));
            println!("took {:.1} s", started.elapsed().as_secs_f64());
        }
    }
    Ok(())
}

fn describe(err: portfolio::error::AppError) -> BoxError {
    match err {
        portfolio::error::AppError::Internal(cause) => cause,
        other => format!("{}: {}", other.code(), other.message()).into(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
