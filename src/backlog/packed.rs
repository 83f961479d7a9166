//! Many stories read as one packed value. On SQLite the database builds one
//! JSON array of rows (`json_group_array`) and the server parses it once:
//! sqlx-sqlite hands each row over from its worker thread, and SeaORM looks
//! up each column by name, which for the thousands of cards of a board cost
//! more than reading them (the 12,500-card board went from 116 to 76 ms).
//! PostgreSQL's rows are cheap to take, and packing them there measured
//! slower (`json_agg`: 82 to 86-89 ms), so it reads them row by row; but
//! by position, straight from sqlx's rows: SeaORM looks each column up by
//! name, and formats an error message for every NULL it reads, which was
//! most of the PostgreSQL board's 56 ms (see [`crate::db::postgres_rows`]).

use entity::story;
use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, QueryTrait, Select, Statement,
    sqlx::{Row as _, postgres::PgRow},
};

use crate::db::{packed_time as time, postgres_rows as pg_rows, sqlite_packed_rows};

/// The columns of `story::Model`, in the order of [`Row`].
pub(crate) const COLUMNS: &str = "id, team_id, feature_id, title, description, acceptance_criteria, \
     points, state, iteration_id, rank_key, rejection_reason, ready_at, accepted_at, \
     created_at, updated_at, external_key";

/// One packed row; times as the database writes them in JSON.
type Row = (
    i64,
    i64,
    Option<i64>,
    String,
    String,
    String,
    Option<i32>,
    String,
    Option<i64>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
);

/// The stories `select` finds, as whole models, in no particular order.
pub async fn stories(
    conn: &impl ConnectionTrait,
    select: Select<story::Entity>,
) -> Result<Vec<story::Model>, DbErr> {
    let backend = conn.get_database_backend();
    if backend != DbBackend::Sqlite {
        return pg_rows(conn, select.build(backend), COLUMNS, pg_model).await;
    }
    let rows: Vec<Row> = sqlite_packed_rows(conn, select.build(backend), COLUMNS).await?;
    rows.into_iter().map(model).collect()
}

/// The stories a PostgreSQL statement selects (whole rows of `stories`),
/// read by position, in its order.
pub async fn postgres_stories(
    conn: &impl ConnectionTrait,
    select: Statement,
) -> Result<Vec<story::Model>, DbErr> {
    pg_rows(conn, select, COLUMNS, pg_model).await
}

/// The columns a board card shows, in the order of [`CardRow`].
pub(crate) const CARD_COLUMNS: &str = "id, team_id, feature_id, title, points, state, iteration_id, \
     rank_key, external_key";

/// One packed card.
type CardRow = (
    i64,
    i64,
    Option<i64>,
    String,
    Option<i32>,
    String,
    Option<i64>,
    String,
    Option<String>,
);

/// The stories `select` finds as cards: when `light`, without the texts
/// and times a card does not show (the description, the acceptance
/// criteria and the rejection reason empty, the times the Unix epoch), so
/// only for a query that asks none of them; see [`NOT_ON_CARDS`].
/// A board's 12,500 cards read three times fewer bytes and no times.
pub async fn cards(
    conn: &impl ConnectionTrait,
    select: Select<story::Entity>,
    light: bool,
) -> Result<Vec<story::Model>, DbErr> {
    let backend = conn.get_database_backend();
    if !light {
        return stories(conn, select).await;
    }
    if backend != DbBackend::Sqlite {
        return postgres_cards(conn, select.build(backend)).await;
    }
    let rows: Vec<CardRow> = sqlite_packed_rows(conn, select.build(backend), CARD_COLUMNS).await?;
    Ok(rows.into_iter().map(card).collect())
}

/// The stories a PostgreSQL statement selects (whole rows of `stories`)
/// as cards (see [`cards`]), read by position, in its order.
pub async fn postgres_cards(
    conn: &impl ConnectionTrait,
    select: Statement,
) -> Result<Vec<story::Model>, DbErr> {
    pg_rows(conn, select, CARD_COLUMNS, |row| pg_card_at(row, 0)).await
}

/// A story with only what a card shows; see [`cards`].
fn card(row: CardRow) -> story::Model {
    let epoch = chrono::DateTime::UNIX_EPOCH;
    story::Model {
        id: row.0,
        team_id: row.1,
        feature_id: row.2,
        title: row.3,
        description: String::new(),
        acceptance_criteria: String::new(),
        points: row.4,
        state: row.5,
        iteration_id: row.6,
        rank_key: row.7,
        rejection_reason: None,
        ready_at: None,
        accepted_at: None,
        created_at: epoch,
        updated_at: epoch,
        external_key: row.8,
    }
}

