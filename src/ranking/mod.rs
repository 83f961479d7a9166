//! Ranked lists in storage: a program backlog or a team backlog is the rows of
//! one table with the same scope (program or team), ordered by `rank_key`.
//! [`key`] is the pure key arithmetic; this module reads the neighbours of a
//! move and respaces a list when its keys grow too long.
//!
//! Callers change a list only under its program's write lock, which a unit
//! of work takes with its first lookup (`crate::work`; SQLite has one writer
//! at a time), and a unique index on (scope, rank_key) guards the total
//! order whatever happens.

pub mod key;

use sea_orm::{
    ConnectionTrait, ExprTrait, FromQueryResult, Order,
    sea_query::{Asterisk, Expr, Query, SubQueryStatement},
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

    /// The new key of `item` placed right before or after row `anchor`, or
    /// `None` when the anchor is not in this list (or is the item). One
    /// statement reads the anchor's key and its neighbour's on that side
    /// (the item itself left out). The caller writes the key to the item's
    /// row, then calls [`RankedList::respace_if_long`].
    async fn key_next_to(
        &self,
        conn: &impl ConnectionTrait,
        item: i64,
        anchor: i64,
        place: Place,
    ) -> AppResult<Option<String>> {
        let anchor_key = Query::select()
            .column("rank_key")
            .from(self.table)
            .and_where(Expr::col("id").eq(anchor))
            .and_where(Expr::col(self.scope_column).eq(self.scope))
            .to_owned();
        let anchor_key = Expr::from(SubQueryStatement::from(anchor_key));
        let (side, order) = match place {
            Place::Before => (Expr::col("rank_key").lte(anchor_key), Order::Desc),
            Place::After => (Expr::col("rank_key").gte(anchor_key), Order::Asc),
        };
        let stmt = Query::select()
            .columns(["id", "rank_key"])
            .from(self.table)
            .and_where(Expr::col(self.scope_column).eq(self.scope))
            .and_where(side)
            .and_where(Expr::col("id").ne(item))
            .order_by("rank_key", order)
            .limit(2)
            .to_owned();
        let rows = conn.query_all(&stmt).await?;
        // The keys are unique in a list: the first row is the anchor's.
        let mut keys = Vec::with_capacity(2);
        for row in &rows {
            keys.push((
                row.try_get::<i64>("", "id")?,
                row.try_get::<String>("", "rank_key")?,
            ));
        }
        let anchor_key = match keys.first() {
            Some((id, key)) if *id == anchor => key.as_str(),
            _ => return Ok(None),
        };
        let other = keys.get(1).map(|(_, key)| key.as_str());
        let (lo, hi) = match place {
            Place::Before => (other, Some(anchor_key)),
            Place::After => (Some(anchor_key), other),
        };
        key::between(lo, hi)
            .map(Some)
            .ok_or_else(|| corrupt(self, Some(anchor_key)))
    }

    /// Moves row `item` right before or after row `anchor` of this list:
    /// writes the item's new key (one row), then respaces the list if the key
    /// grew too long. The item's row as written, or `None` when the anchor is
    /// not in this list (or is the item). Three statements: the anchor's key
    /// with its neighbour's, the write, which returns the row, and (rarely)
    /// the respacing with a read of the row after it.
    pub async fn move_next_to<M: FromQueryResult>(
        &self,
        conn: &impl ConnectionTrait,
        now: chrono::DateTime<chrono::Utc>,
        item: i64,
        anchor: i64,
        place: Place,
    ) -> AppResult<Option<M>> {
        let Some(key) = self.key_next_to(conn, item, anchor, place).await? else {
            return Ok(None);
        };
        let update = Query::update()
            .table(self.table)
            .value("rank_key", key.clone())
            .value("updated_at", now)
            .and_where(Expr::col("id").eq(item))
            .returning_all()
            .to_owned();
        let vanished = || AppError::Internal(format!("{} {item} vanished", self.table).into());
        let mut row = conn.query_one(&update).await?.ok_or_else(vanished)?;
        if self.respace_if_long(conn, &key).await? > 0 {
            // The respacing rewrote the key: the row as it is now.
            let read = Query::select()
                .column(Asterisk)
                .from(self.table)
                .and_where(Expr::col("id").eq(item))
                .to_owned();
            row = conn.query_one(&read).await?.ok_or_else(vanished)?;
        }
        Ok(Some(M::from_query_result(&row, "")?))
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
