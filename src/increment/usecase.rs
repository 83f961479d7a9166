//! Planning a Program Increment.

use chrono::NaiveDate;
use entity::increment;

use super::service;
use crate::{
    auth::policy::Action,
    error::AppResult,
    events::{kind::EventKind, log::NewEvent},
    ids::{Kind, ProgramId},
    work::Work,
};

/// A new increment: its name and iterations.
#[derive(Clone, Debug)]
pub struct NewIncrement {
    pub name: String,
    pub start_date: NaiveDate,
    pub iteration_count: i32,
    pub iteration_length_days: i32,
}

/// Creates an increment and its iterations (the program's PM).
pub async fn create_increment(
    work: &mut Work,
    program: ProgramId,
    new: NewIncrement,
) -> AppResult<increment::Model> {
    let program = work.program(program).await?;
    work.require(Action::ManageProgram(&program, "plan increments"))
        .await?;
    let (increment, _) = service::create(
        work.conn(),
        work.now(),
        &program,
        &new.name,
        new.start_date,
        new.iteration_count,
        new.iteration_length_days,
    )
    .await?;
    let created = NewEvent::new(EventKind::IncrementCreated, (Kind::Increment, increment.id));
    work.record(program.id, created).await?;
    Ok(increment)
}
