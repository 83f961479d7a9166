//! Writing events in the mutation's transaction and reading them back.

use chrono::{DateTime, Utc};
use entity::{event, event_counter};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, Query},
};
use serde_json::Value;

use super::kind::EventKind;
use crate::{
    db::WriteTxn,
    error::{AppError, AppResult},
    ids::Kind,
    page::Page,
};

/// An event about to be recorded.
pub struct NewEvent {
    pub kind: EventKind,
    pub subject: (Kind, i64),
    pub teams: Vec<i64>,
    pub payload: Value,
}

impl NewEvent {
    pub fn new(kind: EventKind, subject: (Kind, i64)) -> Self {
        Self {
            kind,
            subject,
            teams: Vec::new(),
            payload: Value::Object(Default::default()),
        }
    }

    /// The teams involved.
    pub fn teams(mut self, teams: impl IntoIterator<Item = i64>) -> Self {
        for t in teams {
            if !self.teams.contains(&t) {
                self.teams.push(t);
            }
        }
        self
    }

    /// What changed.
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
}

/// The names of the fields an update sets, for an event's payload.
pub fn set_fields<'a>(fields: &[(&'a str, bool)]) -> Vec<&'a str> {
    fields
        .iter()
        .filter(|(_, set)| *set)
        .map(|(f, _)| *f)
        .collect()
}