/// A card (see [`card`]) from the columns of a row from `at` on, in the
/// order of [`CARD_COLUMNS`].
pub(crate) fn pg_card_at(row: &PgRow, at: usize) -> Result<story::Model, sea_orm::sqlx::Error> {
    Ok(card((
        row.try_get_unchecked(at)?,
        row.try_get_unchecked(at + 1)?,
        row.try_get_unchecked(at + 2)?,
        row.try_get_unchecked(at + 3)?,
        row.try_get_unchecked(at + 4)?,
        row.try_get_unchecked(at + 5)?,
        row.try_get_unchecked(at + 6)?,
        row.try_get_unchecked(at + 7)?,
        row.try_get_unchecked(at + 8)?,
    )))
}

/// A whole story from a row of [`COLUMNS`].
fn pg_model(row: &PgRow) -> Result<story::Model, sea_orm::sqlx::Error> {
    pg_model_at(row, 0)
}

/// A whole story from the columns of a row from `at` on, in the order of
/// [`COLUMNS`].
pub(crate) fn pg_model_at(row: &PgRow, at: usize) -> Result<story::Model, sea_orm::sqlx::Error> {
    Ok(story::Model {
        id: row.try_get_unchecked(at)?,
        team_id: row.try_get_unchecked(at + 1)?,
        feature_id: row.try_get_unchecked(at + 2)?,
        title: row.try_get_unchecked(at + 3)?,
        description: row.try_get_unchecked(at + 4)?,
        acceptance_criteria: row.try_get_unchecked(at + 5)?,
        points: row.try_get_unchecked(at + 6)?,
        state: row.try_get_unchecked(at + 7)?,
        iteration_id: row.try_get_unchecked(at + 8)?,
        rank_key: row.try_get_unchecked(at + 9)?,
        rejection_reason: row.try_get_unchecked(at + 10)?,
        ready_at: crate::db::pg_opt_time(row, at + 11)?,
        accepted_at: crate::db::pg_opt_time(row, at + 12)?,
        created_at: crate::db::pg_time(row, at + 13)?,
        updated_at: crate::db::pg_time(row, at + 14)?,
        external_key: row.try_get_unchecked(at + 15)?,
    })
}

/// The fields of `Story` that answer from what [`cards`] leaves out.
pub const NOT_ON_CARDS: [&str; 7] = [
    "description",
    "acceptanceCriteria",
    "rejectionReason",
    "readyAt",
    "acceptedAt",
    "createdAt",
    "updatedAt",
];

/// Whether cards answer what these selections of stories ask: none asks a
/// field of [`NOT_ON_CARDS`] (directly or through a fragment).
pub fn cards_suffice(selections: &[&async_graphql::Lookahead<'_>]) -> bool {
    NOT_ON_CARDS
        .iter()
        .all(|name| selections.iter().all(|s| !s.field(name).exists()))
}

/// Whether cards answer every story anywhere under these selections: no
/// field below them, at any depth, has the name of one of [`NOT_ON_CARDS`]
/// (another type's field of that name counts too, which only costs whole
/// rows). For rows that fields further down reach again, as a page's
/// dependencies reach their providers, and through them the providers'
/// dependencies.
pub fn cards_suffice_below(selection: &async_graphql::Lookahead<'_>) -> bool {
    fn clean(field: async_graphql::SelectionField<'_>) -> bool {
        field
            .selection_set()
            .all(|f| !NOT_ON_CARDS.contains(&f.name()) && clean(f))
    }
    selection.selection_fields().into_iter().all(clean)
}

fn model(row: Row) -> Result<story::Model, DbErr> {
    Ok(story::Model {
        id: row.0,
        team_id: row.1,
        feature_id: row.2,
        title: row.3,
        description: row.4,
        acceptance_criteria: row.5,
        points: row.6,
        state: row.7,
        iteration_id: row.8,
        rank_key: row.9,
        rejection_reason: row.10,
        ready_at: row.11.as_deref().map(time).transpose()?,
        accepted_at: row.12.as_deref().map(time).transpose()?,
        created_at: time(&row.13)?,
        updated_at: time(&row.14)?,
        external_key: row.15,
    })
}
