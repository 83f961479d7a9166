//! The store: the connection pool, migrations, write transactions, and
//! SQLite reads of many rows packed into one value.
//!
//! SQLite allows one writer at a time. Write transactions there begin
//! `IMMEDIATE` (so two writers never deadlock on a lock upgrade) and queue on
//! an in-process mutex first, so waiting is fair and never hits the busy
//! timeout. PostgreSQL needs neither.

use std::{
    ops::Deref,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, NaiveDateTime, Utc};
use entity::event;
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, QueryTrait, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc::UnboundedSender};

use crate::{config::Settings, error::AppResult};

/// The database and how to write to it. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    sqlite_writer: Option<Arc<Mutex<()>>>,
    stats: Arc<StatementCounts>,
    /// Wakes this process's event dispatcher after a commit that wrote events.
    waker: Arc<std::sync::OnceLock<UnboundedSender<Committed>>>,
    /// The PostgreSQL NOTIFY channel of this database and schema.
    channel: Arc<str>,
    /// This process, in its notices on the channel (see [`Store::origin`]).
    origin: Arc<str>,
}

/// SQL statements this process has sent, counted by the driver's metric
/// hook: reads (SELECT) and writes (everything else but transaction control).
#[derive(Debug, Default)]
pub struct StatementCounts {
    reads: AtomicU64,
    writes: AtomicU64,
}

impl StatementCounts {
    fn record(&self, sql: &str) {
        let verb = sql
            .trim_start()
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        // A CTE that changes rows (the event log's counter update and
        // insert, say) is a write.
        let writes_in_cte = || {
            ["INSERT INTO ", "UPDATE ", "DELETE FROM "]
                .iter()
                .any(|w| sql.contains(w))
        };
        match verb.as_str() {
            "SELECT" => self.reads.fetch_add(1, Ordering::Relaxed),
            "WITH" if !writes_in_cte() => self.reads.fetch_add(1, Ordering::Relaxed),
            "BEGIN" | "COMMIT" | "ROLLBACK" | "SAVEPOINT" | "RELEASE" => 0,
            _ => self.writes.fetch_add(1, Ordering::Relaxed),
        };
    }

    /// (reads, writes) so far.
    pub fn get(&self) -> (u64, u64) {
        (
            self.reads.load(Ordering::Relaxed),
            self.writes.load(Ordering::Relaxed),
        )
    }
}

/// A write transaction. Dropping it without [`WriteTxn::commit`] rolls back.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _writer: Option<OwnedMutexGuard<()>>,
    /// What this transaction wrote to each program's event log.
    touched: std::sync::Mutex<Vec<Committed>>,
    waker: Option<UnboundedSender<Committed>>,
    channel: Arc<str>,
    origin: Arc<str>,
}

/// Events one commit wrote to a program's log, announced to this process's
/// event dispatcher after the commit.
#[derive(Debug)]
pub struct Committed {
    pub program_id: i64,
    /// The events as stored, in sequence order, so the dispatcher need not
    /// read them back; `None` when there were more than [`CARRIED`] (then
    /// it reads them from the log).
    pub events: Option<Vec<event::Model>>,
}

/// Most events of one program a commit hands to the dispatcher itself.
pub const CARRIED: usize = 500;

/// How much of an SQLite file each connection maps (`PRAGMA mmap_size`).
pub const SQLITE_MMAP_BYTES: u64 = 1 << 30;
/// Each SQLite connection's page cache in KiB (`PRAGMA cache_size`).
pub const SQLITE_CACHE_KIB: u64 = 16 * 1024;

/// A pooled connection idle this long is pinged before it is handed out.
const POOL_PING_IDLE: Duration = Duration::from_secs(1);

/// A read on a task of its own: it runs beside the caller's other work, on
/// the other core, instead of inside the caller's task. Dropped unread, the
/// read is cancelled.
pub struct Spawned<T>(tokio::task::JoinHandle<Result<T, DbErr>>);

