//! The `Increment` and `Iteration` types and `createIncrement`.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use entity::{increment, iteration};

use super::usecase::{self, NewIncrement};
use crate::{
    graphql::{
        self as gql,
        id::{self, Kind, encode},
        loaders::{IncrementById, IterationsByIncrement, ProgramById},
        scalars::Date,
    },
    planning::graphql::iteration_load,
    program::graphql::Program,
};

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Increment(pub increment::Model);

/// A Program Increment (PI): a timebox of consecutive, equal-length
/// iterations that the program plans together.
#[Object]
impl Increment {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Increment, self.0.id)
    }

    /// Name, unique within the program (e.g. "PI 2026.1").
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// First day of the first iteration.
    async fn start_date(&self) -> Date {
        Date(self.0.start_date)
    }

    /// Last day of the last iteration (inclusive).
    async fn end_date(&self) -> Date {
        Date(self.0.end_date)
    }

    /// Length of each iteration in days.
    async fn iteration_length_days(&self) -> i32 {
        self.0.iteration_length_days
    }

    /// The program the increment belongs to.
    async fn program(&self, ctx: &Context<'_>) -> Result<Program> {
        Ok(Program(
            gql::load_required(ctx, ProgramById(self.0.program_id)).await?,
        ))
    }

    /// The iterations, numbered from 1.
    #[graphql(complexity = "5 * child_complexity + 1")]
    async fn iterations(&self, ctx: &Context<'_>) -> Result<Vec<Iteration>> {
        let rows = gql::load_one(ctx, IterationsByIncrement(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Iteration).collect())
    }
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Iteration(pub iteration::Model);

/// An iteration (sprint) of a Program Increment.
#[Object]
impl Iteration {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Iteration, self.0.id)
    }

    /// Its number within the increment, from 1.
    async fn number(&self) -> i32 {
        self.0.number
    }

    /// Points of a team's stories planned into this iteration, whatever
    /// their state (unestimated stories count 0).
    async fn load(&self, ctx: &Context<'_>, team_id: ID) -> Result<i32> {
        Ok(iteration_load(ctx, &self.0, &team_id).await?.load)
    }

    /// A team's capacity in this iteration (`setCapacity`); null when not set.
    async fn capacity(&self, ctx: &Context<'_>, team_id: ID) -> Result<Option<i32>> {
        Ok(iteration_load(ctx, &self.0, &team_id).await?.capacity)
    }

    /// First day.
    async fn start_date(&self) -> Date {
        Date(self.0.start_date)
    }

    /// Last day (inclusive).
    async fn end_date(&self) -> Date {
        Date(self.0.end_date)
    }

    /// The increment it belongs to.
    async fn increment(&self, ctx: &Context<'_>) -> Result<Increment> {
        Ok(Increment(
            gql::load_required(ctx, IncrementById(self.0.increment_id)).await?,
        ))
    }
}

/// Input of `createIncrement`.
#[derive(InputObject)]
pub struct CreateIncrementInput {
    /// The program.
    pub program_id: ID,
    /// Name, unique within the program.
    pub name: String,
    /// First day of the first iteration.
    pub start_date: Date,
    /// How many iterations, 1 to 26.
    pub iteration_count: i32,
    /// Days per iteration, 1 to 70.
    pub iteration_length_days: i32,
}

/// Result of `createIncrement`.
#[derive(SimpleObject)]
pub struct IncrementPayload {
    /// The new increment with its iterations.
    pub increment: Increment,
}

#[derive(Default)]
pub struct IncrementMutation;

#[Object]
impl IncrementMutation {
    /// Creates a Program Increment and its iterations (the program's PM or
    /// an admin). Increments of one program may not overlap (CONFLICT).
    async fn create_increment(
        &self,
        ctx: &Context<'_>,
        input: CreateIncrementInput,
    ) -> Result<IncrementPayload> {
        let program = id::typed("programId", &input.program_id)?;
        let new = NewIncrement {
            name: input.name,
            start_date: input.start_date.0,
            iteration_count: input.iteration_count,
            iteration_length_days: input.iteration_length_days,
        };
        let increment = gql::perform(ctx, |w| {
            Box::pin(usecase::create_increment(w, program, new.clone()))
        })
        .await?;
        Ok(IncrementPayload {
            increment: Increment(increment),
        })
    }
}
