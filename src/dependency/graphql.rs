//! The `Dependency` type, `Program.dependencies`, and the negotiation
//! mutations.

use std::sync::Arc;

use async_graphql::{
    ComplexObject, Context, ID, InputObject, Object, OutputType, Result, SimpleObject,
    parser::types::SelectionSet,
};
use chrono::{DateTime, Utc};
use entity::{dependency, program};

use super::{
    risk,
    service::{self, Assessed},
    usecase::{self, Request},
};
use crate::{
    backlog::graphql::Story,
    error::AppResult,
    graphql::{
        self as gql,
        id::{self, Kind, decode_as, encode},
        loaders::{AssessedDependency, IterationById, StoryById, UserById},
        one_pass::{Answer, Json, OnePass, Plain, list, object},
        pagination::{KeyedConnection, Page, connection},
        preload::{self, Preloaded, Wants},
    },
    ids::DependencyId,
    increment::graphql::{Increment, Iteration},
    planning::{graphql::IterationCapacity, service::Load},
    team::graphql::Team,
    user::graphql::User,
};

gql::mirror_enum! {
    /// Where a dependency is in its negotiation.
    DependencyState mirrors risk::DependencyState {
        /// The dependent team asked; the provider team has not answered.
        Requested,
        /// The provider team's PO committed to an iteration.
        Committed,
        /// The provider team's PO declined, with a reason.
        Declined,
        /// The provider story is DONE or ACCEPTED.
        Resolved,
    }
}

gql::mirror_enum! {
    /// Why a dependency is at risk.
    RiskReason mirrors risk::RiskReason {
        /// Not committed, yet the dependent story is planned into an iteration.
        NotCommitted,
        /// The provider story is not planned, and the dependency is needed by an iteration.
        ProviderUnplanned,
        /// The provider story is planned, but not strictly before the needed-by iteration.
        ProviderLate,
        /// The provider team declined.
        Declined,
    }
}

/// Wraps the stored row, and its risk assessment when already at hand;
/// see the `#[Object]` impl for the API.
pub struct Dependency {
    row: dependency::Model,
    assessed: Option<Box<Assessed>>,
    /// Rows read ahead with the dependent story's page.
    pre: Option<Arc<Preloaded>>,
}

impl From<dependency::Model> for Dependency {
    fn from(row: dependency::Model) -> Self {
        Self {
            row,
            assessed: None,
            pre: None,
        }
    }
}

impl From<Assessed> for Dependency {
    fn from(assessed: Assessed) -> Self {
        Self {
            row: assessed.row.clone(),
            assessed: Some(Box::new(assessed)),
            pre: None,
        }
    }
}

/// A dependency field answered from its row alone (see [`OnePass`]).
#[derive(Clone, Copy, Debug)]
pub enum PlainDependencyField {
    Id,
    State,
    AtRisk,
    RiskReasons,
    DeclineReason,
}

impl Plain for Dependency {
    type Field = PlainDependencyField;

    fn plain(name: &str) -> Option<PlainDependencyField> {
        Some(match name {
            "id" => PlainDependencyField::Id,
            "state" => PlainDependencyField::State,
            "atRisk" => PlainDependencyField::AtRisk,
            "riskReasons" => PlainDependencyField::RiskReasons,
            "declineReason" => PlainDependencyField::DeclineReason,
            _ => return None,
        })
    }

    fn write(&self, field: PlainDependencyField, out: &mut Json) -> bool {
        write_plain(&self.row, field, out)
    }
}

/// Writes a plain field of `row`; false when a stored value does not parse.
fn write_plain(row: &dependency::Model, field: PlainDependencyField, out: &mut Json) -> bool {
    match field {
        PlainDependencyField::Id => out.id(Kind::Dependency, row.id),
        PlainDependencyField::State => match risk::DependencyState::parse(&row.state) {
            Ok(state) => out.item(DependencyState::from(state)),
            Err(_) => return false,
        },
        PlainDependencyField::AtRisk => out.bool(row.at_risk),
        PlainDependencyField::RiskReasons => {
            let Ok(reasons) = risk::RiskReason::split(&row.risk_reasons) else {
                return false;
            };
            return list(reasons, out, |reason, out| {
                out.item(RiskReason::from(reason));
                true
            });
        }
        PlainDependencyField::DeclineReason => out.opt_str(row.decline_reason.as_deref()),
    }
    true
}

/// Its own fields, and its ends when their page read them ahead.
impl Answer for Dependency {
    fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool {
        Dependency::write_field(&self.row, self.pre.as_deref(), name, set, out)
    }
}

