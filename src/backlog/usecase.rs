//! The story changes, one use case each: permission, rule, rows, events.

use entity::story;

use super::{
    lifecycle::StoryState,
    service::{self, NewStory, StoryChange},
};
use crate::{
    auth::policy::Action,
    clarification::service as clarifications,
    dependency::{usecase::record_followed, watch::RiskWatch},
    error::{AppError, AppResult},
    events::{kind::EventKind, log::NewEvent},
    feature::{service as features, usecase::record_allocation},
    ids::{Kind, StoryId, TeamId},
    planning::{service::Load, usecase::over_capacity},
    ranking::Place,
    waits::sync as waits,
    work::Work,
};

/// Adds a story to the bottom of a team backlog, in DRAFT, planned into
/// an iteration when the input names one. Answers the story, and the
/// iteration's capacity and load when that planned it beyond the team's
/// capacity there (allowed; the event says so too).
pub async fn create_story(
    work: &mut Work,
    team: TeamId,
    new: NewStory,
) -> AppResult<(story::Model, Option<Load>)> {
    let (team, program) = work.team(team).await?;
    work.require(Action::WriteStories(&team, "create stories"))
        .await?;
    let story = service::create(work.conn(), work.now(), &team, new).await?;
    // A new story has no dependency yet, so planning it puts none at risk.
    let over = over_capacity(work, &story).await?;
    let mut created =
        NewEvent::new(EventKind::StoryCreated, (Kind::Story, story.id)).teams([team.id]);
    if let Some(load) = over {
        created = created.payload(serde_json::json!({ "overCapacity": load.to_json() }));
    }
    work.record(program.id, created).await?;
    allocate_implicitly(work, &story).await?;
    if let Some(feature) = story.feature_id {
        waits::broken_down(work, program.id, feature, team.id).await?;
    }
    Ok((story, over))
}

/// Changes a story's fields; records risk changes its planning causes.
/// Answers the story, and its iteration's capacity and load when the change
/// planned or re-estimated it beyond the team's capacity there (allowed;
/// the event says so too).
pub async fn update_story(
    work: &mut Work,
    id: StoryId,
    change: StoryChange,
) -> AppResult<(story::Model, Option<Load>)> {
    let (story, team, program) = work.story(id).await?;
    work.require(Action::WriteStories(&team, "change stories"))
        .await?;
    let fields = change.field_names();
    let old_feature = story.feature_id;
    let planning = change.iteration_id.is_some() || change.points.is_some();
    let linked = change.feature_id.is_some();
    // A dependency's risk turns on its stories' iterations alone
    // (`risk::RiskFacts`): only a change of plan is watched.
    let watch = match change.iteration_id {
        Some(_) => Some(RiskWatch::before_story_change(work, program.id, vec![story.id]).await?),
        None => None,
    };
    let story = service::update(work.conn(), work.now(), program.id, story, change).await?;
    let over = if planning {
        over_capacity(work, &story).await?
    } else {
        None
    };
    let mut payload = serde_json::json!({ "fields": fields });
    if let Some(load) = over {
        payload["overCapacity"] = load.to_json();
    }
    let updated = NewEvent::new(EventKind::StoryUpdated, (Kind::Story, story.id))
        .teams([team.id])
        .payload(payload);
    work.record(program.id, updated).await?;
    if linked {
        allocate_implicitly(work, &story).await?;
        // The old feature may wait for the team again; the new one no longer.
        for feature in [old_feature, story.feature_id].into_iter().flatten() {
            waits::breakdown(work, program.id, feature, team.id).await?;
        }
    }
    if let Some(watch) = watch {
        watch.after(work).await?;
    }
    Ok((story, over))
}

/// A story put under a feature not yet allocated to its team allocates it.
async fn allocate_implicitly(work: &mut Work, story: &story::Model) -> AppResult<()> {
    if let Some(feature_id) = story.feature_id
        && features::allocation(work.conn(), feature_id, story.team_id)
            .await?
            .is_none()
        && let Some(feature) = features::find(work.conn(), feature_id).await?
    {
        record_allocation(work, &feature, story.team_id, "").await?;
    }
    Ok(())
}

