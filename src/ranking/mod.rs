//! Ranked lists in storage: a program backlog or a team backlog is the rows of
//! one table with the same scope (program or team), ordered by `rank_key`.
//! [`key`] is the pure key arithmetic; this module reads the neighbours of a
//! move and respaces a list when its keys grow too long.
//!
//! Callers lock the scope's parent row first (`SELECT … FOR UPDATE` on
//! PostgreSQL; SQLite has one writer at a time), and a unique index on
//! (scope, rank_key) guards the total order whatever happens.

pub mod key;

use sea_orm::{
    ConnectionTrait, ExprTrait, Order,
    sea_query::{Expr, Query},
};

use crate::error::{AppError, AppResult};

/// A ranked table: its name and the column that scopes one list.
#[derive(Clone, Copy, Debug)]
pub struct RankedList {
    pub table: &'static str,
    pub scope_column: &'static str,
    pub scope: i64,
}

/// Where an item goes relative to another item of the same list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    Before,
    After,
}

impl RankedList {
    /// The key next to `key`, below it (`Before`) or above it (`After`),
    /// ignoring the row `except`.
    async fn neighbour(
        &self,
        conn: &impl ConnectionTrait,
        key: &str,
        side: Place,
        except: i64,
    ) -> AppResult<Option<String>> {
        let (cmp, order) = match side {
            Place::Before => (Expr::col("rank_key").lt(key), Order::Desc),
            Place::After => (Expr::col("rank_key").gt(key), Order::Asc),
        };
        let stmt = Query::select()
            .column("rank_key")
            .from(self.table)
            .and_where(Expr::col(self.scope_column).eq(self.scope))
            .and_where(cmp)
            .and_where(Expr::col("id").ne(except))
            .order_by("rank_key", order)
            .limit(1)
            .to_owned();
        let row = conn.query_one(&stmt).await?;
        Ok(match row {
            Some(row) => Some(row.try_get::<String>("", "rank_key")?),
            None => None,
        })
    }

    /// The key for a new item at the bottom of the list.
    pub async fn bottom_key(&self, conn: &impl ConnectionTrait) -> AppResult<String> {
        let stmt = Query::select()
            .expr_as(Expr::col("rank_key").max(), "rank_key")
            .from(self.table)
            .and_where(Expr::col(self.scope_column).eq(self.scope))
            .to_owned();
        let last: Option<String> = match conn.query_one(&stmt).await? {
            Some(row) => row.try_get("", "rank_key")?,
            None => None,
        };
        key::between(last.as_deref(), None).ok_or_else(|| corrupt(self, last.as_deref()))
    }

    /// The new key of `item` placed before or after the row whose key is
    /// `anchor_key`. The caller writes it to the item's row, then calls
    /// [`RankedList::respace_if_long`].
    pub async fn key_next_to(
        &self,
        conn: &impl ConnectionTrait,
        item: i64,
        anchor_key: &str,
        place: Place,
    ) -> AppResult<String> {
        let other = self.neighbour(conn, anchor_key, place, item).await?;
        let (lo, hi) = match place {
            Place::Before => (other.as_deref(), Some(anchor_key)),
            Place::After => (Some(anchor_key), other.as_deref()),
        };
        key::between(lo, hi).ok_or_else(|| corrupt(self, Some(anchor_key)))
    }

    /// Moves row `item` right before or after row `anchor` of this list:
    /// writes the item's new key (one row), then respaces the list if the key
    /// grew too long. `Ok(false)` when the anchor is not in this list.
    pub async fn move_next_to(
        &self,
        conn: &impl ConnectionTrait,
        now: chrono::DateTime<chrono::Utc>,
        item: i64,
        anchor: i64,
        place: Place,
    ) -> AppResult<bool> {
        let stmt = Query::select()
            .column("rank_key")
            .from(self.table)
            .and_where(Expr::col("id").eq(anchor))
            .and_where(Expr::col(self.scope_column).eq(self.scope))
            .to_owned();
        let anchor_key: String = match conn.query_one(&stmt).await? {
            Some(row) => row.try_get("", "rank_key")?,
            None => return Ok(false),
        };
        let key = self.key_next_to(conn, item, &anchor_key, place).await?;
        let update = Query::update()
            .table(self.table)
            .value("rank_key", key.clone())
            .value("updated_at", now)
            .and_where(Expr::col("id").eq(item))
            .to_owned();
        conn.execute(&update).await?;
        self.respace_if_long(conn, &key).await?;
        Ok(true)
    }

    /// Respaces the whole list, in its current order, when `new_key` is longer
    /// than [`key::MAX_LEN`]. Returns how many rows were rewritten (0 mostly).
    pub async fn respace_if_long(
        &self,
        conn: &impl ConnectionTrait,
        new_key: &str,
    ) -> AppResult<u64> {
        if new_key.len() <= key::MAX_LEN {
            return Ok(0);
        }
        let stmt = Query::select()
            .column("id")
            .from(self.table)
            .and_where(Expr::col(self.scope_column).eq(self.scope))
            .order_by("rank_key", Order::Asc)
            .to_owned();
        let ids: Vec<i64> = conn
            .query_all(&stmt)
            .await?
            .iter()
            .map(|row| row.try_get::<i64>("", "id"))
            .collect::<Result<_, _>>()?;
        // Park every key outside the key alphabet ('~' sorts after 'z'), so
        // the unique index never sees two rows with one key while rewriting.
        let park = Query::update()
            .table(self.table)
            .value("rank_key", Expr::cust("'~' || rank_key"))
            .and_where(Expr::col(self.scope_column).eq(self.scope))
            .to_owned();
        conn.execute(&park).await?;
        for (id, new) in ids.iter().zip(key::spread(ids.len())) {
            let stmt = Query::update()
                .table(self.table)
                .value("rank_key", new)
                .and_where(Expr::col("id").eq(*id))
                .to_owned();
            conn.execute(&stmt).await?;
        }
        tracing::info!(
            table = self.table,
            scope = self.scope,
            rows = ids.len(),
            "respaced rank keys"
        );
        Ok(ids.len() as u64 + 1)
    }
}

fn corrupt(list: &RankedList, near: Option<&str>) -> AppError {
    AppError::Internal(
        format!(
            "no rank key fits in {} scope {} near {near:?}",
            list.table, list.scope
        )
        .into(),
    )
}
