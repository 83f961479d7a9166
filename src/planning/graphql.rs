//! The planning types: capacity and load, breakdown, readiness, confidence;
//! `setCapacity` and `voteConfidence`.

use std::collections::{HashMap, HashSet};

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{confidence_vote, feature, iteration, program, team};

use super::{
    readiness::{self, StoryCounts},
    service::{self, Load, Tally},
    usecase,
};
use crate::{
    backlog::lifecycle::StoryState,
    clarification::{graphql::Clarification, status::ClarificationStatus},
    clock::hours_between,
    error::{AppError, AppResult},
    feature::graphql::Feature,
    graphql::{
        self as gql,
        id::{self, Kind, decode_as},
        loaders::{
            AllocationsOfFeature, ClarificationsOfFeature, ClarificationsOfStory, IncrementById,
            IterationById, IterationsByIncrement, LoadOfTeam, StoriesByFeature, TeamById, UserById,
        },
    },
    increment::{
        graphql::{Increment, Iteration},
        service::find_in_program,
    },
    team::graphql::Team,
    user::graphql::User,
};

/// Wraps a team's capacity and load in one iteration.
pub struct IterationCapacity(pub Load);

/// A team's capacity in one iteration and the load planned against it.
#[Object]
impl IterationCapacity {
    /// The team.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        Ok(Team(
            gql::load_required(ctx, TeamById(self.0.team_id)).await?,
        ))
    }

    /// The iteration.
    async fn iteration(&self, ctx: &Context<'_>) -> Result<Iteration> {
        Ok(Iteration(
            gql::load_required(ctx, IterationById(self.0.iteration_id)).await?,
        ))
    }

    /// The points the team plans to take on (`setCapacity`); null when not set.
    async fn capacity(&self) -> Option<i32> {
        self.0.capacity
    }

    /// Points of the team's stories planned into the iteration, whatever
    /// their state (unestimated stories count 0).
    async fn load(&self) -> i32 {
        self.0.load
    }

    /// Whether the load is over the capacity; null when no capacity is set.
    async fn overloaded(&self) -> Option<bool> {
        self.0.overloaded()
    }

    /// Capacity minus load (negative when overloaded); null when no capacity is set.
    async fn remaining(&self) -> Option<i32> {
        self.0.capacity.map(|c| c - self.0.load)
    }
}

/// A team's capacity and load in `iteration` (`Iteration.load`, `Iteration.capacity`).
pub async fn iteration_load(
    ctx: &Context<'_>,
    iteration: &iteration::Model,
    team_id: &ID,
) -> AppResult<Load> {
    let team = decode_as(Kind::Team, "teamId", team_id)?;
    let increment = gql::load_required(ctx, IncrementById(iteration.increment_id)).await?;
    match gql::load_one(ctx, TeamById(team)).await? {
        Some(t) if t.program_id == increment.program_id => {}
        _ => {
            return Err(AppError::not_found(
                "teamId: no team of this program has that ID",
            ));
        }
    }
    gql::load_required(
        ctx,
        LoadOfTeam {
            team,
            iteration: iteration.id,
        },
    )
    .await
}

/// Capacity and load of `team` in each iteration of `increment_id`, in
/// iteration order (`Team.metrics`).
pub async fn team_capacity(
    ctx: &Context<'_>,
    team: i64,
    increment_id: i64,
) -> AppResult<Vec<IterationCapacity>> {
    let iterations = gql::load_one(ctx, IterationsByIncrement(increment_id))
        .await?
        .unwrap_or_default();
    let keys = iterations.iter().map(|it| LoadOfTeam {
        team,
        iteration: it.id,
    });
    let loaded = gql::loader(ctx)?
        .load_many(keys)
        .await
        .map_err(AppError::from)?;
    Ok(iterations
        .iter()
        .filter_map(|it| {
            loaded
                .get(&LoadOfTeam {
                    team,
                    iteration: it.id,
                })
                .copied()
                .map(IterationCapacity)
        })
        .collect())
}

