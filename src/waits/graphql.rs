//! What waits for whom in the API: `User.waitingOnMe`, `Program.waits`,
//! and the `waitingUpdates` subscription's items.

use std::collections::{BTreeSet, HashMap};

use async_graphql::{Context, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{increment, iteration, program, wait};

use super::{
    kind::{self, WaitKind as Kind_},
    service::{self, Span},
};
use crate::{
    backlog::graphql::Story,
    clarification::graphql::Clarification,
    clarification::response::percentile,
    clock::{hours_between, start_of_day},
    dependency::graphql::Dependency,
    error::AppResult,
    feature::graphql::Feature,
    graphql::{
        self as gql,
        id::{Kind, decode_as, encode},
        loaders::{
            AssessedDependency, ClarificationById, FeatureById, IterationsByIncrement, StoryById,
            TeamById, TeamsByProgram, UserById,
        },
        node::Node,
    },
    increment::{graphql::Iteration, service::find_in_program},
    team::graphql::Team,
    user::graphql::User,
};

gql::mirror_enum! {
    /// What a wait is for.
    WaitKind mirrors kind::WaitKind {
        /// A question waits for its assignee's answer.
        Answer,
        /// An answer waits for its asker to resolve (or reopen) the question.
        Resolution,
        /// A DONE story waits for its PO to accept or reject it.
        Acceptance,
        /// A requested dependency waits for the provider PO to commit or decline.
        Decision,
        /// A feature allocated to a team waits for the team's first story under it.
        Breakdown,
    }
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct WaitItem(pub wait::Model);

/// Something waiting for one person's decision.
#[Object]
impl WaitItem {
    /// What it waits for.
    async fn kind(&self) -> Result<WaitKind> {
        Ok(Kind_::parse(&self.0.kind)?.into())
    }

    /// What waits: the clarification, story, dependency or feature; null
    /// once it no longer exists (a removed dependency).
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<Node>> {
        // The program was checked for the viewer when the queue or the
        // subscription began; its rows load in batches.
        let id = self.0.subject_id;
        Ok(match Kind::from_name(&self.0.subject_type) {
            Some(Kind::Story) => gql::load_one(ctx, StoryById(id))
                .await?
                .map(|s| Node::Story(Story::from(s))),
            Some(Kind::Feature) => gql::load_one(ctx, FeatureById(id))
                .await?
                .map(|f| Node::Feature(Feature(f))),
            Some(Kind::Dependency) => gql::load_one(ctx, AssessedDependency(id))
                .await?
                .map(|d| Node::Dependency(Dependency::from(d))),
            Some(Kind::Clarification) => gql::load_one(ctx, ClarificationById(id))
                .await?
                .map(|c| Node::Clarification(Clarification(c))),
            _ => None,
        })
    }

    /// The global ID of what waits.
    async fn subject_id(&self) -> ID {
        let kind = Kind::from_name(&self.0.subject_type).unwrap_or(Kind::Story);
        encode(kind, self.0.subject_id)
    }

    /// The team concerned: whose PO decides, or, for a breakdown, the team
    /// allocated; for a question about a story, the story's team.
    async fn team(&self, ctx: &Context<'_>) -> Result<Option<Team>> {
        match self.0.team_id {
            Some(t) => Ok(gql::load_one(ctx, TeamById(t)).await?.map(Team)),
            None => Ok(None),
        }
    }

    /// Who it waits on.
    async fn waiting_on(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(
            gql::load_required(ctx, UserById(self.0.owner_id)).await?,
        ))
    }

    /// Since when it waits.
    async fn since(&self) -> DateTime<Utc> {
        self.0.started_at
    }

    /// Hours it has waited (until it ended, if it did), on the server's clock.
    async fn age_hours(&self, ctx: &Context<'_>) -> Result<f64> {
        let until = match self.0.ended_at {
            Some(ended) => ended,
            None => gql::now(ctx)?,
        };
        Ok(hours_between(self.0.started_at, until))
    }

    /// What ends the wait.
    async fn action(&self) -> Result<&'static str> {
        Ok(Kind_::parse(&self.0.kind)?.action())
    }

    /// When it ended; null while it waits.
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }

    /// How it ended (ANSWERED, RESOLVED, REOPENED, ACCEPTED, REJECTED,
    /// WITHDRAWN, COMMITTED, DECLINED, RESOLVED, REMOVED, BROKEN_DOWN,
    /// DEALLOCATED); null while it waits.
    async fn outcome(&self) -> Option<&str> {
        self.0.outcome.as_deref()
    }
}

