//! The `Dependency` type, `Program.dependencies`, and the negotiation
//! mutations.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{dependency, program};

use super::{
    risk::{DependencyState, RiskReason},
    service::{self, Assessed, Filter},
};
use crate::{
    auth::{Actor, access},
    backlog::graphql::{Story, readable_story},
    db::WriteTxn,
    error::{AppError, AppResult},
    events::{
        graphql::{RiskWatch, emit},
        kind::EventKind,
        log::NewEvent,
    },
    graphql::{
        self as gql,
        id::{Kind, decode_as, encode},
        loaders::{AssessedDependency, IterationById, StoryById, UserById},
        pagination::{KeyedConnection, Page, connection},
    },
    increment::graphql::Iteration,
    user::graphql::User,
};

/// Wraps the stored row, and its risk assessment when already at hand;
/// see the `#[Object]` impl for the API.
pub struct Dependency {
    row: dependency::Model,
    assessed: Option<Assessed>,
}

impl From<dependency::Model> for Dependency {
    fn from(row: dependency::Model) -> Self {
        Self {
            row,
            assessed: None,
        }
    }
}

impl From<Assessed> for Dependency {
    fn from(assessed: Assessed) -> Self {
        Self {
            row: assessed.row.clone(),
            assessed: Some(assessed),
        }
    }
}

impl Dependency {
    async fn assessed(&self, ctx: &Context<'_>) -> AppResult<Assessed> {
        match &self.assessed {
            Some(a) => Ok(a.clone()),
            None => gql::load_required(ctx, AssessedDependency(self.row.id)).await,
        }
    }
}

/// A dependency: the dependent story needs the provider story, usually of
/// another team. The provider team's PO commits to an iteration or declines.
#[Object]
impl Dependency {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Dependency, self.row.id)
    }

    /// Where the negotiation stands.
    async fn state(&self) -> Result<DependencyState> {
        Ok(DependencyState::parse(&self.row.state)?)
    }

    /// The story that needs the other.
    async fn dependent(&self, ctx: &Context<'_>) -> Result<Story> {
        Ok(Story(
            gql::load_required(ctx, StoryById(self.row.dependent_story_id)).await?,
        ))
    }

    /// The story that is needed.
    async fn provider(&self, ctx: &Context<'_>) -> Result<Story> {
        Ok(Story(
            gql::load_required(ctx, StoryById(self.row.provider_story_id)).await?,
        ))
    }

    /// The iteration the dependent team needs it by: the one given when
    /// requested, else the dependent story's own iteration; null when neither.
    async fn needed_by(&self, ctx: &Context<'_>) -> Result<Option<Iteration>> {
        let id = match self.row.needed_by_iteration_id {
            Some(id) => Some(id),
            None => self.assessed(ctx).await?.dependent_iteration,
        };
        match id {
            Some(id) => Ok(Some(Iteration(
                gql::load_required(ctx, IterationById(id)).await?,
            ))),
            None => Ok(None),
        }
    }

    /// Whether the two stories belong to different teams.
    async fn cross_team(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.assessed(ctx).await?.cross_team())
    }

    /// Whether it is at risk (see `riskReasons`).
    async fn at_risk(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.assessed(ctx).await?.at_risk())
    }

    /// Why it is at risk; empty when it is not. Resolved dependencies are
    /// never at risk.
    async fn risk_reasons(&self, ctx: &Context<'_>) -> Result<Vec<RiskReason>> {
        Ok(self.assessed(ctx).await?.reasons)
    }

    /// Why the provider team declined, when it did.
    async fn decline_reason(&self) -> Option<&str> {
        self.row.decline_reason.as_deref()
    }

    /// Who asked for it; null when the built-in admin did.
    async fn requested_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.row.requested_by_id {
            Some(id) => Ok(Some(User(gql::load_required(ctx, UserById(id)).await?))),
            None => Ok(None),
        }
    }

    /// When it was requested.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// `Program.dependencies`: filters in storage, the at-risk rules in code,