/// How far one allocated team has broken a feature down.
#[derive(SimpleObject)]
pub struct Breakdown {
    /// The team.
    pub team: Team,
    /// Its stories under the feature.
    pub stories: i32,
    /// Points of those that are estimated.
    pub points_estimated: i32,
    /// Points of those planned into an iteration of the feature's target
    /// increment (0 when the feature targets none).
    pub points_planned: i32,
    /// Points of those accepted.
    pub points_accepted: i32,
    /// How many are still DRAFT (not yet READY).
    pub stories_not_ready: i32,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Per allocated team, oldest allocation first, how far it has broken
/// `feature` down (`Feature.breakdown`); only `team` when given
/// (`Allocation.breakdown`).
pub async fn breakdowns(
    ctx: &Context<'_>,
    feature: &feature::Model,
    team: Option<i64>,
) -> AppResult<Vec<Breakdown>> {
    let allocations = gql::load_one(ctx, AllocationsOfFeature(feature.id))
        .await?
        .unwrap_or_default();
    let stories = gql::load_one(ctx, StoriesByFeature(feature.id))
        .await?
        .unwrap_or_default();
    let planned: HashSet<i64> = match feature.target_increment_id {
        Some(inc) => gql::load_one(ctx, IterationsByIncrement(inc))
            .await?
            .unwrap_or_default()
            .iter()
            .map(|it| it.id)
            .collect(),
        None => HashSet::new(),
    };
    let mut out = Vec::new();
    for a in allocations
        .iter()
        .filter(|a| team.is_none_or(|t| t == a.team_id))
    {
        let mine: Vec<_> = stories.iter().filter(|s| s.team_id == a.team_id).collect();
        let points = |keep: &dyn Fn(&&&entity::story::Model) -> bool| -> i32 {
            mine.iter().filter(keep).filter_map(|s| s.points).sum()
        };
        out.push(Breakdown {
            team: Team(gql::load_required(ctx, TeamById(a.team_id)).await?),
            stories: count(mine.len()),
            points_estimated: points(&|_| true),
            points_planned: points(&|s| s.iteration_id.is_some_and(|i| planned.contains(&i))),
            points_accepted: points(&|s| s.state == StoryState::Accepted.as_str()),
            stories_not_ready: count(
                mine.iter()
                    .filter(|s| s.state == StoryState::Draft.as_str())
                    .count(),
            ),
        });
    }
    Ok(out)
}

/// `Feature.readyForPlanning`, with the same rule as `planningReadiness`.
pub async fn ready_for_planning(ctx: &Context<'_>, feature: &feature::Model) -> AppResult<bool> {
    let allocations = gql::load_one(ctx, AllocationsOfFeature(feature.id))
        .await?
        .unwrap_or_default();
    if allocations.is_empty() {
        return Ok(false);
    }
    let stories = gql::load_one(ctx, StoriesByFeature(feature.id))
        .await?
        .unwrap_or_default();
    let mut counts: HashMap<i64, StoryCounts> = HashMap::new();
    for s in &stories {
        let c = counts.entry(s.team_id).or_default();
        c.stories += 1;
        c.ready += i64::from(s.state != StoryState::Draft.as_str());
    }
    let open_blocking = |c: &entity::clarification::Model| {
        c.blocking && c.status == ClarificationStatus::Open.as_str()
    };
    let mut blocking = gql::load_one(ctx, ClarificationsOfFeature(feature.id))
        .await?
        .unwrap_or_default()
        .iter()
        .filter(|c| open_blocking(c))
        .count();
    let on_stories = gql::loader(ctx)?
        .load_many(stories.iter().map(|s| ClarificationsOfStory(s.id)))
        .await
        .map_err(AppError::from)?;
    blocking += on_stories
        .values()
        .flatten()
        .filter(|c| open_blocking(c))
        .count();
    let teams: Vec<i64> = allocations.iter().map(|a| a.team_id).collect();
    Ok(readiness::Facts {
        allocated: &teams,
        counts: &counts,
        open_blocking: blocking,
    }
    .ready_for_planning())
}

/// A feature whose allocated teams have not broken it down yet.
#[derive(SimpleObject)]
pub struct AwaitingBreakdown {
    /// The feature.
    pub feature: Feature,
    /// The allocated teams with no story under it yet, by name.
    pub teams: Vec<Team>,
    /// The oldest of those teams' allocations.
    pub allocated_at: DateTime<Utc>,
    /// Hours since then.
    pub age_hours: f64,
}

/// A feature held up by open blocking clarifications.
#[derive(SimpleObject)]
pub struct BlockedFeature {
    /// The feature.
    pub feature: Feature,
    /// The open blocking clarifications on it and on its stories, oldest first.
    pub clarifications: Vec<Clarification>,
    /// Hours since the oldest of them was asked.
    pub oldest_age_hours: f64,
}

/// Whether an increment's features are ready to be planned, for the PM.
#[derive(SimpleObject)]
pub struct PlanningReadiness {
    /// The increment.
    pub increment: Increment,
    /// How many features target the increment.
    pub features: i32,
    /// The features ready for planning (`Feature.readyForPlanning`), in rank order.
    pub ready_features: Vec<Feature>,
    /// Features targeting the increment that no team was allocated, in rank order.
    pub unallocated: Vec<Feature>,
    /// Features allocated to teams that have no story under them yet,
    /// oldest allocation first.
    pub not_broken_down: Vec<AwaitingBreakdown>,
    /// Features with open blocking clarifications, on the feature or on one
    /// of its stories, oldest question first.
    pub blocked_by_clarifications: Vec<BlockedFeature>,
    /// Teams of the program with no feature of the increment allocated, by name.
    pub teams_with_nothing_allocated: Vec<Team>,
}

/// `Program.planningReadiness`.
pub async fn planning_readiness(
    ctx: &Context<'_>,
    program: &program::Model,
    increment_id: &ID,
) -> AppResult<PlanningReadiness> {
    let increment = decode_as(Kind::Increment, "incrementId", increment_id)?;
    let conn = gql::store(ctx)?.conn();
    let increment = find_in_program(conn, "incrementId", program.id, increment).await?;
    let now = gql::now(ctx)?;
    let r = readiness::assess(readiness::load(conn, program.id, increment.id).await?);
    let teams = |rows: Vec<team::Model>| rows.into_iter().map(Team).collect();
    let features = |rows: Vec<feature::Model>| rows.into_iter().map(Feature).collect();
    Ok(PlanningReadiness {
        increment: Increment(increment),
        features: count(r.features),
        ready_features: features(r.ready),
        unallocated: features(r.unallocated),
        not_broken_down: r
            .not_broken_down
            .into_iter()
            .map(|a| AwaitingBreakdown {
                age_hours: hours_between(a.since, now),
                feature: Feature(a.feature),
                teams: teams(a.teams),
                allocated_at: a.since,
            })
            .collect(),
        blocked_by_clarifications: r
            .blocked
            .into_iter()
            .map(|b| BlockedFeature {
                oldest_age_hours: b
                    .clarifications
                    .first()
                    .map_or(0.0, |c| hours_between(c.asked_at, now)),
                feature: Feature(b.feature),
                clarifications: b.clarifications.into_iter().map(Clarification).collect(),
            })
            .collect(),
        teams_with_nothing_allocated: teams(r.idle_teams),
    })
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct ConfidenceVote(pub confidence_vote::Model);

/// One person's confidence in their team's plan ("fist of five").
#[Object]
impl ConfidenceVote {
    /// Who voted: the team's PO or a member.
    async fn voter(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(
            gql::load_required(ctx, UserById(self.0.user_id)).await?,
        ))
    }

    /// The team.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        Ok(Team(
            gql::load_required(ctx, TeamById(self.0.team_id)).await?,
        ))
    }

    /// The increment planned.
    async fn increment(&self, ctx: &Context<'_>) -> Result<Increment> {
        Ok(Increment(
            gql::load_required(ctx, IncrementById(self.0.increment_id)).await?,
        ))
    }

    /// 1 (no confidence) to 5 (full confidence).
    async fn value(&self) -> i32 {
        self.0.value
    }

    /// When the vote was last cast.
    async fn voted_at(&self) -> DateTime<Utc> {
        self.0.voted_at
    }
}

