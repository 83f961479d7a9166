//! The program board of an increment: rows are teams, columns are the
//! increment's iterations and then the stories not planned into it, cells
//! hold stories; and every dependency that touches those stories. Built with
//! a fixed number of queries, whatever the number of teams and stories.

use async_graphql::{Context, ID, SimpleObject};
use entity::{feature, program, story};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Query};

use super::{
    graphql::Dependency,
    service::{self, Filter},
};
use crate::{
    backlog::graphql::Story,
    error::AppResult,
    graphql::{
        self as gql,
        id::{Kind, decode_as},
        loaders::{IterationsByIncrement, TeamsByProgram},
    },
    increment::{
        graphql::{Increment, Iteration},
        service::require_in_program,
    },
    team::graphql::Team,
};

/// A column of the board.
#[derive(SimpleObject)]
pub struct BoardColumn {
    /// The iteration; null for the column of stories not planned into the increment.
    pub iteration: Option<Iteration>,
    /// "Iteration 1", …, or "Unplanned".
    pub title: String,
}

/// One team's cells, in column order.
#[derive(SimpleObject)]
pub struct BoardRow {
    /// The team.
    pub team: Team,
    /// One cell per column.
    pub cells: Vec<BoardCell>,
}

/// The stories of one team in one column, in backlog rank order.
#[derive(SimpleObject)]
pub struct BoardCell {
    /// The column's iteration; null in the unplanned column.
    pub iteration: Option<Iteration>,
    /// The stories.
    pub stories: Vec<Story>,
}

/// The program board of an increment.
#[derive(SimpleObject)]
pub struct Board {
    /// The increment.
    pub increment: Increment,
    /// The iterations in order, then "Unplanned": stories with no iteration
    /// whose feature targets this increment.
    pub columns: Vec<BoardColumn>,
    /// One row per team of the program, teams by name.
    pub rows: Vec<BoardRow>,
    /// Every dependency whose dependent or provider story is on the board.
    pub dependencies: Vec<Dependency>,
}

/// `Program.board`.
pub async fn board(
    ctx: &Context<'_>,
    program: &program::Model,
    increment_id: &ID,
) -> AppResult<Board> {
    let increment_id = decode_as(Kind::Increment, "incrementId", increment_id)?;
    let conn = gql::store(ctx)?.conn();
    let increment = require_in_program(conn, "incrementId", program.id, increment_id).await?;
    let iterations = gql::load_one(ctx, IterationsByIncrement(increment.id))
        .await?
        .unwrap_or_default();
    let teams = gql::load_one(ctx, TeamsByProgram(program.id))
        .await?
        .unwrap_or_default();
    let team_ids: Vec<i64> = teams.iter().map(|t| t.id).collect();
    let planned = story::Entity::find()
        .filter(story::Column::TeamId.is_in(team_ids.clone()))
        .filter(story::Column::IterationId.is_in(iterations.iter().map(|i| i.id)))
        .order_by_asc(story::Column::RankKey)
        .all(conn)
        .await?;
    let targeted = Query::select()
        .column(feature::Column::Id)
        .from(feature::Entity)
        .and_where(feature::Column::TargetIncrementId.eq(increment.id))
        .to_owned();
    let unplanned = story::Entity::find()
        .filter(story::Column::TeamId.is_in(team_ids))
        .filter(story::Column::IterationId.is_null())
        .filter(story::Column::FeatureId.in_subquery(targeted))
        .order_by_asc(story::Column::RankKey)
        .limit(10_000)
        .all(conn)
        .await?;
    let on_board: Vec<i64> = planned.iter().chain(&unplanned).map(|s| s.id).collect();
    let dependencies = if on_board.is_empty() {
        Vec::new()
    } else {
        let filter = Filter {
            program: Some(program.id),
            touching: Some(on_board),
            ..Default::default()
        };
        service::assessed(conn, &filter).await?
    };
    let mut columns: Vec<BoardColumn> = iterations
        .iter()
        .map(|it| BoardColumn {
            iteration: Some(Iteration(it.clone())),
            title: format!("Iteration {}", it.number),
        })
        .collect();
    columns.push(BoardColumn {
        iteration: None,
        title: "Unplanned".to_owned(),
    });
    let rows = teams
        .into_iter()
        .map(|team| {
            let mut cells: Vec<BoardCell> = iterations
                .iter()
                .map(|it| BoardCell {
                    iteration: Some(Iteration(it.clone())),
                    stories: planned
                        .iter()
                        .filter(|s| s.team_id == team.id && s.iteration_id == Some(it.id))
                        .cloned()
                        .map(Story)
                        .collect(),
                })
                .collect();
            cells.push(BoardCell {
                iteration: None,
                stories: unplanned
                    .iter()
                    .filter(|s| s.team_id == team.id)
                    .cloned()
                    .map(Story)
                    .collect(),
            });
            BoardRow {
                team: Team(team),
                cells,
            }
        })
        .collect();
    Ok(Board {
        increment: Increment(increment),
        columns,
        rows,
        dependencies: dependencies.into_iter().map(Dependency::from).collect(),
    })
}
