//! Capacity, load and confidence votes in storage. Knows nothing of GraphQL.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{confidence_vote, increment, iteration, story, team_capacity};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};

use crate::error::{AppError, AppResult};

/// The most points a team's capacity in one iteration may be.
pub const MAX_CAPACITY: i32 = 1_000;

/// Checks a capacity: 0 to 1,000 points.
pub fn capacity_points(points: i32) -> AppResult<i32> {
    if (0..=MAX_CAPACITY).contains(&points) {
        Ok(points)
    } else {
        Err(AppError::bad_input(format!(
            "points: a capacity is 0 to {MAX_CAPACITY} points (got {points})"
        )))
    }
}

/// Checks a confidence vote: 1 to 5.
pub fn vote_value(value: i32) -> AppResult<i32> {
    if (1..=5).contains(&value) {
        Ok(value)
    } else {
        Err(AppError::bad_input(format!(
            "value: a confidence vote is 1 to 5 (got {value})"
        )))
    }
}

/// The iteration `id` when it belongs to program `program_id`; a bad input
/// naming `field` otherwise.
pub async fn iteration_of_program(
    conn: &impl ConnectionTrait,
    field: &str,
    program_id: i64,
    id: i64,
) -> AppResult<iteration::Model> {
    let found = iteration::Entity::find_by_id(id)
        .find_also_related(increment::Entity)
        .one(conn)
        .await?;
    match found {
        Some((it, Some(inc))) if inc.program_id == program_id => Ok(it),
        _ => Err(AppError::bad_input(format!(
            "{field}: no iteration of this program has that ID"
        ))),
    }
}

/// Sets (or, with `None`, removes) a team's capacity in an iteration.
pub async fn set_capacity(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    team_id: i64,
    iteration_id: i64,
    points: Option<i32>,
    by: Option<i64>,
) -> AppResult<()> {
    match points {
        None => {
            team_capacity::Entity::delete_by_id((team_id, iteration_id))
                .exec(conn)
                .await?;
        }
        Some(points) => {
            let row = team_capacity::ActiveModel {
                team_id: sea_orm::Set(team_id),
                iteration_id: sea_orm::Set(iteration_id),
                points: sea_orm::Set(capacity_points(points)?),
                set_at: sea_orm::Set(now),
                set_by_id: sea_orm::Set(by),
            };
            team_capacity::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([
                        team_capacity::Column::TeamId,
                        team_capacity::Column::IterationId,
                    ])
                    .update_columns([
                        team_capacity::Column::Points,
                        team_capacity::Column::SetAt,
                        team_capacity::Column::SetById,
                    ])
                    .to_owned(),
                )
                .exec_without_returning(conn)
                .await?;
        }
    }
    Ok(())
}

/// A (team, iteration) pair.
pub type Slot = (i64, i64);

/// The capacities set for these teams in these iterations.
pub async fn capacities(
    conn: &impl ConnectionTrait,
    teams: &[i64],
    iterations: &[i64],
) -> Result<HashMap<Slot, i32>, sea_orm::DbErr> {
    if teams.is_empty() || iterations.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(team_capacity::Entity::find()
        .filter(team_capacity::Column::TeamId.is_in(teams.to_vec()))
        .filter(team_capacity::Column::IterationId.is_in(iterations.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| ((c.team_id, c.iteration_id), c.points))
        .collect())
}

/// The load of these teams in these iterations: the points of the team's
/// stories planned into the iteration, whatever their state (unestimated
/// stories count 0). A pair with no story is absent.
pub async fn loads(
    conn: &impl ConnectionTrait,
    teams: &[i64],
    iterations: &[i64],
) -> Result<HashMap<Slot, i32>, sea_orm::DbErr> {
    if teams.is_empty() || iterations.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = story::Entity::find()
        .select_only()
        .column(story::Column::TeamId)
        .column(story::Column::IterationId)
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(points), 0) AS BIGINT)"),
            "load",
        )
        .filter(story::Column::TeamId.is_in(teams.to_vec()))
        .filter(story::Column::IterationId.is_in(iterations.to_vec()))
        .group_by(story::Column::TeamId)
        .group_by(story::Column::IterationId)
        .into_tuple()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(team, iteration, load)| {
            Some((
                (team, iteration?),
                i32::try_from(load.unwrap_or(0)).unwrap_or(i32::MAX),
            ))
        })
        .collect())
}

/// A team's capacity and load in one iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub team_id: i64,
    pub iteration_id: i64,
    /// None when no capacity is set.
    pub capacity: Option<i32>,
    pub load: i32,
}

impl Load {
    /// Whether the load is over the capacity; None when no capacity is set.
    pub fn overloaded(&self) -> Option<bool> {
        self.capacity.map(|c| self.load > c)
    }

    /// What an event says of it.
    pub fn to_json(self) -> serde_json::Value {
        serde_json::json!({
            "teamId": crate::ids::global(crate::ids::Kind::Team, self.team_id),
            "iterationId": crate::ids::global(crate::ids::Kind::Iteration, self.iteration_id),
            "capacity": self.capacity,
            "load": self.load,
            "overloaded": self.overloaded(),
        })
    }
}

/// A team's capacity and load in one iteration, read now.
pub async fn load_of(
    conn: &impl ConnectionTrait,
    team_id: i64,
    iteration_id: i64,
) -> AppResult<Load> {
    let capacity = capacity_of(conn, team_id, iteration_id).await?;
    load_under(conn, team_id, iteration_id, capacity).await
}

