//! Command line and settings: every setting is a flag and a `PORTFOLIO_*`
//! environment variable, and works before or after the subcommand.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

/// GraphQL server for multi-team agile programs.
#[derive(Debug, Parser)]
#[command(name = "portfolio", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database, then serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL) to standard output.
    Schema,
    /// Load a sample program (teams, increments, features, stories,
    /// dependencies, clarifications, objectives); prints tokens to try it.
    Demo {
        /// How many teams.
        #[arg(long, default_value_t = 4)]
        teams: usize,
        /// How many stories in each team backlog.
        #[arg(long, default_value_t = 30)]
        stories_per_team: usize,
    },
    /// Manage users and their tokens.
    #[command(subcommand)]
    User(UserCommand),
    /// Bring a program over from another tool.
    #[command(subcommand)]
    Import(ImportCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import Jira's CSV export ("Export Excel CSV (all fields)"): epics as
    /// features, stories, tasks and bugs as stories of their team, Blocks
    /// links as dependencies, through the same rules and events as the API,
    /// one transaction per team. Re-run with a newer export to update in
    /// place; rows the rules refuse are listed with their reason.
    Jira {
        /// The exported files, in order (Jira exports 1,000 rows per file).
        #[arg(long, required = true, num_args = 1..)]
        csv: Vec<std::path::PathBuf>,
        /// The program to import into, by ID.
        #[arg(
            long,
            required_unless_present = "new_program",
            conflicts_with = "new_program"
        )]
        program: Option<String>,
        /// Create a program by this name and import into it.
        #[arg(long)]
        new_program: Option<String>,
        /// The new program's Product Manager, by email (default: --po).
        #[arg(long, requires = "new_program")]
        pm: Option<String>,
        /// The Product Owner of the teams the import creates, by email
        /// (default: the program's Product Manager).
        #[arg(long)]
        po: Option<String>,
        /// The column naming each story's team (plain or as "Custom field
        /// (NAME)"); rows without it go to a team named after their project.
        #[arg(long, default_value = "Team")]
        team_field: String,
        /// The increment, by ID, whose iterations the sprints become (by
        /// name, else by order). Without it, sprints are not imported.
        #[arg(long)]
        increment: Option<String>,
        /// Accept the stories resolved Done (ACCEPTED instead of DONE).
        #[arg(long)]
        accept_done: bool,
        /// Report what would be created, updated, refused and left alone,
        /// and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; prints its bearer token as the last line.
    Add {
        /// Display name.
        #[arg(long)]
        name: String,
        /// Email address (unique, case-insensitive).
        #[arg(long)]
        email: String,
        /// Make the user an administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Issue a new token for an existing user; prints it as the last line.
    Token {
        /// Email address of the user.
        #[arg(long)]
        email: String,
        /// What to call the token.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// End every token of a user (a leaked token, a person leaving); their
    /// open subscriptions end within about a second.
    Revoke {
        /// Email address of the user.
        #[arg(long)]
        email: String,
    },
}

/// Settings shared by all subcommands.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Settings")]
pub struct Settings {
    /// Database URL: `sqlite://FILE?mode=rwc` (created if missing) or `postgres://...`.
    #[arg(
        long,
        env = "PORTFOLIO_DATABASE_URL",
        default_value = "sqlite://portfolio.db?mode=rwc",
        global = true
    )]
    pub database_url: String,
    /// PostgreSQL only: the schema to use instead of `public` (created if missing).
    #[arg(long, env = "PORTFOLIO_DATABASE_SCHEMA", global = true)]
    pub database_schema: Option<String>,
    /// Most database connections in the pool; by default twice this
    /// machine's cores plus one.
    #[arg(
        long,
        env = "PORTFOLIO_DATABASE_MAX_CONNECTIONS",
        default_value_t = default_max_connections(),
        global = true
    )]
    pub database_max_connections: u32,
    /// Address and port the server listens on (port 0 picks a free port).
    #[arg(
        long,
        env = "PORTFOLIO_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,
    /// A token accepted as the built-in administrator (bootstrap, automation).
    #[arg(
        long,
        env = "PORTFOLIO_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// Deepest nesting of fields a query may have.
    #[arg(long, env = "PORTFOLIO_MAX_DEPTH", default_value_t = 15, global = true)]
    pub max_depth: usize,
    /// Highest complexity a query may have: each field counts 1, a connection
    /// its page size times its fields, a plain list its usual bound (teams
    /// 10, a feature's stories 50, a story's dependencies 5, ...) times its fields.
    #[arg(
        long,
        env = "PORTFOLIO_MAX_COMPLEXITY",
        default_value_t = 50_000,
        global = true
    )]
    pub max_complexity: usize,
    /// Most fields an operation may expand to, counting each fragment spread
    /// every time it is used (checked before validation, with or without a
    /// token); a batch shares one such budget.
    #[arg(
        long,
        env = "PORTFOLIO_MAX_QUERY_FIELDS",
        default_value_t = 5000,
        global = true
    )]
    pub max_query_fields: u64,
    /// Most operations in one batched request.
    #[arg(long, env = "PORTFOLIO_MAX_BATCH", default_value_t = 10, global = true)]
    pub max_batch: usize,
    /// Largest response body in bytes; a larger answer is replaced by an
    /// error asking for less.
    #[arg(
        long,
        env = "PORTFOLIO_MAX_RESPONSE_BYTES",
        default_value_t = 16 * 1024 * 1024,
        global = true
    )]
    pub max_response_bytes: usize,
    /// Largest request body in bytes.
    #[arg(
        long,
        env = "PORTFOLIO_MAX_BODY_BYTES",
        default_value_t = 1024 * 1024,
        global = true
    )]
    pub max_body_bytes: usize,
    /// Page size of a connection when `first` is not given.
    #[arg(
        long,
        env = "PORTFOLIO_DEFAULT_PAGE_SIZE",
        default_value_t = 50,
        global = true
    )]
    pub default_page_size: u32,
    /// Events buffered for the slowest subscriber; one that falls further
    /// behind is ended and told to resume from its cursor.
    #[arg(
        long,
        env = "PORTFOLIO_SUBSCRIPTION_BUFFER",
        default_value_t = 1024,
        global = true
    )]
    pub subscription_buffer: usize,
    /// Milliseconds between the event dispatcher's checks of the log for
    /// events it was not told about (a safety net under LISTEN/NOTIFY, and
    /// how other processes' events reach this one on SQLite).
    #[arg(
        long,
        env = "PORTFOLIO_EVENT_POLL_MS",
        default_value_t = 2000,
        global = true
    )]
    pub event_poll_ms: u64,
    /// Microseconds a DataLoader waits to gather keys into one batch. 0 (the
    /// default) fetches once the asking request has yielded, which gathers
    /// what one pass over its fields asks for; a delay also batches keys of
    /// concurrent requests, at that cost in latency. Websocket operations
    /// wait at least 1 ms, so one event's many subscribers load together.
    #[arg(
        long,
        env = "PORTFOLIO_LOADER_DELAY_US",
        default_value_t = 0,
        global = true
    )]
    pub loader_delay_us: u64,
    /// Query responses kept in memory (least recently used evicted first),
    /// each served only while the programs it read have not changed since
    /// (0 turns the cache off).
    #[arg(
        long,
        env = "PORTFOLIO_RESPONSE_CACHE_ENTRIES",
        default_value_t = 1024,
        global = true
    )]
    pub response_cache_entries: usize,
    /// Bytes the response cache may hold in all (requests and responses); a
    /// response larger than an eighth of it is not stored.
    #[arg(
        long,
        env = "PORTFOLIO_RESPONSE_CACHE_BYTES",
        default_value_t = 64 * 1024 * 1024,
        global = true
    )]
    pub response_cache_bytes: usize,
    /// Show a user's email to everyone who shares a program with them; by
    /// default only admins and the user themselves see it.
    #[arg(long, env = "PORTFOLIO_SHOW_EMAILS", global = true)]
    pub show_emails: bool,
    /// Largest `first` a connection accepts.
    #[arg(
        long,
        env = "PORTFOLIO_MAX_PAGE_SIZE",
        default_value_t = 100,
        global = true
    )]
    pub max_page_size: u32,
    /// Let webhooks POST over plain http (by default https only).
    #[arg(long, env = "PORTFOLIO_WEBHOOK_ALLOW_HTTP", global = true)]
    pub webhook_allow_http: bool,
    /// Let webhooks reach loopback, private, link-local and metadata
    /// addresses (by default refused, after DNS and again at connect time).
    #[arg(long, env = "PORTFOLIO_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: bool,
    /// Milliseconds between the webhook deliverer's checks for retries that
    /// are due and for other processes' changes (new events wake it at once).
    #[arg(
        long,
        env = "PORTFOLIO_WEBHOOK_POLL_MS",
        default_value_t = 1000,
        global = true
    )]
    pub webhook_poll_ms: u64,
    /// Most webhook endpoints this process sends to at once (each has one
    /// request in flight at most).
    #[arg(
        long,
        env = "PORTFOLIO_WEBHOOK_CONCURRENCY",
        default_value_t = 16,
        global = true
    )]
    pub webhook_concurrency: usize,
    /// Days a webhook delivery attempt stays in the delivery log.
    #[arg(
        long,
        env = "PORTFOLIO_WEBHOOK_LOG_DAYS",
        default_value_t = 7,
        global = true
    )]
    pub webhook_log_days: u32,
    /// Serve the board page and its assets from this folder (the
    /// repository's `src/web`) instead of the copies built into the binary,
    /// so that a change to the page shows on a reload, without a rebuild.
    /// For working on the page; unset in production.
    #[arg(long, env = "PORTFOLIO_ASSETS_DIR", global = true)]
    pub assets_dir: Option<std::path::PathBuf>,
}

impl Settings {
    /// Settings with every default, for tests and tools.
    pub fn defaults() -> Self {
        Cli::parse_from(["portfolio"]).settings
    }
}

/// The pool's default size: twice the cores plus one. sqlx hands out idle
/// connections first in, first out, so a pool larger than the work needs
/// keeps every connection (and its PostgreSQL backend) cold: after a burst
/// of 32 dashboards filled a pool of 10 on 2 cores, one client's dashboards
/// went round all ten and took 3.2-5.0 ms where a pool of 5 took 2.4-3.4,
/// and the burst itself answered 1,700-1,760 a second where 5 answered
/// 2,060-2,350.
pub fn default_max_connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    u32::try_from(cores).map_or(u32::MAX, |c| c.saturating_mul(2).saturating_add(1))
}