/// pages by id.
pub async fn program_dependencies(
    ctx: &Context<'_>,
    program: &program::Model,
    states: Option<Vec<DependencyState>>,
    at_risk: Option<bool>,
    team_id: Option<ID>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<KeyedConnection<Dependency>> {
    let page = Page::new(gql::page_limits(ctx)?, first, after.as_deref())?;
    let team = team_id
        .as_ref()
        .map(|id| decode_as(Kind::Team, "teamId", id))
        .transpose()?;
    let filter = Filter {
        program: Some(program.id),
        states,
        team,
        ..Default::default()
    };
    let mut rows = service::assessed(gql::store(ctx)?.conn(), &filter).await?;
    if let Some(wanted) = at_risk {
        rows.retain(|a| a.at_risk() == wanted);
    }
    let total = rows.len() as u64;
    let start = page
        .after
        .map_or(0, |after| rows.partition_point(|a| a.row.id <= after));
    let end = rows
        .len()
        .min(start + usize::try_from(page.fetch()).unwrap_or(usize::MAX));
    let page_rows: Vec<_> = rows.drain(start..end).collect();
    Ok(connection(
        &page,
        page_rows,
        total,
        |a| a.row.id,
        Dependency::from,
    ))
}

/// Input of `requestDependency`.
#[derive(InputObject)]
pub struct RequestDependencyInput {
    /// The story that needs the other.
    pub dependent_story_id: ID,
    /// The story that is needed, of the same program.
    pub provider_story_id: ID,
    /// When it is needed; by default the dependent story's own iteration.
    pub needed_by_iteration_id: Option<ID>,
}

/// Input of `commitDependency`.
#[derive(InputObject)]
pub struct CommitDependencyInput {
    /// The dependency.
    pub dependency_id: ID,
    /// The iteration the provider story is planned into.
    pub iteration_id: ID,
}

/// Input of `declineDependency`.
#[derive(InputObject)]
pub struct DeclineDependencyInput {
    /// The dependency.
    pub dependency_id: ID,
    /// Why not (required).
    pub reason: String,
}

/// Input of `removeDependency`.
#[derive(InputObject)]
pub struct RemoveDependencyInput {
    /// The dependency.
    pub dependency_id: ID,
}

/// Result of the dependency mutations.
#[derive(SimpleObject)]
pub struct DependencyPayload {
    /// The dependency as it now is.
    pub dependency: Dependency,
}

/// Result of `removeDependency`.
#[derive(SimpleObject)]
pub struct RemoveDependencyPayload {
    /// The ID of the removed dependency.
    pub removed_dependency_id: ID,
    /// The dependency as it was just before its removal.
    pub dependency: Dependency,
}

/// The teams of a dependency's two stories.
async fn story_teams(
    conn: &impl sea_orm::ConnectionTrait,
    dep: &dependency::Model,
) -> AppResult<Vec<i64>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    Ok(entity::story::Entity::find()
        .filter(entity::story::Column::Id.is_in([dep.dependent_story_id, dep.provider_story_id]))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.team_id)
        .collect())
}

/// Records DEPENDENCY_RESOLVED or DEPENDENCY_REOPENED for dependencies that
/// followed their provider story.
pub async fn emit_followed(
    ctx: &Context<'_>,
    txn: &WriteTxn,
    followed: &[dependency::Model],
) -> AppResult<()> {
    for dep in followed {
        let kind = if dep.state == DependencyState::Resolved.as_str() {
            EventKind::DependencyResolved
        } else {
            EventKind::DependencyReopened
        };
        let event = NewEvent::new(kind, (Kind::Dependency, dep.id))
            .teams(story_teams(&**txn, dep).await?)
            .payload(serde_json::json!({ "state": dep.state }));
        emit(ctx, txn, dep.program_id, event).await?;
    }
    Ok(())
}

/// The dependency `id` if the actor may read its program.
/// The provider team's answer to a dependency (commit or decline), from the
/// permission check to the commit of its transaction.
struct ProviderDecision {
    program_id: i64,
    /// The teams of both stories, for the event.
    teams: Vec<i64>,
    watch: RiskWatch,
}

impl ProviderDecision {
    /// Loads the dependency and its provider story, requires the provider
    /// team's PO (or an admin) to `what`, and notes the risk before.
    async fn begin(
        txn: &WriteTxn,
        actor: Actor,
        id: i64,
        what: &str,
    ) -> AppResult<(dependency::Model, entity::story::Model, Self)> {
        let (dep, program) = readable_dependency(&**txn, actor, id).await?;
        let (provider, team, _) = readable_story(&**txn, actor, dep.provider_story_id).await?;
        access::team_role(&**txn, actor, &team)
            .await?
            .require_owner(what)?;
        let watch = RiskWatch::before(
            txn,
            program.id,
            vec![dep.dependent_story_id, dep.provider_story_id],
        )
        .await?;
        let teams = story_teams(&**txn, &dep).await?;
        let decision = Self {
            program_id: program.id,
            teams,
            watch,
        };
        Ok((dep, provider, decision))
    }

