//! The dependency negotiation, one use case each: request, commit,
//! decline, remove; and the events of dependencies that follow their
//! provider story.

use entity::{dependency, story};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    risk::DependencyState,
    service::{self, Assessed, Filter},
    watch::RiskWatch,
};
use crate::{
    auth::policy::Action,
    error::{AppError, AppResult},
    events::{kind::EventKind, log::NewEvent},
    ids::{DependencyId, IterationId, Kind, StoryId, global},
    planning::{service::Load, usecase::over_capacity},
    waits::sync as waits,
    work::Work,
};

/// Input of a request: `dependent` needs `provider`, by `needed_by`.
#[derive(Clone, Copy, Debug)]
pub struct Request {
    pub dependent: StoryId,
    pub provider: StoryId,
    pub needed_by: Option<IterationId>,
}

/// Asks another story for what a story needs. A request on a provider that
/// is already done is resolved at once, and says so in a second event.
pub async fn request_dependency(work: &mut Work, input: Request) -> AppResult<dependency::Model> {
    if input.dependent == input.provider {
        return Err(AppError::bad_input("a story cannot depend on itself"));
    }
    let (dependent, team, program) = work.story(input.dependent).await?;
    work.require(Action::ChangeDependencies(
        &program,
        &team,
        "request a dependency",
    ))
    .await?;
    let provider = match work.story(input.provider).await {
        Ok((story, _, p)) if p.id == program.id => story,
        // Another program's story is answered as a missing one: whether it
        // exists is not this program's business.
        Ok(_) | Err(AppError::NotFound(_)) => {
            return Err(AppError::not_found(
                "providerStoryId: no story of this program has that ID",
            ));
        }
        Err(e) => return Err(e),
    };
    let watch = RiskWatch::before(work, program.id, vec![dependent.id, provider.id]).await?;
    let dep = service::request(
        work.conn(),
        work.now(),
        program.id,
        work.actor().user_id(),
        &dependent,
        &provider,
        input.needed_by.map(|i| i.0),
    )
    .await?;
    let teams = [dependent.team_id, provider.team_id];
    let requested =
        NewEvent::new(EventKind::DependencyRequested, (Kind::Dependency, dep.id)).teams(teams);
    work.record(program.id, requested).await?;
    if dep.state == DependencyState::Resolved.as_str() {
        let resolved =
            NewEvent::new(EventKind::DependencyResolved, (Kind::Dependency, dep.id)).teams(teams);
        work.record(program.id, resolved).await?;
    }
    waits::dependency(work, &dep, false).await?;
    watch.after_for(work, dep).await
}

/// The provider team's PO commits: plans the provider story into
/// `iteration` (a story change its backlog's subscribers see) and marks the
/// dependency COMMITTED.
pub async fn commit_dependency(
    work: &mut Work,
    id: DependencyId,
    iteration: IterationId,
) -> AppResult<(dependency::Model, Option<Load>)> {
    let decision = Decision::begin(work, id, "commit to a dependency on the team's story").await?;
    let dep = decision.dep.clone();
    let provider = decision.provider.clone();
    let planned = provider.iteration_id != Some(iteration.0);
    let dep = service::commit(work.conn(), work.now(), dep, provider.clone(), iteration.0).await?;
    let mut over = None;
    if planned {
        let moved = entity::story::Model {
            iteration_id: Some(iteration.0),
            ..provider
        };
        over = over_capacity(work, &moved).await?;
        let mut payload = serde_json::json!({ "fields": ["iterationId"] });
        if let Some(load) = over {
            payload["overCapacity"] = load.to_json();
        }
        let updated = NewEvent::new(EventKind::StoryUpdated, (Kind::Story, moved.id))
            .teams([moved.team_id])
            .payload(payload);
        work.record(decision.program_id, updated).await?;
    }
    let mut payload = serde_json::json!({ "iterationId": global(Kind::Iteration, iteration.0) });
    if let Some(load) = over {
        payload["overCapacity"] = load.to_json();
    }
    let dep = decision
        .finish(work, dep, EventKind::DependencyCommitted, payload)
        .await?;
    Ok((dep, over))
}

