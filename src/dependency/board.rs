//! The program board of an increment, as stored: the increment, its
//! iterations, the program's teams, the stories planned into the increment
//! and those waiting for it, and every dependency that touches them. Read
//! with a fixed number of statements, whatever the number of teams and
//! stories. The API's `Board` type is built from it in `graphql.rs`.

use entity::{feature, increment, iteration, story, team};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, sea_query::Query,
};

use super::service::{self, Assessed, Filter};
use crate::{db::Spawned, error::AppResult, ids::IncrementId, increment::service::find_in_program};

/// What the board of one increment shows.
pub struct BoardData {
    pub increment: increment::Model,
    /// In order.
    pub iterations: Vec<iteration::Model>,
    /// By name.
    pub teams: Vec<team::Model>,
    /// Stories planned into one of the iterations, in rank order.
    pub planned: Vec<story::Model>,
    /// Stories with no iteration whose feature targets the increment.
    pub unplanned: Vec<story::Model>,
    /// Every dependency with an end on the board, still being read when
    /// asked for; `None` when not.
    pub dependencies: Option<PendingDependencies>,
    /// Capacities set per (team, iteration).
    pub capacities: std::collections::HashMap<(i64, i64), i32>,
}

/// The board's dependencies, read on a task of their own while the rest of
/// the board is answered: on two cores the 12,500 cards' fields resolve
/// while the database reads the dependencies. Dropped unread, the read is
/// cancelled.
pub type PendingDependencies = Spawned<Vec<Assessed>>;

/// Most cards of the unplanned column: the first in rank order.
pub const MOST_UNPLANNED: u64 = 10_000;

/// The stories with no iteration whose feature targets increment
/// `increment_id` (so of its program's teams), the first `most` in rank
/// order.
pub async fn unplanned(
    conn: &impl ConnectionTrait,
    increment_id: i64,
    light: bool,
    most: u64,
) -> Result<Vec<story::Model>, DbErr> {
    let targeted = Query::select()
        .column(feature::Column::Id)
        .from(feature::Entity)
        .and_where(feature::Column::TargetIncrementId.eq(increment_id))
        .to_owned();
    let select = story::Entity::find()
        .filter(story::Column::IterationId.is_null())
        .filter(story::Column::FeatureId.in_subquery(targeted));
    // Sorting in the database cost SQLite more than the read (10 of 4 ms
    // for 3,750 cards): read them unordered, and only when there are more
    // than `most` read again the first `most` in order.
    let mut cards =
        crate::backlog::packed::cards(conn, select.clone().limit(most + 1), light).await?;
    if cards.len() as u64 > most {
        let first = select.order_by_asc(story::Column::RankKey).limit(most);
        cards = crate::backlog::packed::cards(conn, first, light).await?;
    }
    // Rank order is byte order, as the column's collation.
    cards.sort_by(|a, b| a.rank_key.cmp(&b.rank_key));
    Ok(cards)
}

/// The board of increment `increment_id` of program `program_id`; with
/// `light`, its cards as
/// [`crate::backlog::packed::cards`] reads them (for a query that asks none
/// of [`crate::backlog::packed::NOT_ON_CARDS`]).
/// Its dependencies are read only `with_dependencies`.
pub async fn load(
    conn: &DatabaseConnection,
    program_id: i64,
    increment_id: IncrementId,
    light: bool,
    with_dependencies: bool,
) -> AppResult<BoardData> {
    let increment = find_in_program(conn, "incrementId", program_id, increment_id.0).await?;
    let iterations = iteration::Entity::find()
        .filter(iteration::Column::IncrementId.eq(increment.id))
        .order_by_asc(iteration::Column::Number)
        .all(conn)
        .await?;
    let teams = team::Entity::find()
        .filter(team::Column::ProgramId.eq(program_id))
        .order_by_asc(team::Column::Name)
        .all(conn)
        .await?;
    let team_ids: Vec<i64> = teams.iter().map(|t| t.id).collect();
    let iteration_ids: Vec<i64> = iterations.iter().map(|i| i.id).collect();
    // Every dependency with an end on the board (none when it has no card).
    let dependencies = with_dependencies.then(|| {
        let filter = Filter {
            program: Some(program_id),
            on_board: Some((increment.id, iteration_ids.clone())),
            ..Default::default()
        };
        let conn = conn.clone();
        PendingDependencies::new(async move { service::assessed(&conn, &filter).await })
    });
    // The other big reads depend only on the teams and iterations too, so
    // they run at once, each on a connection of its own: on two cores the
    // board waits for the longest of them instead of their sum.
    // The planned cards, the most, are read in two halves of the
    // iterations, so that both cores read them.
    let halves = iteration_ids.chunks(iteration_ids.len().div_ceil(2).max(1));
    let planned = futures_util::future::try_join_all(halves.map(|half| {
        let select = story::Entity::find()
            .filter(story::Column::TeamId.is_in(team_ids.clone()))
            .filter(story::Column::IterationId.is_in(half.to_vec()));
        crate::backlog::packed::cards(conn, select, light)
    }));
    let unplanned = unplanned(conn, increment.id, light, MOST_UNPLANNED);
    let capacities = crate::planning::service::capacities(conn, &team_ids, &iteration_ids);
    let (planned, unplanned, capacities) = tokio::try_join!(planned, unplanned, capacities)?;
    // In rank order: byte order, as the column's collation.
    let mut planned = planned.concat();
    planned.sort_by(|a, b| a.rank_key.cmp(&b.rank_key));
    Ok(BoardData {
        capacities,
        increment,
        iterations,
        teams,
        planned,
        unplanned,
        dependencies,
    })
}
