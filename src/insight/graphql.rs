//! `Program.metrics(incrementId)` and `Team.metrics(incrementId)`.

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use entity::{increment, program, team};

use crate::{
    clarification::response::{self, ResponseFigures},
    dependency::{risk::DependencyState, service as dependencies},
    error::AppResult,
    graphql::{
        self as gql,
        id::{Kind, decode_as},
        loaders::{
            ClarificationsOfTeam, FlowOfTeam, IterationsByIncrement, ObjectivesOfTeam,
            TeamsByProgram, UserById,
        },
    },
    increment::{
        graphql::{Increment, Iteration},
        service::find_in_program,
    },
    insight::flow,
    objective::predictability::Tally,
    planning::graphql::{self as planning, IterationCapacity},
    team::graphql::Team,
    user::graphql::User,
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

/// How fast questions get answered.
#[derive(SimpleObject)]
pub struct ResponseTimes {
    /// Clarifications waiting for an answer (OPEN).
    pub open: i32,
    /// Hours since the oldest open one was asked; null when none is open.
    pub oldest_open_age_hours: Option<f64>,
    /// Clarifications answered at least once.
    pub answered: i32,
    /// Median hours from asking to the first answer.
    pub median_response_hours: Option<f64>,
    /// 90th percentile (nearest rank) of hours from asking to the first answer.
    pub p90_response_hours: Option<f64>,
}

impl From<ResponseFigures> for ResponseTimes {
    fn from(f: ResponseFigures) -> Self {
        Self {
            open: f.open,
            oldest_open_age_hours: f.oldest_open_hours,
            answered: f.answered,
            median_response_hours: f.median_response_hours,
            p90_response_hours: f.p90_response_hours,
        }
    }
}

/// One assignee's response times.
#[derive(SimpleObject)]
pub struct AssigneeResponseTimes {
    /// The assignee (a PO or the PM).
    pub assignee: User,
    /// Their figures.
    pub times: ResponseTimes,
}

/// Clarification figures of a team or program, overall and per assignee.
#[derive(SimpleObject)]
pub struct ClarificationFigures {
    /// All clarifications together.
    pub overall: ResponseTimes,
    /// Per current assignee, by name.
    pub by_assignee: Vec<AssigneeResponseTimes>,
}

async fn clarification_figures(
    ctx: &Context<'_>,
    items: Vec<entity::clarification::Model>,
) -> AppResult<ClarificationFigures> {
    let now = gql::now(ctx)?;
    let overall = response::figures(&items, now).into();
    let mut by: std::collections::BTreeMap<i64, Vec<entity::clarification::Model>> =
        Default::default();
    for c in items {
        by.entry(c.assignee_id).or_default().push(c);
    }
    let mut by_assignee = Vec::new();
    for (assignee, items) in by {
        let user = gql::load_required(ctx, UserById(assignee)).await?;
        by_assignee.push(AssigneeResponseTimes {
            assignee: User(user),
            times: response::figures(&items, now).into(),
        });
    }
    by_assignee.sort_by(|a, b| a.assignee.0.name.cmp(&b.assignee.0.name));
    Ok(ClarificationFigures {
        overall,
        by_assignee,
    })
}

/// What a team accepted in one iteration.
#[derive(SimpleObject)]
pub struct IterationVelocity {
    /// The iteration.
    pub iteration: Iteration,
    /// Points of the stories planned into it and accepted.
    pub accepted_points: i32,
    /// How many such stories.
    pub accepted_stories: i32,
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
    /// Accepted points per iteration of the increment, in iteration order.
    pub velocity: Vec<IterationVelocity>,
    /// The team's capacity and load per iteration of the increment, in
    /// iteration order.
    pub capacity: Vec<IterationCapacity>,
    /// Stories of the team in progress now.
    pub work_in_progress: i32,
    /// Median hours from READY to ACCEPTED of the stories planned into the
    /// increment and accepted; null when none is.
    pub median_cycle_time_hours: Option<f64>,
    /// Questions about the team's stories (all of them, not only this
    /// increment's): open count, oldest open, response times.
    pub clarifications: ClarificationFigures,
}

/// Dependencies that touch an increment: the dependent or provider story is
/// planned into one of its iterations, or it is needed by one of them.
#[derive(SimpleObject, Default)]
pub struct DependencyFigures {
    /// How many in all.
    pub total: i32,
    /// How many REQUESTED.
    pub requested: i32,
    /// How many COMMITTED.
    pub committed: i32,
    /// How many DECLINED.
    pub declined: i32,
    /// How many RESOLVED.
    pub resolved: i32,
    /// How many at risk (the same rules as `Dependency.atRisk`).
    pub at_risk: i32,
    /// How many between two different teams.
    pub cross_team: i32,
}

/// Each part of the program's figures is computed when it is asked for, so
/// a header that shows two counts does not pay for every team's figures.
pub struct ProgramMetrics {
    program: program::Model,
    increment: increment::Model,
}

/// The program's figures for one increment.
#[Object]
impl ProgramMetrics {
    /// The increment.
    async fn increment(&self) -> Increment {
        Increment(self.increment.clone())
    }

    /// The program's predictability: all teams' objectives together.
    async fn predictability(&self, ctx: &Context<'_>) -> Result<Predictability> {
        let teams = teams_of(ctx, self.program.id).await?;
        let tallies = futures_util::future::try_join_all(
            teams.iter().map(|t| tally(ctx, t.id, self.increment.id)),
        )
        .await?;
        let total = tallies
            .into_iter()
            .fold(Tally::default(), |acc, t| acc.plus(t));
        Ok(total.into())
    }

    /// Dependencies touching the increment.
    async fn dependencies(&self, ctx: &Context<'_>) -> Result<DependencyFigures> {
        Ok(dependency_figures(ctx, &self.program, &self.increment).await?)
    }

    /// Questions on the program (all of them): open count, oldest open,
    /// response times, per assignee.
    async fn clarifications(&self, ctx: &Context<'_>) -> Result<ClarificationFigures> {
        let conn = gql::store(ctx)?.conn();
        let asked = crate::clarification::service::of_program(conn, self.program.id).await?;
        Ok(clarification_figures(ctx, asked).await?)
    }

    /// Each team's figures, teams by name.
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<TeamMetrics>> {
        let teams = teams_of(ctx, self.program.id).await?;
        let per_team = futures_util::future::try_join_all(
            teams.into_iter().map(|t| figures(ctx, t, &self.increment)),
        )
        .await?;
        Ok(per_team.into_iter().map(|(m, _)| m).collect())
    }
}

async fn teams_of(ctx: &Context<'_>, program_id: i64) -> AppResult<Vec<team::Model>> {
    Ok(gql::load_one(ctx, TeamsByProgram(program_id))
        .await?
        .unwrap_or_default())
}

async fn increment_of(ctx: &Context<'_>, program_id: i64, id: &ID) -> AppResult<increment::Model> {
    let id = decode_as(Kind::Increment, "incrementId", id)?;
    find_in_program(gql::store(ctx)?.conn(), "incrementId", program_id, id).await
}

/// A team's figures: objectives, velocity, work in progress, cycle time.
async fn figures(
    ctx: &Context<'_>,
    team: team::Model,
    increment: &increment::Model,
) -> AppResult<(TeamMetrics, Tally)> {
    let tally = tally(ctx, team.id, increment.id).await?;
    let stories = gql::load_one(
        ctx,
        FlowOfTeam {
            team: team.id,
            increment: increment.id,
        },
    )
    .await?
    .unwrap_or_default();
    let iterations = gql::load_one(ctx, IterationsByIncrement(increment.id))
        .await?
        .unwrap_or_default();
    let accepted = flow::velocity(&stories);
    let velocity = iterations
        .into_iter()
        .map(|it| {
            let (points, count) = accepted.get(&it.id).copied().unwrap_or((0, 0));
            IterationVelocity {
                iteration: Iteration(it),
                accepted_points: points,
                accepted_stories: count,
            }
        })
        .collect();
    // Accepted stories here are all planned into the increment; the others
    // are in progress (and have no cycle time yet).
    let work_in_progress = stories.iter().filter(|s| s.state == "IN_PROGRESS").count();
    let asked = gql::load_one(ctx, ClarificationsOfTeam(team.id))
        .await?
        .unwrap_or_default();
    let clarifications = clarification_figures(ctx, asked).await?;
    let capacity = planning::team_capacity(ctx, team.id, increment.id).await?;
    Ok((
        TeamMetrics {
            clarifications,
            capacity,
            team: Team(team),
            increment: Increment(increment.clone()),
            predictability: tally.into(),
            velocity,
            work_in_progress: i32::try_from(work_in_progress).unwrap_or(i32::MAX),
            median_cycle_time_hours: flow::median(flow::cycle_times_hours(&stories)),
        },
        tally,
    ))
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
    Ok(figures(ctx, team.clone(), &increment).await?.0)
}

/// `Program.metrics`.
pub async fn program_metrics(
    ctx: &Context<'_>,
    program: &program::Model,
    increment_id: &ID,
) -> AppResult<ProgramMetrics> {
    let increment = increment_of(ctx, program.id, increment_id).await?;
    Ok(ProgramMetrics {
        program: program.clone(),
        increment,
    })
}

/// The dependencies touching `increment`, counted.
async fn dependency_figures(
    ctx: &Context<'_>,
    program: &program::Model,
    increment: &increment::Model,
) -> AppResult<DependencyFigures> {
    let iterations: std::collections::HashSet<i64> =
        gql::load_one(ctx, IterationsByIncrement(increment.id))
            .await?
            .unwrap_or_default()
            .iter()
            .map(|i| i.id)
            .collect();
    let filter = dependencies::Filter {
        program: Some(program.id),
        ..Default::default()
    };
    let mut deps = DependencyFigures::default();
    let touching = dependencies::assessed(gql::store(ctx)?.conn(), &filter)
        .await?
        .into_iter()
        .filter(|a| {
            [
                a.dependent_iteration,
                a.provider_iteration,
                a.row.needed_by_iteration_id,
            ]
            .into_iter()
            .flatten()
            .any(|i| iterations.contains(&i))
        });
    for a in touching {
        deps.total += 1;
        match a.facts.state {
            DependencyState::Requested => deps.requested += 1,
            DependencyState::Committed => deps.committed += 1,
            DependencyState::Declined => deps.declined += 1,
            DependencyState::Resolved => deps.resolved += 1,
        }
        deps.at_risk += i32::from(a.at_risk());
        deps.cross_team += i32::from(a.cross_team());
    }
    Ok(deps)
}