impl<T: Send + 'static> Spawned<T> {
    pub fn new(read: impl Future<Output = Result<T, DbErr>> + Send + 'static) -> Self {
        Self(tokio::spawn(read))
    }

    /// What the read answered; an error if its task panicked.
    pub async fn read(mut self) -> Result<T, DbErr> {
        (&mut self.0)
            .await
            .map_err(|err| DbErr::Custom(format!("a read on a task of its own failed: {err}")))?
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Turns on (`set`) or reads SQLite's query planner stability guarantee
/// (`SQLITE_DBCONFIG_ENABLE_QPSG`) on one connection; answers whether it is on.
///
/// The SQLite that sqlx builds in keeps value statistics (`STAT4`, filled by
/// `PRAGMA optimize` and `ANALYZE`). With them, a statement comparing a bound
/// value to an indexed column is compiled again on its first step after every
/// new binding, in case the value calls for another plan: every cached
/// statement was parsed and planned anew on each use (perf on a stream of
/// `updateStory`: `sqlite3Reprepare` 11.6% of the server's CPU). Our
/// statements look rows up by key and filter on the indexes made for them, so
/// one plan per statement serves every value.
fn fix_plans(
    db: std::ptr::NonNull<libsqlite3_sys::sqlite3>,
    set: bool,
) -> Result<bool, sea_orm::sqlx::Error> {
    use std::ffi::c_int;
    let mut on: c_int = 0;
    // SAFETY: `db` comes from a locked handle, so it is open and no other
    // call uses it meanwhile. This option takes an int (1 on, -1 leave as is)
    // and a pointer to an int that receives the setting.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db.as_ptr(),
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            if set { 1 } else { -1 } as c_int,
            &mut on as *mut c_int,
        )
    };
    if rc == libsqlite3_sys::SQLITE_OK {
        Ok(on != 0)
    } else {
        Err(sea_orm::sqlx::Error::Configuration(
            format!("SQLite refused SQLITE_DBCONFIG_ENABLE_QPSG (code {rc})").into(),
        ))
    }
}

/// Puts an SQLite database file in WAL journaling (readers beside the one
/// writer), once: a file already in WAL, as every file after its first
/// start, is only asked, which takes no lock. One connection, closed after.
async fn ensure_wal(url: &str) -> Result<(), DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(1)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| o.busy_timeout(Duration::from_secs(30)));
    let db = Database::connect(opts).await?;
    let backend = db.get_database_backend();
    let mode = |row: Option<sea_orm::QueryResult>| -> Result<String, DbErr> {
        match row {
            Some(row) => row.try_get_by_index::<String>(0),
            None => Ok(String::new()),
        }
    };
    let now = mode(
        db.query_one_raw(Statement::from_string(backend, "PRAGMA journal_mode"))
            .await?,
    )?;
    // An in-memory database answers "memory" and keeps it; that is fine.
    if !now.eq_ignore_ascii_case("wal") && !now.eq_ignore_ascii_case("memory") {
        let set = mode(
            db.query_one_raw(Statement::from_string(backend, "PRAGMA journal_mode = WAL"))
                .await?,
        )?;
        if !set.eq_ignore_ascii_case("wal") {
            return Err(DbErr::Custom(format!(
                "SQLite kept journal mode {set} where WAL was asked"
            )));
        }
    }
    db.close().await
}

