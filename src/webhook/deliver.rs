//! The deliverer: one task per process sends each endpoint the events of
//! its program's log, in sequence order, one in flight per endpoint.
//!
//! Each endpoint's cursor (`webhooks.last_sequence`) moves only in the
//! transaction that records the attempt that delivered the event, so a
//! process killed mid-delivery sends that event again after a restart (at
//! least once, never skipped, in order). Receivers deduplicate by
//! `webhook-id`, which is the same for every attempt at one event.
//!
//! Several processes on PostgreSQL share the work: before sending to an
//! endpoint a process takes a session advisory lock on it, on a connection
//! of its own, so an endpoint has one sender at a time; a process that dies
//! loses its connection and with it its locks. The cursor is also moved
//! only from the value the attempt started at, so a replay (or anything
//! else that moved it meanwhile) wins over a late attempt.

use std::{
    collections::{HashMap, HashSet},
    num::NonZeroUsize,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_graphql::Request;
use chrono::{DateTime, Utc};
use entity::{event, user, webhook, webhook_delivery, webhook_requeue};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{CaseStatement, Condition, Expr},
};
use tokio::{
    sync::{Notify, mpsc},
    task::JoinSet,
};

use super::{guard, service};
use crate::{
    auth::Viewer,
    clock::Clock,
    db::Store,
    error::{AppError, AppResult},
    events::{
        bus::EventBus,
        kind::EventKind,
        log::{self, NewEvent},
    },
    graphql::AppSchema,
    ids::{Kind, global},
    metrics::Metrics,
};

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Waits after the 1st, 2nd, ... failure in a row; after the last, the
/// last again, until the endpoint has failed for [`GIVE_UP_AFTER_HOURS`].
pub const RETRY_SCHEDULE_SECS: [i64; 7] =
    [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 24 * 3600];

/// An endpoint failing this long is disabled.
pub const GIVE_UP_AFTER_HOURS: i64 = 72;

/// Bytes of a response body kept in the delivery log.
pub const BODY_KEPT: usize = 1024;

/// The advisory lock space of a database schema's webhooks: advisory locks
/// are per database, and several schemas (deployments, test runs) may share
/// one. FNV-1a of the schema's event channel name.
fn lock_space(channel: &str) -> i32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in channel.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    i32::from_ne_bytes(hash.to_ne_bytes())
}

/// A webhook's key within its lock space.
fn lock_key(id: i64) -> i32 {
    let folded = id ^ (id >> 32);
    i32::from_ne_bytes((folded as u32).to_ne_bytes())
}

/// Settings of the deliverer.
#[derive(Clone, Copy, Debug)]
pub struct DeliverySettings {
    pub allow: guard::Allow,
    /// How often due retries and other processes' changes are looked for.
    pub poll: Duration,
    /// Most endpoints sent to at once by this process.
    pub concurrency: usize,
    /// Days an attempt stays in the delivery log.
    pub log_days: u32,
}

/// Wakes the deliverer at once (a new, changed or replayed endpoint).
#[derive(Clone, Default)]
pub struct DeliveryWake(pub Arc<Notify>);

impl DeliveryWake {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// What the deliverer shares with its endpoint tasks.
struct Shared {
    store: Store,
    clock: Arc<dyn Clock>,
    schema: AppSchema,
    client: reqwest::Client,
    allow: guard::Allow,
    /// Event bodies already rendered, by (program, sequence).
    rendered: Mutex<lru::LruCache<(i64, i64), Arc<str>>>,
    metrics: Arc<Metrics>,
    /// One rendering at a time, so endpoints of one program share it.
    rendering: tokio::sync::Mutex<()>,
    /// Records successful deliveries, grouped.
    recorder: mpsc::UnboundedSender<(Success, tokio::sync::oneshot::Sender<bool>)>,
    /// The latest events of the programs followed, as broadcast.
    recent: Mutex<Recent>,
}

/// Events most recently broadcast, per program followed: without gaps and in
/// sequence order, as the event bus sends them. Endpoints that keep up read
/// their next events here rather than each reading the log for itself;
/// one further behind, or finding a gap, reads the log.
#[derive(Default)]
struct Recent {
    programs: HashMap<i64, std::collections::VecDeque<Arc<event::Model>>>,
}

/// Most events kept per program in [`Recent`].
const RECENT: usize = 1024;

impl Recent {
    /// Keeps `arrived` of the programs `followed`, and forgets the others.
    fn keep(&mut self, followed: &HashSet<i64>, arrived: &[Arc<event::Model>]) {
        self.programs
            .retain(|program, _| followed.contains(program));
        for e in arrived.iter().filter(|e| followed.contains(&e.program_id)) {
            let kept = self.programs.entry(e.program_id).or_default();
            if kept
                .back()
                .is_some_and(|last| last.sequence + 1 != e.sequence)
            {
                // A gap (this receiver lagged): start again from here.
                kept.clear();
            }
            if kept.len() == RECENT {
                kept.pop_front();
            }
            kept.push_back(e.clone());
        }
    }

