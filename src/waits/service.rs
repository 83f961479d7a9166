//! Waits in storage. Knows nothing of GraphQL.

use chrono::{DateTime, Utc};
use entity::wait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbBackend,
    EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use super::kind::WaitKind;
use crate::{
    error::{AppError, AppResult},
    ids::Kind,
};

/// A wait that should be open: its kind, team and owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    pub kind: WaitKind,
    pub team: Option<i64>,
    pub owner: i64,
    /// An answer waited for again after a reopening.
    pub again: bool,
}

/// The wait `id`, if any.
pub async fn find(conn: &impl ConnectionTrait, id: i64) -> AppResult<Option<wait::Model>> {
    Ok(wait::Entity::find_by_id(id).one(conn).await?)
}

/// The open waits of one subject.
pub async fn open_of(
    conn: &impl ConnectionTrait,
    subject: (Kind, i64),
) -> AppResult<Vec<wait::Model>> {
    Ok(wait::Entity::find()
        .filter(wait::Column::SubjectType.eq(subject.0.name()))
        .filter(wait::Column::SubjectId.eq(subject.1))
        .filter(wait::Column::EndedAt.is_null())
        .order_by_asc(wait::Column::Id)
        .all(conn)
        .await?)
}

/// Opens a wait.
pub async fn start(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program_id: i64,
    subject: (Kind, i64),
    want: Want,
) -> AppResult<wait::Model> {
    Ok(wait::ActiveModel {
        program_id: Set(program_id),
        kind: Set(want.kind.as_str().to_owned()),
        subject_type: Set(subject.0.name().to_owned()),
        subject_id: Set(subject.1),
        team_id: Set(want.team),
        owner_id: Set(want.owner),
        again: Set(want.again),
        started_at: Set(now),
        ended_at: Set(None),
        outcome: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Ends a wait with its outcome.
pub async fn end(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    wait: wait::Model,
    outcome: &str,
) -> AppResult<wait::Model> {
    let mut row = wait.into_active_model();
    row.ended_at = Set(Some(now));
    row.outcome = Set(Some(outcome.to_owned()));
    Ok(row.update(conn).await?)
}

/// Hands an open wait to someone else (a new PO, PM or assignee); it keeps
/// its start.
pub async fn set_owner(
    conn: &impl ConnectionTrait,
    wait: wait::Model,
    owner: i64,
) -> AppResult<wait::Model> {
    let mut row = wait.into_active_model();
    row.owner_id = Set(owner);
    Ok(row.update(conn).await?)
}

/// The open waits of a team of these kinds.
pub async fn open_of_team(
    conn: &impl ConnectionTrait,
    team_id: i64,
    kinds: &[WaitKind],
) -> AppResult<Vec<wait::Model>> {
    Ok(wait::Entity::find()
        .filter(wait::Column::TeamId.eq(team_id))
        .filter(wait::Column::EndedAt.is_null())
        .filter(wait::Column::Kind.is_in(kinds.iter().map(|k| k.as_str())))
        .order_by_asc(wait::Column::Id)
        .all(conn)
        .await?)
}

/// What waits on `owner` in a program, oldest first.
pub async fn queue(
    conn: &impl ConnectionTrait,
    program_id: i64,
    owner: i64,
) -> AppResult<Vec<wait::Model>> {
    Ok(wait::Entity::find()
        .filter(wait::Column::ProgramId.eq(program_id))
        .filter(wait::Column::OwnerId.eq(owner))
        .filter(wait::Column::EndedAt.is_null())
        .order_by_asc(wait::Column::StartedAt)
        .order_by_asc(wait::Column::Id)
        .all(conn)
        .await?)
}

/// The `limit` oldest open waits of a program, oldest first.
pub async fn oldest_open(
    conn: &impl ConnectionTrait,
    program_id: i64,
    limit: u64,
) -> AppResult<Vec<wait::Model>> {
    Ok(wait::Entity::find()
        .filter(wait::Column::ProgramId.eq(program_id))
        .filter(wait::Column::EndedAt.is_null())
        .order_by_asc(wait::Column::StartedAt)
        .order_by_asc(wait::Column::Id)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Open waits of a program per (owner, kind): how many, and the oldest start.
pub async fn open_counts(
    conn: &impl ConnectionTrait,
    program_id: i64,
) -> AppResult<Vec<(i64, String, i64, DateTime<Utc>)>> {
    Ok(wait::Entity::find()
        .select_only()
        .column(wait::Column::OwnerId)
        .column(wait::Column::Kind)
        .column_as(wait::Column::Id.count(), "open")
        .column_as(wait::Column::StartedAt.min(), "oldest")
        .filter(wait::Column::ProgramId.eq(program_id))
        .filter(wait::Column::EndedAt.is_null())
        .group_by(wait::Column::OwnerId)
        .group_by(wait::Column::Kind)
        .into_tuple()
        .all(conn)
        .await?)
}

/// A wait as the figures need it.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub owner: i64,
    pub kind: WaitKind,
    pub again: bool,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// Per backend: every wait read packed into one text, a wait as
/// `owner:kind:again:start:end` (start and end in milliseconds since the
/// epoch, `end` empty while open, `again` 0 or 1), the waits joined by
/// commas. SQLite's `julianday` keeps milliseconds, as the figures do
/// (`hours_between`).
const PACKED_SQLITE: &str = "group_concat(owner_id || ':' || kind || ':' || \
    (CASE WHEN again THEN 1 ELSE 0 END) || ':' || \
    (CAST(ROUND(julianday(started_at) * 86400000.0) AS INTEGER) - 210866760000000) || ':' || \
    COALESCE(CAST(ROUND(julianday(ended_at) * 86400000.0) AS INTEGER) - 210866760000000, ''), ',')";
const PACKED_POSTGRES: &str = "string_agg(CAST(owner_id AS TEXT) || ':' || kind || ':' || \
    (CASE WHEN again THEN '1' ELSE '0' END) || ':' || \
    CAST(CAST(EXTRACT(EPOCH FROM started_at) * 1000 AS BIGINT) AS TEXT) || ':' || \
    COALESCE(CAST(CAST(EXTRACT(EPOCH FROM ended_at) * 1000 AS BIGINT) AS TEXT), ''), ',')";

/// The waits of a program that overlap `from..=to`: started by `to`, and
/// open or ended from `from` on.
///
/// A program has thousands of such waits. Read one row each, the driver's
/// cost per row is most of the query's time, so they come packed into one
/// text (see `PACKED_SQLITE`).
pub async fn overlapping(
    conn: &impl ConnectionTrait,
    program_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> AppResult<Vec<Span>> {
    let packed = match conn.get_database_backend() {
        DbBackend::Postgres => PACKED_POSTGRES,
        _ => PACKED_SQLITE,
    };
    let packed: Option<Option<String>> = wait::Entity::find()
        .select_only()
        .column_as(Expr::cust(packed), "spans")
        .filter(wait::Column::ProgramId.eq(program_id))
        .filter(wait::Column::StartedAt.lte(to))
        .filter(
            Condition::any()
                .add(wait::Column::EndedAt.is_null())
                .add(wait::Column::EndedAt.gte(from)),
        )
        .into_tuple()
        .one(conn)
        .await?;
    match packed.flatten() {
        None => Ok(Vec::new()),
        Some(text) => text.split(',').map(unpack).collect(),
    }
}

/// One wait as packed by `overlapping`.
fn unpack(packed: &str) -> AppResult<Span> {
    let unreadable = || AppError::Internal(format!("a packed wait is unreadable: {packed}").into());
    let time = |ms: &str| {
        ms.parse::<i64>()
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .ok_or_else(unreadable)
    };
    let mut parts = packed.split(':');
    let mut next = || parts.next().ok_or_else(unreadable);
    let owner = next()?.parse::<i64>().map_err(|_| unreadable())?;
    let kind = WaitKind::parse(next()?)?;
    let again = next()? == "1";
    let started_at = time(next()?)?;
    let ended_at = match next()? {
        "" => None,
        ms => Some(time(ms)?),
    };
    Ok(Span {
        owner,
        kind,
        again,
        started_at,
        ended_at,
    })
}
