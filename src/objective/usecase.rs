//! PI objectives: set by a team's PO or the PM, scored by the PM.

use entity::objective;

use super::service;
use crate::{
    auth::policy::Action,
    error::AppResult,
    events::{kind::EventKind, log::NewEvent},
    ids::{IncrementId, Kind, ObjectiveId, TeamId},
    work::Work,
};

/// A new objective of a team for an increment.
#[derive(Clone, Debug)]
pub struct NewObjective {
    pub team: TeamId,
    pub increment: IncrementId,
    pub description: String,
    pub planned_value: i32,
    pub committed: bool,
}

/// Adds a PI objective to a team.
pub async fn set_objective(work: &mut Work, new: NewObjective) -> AppResult<objective::Model> {
    let (team, program) = work.team(new.team).await?;
    work.require(Action::SetObjective(&program, &team)).await?;
    let objective = service::set(
        work.conn(),
        work.now(),
        &team,
        new.increment.0,
        &new.description,
        new.planned_value,
        new.committed,
    )
    .await?;
    let set =
        NewEvent::new(EventKind::ObjectiveSet, (Kind::Objective, objective.id)).teams([team.id]);
    work.record(program.id, set).await?;
    Ok(objective)
}

/// Scores the business value an objective achieved (the program's PM).
pub async fn score_objective(
    work: &mut Work,
    id: ObjectiveId,
    actual_value: i32,
) -> AppResult<objective::Model> {
    let (objective, team, program) = work.objective(id).await?;
    work.require(Action::ManageProgram(&program, "score objectives"))
        .await?;
    let objective = service::score(work.conn(), objective, actual_value).await?;
    let scored = NewEvent::new(EventKind::ObjectiveScored, (Kind::Objective, objective.id))
        .teams([team.id])
        .payload(serde_json::json!({ "actualValue": objective.actual_value }));
    work.record(program.id, scored).await?;
    Ok(objective)
}
