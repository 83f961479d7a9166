//! The clarification changes, one use case each: ask, answer, resolve,
//! reopen; and the reassignment when a PO or the PM changes hands.

use entity::clarification;

use super::service::{self, Subject};
use crate::{
    auth::policy::Action,
    error::AppResult,
    events::{kind::EventKind, log::NewEvent},
    ids::{ClarificationId, FeatureId, Kind, StoryId, global},
    waits::sync as waits,
    work::Work,
};

/// What is asked about.
#[derive(Clone, Copy, Debug)]
pub enum About {
    Story(StoryId),
    Feature(FeatureId),
}

/// Asks about a story (its team's PO answers) or a feature (the PM answers).
pub async fn ask_clarification(
    work: &mut Work,
    about: About,
    question: String,
    blocking: bool,
) -> AppResult<clarification::Model> {
    let (program, subject) = match about {
        About::Story(id) => {
            let (story, team, program) = work.story(id).await?;
            let subject = Subject::Story {
                story_id: story.id,
                team_id: team.id,
                product_owner_id: team.product_owner_id,
            };
            (program, subject)
        }
        About::Feature(id) => {
            let (feature, program) = work.feature(id).await?;
            let subject = Subject::Feature {
                feature_id: feature.id,
                product_manager_id: program.product_manager_id,
            };
            (program, subject)
        }
    };
    work.require(Action::AskClarification(&program)).await?;
    let item = service::ask(
        work.conn(),
        work.now(),
        program.id,
        subject,
        work.actor().user_id(),
        &question,
        blocking,
    )
    .await?;
    work.record(
        item.program_id,
        event_of(EventKind::ClarificationAsked, &item),
    )
    .await?;
    waits::clarification(work, &item).await?;
    Ok(item)
}

/// The assignee answers; the first answer sets `answeredAt`.
pub async fn answer_clarification(
    work: &mut Work,
    id: ClarificationId,
    answer: String,
) -> AppResult<clarification::Model> {
    let (item, _) = work.clarification(id).await?;
    work.require(Action::AnswerClarification(&item)).await?;
    let item = service::answer(
        work.conn(),
        work.now(),
        item,
        work.actor().user_id(),
        &answer,
    )
    .await?;
    work.record(
        item.program_id,
        event_of(EventKind::ClarificationAnswered, &item),
    )
    .await?;
    waits::clarification(work, &item).await?;
    Ok(item)
}

/// The asker accepts the answer (the assignee may close it too).
pub async fn resolve_clarification(
    work: &mut Work,
    id: ClarificationId,
) -> AppResult<clarification::Model> {
    let (item, _) = work.clarification(id).await?;
    work.require(Action::ResolveClarification(&item)).await?;
    let item = service::resolve(work.conn(), work.now(), item).await?;
    work.record(
        item.program_id,
        event_of(EventKind::ClarificationResolved, &item),
    )
    .await?;
    waits::clarification(work, &item).await?;
    Ok(item)
}

/// The asker reopens an answered or resolved clarification, with a reason.
pub async fn reopen_clarification(
    work: &mut Work,
    id: ClarificationId,
    reason: String,
) -> AppResult<clarification::Model> {
    let (item, _) = work.clarification(id).await?;
    work.require(Action::ReopenClarification(&item)).await?;
    let item = service::reopen(
        work.conn(),
        work.now(),
        item,
        work.actor().user_id(),
        &reason,
    )
    .await?;
    work.record(
        item.program_id,
        event_of(EventKind::ClarificationReopened, &item),
    )
    .await?;
    waits::clarification(work, &item).await?;
    Ok(item)
}

/// A team's new PO takes over its open and answered story clarifications.
pub async fn hand_over_team(work: &mut Work, team_id: i64, new_po: i64) -> AppResult<()> {
    let moved = service::reassign_team(work.conn(), work.now(), team_id, new_po).await?;
    record_reassigned(work, &moved).await
}

/// A program's new PM takes over its open and answered feature clarifications.
pub async fn hand_over_program(work: &mut Work, program_id: i64, new_pm: i64) -> AppResult<()> {
    let moved = service::reassign_program(work.conn(), work.now(), program_id, new_pm).await?;
    record_reassigned(work, &moved).await
}

async fn record_reassigned(work: &mut Work, moved: &[clarification::Model]) -> AppResult<()> {
    for item in moved {
        work.record(
            item.program_id,
            event_of(EventKind::ClarificationReassigned, item),
        )
        .await?;
        waits::clarification(work, item).await?;
    }
    Ok(())
}

/// The event of a clarification: its team (for a story), and the story or
/// feature in the payload (the `storyId` filter reads it).
fn event_of(kind: EventKind, item: &clarification::Model) -> NewEvent {
    NewEvent::new(kind, (Kind::Clarification, item.id))
        .teams(item.team_id)
        .payload(serde_json::json!({
            "storyId": item.story_id,
            "featureId": item.feature_id,
            "status": item.status,
            "assigneeId": global(Kind::User, item.assignee_id),
        }))
}
