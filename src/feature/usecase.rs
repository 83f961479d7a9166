//! The program backlog's changes: create, change, rank and move features
//! along their lifecycle. All of them are the PM's (or an admin's).

use entity::{feature, feature_allocation, team};

use super::{
    service::{self, FeatureChange, NewFeature},
    state::FeatureState,
};
use crate::{
    auth::policy::{self, Action},
    error::{AppError, AppResult},
    events::{kind::EventKind, log::NewEvent},
    ids::{FeatureId, Kind, ProgramId, TeamId, global},
    ranking::Place,
    work::Work,
};

/// Adds a feature to the bottom of the program backlog, in FUNNEL.
pub async fn create_feature(
    work: &mut Work,
    program: ProgramId,
    new: NewFeature,
) -> AppResult<feature::Model> {
    let program = work.program(program).await?;
    work.require(Action::ManageProgram(
        &program,
        "change the program backlog",
    ))
    .await?;
    let feature = service::create(work.conn(), work.now(), &program, new).await?;
    let created = NewEvent::new(EventKind::FeatureCreated, (Kind::Feature, feature.id));
    work.record(program.id, created).await?;
    Ok(feature)
}

/// Changes a feature's title, description, WSJF inputs or target increment.
pub async fn update_feature(
    work: &mut Work,
    id: FeatureId,
    change: FeatureChange,
) -> AppResult<feature::Model> {
    let (feature, program) = work.feature(id).await?;
    work.require(Action::ManageProgram(&program, "change features"))
        .await?;
    let fields = change.field_names();
    let feature = service::update(work.conn(), work.now(), feature, change).await?;
    let updated = NewEvent::new(EventKind::FeatureUpdated, (Kind::Feature, feature.id))
        .payload(serde_json::json!({ "fields": fields }));
    work.record(program.id, updated).await?;
    Ok(feature)
}

/// Moves a feature right before or after another of the program backlog.
pub async fn rank_feature(
    work: &mut Work,
    id: FeatureId,
    anchor: FeatureId,
    place: Place,
) -> AppResult<feature::Model> {
    let (_, program) = work.feature(id).await?;
    work.require(Action::ManageProgram(&program, "rank the program backlog"))
        .await?;
    let feature = service::rank(work.conn(), work.now(), program.id, id.0, anchor.0, place).await?;
    let ranked = NewEvent::new(EventKind::FeatureRanked, (Kind::Feature, feature.id));
    work.record(program.id, ranked).await?;
    Ok(feature)
}

/// Moves a feature one step along its lifecycle; DONE is the PM's acceptance.
pub async fn set_feature_state(
    work: &mut Work,
    id: FeatureId,
    to: FeatureState,
) -> AppResult<feature::Model> {
    let (feature, program) = work.feature(id).await?;
    let what = if to == FeatureState::Done {
        "accept features"
    } else {
        "change a feature's state"
    };
    work.require(Action::ManageProgram(&program, what)).await?;
    let from = feature.state.clone();
    let feature = service::set_state(work.conn(), work.now(), feature, to).await?;
    let changed = NewEvent::new(EventKind::FeatureStateChanged, (Kind::Feature, feature.id))
        .payload(serde_json::json!({ "from": from, "to": feature.state }));
    work.record(program.id, changed).await?;
    Ok(feature)
}

/// The PM hands a feature to a team, with a note.
pub async fn allocate_feature(
    work: &mut Work,
    id: FeatureId,
    team: TeamId,
    note: String,
) -> AppResult<feature::Model> {
    let (feature, team, allocated) = allocation_of(work, id, team).await?;
    if allocated {
        return Err(AppError::conflict(format!(
            "{:?} is already allocated to team {:?}",
            feature.title, team.name
        )));
    }
    record_allocation(work, &feature, team.id, &note).await?;
    Ok(feature)
}