    /// Records the `kind` event of the changed dependency and any risk
    /// changes, commits, and answers with the dependency.
    async fn finish(
        self,
        ctx: &Context<'_>,
        txn: WriteTxn,
        changed: dependency::Model,
        kind: EventKind,
        payload: serde_json::Value,
    ) -> Result<DependencyPayload> {
        let event = NewEvent::new(kind, (Kind::Dependency, changed.id))
            .teams(self.teams)
            .payload(payload);
        emit(ctx, &txn, self.program_id, event).await?;
        self.watch.after(ctx, &txn).await?;
        txn.commit().await?;
        Ok(DependencyPayload {
            dependency: changed.into(),
        })
    }
}

async fn readable_dependency(
    conn: &impl sea_orm::ConnectionTrait,
    actor: Actor,
    id: i64,
) -> AppResult<(dependency::Model, program::Model)> {
    let not_found = || {
        AppError::not_found(format!(
            "no dependency with id {}",
            encode(Kind::Dependency, id).0
        ))
    };
    let dep = service::find(conn, id).await?.ok_or_else(not_found)?;
    let program = access::readable_program(conn, actor, dep.program_id)
        .await
        .map_err(|_| not_found())?;
    Ok((dep, program))
}

#[derive(Default)]
pub struct DependencyMutation;

#[Object]
impl DependencyMutation {
    /// Asks another story (usually of another team) for what a story needs:
    /// the PM, or the dependent team's PO or members (or an admin). Refused:
    /// a story on itself or of another program (BAD_USER_INPUT), the same
    /// pair twice or a cycle (CONFLICT, naming the cycle).
    async fn request_dependency(
        &self,
        ctx: &Context<'_>,
        input: RequestDependencyInput,
    ) -> Result<DependencyPayload> {
        let actor = gql::actor(ctx)?;
        let dependent_id = decode_as(Kind::Story, "dependentStoryId", &input.dependent_story_id)?;
        let provider_id = decode_as(Kind::Story, "providerStoryId", &input.provider_story_id)?;
        let needed_by = input
            .needed_by_iteration_id
            .as_ref()
            .map(|id| decode_as(Kind::Iteration, "neededByIterationId", id))
            .transpose()?;
        if dependent_id == provider_id {
            return Err(AppError::bad_input("a story cannot depend on itself").into());
        }
        let txn = gql::store(ctx)?.begin_write().await?;
        let (dependent, team, program) = readable_story(&*txn, actor, dependent_id).await?;
        let role = access::team_role(&*txn, actor, &team).await?;
        if !(role.admin
            || role.product_owner
            || role.member
            || actor.is_user(program.product_manager_id))
        {
            return Err(AppError::forbidden(
                "only the program's PM, or the dependent team's PO or members, may request a dependency",
            )
            .into());
        }
        let provider = match readable_story(&*txn, actor, provider_id).await {
            Ok((story, _, p)) if p.id == program.id => story,
            Ok(_) => {
                return Err(AppError::bad_input(
                    "providerStoryId: the story belongs to another program",
                )
                .into());
            }
            Err(AppError::NotFound(_)) => {
                return Err(AppError::bad_input(
                    "providerStoryId: no story of this program has that ID",
                )
                .into());
            }
            Err(e) => return Err(e.into()),
        };
        let watch = RiskWatch::before(&txn, program.id, vec![dependent.id, provider.id]).await?;
        let dep = service::request(
            &*txn,
            gql::now(ctx)?,
            program.id,
            actor.user_id(),
            &dependent,
            &provider,
            needed_by,
        )
        .await?;
        let requested = NewEvent::new(EventKind::DependencyRequested, (Kind::Dependency, dep.id))
            .teams([dependent.team_id, provider.team_id]);
        emit(ctx, &txn, program.id, requested).await?;
        if dep.state == DependencyState::Resolved.as_str() {
            let resolved = NewEvent::new(EventKind::DependencyResolved, (Kind::Dependency, dep.id))
                .teams([dependent.team_id, provider.team_id]);
            emit(ctx, &txn, program.id, resolved).await?;
        }
        watch.after(ctx, &txn).await?;
        txn.commit().await?;
        Ok(DependencyPayload {
            dependency: dep.into(),
        })
    }

