//! Keeping the waits of what a change touched in step with it: the use
//! cases call these after their rows are written, in the same unit of work.
//! Each opens the waits the subject should have, ends those it no longer
//! has (with the outcome), and hands over those whose owner changed; each
//! of these records a WAIT_STARTED, WAIT_ENDED or WAIT_MOVED event.

use entity::{clarification, dependency, story, team, wait};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::{
    kind::WaitKind,
    service::{self, Want},
};
use crate::{
    backlog::lifecycle::StoryState,
    clarification::status::ClarificationStatus,
    dependency::risk::DependencyState,
    error::{AppError, AppResult},
    events::{kind::EventKind, log::NewEvent},
    ids::{Kind, global},
    work::Work,
};

/// The event of a wait change.
fn event(kind: EventKind, wait: &wait::Model, previous: Option<i64>) -> AppResult<NewEvent> {
    let subject = Kind::from_name(&wait.subject_type).ok_or_else(|| {
        AppError::Internal(format!("wait {} has subject {:?}", wait.id, wait.subject_type).into())
    })?;
    let mut payload = serde_json::json!({
        "waitId": wait.id,
        "wait": wait.kind,
        "ownerId": global(Kind::User, wait.owner_id),
        "since": wait.started_at,
    });
    if let Some(previous) = previous {
        payload["previousOwnerId"] = global(Kind::User, previous).into();
    }
    if let Some(outcome) = &wait.outcome {
        payload["outcome"] = outcome.clone().into();
    }
    Ok(NewEvent::new(kind, (subject, wait.subject_id))
        .teams(wait.team_id)
        .payload(payload))
}

/// Brings the open waits of `subject` (only those of `team` when given,
/// for breakdowns) to `wanted`; waits no longer wanted end with `outcome`.
async fn reconcile(
    work: &mut Work,
    program_id: i64,
    subject: (Kind, i64),
    only_team: Option<i64>,
    wanted: &[Want],
    outcome: &str,
) -> AppResult<()> {
    let open: Vec<wait::Model> = service::open_of(work.conn(), subject)
        .await?
        .into_iter()
        .filter(|w| only_team.is_none() || w.team_id == only_team)
        .collect();
    let mut matched = vec![false; wanted.len()];
    for wait in open {
        let found = wanted.iter().enumerate().find(|(i, want)| {
            !matched[*i] && want.kind.as_str() == wait.kind && want.team == wait.team_id
        });
        match found {
            Some((i, want)) => {
                matched[i] = true;
                if want.owner != wait.owner_id {
                    let previous = wait.owner_id;
                    let moved = service::set_owner(work.conn(), wait, want.owner).await?;
                    work.record(
                        program_id,
                        event(EventKind::WaitMoved, &moved, Some(previous))?,
                    )
                    .await?;
                }
            }
            None => {
                let ended = service::end(work.conn(), work.now(), wait, outcome).await?;
                work.record(program_id, event(EventKind::WaitEnded, &ended, None)?)
                    .await?;
            }
        }
    }
    for (want, _) in wanted.iter().zip(matched).filter(|(_, m)| !m) {
        let started = service::start(work.conn(), work.now(), program_id, subject, *want).await?;
        work.record(program_id, event(EventKind::WaitStarted, &started, None)?)
            .await?;
    }
    Ok(())
}

/// A question waits on its assignee while OPEN, on its asker while
/// ANSWERED (unless the built-in admin asked), on nobody once RESOLVED.
pub async fn clarification(work: &mut Work, item: &clarification::Model) -> AppResult<()> {
    let status = ClarificationStatus::parse(&item.status)?;
    let wanted: Vec<Want> = match status {
        ClarificationStatus::Open => vec![Want {
            kind: WaitKind::Answer,
            team: item.team_id,
            owner: item.assignee_id,
            again: item.answered_at.is_some(),
        }],
        ClarificationStatus::Answered => item
            .asker_id
            .map(|asker| Want {
                kind: WaitKind::Resolution,
                team: item.team_id,
                owner: asker,
                again: false,
            })
            .into_iter()
            .collect(),
        ClarificationStatus::Resolved => Vec::new(),
    };
    let outcome = match status {
        ClarificationStatus::Open => "REOPENED",
        ClarificationStatus::Answered => "ANSWERED",
        ClarificationStatus::Resolved => "RESOLVED",
    };
    reconcile(
        work,
        item.program_id,
        (Kind::Clarification, item.id),
        None,
        &wanted,
        outcome,
    )
    .await
}

