//! The program backlog's changes: create, change, rank and move features
//! along their lifecycle. All of them are the PM's (or an admin's).

use entity::feature;

use super::{
    service::{self, FeatureChange, NewFeature},
    state::FeatureState,
};
use crate::{
    auth::policy::Action,
    error::AppResult,
    events::{kind::EventKind, log::NewEvent},
    ids::{FeatureId, Kind, ProgramId},
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
