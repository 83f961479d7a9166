//! `Program.metrics(incrementId)` and `Team.metrics(incrementId)`.

use async_graphql::{Context, ID, SimpleObject};
use entity::{increment, program, team};

use crate::{
    error::AppResult,
    graphql::{
        self as gql,
        id::{Kind, decode_as},
        loaders::{ObjectivesOfTeam, TeamsByProgram},
    },
    increment::{graphql::Increment, service::require_in_program},
    objective::predictability::Tally,
    team::graphql::Team,
};

/// Business value achieved against business value planned.
#[derive(SimpleObject, Clone, Copy)]
pub struct Predictability {
    /// Planned value of the committed objectives.
    pub planned_value: i32,
    /// Achieved value of all scored objectives, committed and stretch.
    pub actual_value: i32,
    /// actualValue / plannedValue (1.0 is 100%); null when nothing committed was planned.
    pub ratio: Option<f64>,
    /// How many committed objectives.
    pub committed_objectives: i32,
    /// How many stretch objectives.
    pub stretch_objectives: i32,
    /// How many objectives the PM has not scored yet.
    pub unscored_objectives: i32,
}

impl From<Tally> for Predictability {
    fn from(t: Tally) -> Self {
        Self {
            planned_value: t.planned,
            actual_value: t.actual,
            ratio: t.ratio(),
            committed_objectives: t.committed,
            stretch_objectives: t.stretch,
            unscored_objectives: t.unscored,
        }
    }
}

/// A team's figures for one increment.
#[derive(SimpleObject)]
pub struct TeamMetrics {
    /// The team.
    pub team: Team,
    /// The increment.
    pub increment: Increment,
    /// The team's predictability in the increment.
    pub predictability: Predictability,
}

/// The program's figures for one increment.
#[derive(SimpleObject)]
pub struct ProgramMetrics {
    /// The increment.
    pub increment: Increment,
    /// The program's predictability: all teams' objectives together.
    pub predictability: Predictability,
    /// Each team's figures, teams by name.
    pub teams: Vec<TeamMetrics>,
}

async fn increment_of(ctx: &Context<'_>, program_id: i64, id: &ID) -> AppResult<increment::Model> {
    let id = decode_as(Kind::Increment, "incrementId", id)?;
    require_in_program(gql::store(ctx)?.conn(), "incrementId", program_id, id).await
}

async fn tally(ctx: &Context<'_>, team: i64, increment: i64) -> AppResult<Tally> {
    let objectives = gql::load_one(ctx, ObjectivesOfTeam { team, increment })
        .await?
        .unwrap_or_default();
    Ok(Tally::of(&objectives))
}

/// `Team.metrics`.
pub async fn team_metrics(
    ctx: &Context<'_>,
    team: &team::Model,
    increment_id: &ID,
) -> AppResult<TeamMetrics> {
    let increment = increment_of(ctx, team.program_id, increment_id).await?;
    let t = tally(ctx, team.id, increment.id).await?;
    Ok(TeamMetrics {
        team: Team(team.clone()),
        increment: Increment(increment),
        predictability: t.into(),
    })
}

/// `Program.metrics`.
pub async fn program_metrics(
    ctx: &Context<'_>,
    program: &program::Model,
    increment_id: &ID,
) -> AppResult<ProgramMetrics> {
    let increment = increment_of(ctx, program.id, increment_id).await?;
    let teams = gql::load_one(ctx, TeamsByProgram(program.id))
        .await?
        .unwrap_or_default();
    let tallies =
        futures_util::future::try_join_all(teams.iter().map(|t| tally(ctx, t.id, increment.id)))
            .await?;
    let total = tallies.iter().fold(Tally::default(), |acc, t| acc.plus(*t));
    let teams = teams
        .into_iter()
        .zip(tallies)
        .map(|(team, t)| TeamMetrics {
            team: Team(team),
            increment: Increment(increment.clone()),
            predictability: t.into(),
        })
        .collect();
    Ok(ProgramMetrics {
        increment: Increment(increment),
        predictability: total.into(),
        teams,
    })
}
