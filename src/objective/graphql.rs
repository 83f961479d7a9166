//! The `Objective` type, `setObjective` and `scoreObjective`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::objective;

use super::service;
use crate::{
    auth::{Actor, access},
    error::{AppError, AppResult},
    events::{graphql::emit, kind::EventKind, log::NewEvent},
    graphql::{
        self as gql,
        id::{Kind, decode_as, encode},
        loaders::{IncrementById, TeamById},
    },
    increment::graphql::Increment,
    team::graphql::Team,
};

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Objective(pub objective::Model);

/// A team's objective for a Program Increment, with the business value the
/// team planned and, once scored by the PM, the value it achieved.
#[Object]
impl Objective {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Objective, self.0.id)
    }

    /// What the team aims to achieve.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Planned business value, 1 to 10.
    async fn planned_value(&self) -> i32 {
        self.0.planned_value
    }

    /// Achieved business value, 0 to 10; null until the PM scores it.
    async fn actual_value(&self) -> Option<i32> {
        self.0.actual_value
    }

    /// Committed (counts toward planned value) or stretch (does not).
    async fn committed(&self) -> bool {
        self.0.committed
    }

    /// The team.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        Ok(Team(
            gql::load_required(ctx, TeamById(self.0.team_id)).await?,
        ))
    }

    /// The increment.
    async fn increment(&self, ctx: &Context<'_>) -> Result<Increment> {
        Ok(Increment(
            gql::load_required(ctx, IncrementById(self.0.increment_id)).await?,
        ))
    }

    /// When the objective was set.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Input of `setObjective`.
#[derive(InputObject)]
pub struct SetObjectiveInput {
    /// The team.
    pub team_id: ID,
    /// An increment of the team's program.
    pub increment_id: ID,
    /// What the team aims to achieve, 1 to 10,000 characters.
    pub description: String,
    /// Planned business value, 1 to 10.
    pub planned_value: i32,
    /// Committed (true, the default) or stretch (false).
    #[graphql(default = true)]
    pub committed: bool,
}

/// Input of `scoreObjective`.
#[derive(InputObject)]
pub struct ScoreObjectiveInput {
    /// The objective.
    pub objective_id: ID,
    /// Achieved business value, 0 to 10.
    pub actual_value: i32,
}

/// Result of the objective mutations.
#[derive(SimpleObject)]
pub struct ObjectivePayload {
    /// The objective as it now is.
    pub objective: Objective,
}

fn require_po_or_pm(
    actor: Actor,
    team: &entity::team::Model,
    program: &entity::program::Model,
) -> AppResult<()> {
    if actor.is_admin()
        || actor.is_user(program.product_manager_id)
        || actor.is_user(team.product_owner_id)
    {
        Ok(())
    } else {
        Err(AppError::forbidden(
            "only the team's Product Owner, the program's Product Manager or an admin may set objectives",
        ))
    }
}

#[derive(Default)]
pub struct ObjectiveMutation;

#[Object]
impl ObjectiveMutation {
    /// Adds a PI objective to a team (its PO, the program's PM or an admin).
    async fn set_objective(
        &self,
        ctx: &Context<'_>,
        input: SetObjectiveInput,
    ) -> Result<ObjectivePayload> {
        let actor = gql::actor(ctx)?;
        let team_id = decode_as(Kind::Team, "teamId", &input.team_id)?;
        let increment_id = decode_as(Kind::Increment, "incrementId", &input.increment_id)?;
        let txn = gql::store(ctx)?.begin_write().await?;
        let (team, program) = access::readable_team(&*txn, actor, team_id).await?;
        require_po_or_pm(actor, &team, &program)?;
        let objective = service::set(
            &*txn,
            gql::now(ctx)?,
            &team,
            increment_id,
            &input.description,
            input.planned_value,
            input.committed,
        )
        .await?;
        let set = NewEvent::new(EventKind::ObjectiveSet, (Kind::Objective, objective.id))
            .teams([team.id]);
        emit(ctx, &txn, program.id, set).await?;
        txn.commit().await?;
        Ok(ObjectivePayload {
            objective: Objective(objective),
        })
    }

    /// Scores the business value an objective achieved (the program's PM or
    /// an admin).
    async fn score_objective(
        &self,
        ctx: &Context<'_>,
        input: ScoreObjectiveInput,
    ) -> Result<ObjectivePayload> {
        let actor = gql::actor(ctx)?;
        let id = decode_as(Kind::Objective, "objectiveId", &input.objective_id)?;
        let txn = gql::store(ctx)?.begin_write().await?;
        let not_found = || AppError::not_found("objectiveId: no such objective");
        let (objective, team) = service::find(&*txn, id).await?.ok_or_else(not_found)?;
        let (_, program) = access::readable_team(&*txn, actor, team.id)
            .await
            .map_err(|_| not_found())?;
        access::require_program_manager(actor, &program, "score objectives")?;
        let objective = service::score(&*txn, objective, input.actual_value).await?;
        let scored = NewEvent::new(EventKind::ObjectiveScored, (Kind::Objective, objective.id))
            .teams([team.id])
            .payload(serde_json::json!({ "actualValue": objective.actual_value }));
        emit(ctx, &txn, program.id, scored).await?;
        txn.commit().await?;
        Ok(ObjectivePayload {
            objective: Objective(objective),
        })
    }
}