/// Creates the sequence counter of a new program.
pub async fn start_counter(conn: &impl ConnectionTrait, program_id: i64) -> AppResult<()> {
    event_counter::ActiveModel {
        program_id: Set(program_id),
        last_sequence: Set(0),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// An event as recorded by a unit of work: by whom and when.
pub struct Recorded {
    pub program_id: i64,
    pub actor: Option<i64>,
    pub at: DateTime<Utc>,
    pub event: NewEvent,
}

/// How many events one INSERT carries (9 values each, well below SQLite's
/// and PostgreSQL's limits on bound values).
const INSERT_CHUNK: usize = 1_000;

/// Records events in the transaction, in the order given: each program's
/// events take the program's next sequence numbers in one step (the counter
/// row stays locked until commit, so numbers follow commit order and a
/// rollback leaves no gap) and, on PostgreSQL, every listening process is
/// notified at commit. On PostgreSQL the step and the rows are one
/// statement per program (up to [`INSERT_CHUNK`] events).
pub async fn record(txn: &WriteTxn, events: Vec<Recorded>) -> AppResult<()> {
    let conn = &**txn;
    let mut programs: Vec<i64> = Vec::new();
    for e in &events {
        if !programs.contains(&e.program_id) {
            programs.push(e.program_id);
        }
    }
    let mut rows = Vec::with_capacity(events.len());
    for program_id in programs {
        let mine: Vec<&Recorded> = events
            .iter()
            .filter(|e| e.program_id == program_id)
            .collect();
        if conn.get_database_backend() == DbBackend::Postgres && mine.len() <= INSERT_CHUNK {
            let stored = bump_and_insert_pg(txn, program_id, &mine).await?;
            txn.touch(program_id, stored);
            continue;
        }
        let count = i64::try_from(mine.len())
            .map_err(|_| AppError::Internal("too many events in one change".into()))?;
        let last = bump(txn, program_id, count).await?;
        for (sequence, e) in (last - count + 1..).zip(mine) {
            rows.push(row_of(e, sequence));
        }
    }
    // The rows as stored go to the event dispatcher at commit.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<event::ActiveModel> = rows.by_ref().take(INSERT_CHUNK).collect();
        let stored = event::Entity::insert_many(chunk)
            .exec_with_returning(conn)
            .await?;
        let mut stored = stored.into_iter().peekable();
        while let Some(first) = stored.next() {
            let program_id = first.program_id;
            let mut run = vec![first];
            while let Some(next) = stored.next_if(|e| e.program_id == program_id) {
                run.push(next);
            }
            txn.touch(program_id, run);
        }
    }
    Ok(())
}

/// Moves program `program_id`'s counter `count` events on, and returns the
/// new last sequence. On PostgreSQL the same statement notifies every
/// listening process at commit ([`Notice`]).
async fn bump(txn: &WriteTxn, program_id: i64, count: i64) -> AppResult<i64> {
    let conn = &**txn;
    let mut returned = vec![Expr::col(event_counter::Column::LastSequence)];
    if conn.get_database_backend() == DbBackend::Postgres {
        returned.push(Expr::cust_with_values(
            notify_sql("$1", "$2"),
            [txn.channel().to_owned(), txn.origin().to_owned()],
        ));
    }
    let bump = Query::update()
        .table(event_counter::Entity)
        .value(
            event_counter::Column::LastSequence,
            Expr::col(event_counter::Column::LastSequence).add(count),
        )
        .and_where(event_counter::Column::ProgramId.eq(program_id))
        .returning(Query::returning().exprs(returned))
        .to_owned();
    Ok(conn
        .query_one(&bump)
        .await?
        .ok_or_else(|| {
            AppError::Internal(format!("program {program_id} has no event counter").into())
        })?
        .try_get("", "last_sequence")?)
}

/// The NOTIFY of an `event_counters` row's new last sequence ([`Notice`]),
/// as an expression of that row, on channel `channel` from process `origin`
/// (two parameters).
fn notify_sql(channel: &str, origin: &str) -> String {
    format!(
        "pg_notify({channel}, program_id::text || ':' || last_sequence::text || ':' || {origin})::text"
    )
}

/// The types of one event row's values in [`bump_and_insert_pg`], in order:
/// its number among the unit's events, kind, subject type, subject id,
/// teams, actor, time, payload.
const EVENT_CASTS: [&str; 8] = [
    "bigint",
    "text",
    "text",
    "bigint",
    "text",
    "bigint",
    "timestamptz",
    "text",
];

/// Every column of an event row, as written rows are read back.
const EVENT_COLUMNS: &str =
    "id, program_id, sequence, kind, subject_type, subject_id, team_ids, actor_id, at, payload";

/// [`bump`] and the INSERT of a program's events in one PostgreSQL
/// statement: the counter's update is a CTE the rows take their sequence
/// numbers from. Returns the rows as stored.
async fn bump_and_insert_pg(
    txn: &WriteTxn,
    program_id: i64,
    events: &[&Recorded],
) -> AppResult<Vec<event::Model>> {
    let count = i64::try_from(events.len())
        .map_err(|_| AppError::Internal("too many events in one change".into()))?;
    let mut values: Vec<sea_orm::Value> = vec![
        program_id.into(),
        count.into(),
        txn.channel().to_owned().into(),
        txn.origin().to_owned().into(),
    ];
    let mut rows = Vec::with_capacity(events.len());
    for (n, e) in (1i64..).zip(events) {
        let at = values.len();
        let row: Vec<String> = (at + 1..)
            .zip(EVENT_CASTS)
            .map(|(param, cast)| format!("${param}::{cast}"))
            .collect();
        rows.push(format!("({})", row.join(", ")));
        let new = &e.event;
        values.extend([
            n.into(),
            new.kind.as_str().to_owned().into(),
            new.subject.0.name().to_owned().into(),
            new.subject.1.into(),
            team_text(&new.teams).into(),
            e.actor.into(),
            e.at.into(),
            new.payload.to_string().into(),
        ]);
    }
    // The notice is a column of the counter's update, so that it is sent
    // (at commit) exactly when the counter moves.
    let sql = format!(
        "WITH bumped AS (UPDATE event_counters SET last_sequence = last_sequence + $2 \
         WHERE program_id = $1 RETURNING last_sequence - $2 AS base, {notify} AS notice) \
         INSERT INTO events (program_id, sequence, kind, subject_type, subject_id, team_ids, actor_id, at, payload) \
         SELECT $1, bumped.base + v.n, v.kind, v.subject_type, v.subject_id, v.team_ids, v.actor_id, v.at, v.payload \
         FROM bumped CROSS JOIN (VALUES {}) AS v(n, kind, subject_type, subject_id, team_ids, actor_id, at, payload) \
         WHERE bumped.notice IS NOT NULL RETURNING {EVENT_COLUMNS}",
        rows.join(", "),
        notify = notify_sql("$3", "$4"),
    );
    let stored = txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?
        .iter()
        .map(|row| <event::Model as FromQueryResult>::from_query_result(row, ""))
        .collect::<Result<Vec<_>, _>>()?;
    if stored.len() != events.len() {
        return Err(AppError::Internal(
            format!("program {program_id} has no event counter").into(),
        ));
    }
    Ok(stored)
}

/// What a PostgreSQL notice of committed events says:
/// `program:last:origin` (the program, its last sequence committed, the
/// committing process's [`crate::db::Store::origin`]), or the program alone.
#[derive(Debug, PartialEq, Eq)]
pub struct Notice<'a> {
    pub program: i64,
    pub last: Option<i64>,
    pub origin: Option<&'a str>,
}

