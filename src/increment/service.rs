//! Creating increments. Knows nothing of GraphQL.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{increment, iteration, program};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use super::schedule::{self, overlaps};
use crate::{
    error::{AppError, AppResult},
    program::service::lock,
    text,
};

/// Creates an increment and its iterations. The program row is locked so two
/// concurrent creations cannot both pass the overlap check.
pub async fn create(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program: &program::Model,
    name: &str,
    start: NaiveDate,
    iteration_count: i32,
    iteration_length_days: i32,
) -> AppResult<(increment::Model, Vec<iteration::Model>)> {
    let name = text::name("name", name)?;
    let slots = schedule::iterations(start, iteration_count, iteration_length_days)?;
    let end = slots.last().map_or(start, |s| s.end);
    lock(conn, program.id).await?;
    let existing = increment::Entity::find()
        .filter(increment::Column::ProgramId.eq(program.id))
        .order_by_asc(increment::Column::StartDate)
        .all(conn)
        .await?;
    if let Some(same) = existing.iter().find(|i| i.name == name) {
        return Err(AppError::conflict(format!(
            "the program already has an increment named {:?}",
            same.name
        )));
    }
    if let Some(clash) = existing
        .iter()
        .find(|i| overlaps((start, end), (i.start_date, i.end_date)))
    {
        return Err(AppError::conflict(format!(
            "{start} to {end} overlaps increment {:?} ({} to {})",
            clash.name, clash.start_date, clash.end_date
        )));
    }
    let increment = increment::ActiveModel {
        program_id: Set(program.id),
        name: Set(name),
        start_date: Set(start),
        end_date: Set(end),
        iteration_count: Set(iteration_count),
        iteration_length_days: Set(iteration_length_days),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let mut iterations = Vec::with_capacity(slots.len());
    for slot in slots {
        let row = iteration::ActiveModel {
            increment_id: Set(increment.id),
            number: Set(slot.number),
            start_date: Set(slot.start),
            end_date: Set(slot.end),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        iterations.push(row);
    }
    Ok((increment, iterations))
}

/// The increment `id` if it belongs to `program_id`; NOT_FOUND otherwise,
/// the same whether it does not exist or belongs to another program.
pub async fn find_in_program(
    conn: &impl ConnectionTrait,
    field: &str,
    program_id: i64,
    id: i64,
) -> AppResult<increment::Model> {
    let found = increment::Entity::find_by_id(id).one(conn).await?;
    match found {
        Some(i) if i.program_id == program_id => Ok(i),
        _ => Err(AppError::not_found(format!(
            "{field}: no increment of this program has that ID"
        ))),
    }
}

/// The iterations of an increment, in order.
pub async fn iterations_of(
    conn: &impl ConnectionTrait,
    increment_id: i64,
) -> AppResult<Vec<iteration::Model>> {
    Ok(iteration::Entity::find()
        .filter(iteration::Column::IncrementId.eq(increment_id))
        .order_by_asc(iteration::Column::Number)
        .all(conn)
        .await?)
}