impl Store {
    /// Connects with the settings' URL; for SQLite, turns on WAL journaling.
    pub async fn connect(settings: &Settings) -> Result<Self, DbErr> {
        let mut opts = ConnectOptions::new(settings.database_url.clone());
        opts.max_connections(settings.database_max_connections.max(1))
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            // sqlx pings a connection on every checkout by default: one more
            // round trip before each statement (a dashboard's chain of token,
            // program, teams, page and read-ahead waits for five). Only a
            // connection idle long enough to have been dropped is pinged; a
            // connection that breaks while in use fails its statement, and a
            // failed statement rolls its transaction back.
            .test_before_acquire_if_idle_for(POOL_PING_IDLE)
            .sqlx_logging(false);
        if let Some(schema) = &settings.database_schema {
            opts.set_schema_search_path(schema.clone());
        }
        // PostgreSQL's JIT compiles a plan whose estimated cost is high,
        // such as a read of a whole board by thousands of ids: 100 ms of
        // compiling for a statement that runs in 20. No statement here runs
        // long enough to repay it.
        //
        // A database on this machine is reached without TLS unless the URL
        // (or PGSSLMODE) asks for it: sqlx's default, `prefer`, encrypts
        // whenever the server offers it, and over loopback that protects
        // nothing while it costs both processes CPU on every row.
        let ssl_unsaid =
            !names_ssl_mode(&settings.database_url) && std::env::var_os("PGSSLMODE").is_none();
        opts.map_sqlx_postgres_opts(move |o| {
            let o = o.options([("jit", "off")]);
            if ssl_unsaid && is_loopback(o.get_host()) {
                o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
            } else {
                o
            }
        });
        opts.map_sqlx_sqlite_opts(|o| {
            // No journal mode here: WAL is a property of the file, set once
            // by `ensure_wal` below. Asking for it on every new connection
            // needs a lock that the busy timeout does not wait for, so a
            // connection opened while another process checkpoints or writes
            // could fail at once with "database is locked" (a CLI command
            // beside a running server did).
            o.busy_timeout(Duration::from_secs(30))
                .foreign_keys(true)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                // A board reads tens of thousands of pages. Without a map
                // every page is copied out of the kernel with pread into a
                // page cache of 2 MB per connection that it overflows (perf:
                // _copy_to_iter and pcache1Fetch led the profile). Mapping
                // the file reads the pages in place; the address space is
                // reserved, not memory. The larger cache keeps the indexes
                // and WAL pages a connection reads again.
                .pragma("mmap_size", SQLITE_MMAP_BYTES.to_string())
                .pragma("cache_size", format!("-{SQLITE_CACHE_KIB}"))
        });
        opts.map_sqlx_sqlite_pool_opts(|pool| {
            pool.after_connect(|conn, _| {
                Box::pin(async move {
                    let mut handle = conn.lock_handle().await?;
                    fix_plans(handle.as_raw_handle(), true).map(|_| ())
                })
            })
        });
        if let Some(schema) = &settings.database_schema {
            if !settings.database_url.starts_with("postgres") {
                return Err(DbErr::Custom(
                    "--database-schema applies to PostgreSQL only".into(),
                ));
            }
            // The schema must exist before the pool sets it as search path.
            let bootstrap = Database::connect(settings.database_url.clone()).await?;
            let ident = schema.replace('"', "\"\"");
            bootstrap
                .execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{ident}\""))
                .await?;
            bootstrap.close().await?;
        }
        if settings.database_url.starts_with("sqlite") {
            ensure_wal(&settings.database_url).await?;
        }
        let mut db = Database::connect(opts).await?;
        let stats = Arc::new(StatementCounts::default());
        let counter = stats.clone();
        db.set_metric_callback(move |info| {
            counter.record(&info.statement.sql);
            tracing::trace!(target: "portfolio::sql", elapsed = ?info.elapsed, sql = %info.statement.sql);
        });
        let sqlite_writer = match db.get_database_backend() {
            DbBackend::Sqlite => Some(Arc::new(Mutex::new(()))),
            _ => None,
        };
        Ok(Self {
            db,
            sqlite_writer,
            stats,
            waker: Arc::new(std::sync::OnceLock::new()),
            channel: Arc::from(match &settings.database_schema {
                Some(schema) => format!("portfolio_events_{schema}"),
                None => "portfolio_events".to_owned(),
            }),
            origin: Arc::from(format!("{:016x}", rand::random::<u64>())),
        })
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.db, None).await?;
        if self.db.get_database_backend() == DbBackend::Sqlite
            && let Err(err) = self.refresh_sqlite_statistics().await
        {
            // Statistics only guide the planner; a process must not refuse
            // to start because another one held the file for 30 seconds.
            tracing::warn!(error = ?err, "could not refresh SQLite planner statistics");
        }
        Ok(())
    }

    /// Planner statistics for tables that grew since they were last gathered
    /// (SQLite keeps none by itself; PostgreSQL's autovacuum does this
    /// there). Cheap when nothing changed.
    ///
    /// It reads the tables and then writes `sqlite_stat1`. Run on its own,
    /// that read would start on a snapshot, and if another process (a
    /// running server, beside this CLI command) committed in between, the
    /// write could not be upgraded: SQLite answers "database is locked" at
    /// once, without waiting out the busy timeout. As a write transaction
    /// ([`Store::begin_write`]) it takes the write lock first, waiting for it
    /// as every writer here does.
    async fn refresh_sqlite_statistics(&self) -> AppResult<()> {
        let txn = self.begin_write().await?;
        txn.execute_unprepared("PRAGMA optimize=0x10002").await?;
        txn.commit().await
    }

    /// The connection pool, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Begins a write transaction.
    pub async fn begin_write(&self) -> AppResult<WriteTxn> {
        let writer = match &self.sqlite_writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let txn = match writer {
            Some(_) => {
                self.db
                    .begin_with_options(TransactionOptions {
                        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                        ..Default::default()
                    })
                    .await?
            }
            None => self.db.begin().await?,
        };
        Ok(WriteTxn {
            txn,
            _writer: writer,
            touched: std::sync::Mutex::new(Vec::new()),
            waker: self.waker.get().cloned(),
            channel: self.channel.clone(),
            origin: self.origin.clone(),
        })
    }

    /// Sets where committed events are announced (once, by the event bus).
    pub fn set_waker(&self, waker: UnboundedSender<Committed>) {
        let _ = self.waker.set(waker);
    }

    /// The PostgreSQL NOTIFY channel for committed events.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// A name for this store's process, random at connection, that its
    /// commits put in their notices: the process learns of its own commits
    /// in-process, so it skips their notices.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Whether SQLite connections keep one plan per statement (see
    /// [`fix_plans`]); `None` on PostgreSQL.
    pub async fn sqlite_plans_fixed(&self) -> Result<Option<bool>, DbErr> {
        if self.db.get_database_backend() != DbBackend::Sqlite {
            return Ok(None);
        }
        let mut conn = self
            .db
            .get_sqlite_connection_pool()
            .acquire()
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let mut handle = conn
            .lock_handle()
            .await
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        fix_plans(handle.as_raw_handle(), false)
            .map(Some)
            .map_err(|e| DbErr::Custom(e.to_string()))
    }

    /// SQL statements sent so far.
    pub fn statements(&self) -> &StatementCounts {
        &self.stats
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.db.ping().await.is_ok()
    }

    /// Connections in the pool: (open, idle).
    pub fn pool_use(&self) -> (u32, usize) {
        match self.db.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = self.db.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
            DbBackend::Postgres => {
                let pool = self.db.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => (0, 0),
        }
    }
}

