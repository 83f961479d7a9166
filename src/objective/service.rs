//! Setting and scoring PI objectives. Knows nothing of GraphQL.

use chrono::{DateTime, Utc};
use entity::{objective, team};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel};

use crate::{
    error::{AppError, AppResult},
    increment, text,
};

/// Adds an objective for a team in an increment of the team's program.
pub async fn set(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    team: &team::Model,
    increment_id: i64,
    description: &str,
    planned_value: i32,
    committed: bool,
) -> AppResult<objective::Model> {
    let description = text::required_text("description", description)?;
    if !(1..=10).contains(&planned_value) {
        return Err(AppError::bad_input(format!(
            "plannedValue must be between 1 and 10 (got {planned_value})"
        )));
    }
    increment::service::find_in_program(conn, "incrementId", team.program_id, increment_id).await?;
    Ok(objective::ActiveModel {
        team_id: Set(team.id),
        increment_id: Set(increment_id),
        description: Set(description),
        planned_value: Set(planned_value),
        actual_value: Set(None),
        committed: Set(committed),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// Records the business value an objective achieved, 0 to 10.
pub async fn score(
    conn: &impl ConnectionTrait,
    objective: objective::Model,
    actual_value: i32,
) -> AppResult<objective::Model> {
    if !(0..=10).contains(&actual_value) {
        return Err(AppError::bad_input(format!(
            "actualValue must be between 0 and 10 (got {actual_value})"
        )));
    }
    let mut row = objective.into_active_model();
    row.actual_value = Set(Some(actual_value));
    Ok(row.update(conn).await?)
}

/// The objective `id` and its team.
pub async fn find(
    conn: &impl ConnectionTrait,
    id: i64,
) -> AppResult<Option<(objective::Model, team::Model)>> {
    let found = objective::Entity::find_by_id(id)
        .find_also_related(team::Entity)
        .one(conn)
        .await?;
    Ok(found.and_then(|(o, t)| t.map(|t| (o, t))))
}
