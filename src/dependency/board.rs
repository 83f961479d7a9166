//! The program board of an increment, as stored: the increment, its
//! iterations, the program's teams, the stories planned into the increment
//! and those waiting for it, and every dependency that touches them. Read
//! with a fixed number of statements, whatever the number of teams and
//! stories. The API's `Board` type is built from it in `graphql.rs`.

use entity::{feature, increment, iteration, story, team};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Query,
};

use super::service::{self, Assessed, Filter};
use crate::{error::AppResult, ids::IncrementId, increment::service::find_in_program};

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
    pub dependencies: Vec<Assessed>,
    /// Capacities set per (team, iteration).
    pub capacities: std::collections::HashMap<(i64, i64), i32>,
}

/// The board of increment `increment_id` of program `program_id`.
/// Reads the board; with `light`, its cards as
/// [`crate::backlog::packed::cards`] reads them (for a query that asks none
/// of [`crate::backlog::packed::NOT_ON_CARDS`]).
pub async fn load(
    conn: &impl ConnectionTrait,
    program_id: i64,
    increment_id: IncrementId,
    light: bool,
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
    // The four big reads depend only on the teams and iterations, so they
    // run at once, each on a connection of its own when `conn` is the pool:
    // on two cores the 12,500-card board waits for the longest of them
    // instead of their sum.
    let planned = async {
        // Thousands of cards: read packed, then put in rank order (byte
        // order, as the column's collation).
        let select = story::Entity::find()
            .filter(story::Column::TeamId.is_in(team_ids.clone()))
            .filter(story::Column::IterationId.is_in(iteration_ids.clone()));
        let mut planned = crate::backlog::packed::cards(conn, select, light).await?;
        planned.sort_by(|a, b| a.rank_key.cmp(&b.rank_key));
        Ok::<_, DbErr>(planned)
    };
    let unplanned = async {
        let targeted = Query::select()
            .column(feature::Column::Id)
            .from(feature::Entity)
            .and_where(feature::Column::TargetIncrementId.eq(increment.id))
            .to_owned();
        // Features are the program's, so their stories are its teams'.
        let select = story::Entity::find()
            .filter(story::Column::IterationId.is_null())
            .filter(story::Column::FeatureId.in_subquery(targeted))
            .order_by_asc(story::Column::RankKey)
            .limit(10_000);
        let mut unplanned = crate::backlog::packed::cards(conn, select, light).await?;
        unplanned.sort_by(|a, b| a.rank_key.cmp(&b.rank_key));
        Ok(unplanned)
    };
    // Every dependency with an end on the board (none when it has no card).
    let filter = Filter {
        program: Some(program_id),
        on_board: Some((increment.id, iteration_ids.clone())),
        ..Default::default()
    };
    let dependencies = service::assessed(conn, &filter);
    let capacities = crate::planning::service::capacities(conn, &team_ids, &iteration_ids);
    let (planned, unplanned, dependencies, capacities) =
        tokio::try_join!(planned, unplanned, dependencies, capacities)?;
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