impl WriteTxn {
    /// Commits, then hands the events it wrote to the event dispatcher; the
    /// writer lock is released afterwards, so on SQLite the dispatcher gets
    /// commits in sequence order.
    pub async fn commit(self) -> AppResult<()> {
        self.txn.commit().await?;
        let touched = std::mem::take(
            &mut *self
                .touched
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if let Some(waker) = &self.waker {
            for committed in touched {
                let _ = waker.send(committed);
            }
        }
        Ok(())
    }

    /// The PostgreSQL NOTIFY channel for committed events.
    pub fn channel(&self) -> &str {
        &self.channel
    }

    /// The process that commits (see [`Store::origin`]).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Notes events this transaction wrote to `program_id`'s log.
    pub fn touch(&self, program_id: i64, events: Vec<event::Model>) {
        let mut touched = self
            .touched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let committed = match touched.iter_mut().find(|c| c.program_id == program_id) {
            Some(c) => c,
            None => {
                touched.push(Committed {
                    program_id,
                    events: Some(Vec::new()),
                });
                let last = touched.len() - 1;
                &mut touched[last]
            }
        };
        if let Some(carried) = &mut committed.events {
            if carried.len() + events.len() > CARRIED {
                committed.events = None;
            } else {
                carried.extend(events);
                // RETURNING promises no order.
                carried.sort_by_key(|e| e.sequence);
            }
        }
    }
}

impl Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// The rows of `inner` (a SQLite statement) as one JSON array of arrays of
/// `columns` (an expression list over its result columns), parsed into
/// `T`s, in no particular order. sqlx-sqlite hands each row over from its
/// worker thread, and SeaORM looks up each column by name: for thousands of
/// rows (a board's cards and dependencies) that cost more than the read.
pub(crate) async fn sqlite_packed_rows<T: serde::de::DeserializeOwned>(
    conn: &impl ConnectionTrait,
    inner: Statement,
    columns: &str,
) -> Result<Vec<T>, DbErr> {
    let sql = format!(
        "SELECT json_group_array(json_array({columns})) FROM ({}) AS packed",
        inner.sql
    );
    let values = inner.values.map(|v| v.0).unwrap_or_default();
    let stmt = Statement::from_sql_and_values(DbBackend::Sqlite, sql, values);
    let text: Option<String> = match conn.query_one_raw(stmt).await? {
        Some(row) => row.try_get_by_index(0)?,
        None => None,
    };
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    serde_json::from_str(&text)
        .map_err(|e| DbErr::Custom(format!("packed rows are unreadable: {e}")))
}

/// PostgreSQL: `columns` of the rows statement `inner` finds (in its
/// order, when it has one), each row decoded by position with `decode`:
/// straight from sqlx's rows, without SeaORM's lookup of every column by
/// name and the error message it formats for every NULL it reads.
///
/// The decoders read with `try_get_unchecked`: the columns are ours, fixed
/// by the migrations and read in the order they are selected, and sqlx's
/// check that each value's type suits its Rust type, made per value, was a
/// sixth of a dashboard's server time. A type that does not suit still fails
/// to decode or reads wrong, which the tests of each reader see.
pub(crate) async fn postgres_rows<T>(
    conn: &impl ConnectionTrait,
    inner: Statement,
    columns: &str,
    decode: impl Fn(&sea_orm::sqlx::postgres::PgRow) -> Result<T, sea_orm::sqlx::Error>,
) -> Result<Vec<T>, DbErr> {
    let sql = format!("SELECT {columns} FROM ({}) AS selected", inner.sql);
    let values = inner.values.map(|v| v.0).unwrap_or_default();
    let stmt = Statement::from_sql_and_values(DbBackend::Postgres, sql, values);
    conn.query_all_raw(stmt)
        .await?
        .iter()
        .map(|row| {
            let row = row
                .try_as_pg_row()
                .ok_or_else(|| DbErr::Custom("a PostgreSQL row was expected".into()))?;
            decode(row).map_err(|e| DbErr::Custom(format!("a row is unreadable: {e}")))
        })
        .collect()
}

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 UTC.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A `timestamptz` column of a row read by position (see
/// [`postgres_rows`]). sqlx's decoder adds the microseconds PostgreSQL sends
/// to its epoch with chrono's calendar arithmetic, and converts the result
/// twice (about 700 instructions a time; a dashboard reads hundreds). This
/// reads them as the integer they are in the binary format sqlx asks
/// for, and counts from the Unix epoch.
pub(crate) fn pg_time(
    row: &sea_orm::sqlx::postgres::PgRow,
    at: usize,
) -> Result<DateTime<Utc>, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Row as _;
    from_postgres_micros(row.try_get_unchecked(at)?)
}

/// A nullable `timestamptz` column; see [`pg_time`].
pub(crate) fn pg_opt_time(
    row: &sea_orm::sqlx::postgres::PgRow,
    at: usize,
) -> Result<Option<DateTime<Utc>>, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Row as _;
    let micros: Option<i64> = row.try_get_unchecked(at)?;
    micros.map(from_postgres_micros).transpose()
}

