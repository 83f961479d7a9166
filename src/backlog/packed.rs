//! Many stories read as one packed value. On SQLite the database builds one
//! JSON array of rows (`json_group_array`) and the server parses it once:
//! sqlx-sqlite hands each row over from its worker thread, and SeaORM looks
//! up each column by name, which for the thousands of cards of a board cost
//! more than reading them (the 12,500-card board went from 116 to 76 ms).
//! PostgreSQL's rows are cheap to take, and packing them there measured
//! slower (`json_agg`: 82 to 86-89 ms), so it reads them row by row.

use chrono::{DateTime, NaiveDateTime, Utc};
use entity::story;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryTrait, Select, Statement};

/// The columns of `story::Model`, in the order of [`Row`].
const COLUMNS: &str = "id, team_id, feature_id, title, description, acceptance_criteria, \
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
        return select.all(conn).await;
    }
    let rows: Vec<Row> = sqlite_rows(conn, select.build(backend), COLUMNS).await?;
    rows.into_iter().map(model).collect()
}

/// The rows of `inner` (a SQLite statement) as one JSON array of arrays of
/// `columns` (an expression list over its result columns), parsed into
/// `T`s, in no particular order.
pub(crate) async fn sqlite_rows<T: serde::de::DeserializeOwned>(
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

fn model(row: Row) -> Result<story::Model, DbErr> {
    let (id, team_id, feature_id, title, description, acceptance_criteria, points, state) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7);
    let (iteration_id, rank_key, rejection_reason, external_key) = (row.8, row.9, row.10, row.15);
    Ok(story::Model {
        id,
        team_id,
        feature_id,
        title,
        description,
        acceptance_criteria,
        points,
        state,
        iteration_id,
        rank_key,
        rejection_reason,
        ready_at: row.11.as_deref().map(time).transpose()?,
        accepted_at: row.12.as_deref().map(time).transpose()?,
        created_at: time(&row.13)?,
        updated_at: time(&row.14)?,
        external_key,
    })
}

/// A time as stored: RFC 3339 (what sqlx writes), else SQLite's own
/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub(crate) fn time(text: &str) -> Result<DateTime<Utc>, DbErr> {
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
    fn times_read_in_the_forms_the_stores_write() {
        let micros = DateTime::parse_from_rfc3339("2026-10-16T18:34:04.804306Z").unwrap();
        for text in [
            "2026-10-16T18:34:04.804306+00:00",
            "2026-10-16T20:34:04.804306+02:00",
            "2026-10-16 18:34:04.804306",
        ] {
            assert_eq!(time(text).unwrap(), micros, "{text}");
        }
        let nanos = time("2026-10-16T18:34:04.804306698+00:00").unwrap();
        assert_eq!(nanos.timestamp_subsec_nanos(), 804_306_698);
        assert!(time("yesterday").is_err());
    }
}