/// `User.waitingOnMe`: what waits on `user` in a program the viewer reads.
pub async fn queue(ctx: &Context<'_>, user: i64, program_id: &ID) -> AppResult<Vec<WaitItem>> {
    let program = decode_as(Kind::Program, "programId", program_id)?;
    let conn = gql::store(ctx)?.conn();
    let program =
        crate::auth::policy::program(conn, gql::actor(ctx)?, crate::ids::ProgramId(program))
            .await?;
    gql::reads_program(ctx, program.id);
    Ok(service::queue(conn, program.id, user)
        .await?
        .into_iter()
        .map(WaitItem)
        .collect())
}

/// `Program.oldestWaits(first)`: what has waited longest in the program,
/// whoever it waits on.
pub async fn oldest(
    ctx: &Context<'_>,
    program: &program::Model,
    first: i32,
) -> AppResult<Vec<WaitItem>> {
    let page = crate::page::Page::new(gql::page_limits(ctx)?, Some(first), None)?;
    let conn = gql::store(ctx)?.conn();
    Ok(service::oldest_open(conn, program.id, page.limit)
        .await?
        .into_iter()
        .map(WaitItem)
        .collect())
}

/// One kind of wait of one person: open now, and finished in a period.
#[derive(SimpleObject, Clone)]
pub struct WaitFigures {
    /// The kind.
    pub kind: WaitKind,
    /// How many wait on the person (now; for an iteration, at its end).
    pub open: i32,
    /// Hours the oldest of those has waited; null when none.
    pub oldest_open_age_hours: Option<f64>,
    /// How many ended in the period (for answers: first answers only,
    /// from asking to the first answer).
    pub finished: i32,
    /// Median hours those took.
    pub median_hours: Option<f64>,
    /// 90th percentile (nearest rank) of hours those took.
    pub p90_hours: Option<f64>,
}

/// One person's waits in one iteration.
#[derive(SimpleObject)]
pub struct IterationWaits {
    /// The iteration.
    pub iteration: Iteration,
    /// Per kind: open at the iteration's end (or now, while it runs), and
    /// finished during it.
    pub kinds: Vec<WaitFigures>,
}

/// What waits on one PO or the PM, and how long their waits took.
#[derive(SimpleObject)]
pub struct PersonWaits {
    /// The person.
    pub person: User,
    /// Whether they are the program's Product Manager.
    pub product_manager: bool,
    /// The teams they are the PO of, by name.
    pub teams: Vec<Team>,
    /// Per kind: open now, and finished during the increment.
    pub kinds: Vec<WaitFigures>,
    /// The same per iteration of the increment, so a trend shows.
    pub iterations: Vec<IterationWaits>,
}

/// The figures of `kind` for `owner` from `spans`: open at `at`, finished
/// from `from` to before `to`.
fn figures_of(
    spans: &[&Span],
    kind: Kind_,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    at: DateTime<Utc>,
) -> WaitFigures {
    let of_kind = spans.iter().filter(|s| s.kind == kind);
    let open: Vec<&&Span> = of_kind
        .clone()
        .filter(|s| s.started_at <= at && s.ended_at.is_none_or(|e| e > at))
        .collect();
    let mut took: Vec<f64> = of_kind
        .filter(|s| !(kind == Kind_::Answer && s.again))
        .filter_map(|s| {
            let ended = s.ended_at?;
            (ended >= from && ended < to).then(|| hours_between(s.started_at, ended))
        })
        .collect();
    took.sort_by(f64::total_cmp);
    WaitFigures {
        kind: kind.into(),
        open: i32::try_from(open.len()).unwrap_or(i32::MAX),
        oldest_open_age_hours: open
            .iter()
            .map(|s| s.started_at)
            .min()
            .map(|t| hours_between(t, at)),
        finished: i32::try_from(took.len()).unwrap_or(i32::MAX),
        median_hours: percentile(&took, 50.0),
        p90_hours: percentile(&took, 90.0),
    }
}