impl Dependency {
    /// Writes field `name` of the dependency `row`, from its row and its
    /// ends in the rows `pre` read ahead; false when that needs the
    /// executor.
    pub fn write_field(
        row: &dependency::Model,
        pre: Option<&Preloaded>,
        name: &str,
        set: &SelectionSet,
        out: &mut Json,
    ) -> bool {
        if let Some(plain) = Self::plain(name) {
            return write_plain(row, plain, out);
        }
        let id = match name {
            "provider" => row.provider_story_id,
            "dependent" => row.dependent_story_id,
            _ => return false,
        };
        let Some(end) = pre.and_then(|pre| pre.stories.get(&id)) else {
            return false;
        };
        object(set, &Story::type_name(), out, |name, set, out| {
            Story::write_field(end, None, pre, name, set, out)
        })
    }
}

impl Dependency {
    /// A dependency of a story whose page read rows ahead.
    pub fn preloaded(row: dependency::Model, pre: Arc<Preloaded>) -> Self {
        Self {
            row,
            assessed: None,
            pre: Some(pre),
        }
    }

    /// A dependency assessed with a board, whose cards (and so most of its
    /// ends) were read ahead.
    fn on_board(assessed: Assessed, pre: Arc<Preloaded>) -> Self {
        Self {
            row: assessed.row.clone(),
            assessed: Some(Box::new(assessed)),
            pre: Some(pre),
        }
    }

