//! Relay cursor connections: `first`/`after` checked against the page-size
//! settings, opaque cursors, `pageInfo` and `totalCount`.

use async_graphql::{
    SimpleObject,
    connection::{Connection, Edge},
};

pub use crate::page::{Cursor, Page, PageLimits, cursor};

/// Fields every connection has beyond Relay's.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ConnectionTotals {
    /// How many items the whole list holds, across all pages.
    pub total_count: u64,
}

/// A connection whose cursors are opaque strings.
pub type KeyedConnection<T> = Connection<Cursor, T, ConnectionTotals>;

/// Builds a connection from `rows` fetched with [`Page::fetch`] as the limit.
pub fn connection<R, T>(
    page: &Page,
    mut rows: Vec<R>,
    total_count: u64,
    key: impl Fn(&R) -> i64,
    node: impl Fn(R) -> T,
) -> KeyedConnection<T>
where
    T: async_graphql::OutputType,
{
    let has_next = rows.len() as u64 > page.limit;
    rows.truncate(page.shown());
    let mut conn = Connection::with_additional_fields(
        page.after.is_some(),
        has_next,
        ConnectionTotals { total_count },
    );
    conn.edges = rows
        .into_iter()
        .map(|row| Edge::new(Cursor(key(&row)), node(row)))
        .collect();
    conn
}

/// Builds a connection over a list read by offset: the cursor of an item is
/// its position (1-based) in the whole list, and `page.after` an offset.
pub fn connection_by_position<R, T>(
    page: &Page,
    mut rows: Vec<R>,
    total_count: u64,
    node: impl Fn(R) -> T,
) -> KeyedConnection<T>
where
    T: async_graphql::OutputType,
{
    let has_next = rows.len() as u64 > page.limit;
    rows.truncate(page.shown());
    let start = page.after.unwrap_or(0);
    let mut conn =
        Connection::with_additional_fields(start > 0, has_next, ConnectionTotals { total_count });
    conn.edges = rows
        .into_iter()
        .zip(start + 1..)
        .map(|(row, position)| Edge::new(Cursor(position), node(row)))
        .collect();
    conn
}