/// `Program.waits(incrementId)`.
pub async fn program_waits(
    ctx: &Context<'_>,
    program: &program::Model,
    increment_id: &ID,
) -> AppResult<Vec<PersonWaits>> {
    let increment = decode_as(Kind::Increment, "incrementId", increment_id)?;
    let conn = gql::store(ctx)?.conn();
    let increment: increment::Model =
        find_in_program(conn, "incrementId", program.id, increment).await?;
    let now = gql::now(ctx)?;
    let from = start_of_day(increment.start_date);
    let to = start_of_day(increment.end_date.succ_opt().unwrap_or(increment.end_date));
    let (teams, iterations, open, spans) = futures_util::try_join!(
        async { gql::load_one(ctx, TeamsByProgram(program.id)).await },
        async { gql::load_one(ctx, IterationsByIncrement(increment.id)).await },
        service::open_counts(conn, program.id),
        service::overlapping(conn, program.id, from, to),
    )?;
    let teams = teams.unwrap_or_default();
    let iterations: Vec<iteration::Model> = iterations.unwrap_or_default();
    let mut people: BTreeSet<i64> = teams.iter().map(|t| t.product_owner_id).collect();
    people.insert(program.product_manager_id);
    let users = gql::loader(ctx)?
        .load_many(people.iter().map(|p| UserById(*p)))
        .await
        .map_err(crate::error::AppError::from)?;
    let mut open_now: HashMap<(i64, Kind_), (i64, DateTime<Utc>)> = HashMap::new();
    for (owner, kind, count, oldest) in open {
        open_now.insert((owner, Kind_::parse(&kind)?), (count, oldest));
    }
    let mut by_owner: HashMap<i64, Vec<&Span>> = HashMap::new();
    for s in &spans {
        by_owner.entry(s.owner).or_default().push(s);
    }
    let mut out = Vec::new();
    for person in people {
        let Some(user) = users.get(&UserById(person)).cloned() else {
            continue;
        };
        let mine = by_owner.get(&person).map_or(&[][..], Vec::as_slice);
        let kinds = Kind_::ALL
            .into_iter()
            .map(|k| {
                let mut f = figures_of(mine, k, (from, to), now);
                let (count, oldest) = open_now.get(&(person, k)).copied().unwrap_or((0, now));
                f.open = i32::try_from(count).unwrap_or(i32::MAX);
                f.oldest_open_age_hours = (count > 0).then(|| hours_between(oldest, now));
                f
            })
            .collect();
        let per_iteration = iterations
            .iter()
            .map(|it| {
                let (start, end) = (
                    start_of_day(it.start_date),
                    start_of_day(it.end_date.succ_opt().unwrap_or(it.end_date)),
                );
                IterationWaits {
                    iteration: Iteration(it.clone()),
                    kinds: Kind_::ALL
                        .into_iter()
                        .map(|k| figures_of(mine, k, (start, end), end.min(now)))
                        .collect(),
                }
            })
            .collect();
        let mut own: Vec<Team> = teams
            .iter()
            .filter(|t| t.product_owner_id == person)
            .cloned()
            .map(Team)
            .collect();
        own.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        out.push(PersonWaits {
            product_manager: person == program.product_manager_id,
            person: User(user),
            teams: own,
            kinds,
            iterations: per_iteration,
        });
    }
    // The PM first, then the POs by name.
    out.sort_by(|a, b| {
        b.product_manager
            .cmp(&a.product_manager)
            .then(a.person.0.name.cmp(&b.person.0.name))
    });
    Ok(out)
}