/// The provider team's PO declines, with a reason.
pub async fn decline_dependency(
    work: &mut Work,
    id: DependencyId,
    reason: String,
) -> AppResult<dependency::Model> {
    let decision = Decision::begin(work, id, "decline a dependency on the team's story").await?;
    let dep = service::decline(work.conn(), work.now(), decision.dep.clone(), &reason).await?;
    let payload = serde_json::json!({ "reason": dep.decline_reason });
    decision
        .finish(work, dep, EventKind::DependencyDeclined, payload)
        .await
}

/// Removes a dependency; answers it as it was just before, with its risk.
pub async fn remove_dependency(work: &mut Work, id: DependencyId) -> AppResult<Assessed> {
    let (dep, program) = work.dependency(id).await?;
    let (_, team, _) = work.story(StoryId(dep.dependent_story_id)).await?;
    work.require(Action::ChangeDependencies(
        &program,
        &team,
        "remove a dependency",
    ))
    .await?;
    let filter = Filter {
        ids: Some(vec![dep.id]),
        ..Default::default()
    };
    let before = service::assessed(work.conn(), &filter)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| AppError::Internal("a dependency without its stories".into()))?;
    let teams = story_teams(work, &dep).await?;
    service::remove(work.conn(), dep.clone()).await?;
    let removed = NewEvent::new(EventKind::DependencyRemoved, (Kind::Dependency, dep.id))
        .teams(teams)
        .payload(serde_json::json!({
            "dependentStoryId": global(Kind::Story, dep.dependent_story_id),
            "providerStoryId": global(Kind::Story, dep.provider_story_id),
        }));
    work.record(program.id, removed).await?;
    waits::dependency(work, &dep, true).await?;
    Ok(before)
}

/// Records DEPENDENCY_RESOLVED or DEPENDENCY_REOPENED for dependencies that
/// followed their provider story.
pub async fn record_followed(work: &mut Work, followed: &[dependency::Model]) -> AppResult<()> {
    for dep in followed {
        waits::dependency(work, dep, false).await?;
        let kind = if dep.state == DependencyState::Resolved.as_str() {
            EventKind::DependencyResolved
        } else {
            EventKind::DependencyReopened
        };
        let event = NewEvent::new(kind, (Kind::Dependency, dep.id))
            .teams(story_teams(work, dep).await?)
            .payload(serde_json::json!({ "state": dep.state }));
        work.record(dep.program_id, event).await?;
    }
    Ok(())
}

/// The teams of a dependency's two stories.
async fn story_teams(work: &Work, dep: &dependency::Model) -> AppResult<Vec<i64>> {
    Ok(story::Entity::find()
        .filter(story::Column::Id.is_in([dep.dependent_story_id, dep.provider_story_id]))
        .all(work.conn())
        .await?
        .into_iter()
        .map(|s| s.team_id)
        .collect())
}

/// The provider team's answer to a dependency (commit or decline).
struct Decision {
    dep: dependency::Model,
    provider: story::Model,
    program_id: i64,
    /// The teams of both stories, for the event.
    teams: Vec<i64>,
    watch: RiskWatch,
}

impl Decision {
    /// Loads the dependency and its provider story, requires the provider
    /// team's PO (or an admin) to `what`, and notes the risk before.
    async fn begin(work: &mut Work, id: DependencyId, what: &'static str) -> AppResult<Self> {
        let (dep, program) = work.dependency(id).await?;
        let (provider, team, _) = work.story(StoryId(dep.provider_story_id)).await?;
        work.require(Action::DecideDependency(&team, what)).await?;
        let watch = RiskWatch::before(
            work,
            program.id,
            vec![dep.dependent_story_id, dep.provider_story_id],
        )
        .await?;
        let teams = story_teams(work, &dep).await?;
        Ok(Self {
            dep,
            provider,
            program_id: program.id,
            teams,
            watch,
        })
    }

    /// Records the `kind` event of the changed dependency and any risk changes.
    async fn finish(
        self,
        work: &mut Work,
        changed: dependency::Model,
        kind: EventKind,
        payload: serde_json::Value,
    ) -> AppResult<dependency::Model> {
        let event = NewEvent::new(kind, (Kind::Dependency, changed.id))
            .teams(self.teams)
            .payload(payload);
        work.record(self.program_id, event).await?;
        waits::dependency(work, &changed, false).await?;
        self.watch.after_for(work, changed).await
    }
}