    /// The events after `cursor` (at most `most`, of `kinds` when not empty)
    /// and the sequence read up to, when every event after `cursor` up to the
    /// latest broadcast is here; `None` when the log must be read.
    fn after(
        &self,
        program: i64,
        cursor: i64,
        kinds: &[EventKind],
        most: usize,
    ) -> Option<(i64, Vec<event::Model>)> {
        let kept = self.programs.get(&program)?;
        let first = kept.front()?.sequence;
        if cursor + 1 < first {
            return None;
        }
        let skip = usize::try_from(cursor + 1 - first).ok()?;
        let mut head = cursor;
        let mut batch = Vec::new();
        for e in kept.iter().skip(skip) {
            if batch.len() == most {
                break;
            }
            head = e.sequence;
            if kinds.is_empty() || kinds.iter().any(|k| k.as_str() == e.kind) {
                batch.push(event::Model::clone(e));
            }
        }
        Some((head, batch))
    }
}

/// Starts the deliverer; it runs until the returned task is aborted.
pub fn start(
    store: Store,
    clock: Arc<dyn Clock>,
    schema: AppSchema,
    metrics: Arc<Metrics>,
    bus: &EventBus,
    wake: DeliveryWake,
    settings: DeliverySettings,
) -> AppResult<tokio::task::JoinHandle<()>> {
    let (recorder, successes) = mpsc::unbounded_channel();
    tokio::spawn(record_successes(store.clone(), successes));
    let shared = Arc::new(Shared {
        client: guard::client(settings.allow, TIMEOUT)?,
        rendering: tokio::sync::Mutex::new(()),
        metrics,
        recorder,
        store,
        clock,
        schema,
        allow: settings.allow,
        rendered: Mutex::new(lru::LruCache::new(
            NonZeroUsize::new(4096).unwrap_or(NonZeroUsize::MIN),
        )),
        recent: Mutex::new(Recent::default()),
    });
    let events = bus.watch();
    Ok(tokio::spawn(run(
        shared,
        bus.clone(),
        events,
        wake,
        settings,
    )))
}

async fn run(
    shared: Arc<Shared>,
    bus: EventBus,
    mut events: tokio::sync::broadcast::Receiver<Arc<event::Model>>,
    wake: DeliveryWake,
    settings: DeliverySettings,
) {
    let postgres = shared.store.conn().get_database_backend() == DbBackend::Postgres;
    let mut locks = Locks {
        conn: None,
        enabled: postgres,
        space: lock_space(shared.store.channel()),
    };
    let mut running: JoinSet<()> = JoinSet::new();
    // Endpoints being sent to, by the task sending to them.
    let mut busy: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut tick = tokio::time::interval(settings.poll.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Whether the last look found any enabled endpoint: until one exists,
    // new events cost nothing (a new endpoint wakes the deliverer itself,
    // or, made by another process, is found at the next tick).
    let mut enabled = usize::MAX;
    // The programs those endpoints follow, whose new events are rendered as
    // they arrive.
    let mut followed: HashSet<i64> = HashSet::new();
    let mut prune = Prune {
        keep: chrono::Duration::days(i64::from(settings.log_days.max(1))),
        last: None,
    };
    loop {
        tokio::select! {
            got = events.recv() => {
                let mut arrived = match got {
                    Ok(event) => vec![event],
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Vec::new(),
                };
                // Take whatever else is waiting: one scan serves them all.
                while let Ok(event) = events.try_recv() {
                    arrived.push(event);
                }
                shared
                    .recent
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .keep(&followed, &arrived);
                render_ahead(&shared, &followed, arrived).await;
                // None enabled, or all busy (they read on by themselves).
                if enabled == 0 || busy.len() >= enabled {
                    continue;
                }
            }
            () = wake.0.notified() => {}
            _ = tick.tick() => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let task = match done {
                    Ok((task, ())) => task,
                    Err(err) => {
                        tracing::error!(error = %err, "a webhook delivery task failed");
                        err.id()
                    }
                };
                if let Some(id) = busy.remove(&task) {
                    locks.release(id).await;
                }
                continue;
            }
        }
        prune.run(&shared).await;
        let due = match due_endpoints(&shared).await {
            Ok((due, count, programs)) => {
                enabled = count;
                // Other processes' events of these programs are read and
                // published here from now on.
                bus.follow(&programs);
                followed = programs;
                due
            }
            Err(err) => {
                tracing::warn!(error = ?err, "cannot read the webhooks due");
                continue;
            }
        };
        for id in due {
            if busy.len() >= settings.concurrency.max(1) {
                break;
            }
            if busy.values().any(|b| *b == id) || !locks.take(&shared.store, id).await {
                continue;
            }
            let shared = shared.clone();
            let task = running.spawn(async move { send_while_due(&shared, id).await });
            busy.insert(task.id(), id);
        }
    }
}

/// Drops attempts older than the delivery log keeps, once an hour (by the
/// app's clock).
struct Prune {
    keep: chrono::Duration,
    last: Option<DateTime<Utc>>,
}

impl Prune {
    async fn run(&mut self, shared: &Shared) {
        let now = shared.clock.now();
        if self
            .last
            .is_some_and(|at| now - at < chrono::Duration::hours(1))
        {
            return;
        }
        self.last = Some(now);
        let dropped = async {
            let txn = shared.store.begin_write().await?;
            let done = webhook_delivery::Entity::delete_many()
                .filter(webhook_delivery::Column::AttemptedAt.lt(now - self.keep))
                .exec(&*txn)
                .await?;
            txn.commit().await?;
            Ok::<_, AppError>(done)
        }
        .await;
        match dropped {
            Ok(done) if done.rows_affected > 0 => {
                tracing::info!(rows = done.rows_affected, "pruned the webhook delivery log");
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(error = ?err, "cannot prune the webhook delivery log"),
        }
    }
}

/// PostgreSQL advisory locks on endpoints, held on one connection.
struct Locks {
    conn: Option<sea_orm::sqlx::PgConnection>,
    enabled: bool,
    space: i32,
}

impl Locks {
    /// Whether this process may send to endpoint `id` now (always on SQLite).
    async fn take(&mut self, store: &Store, id: i64) -> bool {
        if !self.enabled {
            return true;
        }
        if self.conn.is_none() {
            match store.conn().get_postgres_connection_pool().acquire().await {
                Ok(conn) => self.conn = Some(conn.detach()),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot open the webhook lock connection");
                    return false;
                }
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        let taken = sea_orm::sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1, $2)")
            .bind(self.space)
            .bind(lock_key(id))
            .fetch_one(conn)
            .await;
        match taken {
            Ok(taken) => taken,
            Err(err) => {
                tracing::warn!(error = %err, "the webhook lock connection failed; reopening");
                self.conn = None;
                false
            }
        }
    }