/// [`load_of`] where the team has set a capacity for the iteration; None
/// (and no load read) where it has not.
pub async fn limited_load_of(
    conn: &impl ConnectionTrait,
    team_id: i64,
    iteration_id: i64,
) -> AppResult<Option<Load>> {
    match capacity_of(conn, team_id, iteration_id).await? {
        None => Ok(None),
        capacity => Ok(Some(
            load_under(conn, team_id, iteration_id, capacity).await?,
        )),
    }
}

/// The capacity the team set for the iteration, if any.
async fn capacity_of(
    conn: &impl ConnectionTrait,
    team_id: i64,
    iteration_id: i64,
) -> AppResult<Option<i32>> {
    Ok(capacities(conn, &[team_id], &[iteration_id])
        .await?
        .get(&(team_id, iteration_id))
        .copied())
}

async fn load_under(
    conn: &impl ConnectionTrait,
    team_id: i64,
    iteration_id: i64,
    capacity: Option<i32>,
) -> AppResult<Load> {
    let slot = (team_id, iteration_id);
    let load = loads(conn, &[team_id], &[iteration_id])
        .await?
        .get(&slot)
        .copied()
        .unwrap_or(0);
    Ok(Load {
        team_id,
        iteration_id,
        capacity,
        load,
    })
}

/// Records `user_id`'s vote for `team_id`'s plan of `increment_id`,
/// replacing an earlier one.
pub async fn vote(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    increment_id: i64,
    team_id: i64,
    user_id: i64,
    value: i32,
) -> AppResult<confidence_vote::Model> {
    let row = confidence_vote::ActiveModel {
        increment_id: sea_orm::Set(increment_id),
        team_id: sea_orm::Set(team_id),
        user_id: sea_orm::Set(user_id),
        value: sea_orm::Set(vote_value(value)?),
        voted_at: sea_orm::Set(now),
    };
    confidence_vote::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([
                confidence_vote::Column::IncrementId,
                confidence_vote::Column::TeamId,
                confidence_vote::Column::UserId,
            ])
            .update_columns([
                confidence_vote::Column::Value,
                confidence_vote::Column::VotedAt,
            ])
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    confidence_vote::Entity::find_by_id((increment_id, team_id, user_id))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::Internal("a vote just written is missing".into()))
}

/// The votes of an increment, of the given teams only when `teams` is set,
/// oldest first.
pub async fn votes(
    conn: &impl ConnectionTrait,
    increment_id: i64,
    teams: Option<&[i64]>,
) -> Result<Vec<confidence_vote::Model>, sea_orm::DbErr> {
    let mut query = confidence_vote::Entity::find()
        .filter(confidence_vote::Column::IncrementId.eq(increment_id));
    if let Some(teams) = teams {
        query = query.filter(confidence_vote::Column::TeamId.is_in(teams.to_vec()));
    }
    query
        .order_by_asc(confidence_vote::Column::VotedAt)
        .order_by_asc(confidence_vote::Column::UserId)
        .all(conn)
        .await
}

/// Count, average and the votes below 3 of some votes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tally {
    pub count: i32,
    pub average: Option<f64>,
    /// Votes of 1 or 2, oldest first.
    pub low: Vec<confidence_vote::Model>,
}

impl Tally {
    pub fn of(votes: &[confidence_vote::Model]) -> Self {
        let count = votes.len();
        let sum: i64 = votes.iter().map(|v| i64::from(v.value)).sum();
        Self {
            count: i32::try_from(count).unwrap_or(i32::MAX),
            #[allow(clippy::cast_precision_loss)]
            average: (count > 0).then(|| sum as f64 / count as f64),
            low: votes.iter().filter(|v| v.value < 3).cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(value: i32) -> confidence_vote::Model {
        confidence_vote::Model {
            increment_id: 1,
            team_id: 1,
            user_id: i64::from(value),
            value,
            voted_at: Utc::now(),
        }
    }

    #[test]
    fn a_tally_counts_averages_and_lists_low_votes() {
        assert_eq!(Tally::of(&[]), Tally::default());
        let t = Tally::of(&[vote(5), vote(2), vote(4), vote(1)]);
        assert_eq!(t.count, 4);
        assert_eq!(t.average, Some(3.0));
        assert_eq!(
            t.low.iter().map(|v| v.value).collect::<Vec<_>>(),
            vec![2, 1]
        );
    }

    #[test]
    fn values_out_of_range_are_refused_naming_the_field() {
        assert!(capacity_points(0).is_ok() && capacity_points(1000).is_ok());
        let err = capacity_points(1001).unwrap_err();
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert!(err.message().starts_with("points:"));
        assert!(capacity_points(-1).is_err());
        assert!(vote_value(1).is_ok() && vote_value(5).is_ok());
        assert!(vote_value(0).unwrap_err().message().starts_with("value:"));
        assert!(vote_value(6).is_err());
    }

    #[test]
    fn overloaded_is_unknown_without_a_capacity() {
        let mut l = Load {
            team_id: 1,
            iteration_id: 1,
            capacity: None,
            load: 5,
        };
        assert_eq!(l.overloaded(), None);
        l.capacity = Some(5);
        assert_eq!(l.overloaded(), Some(false));
        l.capacity = Some(4);
        assert_eq!(l.overloaded(), Some(true));
    }
}