    /// The provider team's PO (or an admin) commits: plans the provider story
    /// into the iteration and marks the dependency COMMITTED.
    async fn commit_dependency(
        &self,
        ctx: &Context<'_>,
        input: CommitDependencyInput,
    ) -> Result<DependencyPayload> {
        let actor = gql::actor(ctx)?;
        let id = decode_as(Kind::Dependency, "dependencyId", &input.dependency_id)?;
        let iteration = decode_as(Kind::Iteration, "iterationId", &input.iteration_id)?;
        let txn = gql::store(ctx)?.begin_write().await?;
        let (dep, provider, decision) = ProviderDecision::begin(
            &txn,
            actor,
            id,
            "commit to a dependency on the team's story",
        )
        .await?;
        let dep = service::commit(&*txn, gql::now(ctx)?, dep, provider, iteration).await?;
        let event = serde_json::json!({ "iterationId": encode(Kind::Iteration, iteration).0 });
        decision
            .finish(ctx, txn, dep, EventKind::DependencyCommitted, event)
            .await
    }

    /// The provider team's PO (or an admin) declines, with a reason.
    async fn decline_dependency(
        &self,
        ctx: &Context<'_>,
        input: DeclineDependencyInput,
    ) -> Result<DependencyPayload> {
        let actor = gql::actor(ctx)?;
        let id = decode_as(Kind::Dependency, "dependencyId", &input.dependency_id)?;
        let txn = gql::store(ctx)?.begin_write().await?;
        let (dep, _, decision) =
            ProviderDecision::begin(&txn, actor, id, "decline a dependency on the team's story")
                .await?;
        let dep = service::decline(&*txn, gql::now(ctx)?, dep, &input.reason).await?;
        let event = serde_json::json!({ "reason": dep.decline_reason });
        decision
            .finish(ctx, txn, dep, EventKind::DependencyDeclined, event)
            .await
    }

    /// Removes a dependency: the dependent team's PO or members, or the PM
    /// (or an admin).
    async fn remove_dependency(
        &self,
        ctx: &Context<'_>,
        input: RemoveDependencyInput,
    ) -> Result<RemoveDependencyPayload> {
        let actor = gql::actor(ctx)?;
        let id = decode_as(Kind::Dependency, "dependencyId", &input.dependency_id)?;
        let txn = gql::store(ctx)?.begin_write().await?;
        let (dep, program) = readable_dependency(&*txn, actor, id).await?;
        let (_, team, _) = readable_story(&*txn, actor, dep.dependent_story_id).await?;
        let role = access::team_role(&*txn, actor, &team).await?;
        if !(role.admin
            || role.product_owner
            || role.member
            || actor.is_user(program.product_manager_id))
        {
            return Err(AppError::forbidden(
                "only the dependent team's PO or members, or the program's PM, may remove a dependency",
            )
            .into());
        }
        let filter = Filter {
            ids: Some(vec![dep.id]),
            ..Default::default()
        };
        let before = service::assessed(&*txn, &filter)
            .await
            .map_err(AppError::from)?;
        let teams = story_teams(&*txn, &dep).await?;
        service::remove(&*txn, dep.clone()).await?;
        let removed = NewEvent::new(EventKind::DependencyRemoved, (Kind::Dependency, dep.id))
            .teams(teams)
            .payload(serde_json::json!({
                "dependentStoryId": encode(Kind::Story, dep.dependent_story_id).0,
                "providerStoryId": encode(Kind::Story, dep.provider_story_id).0,
            }));
        emit(ctx, &txn, program.id, removed).await?;
        txn.commit().await?;
        let dependency = match before.into_iter().next() {
            Some(assessed) => Dependency::from(assessed),
            None => Dependency::from(dep.clone()),
        };
        Ok(RemoveDependencyPayload {
            removed_dependency_id: encode(Kind::Dependency, dep.id),
            dependency,
        })
    }
}
