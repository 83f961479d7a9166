//! The planning changes: a team's capacity, a confidence vote.

use entity::{confidence_vote, story};

use super::service::{self, Load};
use crate::{
    auth::policy::Action,
    error::{AppError, AppResult},
    events::{kind::EventKind, log::NewEvent},
    ids::{IncrementId, IterationId, Kind, TeamId, global},
    increment::service::find_in_program,
    work::Work,
};

/// Sets a team's capacity in an iteration of its program (`None` removes
/// it). Answers the capacity and load now.
pub async fn set_capacity(
    work: &mut Work,
    team: TeamId,
    iteration: IterationId,
    points: Option<i32>,
) -> AppResult<Load> {
    let (team, program) = work.team(team).await?;
    work.require(Action::SetCapacity(&program, &team)).await?;
    let iteration =
        service::iteration_of_program(work.conn(), "iterationId", program.id, iteration.0).await?;
    service::set_capacity(
        work.conn(),
        work.now(),
        team.id,
        iteration.id,
        points,
        work.actor().user_id(),
    )
    .await?;
    let load = service::load_of(work.conn(), team.id, iteration.id).await?;
    let event = NewEvent::new(EventKind::CapacitySet, (Kind::Team, team.id))
        .teams([team.id])
        .payload(load.to_json());
    work.record(program.id, event).await?;
    Ok(load)
}

/// The viewer's confidence in their team's plan of an increment, 1 to 5;
/// a later vote replaces an earlier one.
pub async fn vote_confidence(
    work: &mut Work,
    increment: IncrementId,
    team: TeamId,
    value: i32,
) -> AppResult<confidence_vote::Model> {
    let (team, program) = work.team(team).await?;
    work.require(Action::VoteConfidence(&team)).await?;
    let user = work.actor().user_id().ok_or_else(|| {
        AppError::forbidden(
            "the built-in administrator is nobody and cannot vote; vote with a user's token",
        )
    })?;
    let increment = find_in_program(work.conn(), "incrementId", program.id, increment.0).await?;
    let vote = service::vote(work.conn(), work.now(), increment.id, team.id, user, value).await?;
    let event = NewEvent::new(EventKind::ConfidenceVoted, (Kind::Team, team.id))
        .teams([team.id])
        .payload(serde_json::json!({
            "incrementId": global(Kind::Increment, increment.id),
            "voterId": global(Kind::User, user),
            "value": vote.value,
        }));
    work.record(program.id, event).await?;
    Ok(vote)
}

/// After a change planned or re-estimated `story`: its iteration's capacity
/// and load when the team is now over capacity there, for the change's
/// payload and event.
pub async fn over_capacity(work: &Work, story: &story::Model) -> AppResult<Option<Load>> {
    let Some(iteration) = story.iteration_id else {
        return Ok(None);
    };
    let load = service::limited_load_of(work.conn(), story.team_id, iteration).await?;
    Ok(load.filter(|l| l.overloaded() == Some(true)))
}