    async fn release(&mut self, id: i64) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let released = sea_orm::sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1, $2)")
            .bind(self.space)
            .bind(lock_key(id))
            .fetch_one(conn)
            .await;
        if let Err(err) = released {
            tracing::warn!(error = %err, "the webhook lock connection failed; reopening");
            self.conn = None;
        }
    }
}

/// Renders newly committed events of the programs that enabled endpoints
/// follow, a program's at once, so the endpoints' tasks find them rendered:
/// endpoints that keep up read a few events at a time, and each small batch
/// would otherwise be one more GraphQL execution. A failure is left to the
/// endpoints' own rendering, which records it.
async fn render_ahead(shared: &Shared, followed: &HashSet<i64>, arrived: Vec<Arc<event::Model>>) {
    let mut arrived: Vec<event::Model> = arrived
        .into_iter()
        .filter(|e| followed.contains(&e.program_id))
        .map(Arc::unwrap_or_clone)
        .collect();
    arrived.sort_by_key(|e| (e.program_id, e.sequence));
    for program in arrived.chunk_by(|a, b| a.program_id == b.program_id) {
        for chunk in program.chunks(BATCH as usize) {
            if let Err(err) = bodies(shared, chunk).await {
                tracing::debug!(error = ?err, "cannot render events ahead of delivery");
            }
        }
    }
}

/// Enabled endpoints with something to send now (events after their cursor
/// or queued redeliveries, and no retry waiting), how many endpoints are
/// enabled in all, and the programs they follow.
async fn due_endpoints(shared: &Shared) -> AppResult<(Vec<i64>, usize, HashSet<i64>)> {
    let conn = shared.store.conn();
    let now = shared.clock.now();
    let endpoints = webhook::Entity::find()
        .filter(webhook::Column::Enabled.eq(true))
        .all(conn)
        .await?;
    if endpoints.is_empty() {
        return Ok((Vec::new(), 0, HashSet::new()));
    }
    let heads: HashMap<i64, i64> = log::heads(conn).await?.into_iter().collect();
    let queued: HashSet<i64> = webhook_requeue::Entity::find()
        .select_only()
        .column(webhook_requeue::Column::WebhookId)
        .distinct()
        .into_tuple::<i64>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let count = endpoints.len();
    let programs = endpoints.iter().map(|w| w.program_id).collect();
    let due = endpoints
        .into_iter()
        .filter(|w| w.next_attempt_at.is_none_or(|at| at <= now))
        .filter(|w| {
            queued.contains(&w.id)
                || heads.get(&w.program_id).copied().unwrap_or(0) > w.last_sequence
        })
        .map(|w| w.id)
        .collect();
    Ok((due, count, programs))
}

/// Events read (and rendered) at once for one endpoint.
const BATCH: u64 = 100;

/// Sends to one endpoint until it has nothing due or an attempt fails, and
/// waits until every success it sent is recorded (so whoever takes the
/// endpoint next reads its cursor as it is).
async fn send_while_due(shared: &Shared, id: i64) {
    let mut sent = Unconfirmed::default();
    loop {
        let read = tokio::time::Instant::now();
        match send_batch(shared, id, &mut sent).await {
            Ok(Then::Next) => {}
            Ok(Then::Linger) => tokio::time::sleep_until(read + LINGER).await,
            Ok(Then::Stop) => break,
            Err(err) => {
                tracing::warn!(error = ?err, webhook = id, "webhook delivery failed");
                break;
            }
        }
    }
    sent.settle().await;
}

/// What to do after a batch.
enum Then {
    /// Read the next batch now.
    Next,
    /// Read the next batch [`LINGER`] after this one was read: it was not
    /// full, so the endpoint has caught up with the log.
    Linger,
    /// Stop sending to the endpoint for now.
    Stop,
}

/// How often an endpoint that keeps up with a steady stream of events reads
/// the log: the events of that time go out as one batch, so a busy program
/// costs each endpoint a few reads per [`LINGER`], not a few per event. An
/// endpoint that finds nothing new stops; the next event starts it at once.
const LINGER: Duration = Duration::from_millis(10);

/// Most successes of one endpoint sent on before the recorder confirms them.
const UNCONFIRMED: usize = 4 * BATCH as usize;

/// Successes of one endpoint handed to the recorder and not yet confirmed,
/// oldest first. Sending goes on meanwhile: the recorder's transactions
/// queue for SQLite's one writer behind the program's own writes, and
/// waiting for each batch's would hold every endpoint to the write rate's
/// queue. Each success moves the cursor only from the one before it, so a
/// success not recorded (the endpoint replayed, edited or deleted meanwhile,
/// or the store failing) makes every later one fail too, and the endpoint
/// stops at the first confirmation that comes back false.
#[derive(Default)]
struct Unconfirmed {
    /// Each with the sequence of the event it delivered.
    waiting: std::collections::VecDeque<(tokio::sync::oneshot::Receiver<bool>, i64)>,
    /// Whether one came back false.
    refused: bool,
}

impl Unconfirmed {
    fn push(&mut self, rx: tokio::sync::oneshot::Receiver<bool>, sequence: i64) {
        self.waiting.push_back((rx, sequence));
    }

    /// The endpoint's cursor once they are all recorded; `None` when none is
    /// waiting (the stored cursor is the one).
    fn cursor(&self) -> Option<i64> {
        self.waiting.back().map(|(_, sequence)| *sequence)
    }

    /// Takes the confirmations already in, and waits for the oldest while
    /// more than `most` are out; whether all taken so far moved the cursor.
    async fn collect(&mut self, most: usize) -> bool {
        loop {
            let over = self.waiting.len() > most;
            let Some((front, _)) = self.waiting.front_mut() else {
                break;
            };
            let moved = if over {
                front.await.unwrap_or(false)
            } else {
                match front.try_recv() {
                    Ok(moved) => moved,
                    Err(tokio::sync::oneshot::error::TryRecvError::Empty) => break,
                    Err(tokio::sync::oneshot::error::TryRecvError::Closed) => false,
                }
            };
            self.waiting.pop_front();
            self.refused |= !moved;
        }
        !self.refused
    }