/// The confidence votes of a team, or of the whole program, for an increment.
#[derive(SimpleObject)]
pub struct Confidence {
    /// How many votes.
    pub votes: i32,
    /// Their average; null when nobody voted.
    pub average: Option<f64>,
    /// The votes below 3, oldest first: whose concerns to hear.
    pub low: Vec<ConfidenceVote>,
}

impl From<Tally> for Confidence {
    fn from(t: Tally) -> Self {
        Self {
            votes: t.count,
            average: t.average,
            low: t.low.into_iter().map(ConfidenceVote).collect(),
        }
    }
}

/// `Team.confidence` (`team` set) and `Program.confidence`.
pub async fn confidence(
    ctx: &Context<'_>,
    program_id: i64,
    team: Option<i64>,
    increment_id: &ID,
) -> AppResult<Confidence> {
    let increment = decode_as(Kind::Increment, "incrementId", increment_id)?;
    let conn = gql::store(ctx)?.conn();
    let increment = find_in_program(conn, "incrementId", program_id, increment).await?;
    let teams = team.map(|t| vec![t]);
    let votes = service::votes(conn, increment.id, teams.as_deref()).await?;
    Ok(Tally::of(&votes).into())
}

/// Input of `setCapacity`.
#[derive(InputObject)]
pub struct SetCapacityInput {
    /// The team.
    pub team_id: ID,
    /// An iteration of the team's program.
    pub iteration_id: ID,
    /// The points the team plans to take on, 0 to 1,000; null removes the
    /// capacity (the field must be given).
    pub points: MaybeUndefined<i32>,
}