    async fn assessed(&self, ctx: &Context<'_>) -> AppResult<Assessed> {
        match &self.assessed {
            Some(a) => Ok(a.as_ref().clone()),
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
        Ok(risk::DependencyState::parse(&self.row.state)?.into())
    }

    /// The story that needs the other.
    async fn dependent(&self, ctx: &Context<'_>) -> Result<Story> {
        let id = self.row.dependent_story_id;
        if let Some(pre) = &self.pre
            && let Some(row) = pre.stories.get(&id)
        {
            return Ok(Story::preloaded(row.clone(), pre.clone()));
        }
        Ok(Story::from(gql::load_required(ctx, StoryById(id)).await?))
    }

    /// The story that is needed.
    async fn provider(&self, ctx: &Context<'_>) -> Result<Story> {
        let id = self.row.provider_story_id;
        if let Some(pre) = &self.pre
            && let Some(row) = pre.stories.get(&id)
        {
            return Ok(Story::preloaded(row.clone(), pre.clone()));
        }
        Ok(Story::from(gql::load_required(ctx, StoryById(id)).await?))
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
    async fn at_risk(&self) -> bool {
        self.row.at_risk
    }

    /// Why it is at risk; empty when it is not. Resolved dependencies are
    /// never at risk.
    async fn risk_reasons(&self) -> Result<Vec<RiskReason>> {
        Ok(risk::RiskReason::split(&self.row.risk_reasons)?
            .into_iter()
            .map(Into::into)
            .collect())
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

/// `Program.dependencies`: filters and pages in storage, by id, on the risk
/// the write path stores.
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
    let filter = service::ListFilter {
        program: program.id,
        states: gql::enum_set(states),
        team,
        at_risk,
    };
    let (rows, total) =
        service::list(gql::store(ctx)?.conn(), &filter, page.after, page.fetch()).await?;
    Ok(connection(&page, rows, total, |d| d.id, Dependency::from))
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
    /// Set by `commitDependency` when planning the provider story put its
    /// team over capacity in the iteration (allowed): the capacity and load
    /// there now. Null otherwise.
    pub over_capacity: Option<IterationCapacity>,
}

/// Result of `removeDependency`.
#[derive(SimpleObject)]
pub struct RemoveDependencyPayload {
    /// The ID of the removed dependency.
    pub removed_dependency_id: ID,
    /// The dependency as it was just before its removal.
    pub dependency: Dependency,
}

fn payload(dep: dependency::Model) -> DependencyPayload {
    DependencyPayload {
        dependency: dep.into(),
        over_capacity: None,
    }
}

#[derive(Default)]
pub struct DependencyMutation;

#[Object]
impl DependencyMutation {
    /// Asks another story (usually of another team) for what a story needs:
    /// the PM, or the dependent team's PO or members (or an admin). Refused:
    /// a story on itself (BAD_USER_INPUT), one of another program (answered
    /// as a missing story, NOT_FOUND), the same
    /// pair twice or a cycle (CONFLICT, naming the cycle).
    async fn request_dependency(
        &self,
        ctx: &Context<'_>,
        input: RequestDependencyInput,
    ) -> Result<DependencyPayload> {
        let request = Request {
            dependent: id::typed("dependentStoryId", &input.dependent_story_id)?,
            provider: id::typed("providerStoryId", &input.provider_story_id)?,
            needed_by: id::typed_opt("neededByIterationId", input.needed_by_iteration_id.as_ref())?,
        };
        let dep = gql::perform(ctx, |w| Box::pin(usecase::request_dependency(w, request))).await?;
        Ok(payload(dep))
    }

    /// The provider team's PO (or an admin) commits: plans the provider story
    /// into the iteration and marks the dependency COMMITTED.
    async fn commit_dependency(
        &self,
        ctx: &Context<'_>,
        input: CommitDependencyInput,
    ) -> Result<DependencyPayload> {
        let dep_id = id::typed("dependencyId", &input.dependency_id)?;
        let iteration = id::typed("iterationId", &input.iteration_id)?;
        let (dep, over) = gql::perform(ctx, |w| {
            Box::pin(usecase::commit_dependency(w, dep_id, iteration))
        })
        .await?;
        Ok(DependencyPayload {
            over_capacity: over.map(IterationCapacity),
            ..payload(dep)
        })
    }

    /// The provider team's PO (or an admin) declines, with a reason.
    async fn decline_dependency(
        &self,
        ctx: &Context<'_>,
        input: DeclineDependencyInput,
    ) -> Result<DependencyPayload> {
        let dep_id = id::typed("dependencyId", &input.dependency_id)?;
        let dep = gql::perform(ctx, |w| {
            Box::pin(usecase::decline_dependency(w, dep_id, input.reason.clone()))
        })
        .await?;
        Ok(payload(dep))
    }

    /// Removes a dependency: the dependent team's PO or members, or the PM
    /// (or an admin).
    async fn remove_dependency(
        &self,
        ctx: &Context<'_>,
        input: RemoveDependencyInput,
    ) -> Result<RemoveDependencyPayload> {
        let dep_id: DependencyId = id::typed("dependencyId", &input.dependency_id)?;
        let before = gql::perform(ctx, |w| Box::pin(usecase::remove_dependency(w, dep_id))).await?;
        Ok(RemoveDependencyPayload {
            removed_dependency_id: id::of(dep_id),
            dependency: Dependency::from(before),
        })
    }
}

/// A column of the board.
#[derive(SimpleObject)]
pub struct BoardColumn {
    /// The iteration; null for the column of stories not planned into the increment.
    pub iteration: Option<Iteration>,
    /// "Iteration 1", …, or "Unplanned".
    pub title: String,
}

/// One team's cells, in column order.
#[derive(SimpleObject)]
pub struct BoardRow {
    /// The team.
    pub team: Team,
    /// One cell per column.
    pub cells: Vec<BoardCell>,
}

/// The stories of one team in one column, in backlog rank order.
#[derive(SimpleObject)]
pub struct BoardCell {
    /// The column's iteration; null in the unplanned column.
    pub iteration: Option<Iteration>,
    /// The stories.
    pub stories: OnePass<Story>,
    /// The team's capacity in the iteration; null when not set, and in the
    /// unplanned column.
    pub capacity: Option<i32>,
    /// Points of the cell's stories (unestimated ones count 0).
    pub load: i32,
    /// Whether the load is over the capacity; null when no capacity is set.
    pub overloaded: Option<bool>,
}

/// The program board of an increment.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Board {
    /// The increment.
    pub increment: Increment,
    /// The iterations in order, then "Unplanned": stories with no iteration
    /// whose feature targets this increment (the first 10,000 in rank order).
    pub columns: Vec<BoardColumn>,
    /// One row per team of the program, teams by name.
    pub rows: Vec<BoardRow>,
    /// The dependencies being read (when the query asks for them).
    #[graphql(skip)]
    pending: std::sync::Mutex<Option<super::board::PendingDependencies>>,
    /// Their first answer, for the query's other selections of them.
    #[graphql(skip)]
    read: tokio::sync::OnceCell<Vec<Assessed>>,
    /// The cards and iterations their ends answer from, when asked.
    #[graphql(skip)]
    ends: Option<Arc<Preloaded>>,
}

#[ComplexObject]
impl Board {
    /// Every dependency whose dependent or provider story is on the board.
    async fn dependencies(&self) -> Result<OnePass<Dependency>> {
        let read = self
            .read
            .get_or_try_init(|| async {
                let pending = self
                    .pending
                    .lock()
                    .map_err(|_| {
                        crate::error::AppError::Internal("a board's read was poisoned".into())
                    })?
                    .take();
                match pending {
                    Some(pending) => Ok(pending.read().await?),
                    None => Err(crate::error::AppError::Internal(
                        "a board's dependencies were asked for but not read".into(),
                    )),
                }
            })
            .await?;
        Ok(OnePass(
            read.iter()
                .map(|d| match &self.ends {
                    Some(ends) => Dependency::on_board(d.clone(), ends.clone()),
                    None => Dependency::from(d.clone()),
                })
                .collect(),
        ))
    }
}

/// `Program.board`.
pub async fn board(
    ctx: &Context<'_>,
    program: &program::Model,
    increment_id: &ID,
) -> AppResult<Board> {
    let increment = id::typed("incrementId", increment_id)?;
    let stories = ctx
        .look_ahead()
        .field("rows")
        .field("cells")
        .field("stories");
    // The dependencies' ends are mostly cards, and their iterations the
    // board's: when the query asks for them, both answer from memory.
    let asked = ctx.look_ahead().field("dependencies");
    let (dependent, provider) = (asked.field("dependent"), asked.field("provider"));
    let ends_asked = dependent.exists() || provider.exists();
    // Cards leave out what none of these selections shows.
    let light = crate::backlog::packed::cards_suffice(&[&stories, &dependent, &provider]);
    let mut data = super::board::load(
        gql::store(ctx)?.conn(),
        program.id,
        increment,
        light,
        asked.exists(),
    )
    .await?;
    // What the query asks of the cards is read for all of them at once
    // (their features, whether blocked, ...), as a backlog page does.
    let card_pre = {
        let cards: Vec<&entity::story::Model> =
            data.planned.iter().chain(&data.unplanned).collect();
        preload::read_ahead(ctx, &cards, vec![program.id], Wants::of(&stories)).await?
    };
    let ends = ends_asked.then(|| {
        Arc::new(Preloaded {
            stories: data
                .planned
                .iter()
                .chain(&data.unplanned)
                .map(|s| (s.id, s.clone()))
                .collect(),
            iterations: data
                .iterations
                .iter()
                .map(|it| (it.id, it.clone()))
                .collect(),
            ..Preloaded::default()
        })
    });
    let card = |row: entity::story::Model| match &card_pre {
        Some(pre) => Story::preloaded(row, pre.clone()),
        None => Story::from(row),
    };
    let mut columns: Vec<BoardColumn> = data
        .iterations
        .iter()
        .map(|it| BoardColumn {
            iteration: Some(Iteration(it.clone())),
            title: format!("Iteration {}", it.number),
        })
        .collect();
    columns.push(BoardColumn {
        iteration: None,
        title: "Unplanned".to_owned(),
    });
    // Each story in its cell, keeping rank order.
    let mut by_cell: std::collections::HashMap<(i64, Option<i64>), Vec<entity::story::Model>> =
        std::collections::HashMap::new();
    let cards = std::mem::take(&mut data.planned)
        .into_iter()
        .chain(std::mem::take(&mut data.unplanned));
    for s in cards {
        by_cell
            .entry((s.team_id, s.iteration_id))
            .or_default()
            .push(s);
    }
    let mut cell = |team: i64, iteration: Option<&entity::iteration::Model>| {
        let stories = by_cell
            .remove(&(team, iteration.map(|it| it.id)))
            .unwrap_or_default();
        let load = Load {
            team_id: team,
            iteration_id: iteration.map_or(0, |it| it.id),
            capacity: iteration.and_then(|it| data.capacities.get(&(team, it.id)).copied()),
            load: stories.iter().filter_map(|s| s.points).sum(),
        };
        BoardCell {
            iteration: iteration.cloned().map(Iteration),
            stories: OnePass(stories.into_iter().map(card).collect()),
            capacity: load.capacity,
            load: load.load,
            overloaded: load.overloaded(),
        }
    };
    let rows = data
        .teams
        .iter()
        .map(|team| {
            let mut cells: Vec<BoardCell> = data
                .iterations
                .iter()
                .map(|it| cell(team.id, Some(it)))
                .collect();
            cells.push(cell(team.id, None));
            BoardRow {
                team: Team(team.clone()),
                cells,
            }
        })
        .collect();
    Ok(Board {
        increment: Increment(data.increment.clone()),
        columns,
        rows,
        pending: std::sync::Mutex::new(data.dependencies.take()),
        read: tokio::sync::OnceCell::new(),
        ends,
    })
}