    /// Waits for them all; whether every one moved the cursor.
    async fn settle(&mut self) -> bool {
        self.collect(0).await
    }
}

/// Sends the next queued redelivery, or the next events after the cursor
/// (up to [`BATCH`]). Successes are recorded by the recorder, grouped with
/// other endpoints' in one transaction each, while sending goes on (see
/// [`Unconfirmed`]); a failure, a redelivery or moving the cursor past
/// events of other kinds waits for them first, so it is recorded against
/// the cursor it really follows. Whether to go on.
async fn send_batch(shared: &Shared, id: i64, sent: &mut Unconfirmed) -> AppResult<Then> {
    if !sent.collect(UNCONFIRMED).await {
        return Ok(Then::Stop);
    }
    let now = shared.clock.now();
    let conn = shared.store.conn();
    let Some(mut row) = service::find(conn, id).await? else {
        return Ok(Then::Stop);
    };
    if !row.enabled || row.next_attempt_at.is_some_and(|at| at > now) {
        return Ok(Then::Stop);
    }
    if let Some(cursor) = sent.cursor() {
        // Where the successes not yet recorded leave it.
        row.last_sequence = cursor;
        row.failures = 0;
        row.failing_since = None;
    }
    if let Some(queued) = service::requeued(conn, row.id).await? {
        if sent.cursor().is_some() {
            // Read the endpoint again once what was sent is recorded.
            return Ok(if sent.settle().await {
                Then::Next
            } else {
                Then::Stop
            });
        }
        return Ok(if redeliver(shared, &row, queued.sequence).await? {
            Then::Next
        } else {
            Then::Stop
        });
    }
    // The events after the cursor as broadcast, or else from the log; with
    // the sequence read up to, which the cursor may skip to when none is of
    // the endpoint's kinds.
    let kinds = service::kinds_of(&row);
    let recent = shared
        .recent
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .after(row.program_id, row.last_sequence, &kinds, BATCH as usize);
    let (head, batch) = match recent {
        Some(found) => found,
        None => read_after(conn, &row, &kinds).await?,
    };
    if batch.is_empty() {
        // Nothing of its kinds up to the head: the endpoint is done with
        // those events.
        if head > row.last_sequence && sent.settle().await {
            let txn = shared.store.begin_write().await?;
            webhook::Entity::update_many()
                .col_expr(webhook::Column::LastSequence, Expr::value(head))
                .filter(webhook::Column::Id.eq(row.id))
                .filter(webhook::Column::LastSequence.eq(row.last_sequence))
                .exec(&*txn)
                .await?;
            txn.commit().await?;
        }
        return Ok(Then::Stop);
    }
    let bodies = match bodies(shared, &batch).await {
        Ok(bodies) => bodies,
        Err(err) => {
            tracing::error!(error = ?err, webhook = id, "cannot render webhook events");
            if sent.settle().await {
                let outcome =
                    Outcome::failed(None, 0, "the server could not render this event".into());
                record(shared, &row, &batch[0], false, outcome).await?;
            }
            return Ok(Then::Stop);
        }
    };
    let target = target(shared, &row);
    for (event, body) in batch.iter().zip(&bodies) {
        let outcome = attempt(shared, &target, event, body).await;
        if !outcome.delivered() {
            if sent.settle().await {
                record(shared, &row, event, false, outcome).await?;
            }
            return Ok(Then::Stop);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let success = Success {
            webhook_id: row.id,
            attempt: row.failures + 1,
            after: row.last_sequence,
            event_sequence: event.sequence,
            kind: event.kind.clone(),
            outcome,
            at: shared.clock.now(),
        };
        if shared.recorder.send((success, tx)).is_err() {
            return Ok(Then::Stop);
        }
        sent.push(rx, event.sequence);
        row.last_sequence = event.sequence;
        row.failures = 0;
        row.failing_since = None;
    }
    Ok(if batch.len() < BATCH as usize {
        Then::Linger
    } else {
        Then::Next
    })
}

/// The log after the endpoint's cursor: the head read up to, and the
/// endpoint's events up to it (at most [`BATCH`]).
async fn read_after(
    conn: &sea_orm::DatabaseConnection,
    row: &webhook::Model,
    kinds: &[EventKind],
) -> AppResult<(i64, Vec<event::Model>)> {
    // The head first: every event up to it is committed (sequences follow
    // commit order), so the events read below are all there is up to it.
    // (Read after, it could pass events committed in between.)
    let head = log::head(conn, row.program_id).await?;
    let batch = log::read(
        conn,
        row.program_id,
        row.last_sequence,
        Some(head),
        kinds,
        BATCH,
    )
    .await?;
    Ok((head, batch))
}

/// Sends one event again (`redeliverWebhookEvent`), and records it.
async fn redeliver(shared: &Shared, row: &webhook::Model, sequence: i64) -> AppResult<bool> {
    let conn = shared.store.conn();
    let found = event::Entity::find()
        .filter(event::Column::ProgramId.eq(row.program_id))
        .filter(event::Column::Sequence.eq(sequence))
        .one(conn)
        .await?;
    let Some(event) = found else {
        let txn = shared.store.begin_write().await?;
        webhook_requeue::Entity::delete_many()
            .filter(webhook_requeue::Column::WebhookId.eq(row.id))
            .filter(webhook_requeue::Column::Sequence.eq(sequence))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        return Ok(true);
    };
    let outcome = match bodies(shared, std::slice::from_ref(&event)).await {
        Ok(bodies) => attempt(shared, &target(shared, row), &event, &bodies[0]).await,
        Err(err) => {
            tracing::error!(error = ?err, webhook = row.id, sequence, "cannot render a webhook event");
            Outcome::failed(None, 0, "the server could not render this event".into())
        }
    };
    let delivered = outcome.delivered();
    record(shared, row, &event, true, outcome).await?;
    Ok(delivered)
}

/// The `webhook-id` of an event: the same for every attempt at it.
pub fn message_id(program_id: i64, sequence: i64) -> String {
    format!("{}_{sequence}", global(Kind::Program, program_id))
}

/// What of an event a webhook shows: the event and its subject as the PM
/// sees them through the API.
const EVENT_FIELDS: &str = r"
fragment WebhookEvent on Event {
  id sequence cursor kind at subjectType subjectId payload
  actor { id name }
  program { id name }
  teams { id name }
  subject {
    __typename id
    ... on Program { name }
    ... on Team { name }
    ... on Increment { name startDate endDate }
    ... on Iteration { number startDate endDate }
    ... on Feature { title state targetIncrement { id } }
    ... on Story { title state points team { id } feature { id } iteration { id } }
    ... on Dependency { state atRisk riskReasons dependent { id } provider { id } neededBy { id } }
    ... on Clarification { question status blocking assignee { id name } }
    ... on Objective { description plannedValue actualValue committed team { id } }
    ... on User { name }
  }
}";

/// The JSON bodies of events of one program: `{type, timestamp, data}`,
/// `data` being the event and its subject as the API shows them to the
/// program's PM. The ones not rendered yet are rendered in one query (one
/// aliased `node` per event, so the loaders batch them).
async fn bodies(shared: &Shared, events: &[event::Model]) -> AppResult<Vec<Arc<str>>> {
    let _one_at_a_time = shared.rendering.lock().await;
    let cached = |e: &event::Model| {
        shared
            .rendered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(e.program_id, e.sequence))
            .cloned()
    };
    let missing: Vec<&event::Model> = events.iter().filter(|e| cached(e).is_none()).collect();
    if let Some(first) = missing.first() {
        let conn = shared.store.conn();
        let program = entity::program::Entity::find_by_id(first.program_id)
            .one(conn)
            .await?
            .ok_or_else(|| AppError::Internal("the event's program is gone".into()))?;
        let pm = user::Entity::find_by_id(program.product_manager_id)
            .one(conn)
            .await?
            .ok_or_else(|| AppError::Internal("the program's PM is gone".into()))?;
        let mut document = String::from("query WebhookEvents {");
        for (n, e) in missing.iter().enumerate() {
            document.push_str(&format!(
                " e{n}: node(id: \"{}\") {{ ...WebhookEvent }}",
                global(Kind::Event, e.id)
            ));
        }
        document.push('}');
        document.push_str(EVENT_FIELDS);
        let response = shared
            .schema
            .execute(Request::new(document).data(Viewer::User(pm)))
            .await;
        if !response.errors.is_empty() {
            return Err(AppError::Internal(
                format!("rendering events: {:?}", response.errors).into(),
            ));
        }
        let data = response
            .data
            .into_json()
            .map_err(|err| AppError::Internal(Box::new(err)))?;
        let mut cache = shared
            .rendered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (n, e) in missing.iter().enumerate() {
            let node = data
                .get(format!("e{n}"))
                .cloned()
                .unwrap_or(serde_json::Value::Null);
            let body = serde_json::json!({
                "type": e.kind,
                "timestamp": e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "data": node,
            });
            cache.put((e.program_id, e.sequence), Arc::from(body.to_string()));
        }
    }
    events
        .iter()
        .map(|e| cached(e).ok_or_else(|| AppError::Internal("a rendered event was evicted".into())))
        .collect()
}

