//! Relay cursor connections: `first`/`after` checked against the page-size
//! settings, opaque cursors, `pageInfo` and `totalCount`.

use async_graphql::{
    SimpleObject,
    connection::{Connection, Edge},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{AppError, AppResult};

/// Page-size settings, kept in the schema data.
#[derive(Clone, Copy, Debug)]
pub struct PageLimits {
    pub default: u32,
    pub max: u32,
}

/// A checked page request over a list ordered by a numeric key.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    /// How many items to return.
    pub limit: u64,
    /// Return items strictly after this key.
    pub after: Option<i64>,
}

impl Page {
    /// Checks `first` and `after`; BAD_USER_INPUT when out of range or malformed.
    pub fn new(limits: PageLimits, first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let limit = match first {
            None => limits.default,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| *n <= limits.max)
                .ok_or_else(|| {
                    AppError::bad_input(format!(
                        "first must be between 0 and {} (got {n})",
                        limits.max
                    ))
                })?,
        };
        let after = after.map(decode_cursor).transpose()?;
        Ok(Self {
            limit: u64::from(limit),
            after,
        })
    }

    /// Rows to fetch: one more than the page, to learn whether more follow.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }
}

/// The opaque cursor of the item with key `key`.
pub fn cursor(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{key}"))
}

fn decode_cursor(cursor: &str) -> AppResult<i64> {
    let malformed = || AppError::bad_input(format!("after: {cursor:?} is not a valid cursor"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    text.strip_prefix("cursor:")
        .and_then(|n| n.parse().ok())
        .ok_or_else(malformed)
}

/// Fields every connection has beyond Relay's.
#[derive(SimpleObject, Clone, Copy, Debug)]
pub struct ConnectionTotals {
    /// How many items the whole list holds, across all pages.
    pub total_count: u64,
}

/// A connection whose cursors are opaque strings.
pub type KeyedConnection<T> = Connection<String, T, ConnectionTotals>;

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
    rows.truncate(usize::try_from(page.limit).unwrap_or(usize::MAX));
    let mut conn = Connection::with_additional_fields(
        page.after.is_some(),
        has_next,
        ConnectionTotals { total_count },
    );
    conn.edges = rows
        .into_iter()
        .map(|row| Edge::new(cursor(key(&row)), node(row)))
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
    rows.truncate(usize::try_from(page.limit).unwrap_or(usize::MAX));
    let start = page.after.unwrap_or(0);
    let mut conn =
        Connection::with_additional_fields(start > 0, has_next, ConnectionTotals { total_count });
    conn.edges = rows
        .into_iter()
        .zip(start + 1..)
        .map(|(row, position)| Edge::new(cursor(position), node(row)))
        .collect();
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits {
        default: 50,
        max: 100,
    };

    #[test]
    fn page_sizes_are_checked() {
        assert_eq!(Page::new(LIMITS, None, None).unwrap().limit, 50);
        assert_eq!(Page::new(LIMITS, Some(0), None).unwrap().limit, 0);
        assert_eq!(Page::new(LIMITS, Some(100), None).unwrap().limit, 100);
        assert!(Page::new(LIMITS, Some(101), None).is_err());
        assert!(Page::new(LIMITS, Some(-1), None).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let page = Page::new(LIMITS, None, Some(&cursor(17))).unwrap();
        assert_eq!(page.after, Some(17));
        assert!(Page::new(LIMITS, None, Some("nope")).is_err());
        assert!(Page::new(LIMITS, None, Some(&URL_SAFE_NO_PAD.encode("cursor:x"))).is_err());
    }
}