/// Moves a story right before or after another story of its backlog.
pub async fn rank_story(
    work: &mut Work,
    id: StoryId,
    anchor: StoryId,
    place: Place,
) -> AppResult<story::Model> {
    let (_, team, program) = work.story(id).await?;
    work.require(Action::OwnBacklog(&team, "rank the team backlog"))
        .await?;
    let story = service::rank(work.conn(), work.now(), team.id, id.0, anchor.0, place).await?;
    let ranked = NewEvent::new(EventKind::StoryRanked, (Kind::Story, story.id)).teams([team.id]);
    work.record(program.id, ranked).await?;
    Ok(story)
}

/// Moves a story one step along DRAFT ⇄ READY ⇄ IN_PROGRESS ⇄ DONE.
pub async fn set_story_state(
    work: &mut Work,
    id: StoryId,
    to: StoryState,
) -> AppResult<story::Model> {
    let (story, team, program) = work.story(id).await?;
    work.require(Action::WriteStories(&team, "change a story's state"))
        .await?;
    let from = story.state.clone();
    let watch = RiskWatch::before_story_change(work, program.id, vec![story.id]).await?;
    let blocking = if to == StoryState::Ready {
        clarifications::open_blocking_questions(work.conn(), story.id).await?
    } else {
        Vec::new()
    };
    let story = service::set_state(work.conn(), work.now(), story, to, &blocking).await?;
    state_changed(work, program.id, &story, &from, None, watch).await?;
    waits::story(work, program.id, (&story, &team), &from, "WITHDRAWN").await?;
    Ok(story)
}

/// The PO accepts a DONE story.
pub async fn accept_story(work: &mut Work, id: StoryId) -> AppResult<story::Model> {
    let (story, team, program) = work.story(id).await?;
    work.require(Action::OwnBacklog(&team, "accept stories"))
        .await?;
    let from = story.state.clone();
    let watch = RiskWatch::before_story_change(work, program.id, vec![story.id]).await?;
    let story = service::accept(work.conn(), work.now(), story).await?;
    state_changed(work, program.id, &story, &from, None, watch).await?;
    waits::story(work, program.id, (&story, &team), &from, "ACCEPTED").await?;
    Ok(story)
}

/// The PO rejects a DONE story back to IN_PROGRESS, with a reason.
pub async fn reject_story(work: &mut Work, id: StoryId, reason: String) -> AppResult<story::Model> {
    let (story, team, program) = work.story(id).await?;
    work.require(Action::OwnBacklog(&team, "reject stories"))
        .await?;
    let from = story.state.clone();
    let watch = RiskWatch::before_story_change(work, program.id, vec![story.id]).await?;
    let story = service::reject(work.conn(), work.now(), story, &reason).await?;
    state_changed(work, program.id, &story, &from, Some(&reason), watch).await?;
    waits::story(work, program.id, (&story, &team), &from, "REJECTED").await?;
    Ok(story)
}

/// After a story's state changed: its dependencies follow it (resolved or
/// back to work), and the events of the change, of those dependencies and of
/// risk changes are recorded.
async fn state_changed(
    work: &mut Work,
    program_id: i64,
    story: &story::Model,
    from: &str,
    reason: Option<&str>,
    watch: RiskWatch,
) -> AppResult<()> {
    let followed = if watch.touches_none() {
        Vec::new()
    } else {
        crate::dependency::service::follow_provider(work.conn(), work.now(), story).await?
    };
    let mut payload = serde_json::json!({ "from": from, "to": story.state });
    if let Some(reason) = reason {
        payload["reason"] = reason.into();
    }
    let changed = NewEvent::new(EventKind::StoryStateChanged, (Kind::Story, story.id))
        .teams([story.team_id])
        .payload(payload);
    work.record(program_id, changed).await?;
    record_followed(work, &followed).await?;
    watch.after(work).await?;
    Ok(())
}

/// Refuses a rank move that names no anchor or two.
pub fn place_of(before: Option<StoryId>, after: Option<StoryId>) -> AppResult<(StoryId, Place)> {
    match (before, after) {
        (Some(id), None) => Ok((id, Place::Before)),
        (None, Some(id)) => Ok((id, Place::After)),
        _ => Err(AppError::bad_input(
            "give exactly one of beforeId and afterId",
        )),
    }
}