/// An endpoint's signing keys, decoded once for a batch of POSTs.
struct Signer {
    current: standardwebhooks::Webhook,
    /// The previous secret, while a rotation keeps it signing.
    previous: Option<standardwebhooks::Webhook>,
}

impl Signer {
    fn new(row: &webhook::Model, now: DateTime<Utc>) -> AppResult<Self> {
        let key = |secret: &str| {
            standardwebhooks::Webhook::new(secret)
                .map_err(|err| AppError::Internal(format!("cannot sign: {err}").into()))
        };
        let previous = match (&row.previous_secret, row.previous_secret_until) {
            (Some(old), Some(until)) if until > now => Some(key(old)?),
            _ => None,
        };
        Ok(Self {
            current: key(&row.secret)?,
            previous,
        })
    }

    fn sign(&self, id: &str, timestamp: i64, body: &str) -> AppResult<String> {
        let sign = |key: &standardwebhooks::Webhook| {
            key.sign(id, timestamp, body.as_bytes())
                .map_err(|err| AppError::Internal(format!("cannot sign: {err}").into()))
        };
        let mut header = sign(&self.current)?;
        if let Some(previous) = &self.previous {
            header.push(' ');
            header.push_str(&sign(previous)?);
        }
        Ok(header)
    }
}

/// What the POSTs of one batch to an endpoint share, prepared once: its
/// URL, checked, and its signing keys; or why nothing can be sent.
type Target = Result<(reqwest::Url, Signer), String>;

fn target(shared: &Shared, row: &webhook::Model) -> Target {
    let url =
        reqwest::Url::parse(&row.url).map_err(|err| format!("the URL is not valid: {err}"))?;
    if !guard::literal_allowed(&url, shared.allow) {
        return Err("the URL's address is loopback, private, link-local or metadata".to_owned());
    }
    let signer = Signer::new(row, shared.clock.now()).map_err(|err| {
        tracing::error!(error = ?err, webhook = row.id, "cannot sign a webhook body");
        "the server could not sign this event".to_owned()
    })?;
    Ok((url, signer))
}

/// What an attempt came to.
struct Outcome {
    status_code: Option<u16>,
    duration_ms: i64,
    error: Option<String>,
    response_body: Option<String>,
    retry_after: Option<chrono::Duration>,
}

impl Outcome {
    fn failed(status_code: Option<u16>, duration_ms: i64, error: String) -> Self {
        Self {
            status_code,
            duration_ms,
            error: Some(error),
            response_body: None,
            retry_after: None,
        }
    }

    fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// One attempt, counted in the metrics.
async fn attempt(shared: &Shared, target: &Target, event: &event::Model, body: &str) -> Outcome {
    let outcome = post(shared, target, event, body).await;
    let delay = (shared.clock.now() - event.at).num_milliseconds();
    #[allow(clippy::cast_precision_loss)]
    shared
        .metrics
        .record_delivery(outcome.delivered(), delay as f64 / 1000.0);
    outcome
}

/// POSTs an event to the endpoint, signed.
async fn post(shared: &Shared, target: &Target, event: &event::Model, body: &str) -> Outcome {
    let (url, signer) = match target {
        Ok(prepared) => prepared,
        Err(why) => return Outcome::failed(None, 0, why.clone()),
    };
    let now = shared.clock.now();
    let id = message_id(event.program_id, event.sequence);
    let timestamp = now.timestamp();
    let signature = match signer.sign(&id, timestamp, body) {
        Ok(s) => s,
        Err(err) => {
            tracing::error!(error = ?err, "cannot sign a webhook body");
            return Outcome::failed(None, 0, "the server could not sign this event".into());
        }
    };
    let started = Instant::now();
    let sent = shared
        .client
        .post(url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_owned())
        .send()
        .await;
    let elapsed = || i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let mut response = match sent {
        Ok(r) => r,
        Err(err) => {
            // The URL may itself be a secret (chat webhooks carry tokens in
            // their paths): the log says what failed, not where.
            let err = err.without_url();
            let why = if err.is_timeout() {
                format!("no answer within {} s", TIMEOUT.as_secs())
            } else if err.is_connect() {
                format!("cannot connect: {}", error_chain(&err))
            } else {
                format!("the request failed: {}", error_chain(&err))
            };
            return Outcome::failed(None, elapsed(), why);
        }
    };
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, now));
    let mut kept: Vec<u8> = Vec::new();
    while kept.len() < BODY_KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    kept.truncate(BODY_KEPT);
    let response_body = (!kept.is_empty()).then(|| String::from_utf8_lossy(&kept).into_owned());
    let error = if status.is_success() {
        None
    } else if status.is_redirection() {
        Some(format!("answered {status}; redirects are not followed"))
    } else {
        Some(format!("answered {status}"))
    };
    Outcome {
        status_code: Some(status.as_u16()),
        duration_ms: elapsed(),
        error,
        response_body,
        retry_after,
    }
}

/// An error with its causes, for the delivery log (never a secret: the
/// request's headers are not part of it).
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// `Retry-After`: seconds, or an HTTP date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<chrono::Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<i64>() {
        return (secs >= 0).then(|| chrono::Duration::seconds(secs));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).max(chrono::Duration::zero()))
}

/// The wait before the next attempt after `failures` failures in a row:
/// the schedule's, 10% either way at random, and never less than the
/// receiver's `Retry-After`.
pub fn retry_delay(failures: i32, retry_after: Option<chrono::Duration>) -> chrono::Duration {
    let index = usize::try_from(failures.max(1) - 1)
        .unwrap_or(0)
        .min(RETRY_SCHEDULE_SECS.len() - 1);
    let base_ms = RETRY_SCHEDULE_SECS[index] * 1000;
    let jitter: f64 = rand::random_range(-0.1..=0.1);
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let ms = (base_ms as f64 * (1.0 + jitter)) as i64;
    let delay = chrono::Duration::milliseconds(ms);
    let ceiling = chrono::Duration::seconds(RETRY_SCHEDULE_SECS[RETRY_SCHEDULE_SECS.len() - 1]);
    match retry_after {
        Some(asked) => delay.max(asked.min(ceiling)),
        None => delay,
    }
}