fn from_postgres_micros(micros: i64) -> Result<DateTime<Utc>, sea_orm::sqlx::Error> {
    micros
        .checked_add(POSTGRES_EPOCH_MICROS)
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| {
            sea_orm::sqlx::Error::Decode(format!("a time out of range: {micros}").into())
        })
}

/// An entity whose PostgreSQL rows can be decoded by position (see
/// [`postgres_rows`]): its columns, and the decoder reading them in that
/// order.
pub(crate) trait ByPosition: EntityTrait {
    /// The columns [`ByPosition::decode`] reads, in its order.
    const COLUMNS: &'static str;

    fn decode(row: &sea_orm::sqlx::postgres::PgRow) -> Result<Self::Model, sea_orm::sqlx::Error>;
}

/// The rows `select` finds, in its order: on PostgreSQL decoded by
/// position, elsewhere by SeaORM.
pub(crate) async fn rows<E: ByPosition>(
    conn: &impl ConnectionTrait,
    select: sea_orm::Select<E>,
) -> Result<Vec<E::Model>, DbErr>
where
    E::Model: Send + Sync,
{
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let inner = select.build(DbBackend::Postgres);
            postgres_rows(conn, inner, E::COLUMNS, E::decode).await
        }
        _ => select.all(conn).await,
    }
}