/// Result of `setCapacity`.
#[derive(SimpleObject)]
pub struct SetCapacityPayload {
    /// The team's capacity and load in the iteration now.
    pub capacity: IterationCapacity,
}

/// Input of `voteConfidence`.
#[derive(InputObject)]
pub struct VoteConfidenceInput {
    /// The increment planned.
    pub increment_id: ID,
    /// The voter's team.
    pub team_id: ID,
    /// 1 (no confidence) to 5 (full confidence).
    pub value: i32,
}

/// Result of `voteConfidence`.
#[derive(SimpleObject)]
pub struct VoteConfidencePayload {
    /// The vote as recorded (it replaces the voter's earlier one).
    pub vote: ConfidenceVote,
}

#[derive(Default)]
pub struct PlanningMutation;

#[Object]
impl PlanningMutation {
    /// Sets how many points a team plans to take on in an iteration (the
    /// team's PO, the program's PM or an admin). Planning beyond it is
    /// allowed; the story's payload and event then say so.
    async fn set_capacity(
        &self,
        ctx: &Context<'_>,
        input: SetCapacityInput,
    ) -> Result<SetCapacityPayload> {
        let team = id::typed("teamId", &input.team_id)?;
        let iteration = id::typed("iterationId", &input.iteration_id)?;
        let points = match input.points {
            MaybeUndefined::Undefined => {
                return Err(
                    AppError::bad_input("points: give the capacity, or null to remove it").into(),
                );
            }
            MaybeUndefined::Null => None,
            MaybeUndefined::Value(p) => Some(p),
        };
        let load = gql::perform(ctx, |w| {
            Box::pin(usecase::set_capacity(w, team, iteration, points))
        })
        .await?;
        Ok(SetCapacityPayload {
            capacity: IterationCapacity(load),
        })
    }

    /// Votes the viewer's confidence in their team's plan of an increment,
    /// 1 to 5 (the team's PO and members; a later vote replaces an earlier one).
    async fn vote_confidence(
        &self,
        ctx: &Context<'_>,
        input: VoteConfidenceInput,
    ) -> Result<VoteConfidencePayload> {
        let increment = id::typed("incrementId", &input.increment_id)?;
        let team = id::typed("teamId", &input.team_id)?;
        let value = input.value;
        let vote = gql::perform(ctx, |w| {
            Box::pin(usecase::vote_confidence(w, increment, team, value))
        })
        .await?;
        Ok(VoteConfidencePayload {
            vote: ConfidenceVote(vote),
        })
    }
}