/// Allocates `feature` to team `team_id` and records it (the PM's
/// allocation, or a story created under a feature not yet allocated to
/// its team).
pub async fn record_allocation(
    work: &mut Work,
    feature: &feature::Model,
    team_id: i64,
    note: &str,
) -> AppResult<feature_allocation::Model> {
    let allocation = service::allocate(
        work.conn(),
        work.now(),
        feature.id,
        team_id,
        note,
        work.actor().user_id(),
    )
    .await?;
    let event = NewEvent::new(EventKind::FeatureAllocated, (Kind::Feature, feature.id))
        .teams([team_id])
        .payload(serde_json::json!({
            "teamId": global(Kind::Team, team_id),
            "note": allocation.note,
        }));
    work.record(feature.program_id, event).await?;
    crate::waits::sync::breakdown(work, feature.program_id, feature.id, team_id).await?;
    Ok(allocation)
}

/// Takes a feature back from a team. Refused while the team has unfinished
/// stories under it, unless `force`, which takes those stories out of the
/// feature (they stay in the backlog).
pub async fn deallocate_feature(
    work: &mut Work,
    id: FeatureId,
    team: TeamId,
    force: bool,
) -> AppResult<feature::Model> {
    let (feature, team, allocated) = allocation_of(work, id, team).await?;
    let program_id = feature.program_id;
    if !allocated {
        return Err(AppError::not_found(format!(
            "{:?} is not allocated to team {:?}",
            feature.title, team.name
        )));
    }
    let unfinished = service::unfinished_stories(work.conn(), feature.id, team.id).await?;
    if !unfinished.is_empty() {
        if !force {
            let titles: Vec<String> = unfinished
                .iter()
                .map(|s| format!("{:?}", s.title))
                .collect();
            return Err(AppError::conflict(format!(
                "team {:?} has unfinished stories under {:?}: {}; finish them, or pass force: true \
                 to take them out of the feature",
                team.name,
                feature.title,
                titles.join(", ")
            )));
        }
        let ids: Vec<i64> = unfinished.iter().map(|s| s.id).collect();
        service::unlink_stories(work.conn(), work.now(), &ids).await?;
        for story in &unfinished {
            let updated = NewEvent::new(EventKind::StoryUpdated, (Kind::Story, story.id))
                .teams([team.id])
                .payload(serde_json::json!({ "fields": ["featureId"] }));
            work.record(program_id, updated).await?;
        }
    }
    service::deallocate(work.conn(), feature.id, team.id).await?;
    let event = NewEvent::new(EventKind::FeatureDeallocated, (Kind::Feature, feature.id))
        .teams([team.id])
        .payload(serde_json::json!({
            "teamId": global(Kind::Team, team.id),
            "unlinkedStories": unfinished.len(),
        }));
    work.record(program_id, event).await?;
    crate::waits::sync::breakdown(work, program_id, feature.id, team.id).await?;
    Ok(feature)
}

/// The start of an allocation change (the PM's): the feature, the team of
/// its program, and whether the feature is allocated to it now.
async fn allocation_of(
    work: &mut Work,
    id: FeatureId,
    team: TeamId,
) -> AppResult<(feature::Model, team::Model, bool)> {
    let (feature, program) = work.feature(id).await?;
    work.require(Action::ManageProgram(&program, "allocate features"))
        .await?;
    let team = team_of_program(work, team, program.id).await?;
    let allocated = service::allocation(work.conn(), feature.id, team.id)
        .await?
        .is_some();
    Ok((feature, team, allocated))
}

/// A team of the program; another program's is answered as a missing one.
async fn team_of_program(work: &mut Work, id: TeamId, program_id: i64) -> AppResult<team::Model> {
    // Only looked at, not locked: the change is the feature's program's.
    match policy::team(work.conn(), work.actor(), id).await {
        Ok((team, _)) if team.program_id == program_id => Ok(team),
        Ok(_) | Err(AppError::NotFound(_)) => Err(AppError::not_found(
            "teamId: no team of this program has that ID",
        )),
        Err(e) => Err(e),
    }
}