/// Records an attempt and moves the endpoint on, in one transaction.
async fn record(
    shared: &Shared,
    row: &webhook::Model,
    event: &event::Model,
    redelivery: bool,
    outcome: Outcome,
) -> AppResult<()> {
    let now = shared.clock.now();
    let txn = shared.store.begin_write().await?;
    if service::find(&*txn, row.id).await?.is_none() {
        // Deleted while the request was out: nothing to record.
        return Ok(());
    }
    let attempt = row.failures + 1;
    webhook_delivery::ActiveModel {
        webhook_id: Set(row.id),
        sequence: Set(event.sequence),
        kind: Set(event.kind.clone()),
        attempt: Set(attempt),
        redelivery: Set(redelivery),
        status: Set(if outcome.delivered() {
            service::Status::Succeeded
        } else {
            service::Status::Failed
        }
        .as_str()
        .to_owned()),
        status_code: Set(outcome.status_code.map(i32::from)),
        duration_ms: Set(outcome.duration_ms),
        error: Set(outcome.error.clone()),
        response_body: Set(outcome.response_body.clone()),
        attempted_at: Set(now),
        ..Default::default()
    }
    .insert(&*txn)
    .await?;
    // The endpoint as this attempt found it: a replay or an edit meanwhile wins.
    let unchanged = webhook::Entity::update_many()
        .filter(webhook::Column::Id.eq(row.id))
        .filter(webhook::Column::LastSequence.eq(row.last_sequence))
        .filter(webhook::Column::Enabled.eq(true));
    if outcome.delivered() {
        if redelivery {
            webhook_requeue::Entity::delete_many()
                .filter(webhook_requeue::Column::WebhookId.eq(row.id))
                .filter(webhook_requeue::Column::Sequence.eq(event.sequence))
                .exec(&*txn)
                .await?;
            unchanged
                .col_expr(webhook::Column::Failures, Expr::value(0))
                .col_expr(
                    webhook::Column::NextAttemptAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    webhook::Column::FailingSince,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .exec(&*txn)
                .await?;
        } else {
            unchanged
                .col_expr(webhook::Column::LastSequence, Expr::value(event.sequence))
                .col_expr(webhook::Column::Failures, Expr::value(0))
                .col_expr(
                    webhook::Column::NextAttemptAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    webhook::Column::FailingSince,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .exec(&*txn)
                .await?;
        }
        txn.commit().await?;
        return Ok(());
    }
    let failing_since = row.failing_since.unwrap_or(now);
    let gone = outcome.status_code == Some(410);
    let too_long = now - failing_since >= chrono::Duration::hours(GIVE_UP_AFTER_HOURS);
    if gone || too_long {
        let reason = if gone {
            "the receiver answered 410 Gone".to_owned()
        } else {
            format!(
                "every attempt failed for {GIVE_UP_AFTER_HOURS} hours, since {}",
                failing_since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        };
        let changed = unchanged
            .col_expr(webhook::Column::Enabled, Expr::value(false))
            .col_expr(webhook::Column::DisabledReason, Expr::value(reason.clone()))
            .col_expr(webhook::Column::DisabledAt, Expr::value(now))
            .col_expr(webhook::Column::Failures, Expr::value(attempt))
            .col_expr(
                webhook::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(webhook::Column::FailingSince, Expr::value(failing_since))
            .exec(&*txn)
            .await?;
        if changed.rows_affected == 1 {
            let event = NewEvent::new(EventKind::WebhookDisabled, (Kind::Webhook, row.id)).payload(
                serde_json::json!({
                    "webhookId": global(Kind::Webhook, row.id),
                    "reason": reason,
                    "lastSequence": row.last_sequence,
                }),
            );
            let recorded = log::Recorded {
                program_id: row.program_id,
                actor: None,
                at: now,
                event,
            };
            log::record(&txn, vec![recorded]).await?;
        }
        txn.commit().await?;
        return Ok(());
    }
    let next_at = now + retry_delay(attempt, outcome.retry_after);
    unchanged
        .col_expr(webhook::Column::Failures, Expr::value(attempt))
        .col_expr(webhook::Column::NextAttemptAt, Expr::value(next_at))
        .col_expr(webhook::Column::FailingSince, Expr::value(failing_since))
        .exec(&*txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

/// A delivered event, to be recorded with its endpoint's new cursor.
struct Success {
    webhook_id: i64,
    /// Which attempt at the event this was (after failures, more than 1).
    attempt: i32,
    /// The cursor the endpoint had before this event.
    after: i64,
    event_sequence: i64,
    kind: String,
    outcome: Outcome,
    at: DateTime<Utc>,
}

/// Most successes recorded in one transaction.
const GROUP: usize = 1000;

/// Least time between two of the recorder's transactions. Each one takes
/// the store's writer (SQLite has one) from the program's own writes, and
/// the endpoints do not wait for it (see [`Unconfirmed`]): ten endpoints
/// keeping up with a busy program would otherwise record a few deliveries
/// at a time, hundreds of times a second.
const RECORD_EVERY: Duration = Duration::from_millis(50);

/// Records successful deliveries as they come, grouping those waiting into
/// one transaction: the attempts, and each endpoint's cursor moved to its
/// last one (from the cursor its first one followed, so a replay or an
/// edit meanwhile wins). Answers each whether it moved the cursor.
async fn record_successes(
    store: Store,
    mut successes: mpsc::UnboundedReceiver<(Success, tokio::sync::oneshot::Sender<bool>)>,
) {
    let mut last: Option<tokio::time::Instant> = None;
    while let Some(first) = successes.recv().await {
        if let Some(last) = last {
            tokio::time::sleep_until(last + RECORD_EVERY).await;
        }
        last = Some(tokio::time::Instant::now());
        let mut group = vec![first];
        while group.len() < GROUP {
            match successes.try_recv() {
                Ok(more) => group.push(more),
                Err(_) => break,
            }
        }
        let outcome = record_group(&store, &group).await;
        let applied = match outcome {
            Ok(applied) => applied,
            Err(err) => {
                tracing::warn!(error = ?err, "cannot record webhook deliveries; they will be sent again");
                HashSet::new()
            }
        };
        for (success, reply) in group {
            let _ = reply.send(applied.contains(&success.webhook_id));
        }
    }
}

/// One group's transaction; the endpoints whose cursor moved.
async fn record_group(
    store: &Store,
    group: &[(Success, tokio::sync::oneshot::Sender<bool>)],
) -> AppResult<HashSet<i64>> {
    // Per endpoint, in the order sent: the cursor before, the last event.
    let mut spans: Vec<(i64, i64, i64)> = Vec::new();
    for (s, _) in group {
        match spans.iter_mut().find(|(id, _, _)| *id == s.webhook_id) {
            Some(span) => span.2 = s.event_sequence,
            None => spans.push((s.webhook_id, s.after, s.event_sequence)),
        }
    }
    let txn = store.begin_write().await?;
    let existing: HashSet<i64> = webhook::Entity::find()
        .select_only()
        .column(webhook::Column::Id)
        .filter(webhook::Column::Id.is_in(spans.iter().map(|s| s.0)))
        .into_tuple::<i64>()
        .all(&*txn)
        .await?
        .into_iter()
        .collect();
    let rows: Vec<webhook_delivery::ActiveModel> = group
        .iter()
        .filter(|(s, _)| existing.contains(&s.webhook_id))
        .map(|(s, _)| webhook_delivery::ActiveModel {
            webhook_id: Set(s.webhook_id),
            sequence: Set(s.event_sequence),
            kind: Set(s.kind.clone()),
            attempt: Set(s.attempt),
            redelivery: Set(false),
            status: Set(service::Status::Succeeded.as_str().to_owned()),
            status_code: Set(s.outcome.status_code.map(i32::from)),
            duration_ms: Set(s.outcome.duration_ms),
            error: Set(None),
            response_body: Set(s.outcome.response_body.clone()),
            attempted_at: Set(s.at),
            ..Default::default()
        })
        .collect();
    if !rows.is_empty() {
        webhook_delivery::Entity::insert_many(rows)
            .exec_without_returning(&*txn)
            .await?;
    }
    // Every endpoint's cursor in one statement: moved to its last event
    // where it still is where its first one found it.
    let mut found = Condition::any();
    let mut cursor: Option<CaseStatement> = None;
    for (id, after, last) in spans.into_iter().filter(|s| existing.contains(&s.0)) {
        found = found.add(
            Condition::all()
                .add(webhook::Column::Id.eq(id))
                .add(webhook::Column::LastSequence.eq(after)),
        );
        let this = webhook::Column::Id.eq(id);
        cursor = Some(match cursor {
            None => Expr::case(this, last),
            Some(cases) => cases.case(this, last),
        });
    }
    let mut applied = HashSet::new();
    if let Some(cursor) = cursor {
        let moved = webhook::Entity::update_many()
            .col_expr(
                webhook::Column::LastSequence,
                cursor
                    .finally(Expr::col(webhook::Column::LastSequence))
                    .into(),
            )
            .col_expr(webhook::Column::Failures, Expr::value(0))
            .col_expr(
                webhook::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                webhook::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook::Column::Enabled.eq(true))
            .filter(found)
            .exec_with_returning(&*txn)
            .await?;
        applied.extend(moved.into_iter().map(|w| w.id));
    }
    txn.commit().await?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_has_jitter_and_honours_retry_after() {
        for (failures, secs) in [(1, 5), (2, 300), (3, 1800), (7, 86_400), (20, 86_400)] {
            let d = retry_delay(failures, None).num_milliseconds();
            let base = secs * 1000;
            assert!(d >= base * 9 / 10 && d <= base * 11 / 10, "{failures}: {d}");
        }
        let asked = retry_delay(1, Some(chrono::Duration::seconds(120)));
        assert_eq!(asked, chrono::Duration::seconds(120));
        let capped = retry_delay(1, Some(chrono::Duration::days(30)));
        assert_eq!(capped, chrono::Duration::hours(24));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-01-05T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_retry_after("30", now),
            Some(chrono::Duration::seconds(30))
        );
        assert_eq!(
            parse_retry_after("Mon, 05 Jan 2026 09:02:00 GMT", now),
            Some(chrono::Duration::seconds(120))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    fn event(program_id: i64, sequence: i64, kind: EventKind) -> Arc<event::Model> {
        Arc::new(event::Model {
            id: program_id * 1000 + sequence,
            program_id,
            sequence,
            kind: kind.as_str().to_owned(),
            subject_type: "Story".to_owned(),
            subject_id: 1,
            team_ids: ",".to_owned(),
            actor_id: None,
            at: Utc::now(),
            payload: "{}".to_owned(),
        })
    }

    #[test]
    fn recent_events_serve_an_endpoint_only_when_nothing_after_its_cursor_is_missing() {
        let followed: HashSet<i64> = [1].into();
        let mut recent = Recent::default();
        let arrived: Vec<_> = (5..=8)
            .map(|n| event(1, n, EventKind::StoryUpdated))
            .chain([event(2, 1, EventKind::StoryUpdated)])
            .collect();
        recent.keep(&followed, &arrived);
        let sequences = |found: Option<(i64, Vec<event::Model>)>| {
            found.map(|(head, batch)| (head, batch.iter().map(|e| e.sequence).collect::<Vec<_>>()))
        };
        assert_eq!(
            sequences(recent.after(1, 4, &[], 100)),
            Some((8, vec![5, 6, 7, 8]))
        );
        assert_eq!(sequences(recent.after(1, 6, &[], 1)), Some((7, vec![7])));
        // Caught up: nothing new, no read.
        assert_eq!(sequences(recent.after(1, 8, &[], 100)), Some((8, vec![])));
        // Event 4 is not here: the log must be read.
        assert_eq!(sequences(recent.after(1, 3, &[], 100)), None);
        // A program not followed is not kept.
        assert_eq!(sequences(recent.after(2, 0, &[], 100)), None);
        // Other kinds are passed over, up to the last event read.
        assert_eq!(
            sequences(recent.after(1, 4, &[EventKind::StoryCreated], 100)),
            Some((8, vec![]))
        );
        // A gap (a lagging receiver) starts the kept events again.
        recent.keep(&followed, &[event(1, 10, EventKind::StoryUpdated)]);
        assert_eq!(sequences(recent.after(1, 8, &[], 100)), None);
        assert_eq!(
            sequences(recent.after(1, 9, &[], 100)),
            Some((10, vec![10]))
        );
    }

    #[tokio::test]
    async fn unconfirmed_successes_keep_the_cursor_until_recorded_and_stop_at_a_refusal() {
        let mut sent = Unconfirmed::default();
        let (first, rx) = tokio::sync::oneshot::channel();
        sent.push(rx, 7);
        let (second, rx) = tokio::sync::oneshot::channel();
        sent.push(rx, 8);
        // Nothing confirmed yet, two allowed out: no wait, the cursor is the last sent.
        assert!(sent.collect(2).await);
        assert_eq!(sent.cursor(), Some(8));
        // One allowed out: waits for the oldest.
        first.send(true).unwrap();
        assert!(sent.collect(1).await);
        assert_eq!((sent.waiting.len(), sent.cursor()), (1, Some(8)));
        // All recorded: the store's cursor is the one to read again.
        second.send(true).unwrap();
        assert!(sent.settle().await);
        assert_eq!(sent.cursor(), None);

        // A refusal (the endpoint replayed meanwhile) stops it for good; a
        // recorder gone counts as one.
        let (refused, rx) = tokio::sync::oneshot::channel();
        sent.push(rx, 9);
        let (dropped, rx) = tokio::sync::oneshot::channel::<bool>();
        sent.push(rx, 10);
        refused.send(false).unwrap();
        drop(dropped);
        assert!(!sent.settle().await);
        assert!(!sent.collect(usize::MAX).await);
    }
}