/// A DONE story waits on its team's PO; `outcome` says how a wait that
/// ends now ended (ACCEPTED, REJECTED, or WITHDRAWN when the team took it
/// back). `from` is the state the story left: a story's acceptance wait is
/// open exactly while it is DONE, so a step between two other states has
/// nothing to read or change.
pub async fn story(
    work: &mut Work,
    program_id: i64,
    (story, team): (&story::Model, &team::Model),
    from: &str,
    outcome: &str,
) -> AppResult<()> {
    let done = StoryState::Done.as_str();
    if story.state != done && from != done {
        return Ok(());
    }
    let wanted: Vec<Want> = if story.state == done {
        vec![Want {
            kind: WaitKind::Acceptance,
            team: Some(story.team_id),
            owner: team.product_owner_id,
            again: false,
        }]
    } else {
        Vec::new()
    };
    reconcile(
        work,
        program_id,
        (Kind::Story, story.id),
        None,
        &wanted,
        outcome,
    )
    .await
}

/// A REQUESTED dependency waits on the provider team's PO; a removed one
/// (`removed`) on nobody.
pub async fn dependency(work: &mut Work, dep: &dependency::Model, removed: bool) -> AppResult<()> {
    let requested = !removed && dep.state == DependencyState::Requested.as_str();
    let wanted: Vec<Want> = if requested {
        let provider = story::Entity::find_by_id(dep.provider_story_id)
            .one(work.conn())
            .await?
            .ok_or_else(|| AppError::Internal("a dependency without its provider".into()))?;
        vec![Want {
            kind: WaitKind::Decision,
            team: Some(provider.team_id),
            owner: po_of(work, provider.team_id).await?,
            again: false,
        }]
    } else {
        Vec::new()
    };
    let outcome = if removed {
        "REMOVED"
    } else {
        dep.state.as_str()
    };
    reconcile(
        work,
        dep.program_id,
        (Kind::Dependency, dep.id),
        None,
        &wanted,
        outcome,
    )
    .await
}

/// A story of `team_id` was just created under `feature_id`, which is
/// therefore allocated to the team and broken down: what [`breakdown`]
/// would find, without reading it again.
pub async fn broken_down(
    work: &mut Work,
    program_id: i64,
    feature_id: i64,
    team_id: i64,
) -> AppResult<()> {
    reconcile(
        work,
        program_id,
        (Kind::Feature, feature_id),
        Some(team_id),
        &[],
        "BROKEN_DOWN",
    )
    .await
}

/// A feature allocated to a team waits on the team's PO until the team
/// has a story under it.
pub async fn breakdown(
    work: &mut Work,
    program_id: i64,
    feature_id: i64,
    team_id: i64,
) -> AppResult<()> {
    let allocated = entity::feature_allocation::Entity::find_by_id((feature_id, team_id))
        .one(work.conn())
        .await?
        .is_some();
    let stories = story::Entity::find()
        .filter(story::Column::FeatureId.eq(feature_id))
        .filter(story::Column::TeamId.eq(team_id))
        .count(work.conn())
        .await?;
    let wanted: Vec<Want> = if allocated && stories == 0 {
        vec![Want {
            kind: WaitKind::Breakdown,
            team: Some(team_id),
            owner: po_of(work, team_id).await?,
            again: false,
        }]
    } else {
        Vec::new()
    };
    let outcome = if allocated {
        "BROKEN_DOWN"
    } else {
        "DEALLOCATED"
    };
    reconcile(
        work,
        program_id,
        (Kind::Feature, feature_id),
        Some(team_id),
        &wanted,
        outcome,
    )
    .await
}

/// A team's new PO takes over what waited on the old one: acceptances,
/// decisions and breakdowns (its story questions move with their
/// reassignment).
pub async fn team_handed_over(work: &mut Work, team: &team::Model) -> AppResult<()> {
    let kinds = [
        WaitKind::Acceptance,
        WaitKind::Decision,
        WaitKind::Breakdown,
    ];
    for wait in service::open_of_team(work.conn(), team.id, &kinds).await? {
        if wait.owner_id != team.product_owner_id {
            let previous = wait.owner_id;
            let moved = service::set_owner(work.conn(), wait, team.product_owner_id).await?;
            work.record(
                team.program_id,
                event(EventKind::WaitMoved, &moved, Some(previous))?,
            )
            .await?;
        }
    }
    Ok(())
}

async fn po_of(work: &Work, team_id: i64) -> AppResult<i64> {
    Ok(team::Entity::find_by_id(team_id)
        .one(work.conn())
        .await?
        .ok_or_else(|| AppError::Internal("a story without its team".into()))?
        .product_owner_id)
}