/// Whether a database URL chooses its TLS mode (`sslmode=`, or sqlx's
/// spelling `ssl-mode=`, in its query).
fn names_ssl_mode(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    query.split('&').any(|pair| {
        let key = pair.split_once('=').map_or(pair, |(k, _)| k);
        key.eq_ignore_ascii_case("sslmode") || key.eq_ignore_ascii_case("ssl-mode")
    })
}

/// Whether a PostgreSQL host is this machine: `localhost`, a loopback
/// address, or a Unix socket directory.
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Ids as SQL list text: `1,2,3`.
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// A time as stored: RFC 3339 (what sqlx writes), else SQLite's own
/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub(crate) fn packed_time(text: &str) -> Result<DateTime<Utc>, DbErr> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc())
        .map_err(|_| DbErr::Custom(format!("a packed time is unreadable: {text:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_times_count_microseconds_from_2000() {
        let at = |micros| from_postgres_micros(micros).unwrap().to_rfc3339();
        assert_eq!(at(0), "2000-01-01T00:00:00+00:00");
        assert_eq!(at(-1), "1999-12-31T23:59:59.999999+00:00");
        // 2026-12-07 10:40:07.123456 UTC.
        let micros = (DateTime::parse_from_rfc3339("2026-12-07T10:40:07.123456Z")
            .unwrap()
            .timestamp_micros())
            - POSTGRES_EPOCH_MICROS;
        assert_eq!(at(micros), "2026-12-07T10:40:07.123456+00:00");
        assert!(from_postgres_micros(i64::MAX).is_err());
    }

    #[test]
    fn loopback_databases_go_without_tls_unless_the_url_says() {
        assert!(names_ssl_mode("postgres://u@db/p?sslmode=require"));
        assert!(names_ssl_mode("postgres://u@db/p?a=1&SSL-MODE=prefer"));
        assert!(!names_ssl_mode("postgres://u@db/p"));
        assert!(!names_ssl_mode(
            "postgres://u@db/p?application_name=sslmode"
        ));
        for host in [
            "127.0.0.1",
            "127.1.2.3",
            "localhost",
            "::1",
            "[::1]",
            "/run/postgresql",
        ] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["db.example.com", "10.0.0.5", "::2", "localhost.example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn packed_times_read_in_the_forms_the_stores_write() {
        let micros = DateTime::parse_from_rfc3339("2026-10-16T18:34:04.804306Z").unwrap();
        for text in [
            "2026-10-16T18:34:04.804306+00:00",
            "2026-10-16T20:34:04.804306+02:00",
            "2026-10-16 18:34:04.804306",
        ] {
            assert_eq!(packed_time(text).unwrap(), micros, "{text}");
        }
        let nanos = packed_time("2026-10-16T18:34:04.804306698+00:00").unwrap();
        assert_eq!(nanos.timestamp_subsec_nanos(), 804_306_698);
        assert!(packed_time("yesterday").is_err());
    }
}
