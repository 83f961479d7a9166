//! The `Objective` type, `setObjective` and `scoreObjective`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::objective;

use super::usecase::{self, NewObjective};
use crate::{
    graphql::{
        self as gql,
        id::{self, Kind, encode},
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

fn payload(objective: objective::Model) -> ObjectivePayload {
    ObjectivePayload {
        objective: Objective(objective),
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
        let new = NewObjective {
            team: id::typed("teamId", &input.team_id)?,
            increment: id::typed("incrementId", &input.increment_id)?,
            description: input.description,
            planned_value: input.planned_value,
            committed: input.committed,
        };
        let objective =
            gql::perform(ctx, |w| Box::pin(usecase::set_objective(w, new.clone()))).await?;
        Ok(payload(objective))
    }

    /// Scores the business value an objective achieved (the program's PM or
    /// an admin).
    async fn score_objective(
        &self,
        ctx: &Context<'_>,
        input: ScoreObjectiveInput,
    ) -> Result<ObjectivePayload> {
        let objective_id = id::typed("objectiveId", &input.objective_id)?;
        let objective = gql::perform(ctx, |w| {
            Box::pin(usecase::score_objective(
                w,
                objective_id,
                input.actual_value,
            ))
        })
        .await?;
        Ok(payload(objective))
    }
}