impl<'a> Notice<'a> {
    /// The notice in `payload`; `None` when it is not one.
    pub fn parse(payload: &'a str) -> Option<Self> {
        let mut parts = payload.splitn(3, ':');
        let program = parts.next()?.parse().ok()?;
        let last = match parts.next() {
            Some(last) => Some(last.parse().ok()?),
            None => None,
        };
        let origin = parts.next().filter(|o| !o.is_empty());
        if last.is_some() && origin.is_none() {
            return None;
        }
        Some(Self {
            program,
            last,
            origin,
        })
    }
}

/// The teams of an event as stored: `,1,2,` (none: `,`).
fn team_text(teams: &[i64]) -> String {
    if teams.is_empty() {
        return ",".to_owned();
    }
    format!(",{},", crate::db::id_list(teams))
}

/// The row of event `e` numbered `sequence`.
fn row_of(e: &Recorded, sequence: i64) -> event::ActiveModel {
    let new = &e.event;
    let teams = team_text(&new.teams);
    event::ActiveModel {
        program_id: Set(e.program_id),
        sequence: Set(sequence),
        kind: Set(new.kind.as_str().to_owned()),
        subject_type: Set(new.subject.0.name().to_owned()),
        subject_id: Set(new.subject.1),
        team_ids: Set(teams),
        actor_id: Set(e.actor),
        at: Set(e.at),
        payload: Set(new.payload.to_string()),
        ..Default::default()
    }
}

/// Events of a program with sequence in (after, until], of `kinds` (empty:
/// every kind), oldest first, at most `limit`.
pub async fn read(
    conn: &impl ConnectionTrait,
    program_id: i64,
    after: i64,
    until: Option<i64>,
    kinds: &[EventKind],
    limit: u64,
) -> Result<Vec<event::Model>, sea_orm::DbErr> {
    let mut query = event::Entity::find()
        .filter(event::Column::ProgramId.eq(program_id))
        .filter(event::Column::Sequence.gt(after));
    if let Some(until) = until {
        query = query.filter(event::Column::Sequence.lte(until));
    }
    if !kinds.is_empty() {
        query = query.filter(event::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    }
    query
        .order_by_asc(event::Column::Sequence)
        .limit(limit)
        .all(conn)
        .await
}

/// The last committed sequence number of every program.
pub async fn heads(conn: &impl ConnectionTrait) -> Result<Vec<(i64, i64)>, sea_orm::DbErr> {
    Ok(event_counter::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.program_id, c.last_sequence))
        .collect())
}

/// The last committed sequence number of one program (0 when none).
pub async fn head(conn: &impl ConnectionTrait, program_id: i64) -> Result<i64, sea_orm::DbErr> {
    Ok(event_counter::Entity::find_by_id(program_id)
        .one(conn)
        .await?
        .map_or(0, |c| c.last_sequence))
}

/// One page of a program's activity feed, oldest first (only `kinds` when
/// given), and how many events match in all.
pub async fn page(
    conn: &impl ConnectionTrait,
    program_id: i64,
    kinds: Option<&[EventKind]>,
    page: &Page,
) -> AppResult<(Vec<event::Model>, u64)> {
    let mut query = event::Entity::find().filter(event::Column::ProgramId.eq(program_id));
    if let Some(kinds) = kinds {
        query = query.filter(event::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())));
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = page.after {
        query = query.filter(event::Column::Sequence.gt(after));
    }
    let rows = query
        .order_by_asc(event::Column::Sequence)
        .limit(page.fetch())
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// The teams of an event, from their stored form.
pub fn teams_of(row: &event::Model) -> Vec<i64> {
    row.team_ids
        .split(',')
        .filter_map(|t| t.parse().ok())
        .collect()
}
