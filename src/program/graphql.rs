//! The `Program` type, `programs`, `program`, `createProgram`, `updateProgram`.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::program;

use super::{
    service::{self, ProgramChange},
    usecase,
};
use crate::{
    clarification::{
        self,
        graphql::{Clarification, ClarificationStatus},
        service::ListFilter,
    },
    dependency::{
        self,
        graphql::DependencyState,
        graphql::{Board, Dependency},
    },
    error::AppError,
    events::{
        self,
        graphql::{Event, EventKind},
    },
    feature::{
        self,
        graphql::{BacklogOrder, FeatureState},
        graphql::{Feature, Roadmap},
    },
    graphql::{
        self as gql,
        id::{self, Kind, decode_as, encode},
        loaders::{IncrementsByProgram, TeamsByProgram, UserById},
        pagination::{KeyedConnection, Page, connection},
    },
    increment::graphql::Increment,
    insight::{self, graphql::ProgramMetrics},
    planning::graphql::{self as planning, Confidence, PlanningReadiness},
    team::graphql::Team,
    user::graphql::User,
};

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Program(pub program::Model);

/// A program (agile release train): one Product Manager who owns the vision
/// and roadmap, and several teams.
#[Object]
impl Program {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Program, self.0.id)
    }

    /// Name of the program.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The Product Manager's vision for the program.
    async fn vision(&self) -> &str {
        &self.0.vision
    }

    /// When the program was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The program's one Product Manager.
    async fn product_manager(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(
            gql::load_required(ctx, UserById(self.0.product_manager_id)).await?,
        ))
    }

    /// The program's teams, by name.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        let teams = match gql::ahead::ahead(ctx).and_then(|a| a.teams(self.0.id)) {
            Some(teams) => teams,
            None => gql::load_one(ctx, TeamsByProgram(self.0.id))
                .await?
                .unwrap_or_default(),
        };
        Ok(teams.into_iter().map(Team).collect())
    }

    /// The program's increments in date order.
    #[graphql(complexity = "5 * child_complexity + 1")]
    async fn increments(&self, ctx: &Context<'_>) -> Result<Vec<Increment>> {
        let rows = gql::load_one(ctx, IncrementsByProgram(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Increment).collect())
    }

    /// The program backlog: its features, in the PM's rank (the default) or
    /// by WSJF. Cursors are positions in the chosen order.
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn program_backlog(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "RANK (default) or WSJF.", default_with = "BacklogOrder::Rank")]
        order_by: BacklogOrder,
        #[graphql(desc = "Only features in these states.")] states: Option<Vec<FeatureState>>,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Return features after this cursor.")] after: Option<String>,
    ) -> Result<KeyedConnection<Feature>> {
        Ok(feature::graphql::program_backlog(ctx, &self.0, order_by, states, first, after).await?)
    }

    /// The roadmap: increments in date order with the features targeted at
    /// each (in rank order), then the unplanned features.
    #[graphql(complexity = "100 * child_complexity + 1")]
    async fn roadmap(&self, ctx: &Context<'_>) -> Result<Roadmap> {
        Ok(feature::graphql::roadmap(ctx, &self.0).await?)
    }

    /// The program's dependencies, oldest first, filtered by state, by risk,
    /// and by team (either side).
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn dependencies(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only dependencies in these states.")] states: Option<
            Vec<DependencyState>,
        >,
        #[graphql(desc = "Only those at risk (true) or not at risk (false).")] at_risk: Option<
            bool,
        >,
        #[graphql(desc = "Only those whose dependent or provider story is this team's.")]
        team_id: Option<ID>,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Return dependencies after this cursor.")] after: Option<String>,
    ) -> Result<KeyedConnection<Dependency>> {
        Ok(dependency::graphql::program_dependencies(
            ctx, &self.0, states, at_risk, team_id, first, after,
        )
        .await?)
    }

    /// The program's stories imported with this key (a Jira issue key): at
    /// most one.
    async fn stories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key of the issue it was imported from, such as \"SHOP-42\".")]
        external_key: String,
    ) -> Result<Vec<crate::backlog::graphql::Story>> {
        Ok(crate::import::graphql::stories_by_key(ctx, &self.0, &external_key).await?)
    }

    /// The program's features imported with this key (a Jira epic's key): at
    /// most one.
    async fn features(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The key of the epic it was imported from, such as \"SHOP-7\".")]
        external_key: String,
    ) -> Result<Vec<crate::feature::graphql::Feature>> {
        Ok(crate::import::graphql::features_by_key(ctx, &self.0, &external_key).await?)
    }

    /// Questions asked on the program, oldest first, by status and assignee.
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn clarifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only clarifications in these statuses.")] statuses: Option<
            Vec<ClarificationStatus>,
        >,
        #[graphql(desc = "Only those assigned to this user.")] assignee_id: Option<ID>,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Return clarifications after this cursor.")] after: Option<String>,
    ) -> Result<KeyedConnection<Clarification>> {
        let assignee = assignee_id
            .as_ref()
            .map(|id| decode_as(Kind::User, "assigneeId", id))
            .transpose()?;
        let filter = ListFilter {
            program: Some(self.0.id),
            assignee,
            statuses: gql::enum_set(statuses),
            ..Default::default()
        };
        Ok(clarification::graphql::list(ctx, filter, first, after).await?)
    }

    /// The activity feed: the program's events, oldest first, optionally
    /// only some kinds. The same log the subscriptions read.
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Return events after this cursor (an event's `cursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Only events of these kinds.")] kinds: Option<Vec<EventKind>>,
    ) -> Result<KeyedConnection<Event>> {
        Ok(events::graphql::program_events(ctx, &self.0, after, first, kinds).await?)
    }

    /// The cursor of the program's latest event; null before the first.
    /// Read it before a query, then subscribe to `programEvents(after:)`
    /// with it: every change made after the read arrives, none is missed.
    async fn last_event_cursor(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let head = events::log::head(gql::store(ctx)?.conn(), self.0.id)
            .await
            .map_err(AppError::from)?;
        Ok((head > 0).then(|| crate::page::cursor(head)))
    }

    /// The program's outbound webhook endpoints, oldest first: its PM and
    /// admins only (FORBIDDEN to others, since URLs and delivery logs may
    /// tell what a member should not see).
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn webhooks(&self, ctx: &Context<'_>) -> Result<Vec<crate::webhook::graphql::Webhook>> {
        Ok(crate::webhook::graphql::program_webhooks(ctx, &self.0).await?)
    }

    /// The program board of an increment: teams by iterations, with the
    /// stories and the dependencies between them. One query fetches it all.
    #[graphql(complexity = "200 * child_complexity + 1")]
    async fn board(&self, ctx: &Context<'_>, increment_id: ID) -> Result<Board> {
        Ok(dependency::graphql::board(ctx, &self.0, &increment_id).await?)
    }

    /// Whether the features targeting an increment are ready to be planned:
    /// those ready, those no team was allocated, those not broken down,
    /// those held up by blocking questions, and the teams with nothing
    /// allocated. One answer for the PM, read in a fixed number of statements.
    async fn planning_readiness(
        &self,
        ctx: &Context<'_>,
        increment_id: ID,
    ) -> Result<PlanningReadiness> {
        Ok(planning::planning_readiness(ctx, &self.0, &increment_id).await?)
    }

    /// What waits on the PM and each PO: per kind of wait, how many wait
    /// now and since when, and how long the waits that ended during the
    /// increment took (median, 90th percentile); the same per iteration.
    /// Waits from before this server kept them: open ones count from the
    /// row's last change; finished acceptances and decisions are unknown.
    async fn waits(
        &self,
        ctx: &Context<'_>,
        increment_id: ID,
    ) -> Result<Vec<crate::waits::graphql::PersonWaits>> {
        Ok(crate::waits::graphql::program_waits(ctx, &self.0, &increment_id).await?)
    }

    /// What has waited longest in the program, whoever it waits on: the
    /// oldest open waits first (the board's header shows three).
    #[graphql(complexity = "(first.max(0) as usize) * child_complexity + 1")]
    async fn oldest_waits(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many: 0 to the page-size limit (100).", default = 3)] first: i32,
    ) -> Result<Vec<crate::waits::graphql::WaitItem>> {
        Ok(crate::waits::graphql::oldest(ctx, &self.0, first).await?)
    }

    /// All teams' confidence votes for an increment together.
    async fn confidence(&self, ctx: &Context<'_>, increment_id: ID) -> Result<Confidence> {
        Ok(planning::confidence(ctx, self.0.id, None, &increment_id).await?)
    }

    /// The program's figures for an increment: predictability overall and per team.
    async fn metrics(&self, ctx: &Context<'_>, increment_id: ID) -> Result<ProgramMetrics> {
        Ok(insight::graphql::program_metrics(ctx, &self.0, &increment_id).await?)
    }
}

#[derive(Default)]
pub struct ProgramQuery;

#[Object]
impl ProgramQuery {
    /// The programs the viewer is part of (all of them for admins), oldest first.
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn programs(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Return programs after this cursor.")] after: Option<String>,
    ) -> Result<KeyedConnection<Program>> {
        gql::reads_everything(ctx);
        let actor = gql::actor(ctx)?;
        let page = Page::new(gql::page_limits(ctx)?, first, after.as_deref())?;
        let (rows, total) = service::list_readable(gql::store(ctx)?.conn(), actor, &page).await?;
        Ok(connection(&page, rows, total, |p| p.id, Program))
    }

    /// A program by ID; null when it does not exist or the viewer is not part of it.
    async fn program(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Program>> {
        let actor = gql::actor(ctx)?;
        let id: crate::ids::ProgramId = id::typed("id", &id)?;
        gql::reads_program(ctx, id.0);
        let visible = service::visible(gql::store(ctx)?.conn(), actor, id);
        // A dashboard's teams and pages are read beside the program.
        let found = gql::ahead::program(ctx, id.0, visible).await?;
        Ok(found.map(Program))
    }
}

/// Input of `createProgram`.
#[derive(InputObject)]
pub struct CreateProgramInput {
    /// Name, 1 to 200 characters.
    pub name: String,
    /// The vision, up to 10,000 characters.
    #[graphql(default)]
    pub vision: String,
    /// The user who will be the program's Product Manager.
    pub product_manager_id: ID,
}

/// Input of `updateProgram`: an omitted field stays as it is.
#[derive(InputObject)]
pub struct UpdateProgramInput {
    /// The program to change.
    pub program_id: ID,
    /// New name (cannot be null).
    pub name: MaybeUndefined<String>,
    /// New vision; null clears it.
    pub vision: MaybeUndefined<String>,
    /// A new Product Manager (admins only; cannot be null).
    pub product_manager_id: MaybeUndefined<ID>,
}

/// Result of `createProgram` and `updateProgram`.
#[derive(SimpleObject)]
pub struct ProgramPayload {
    /// The program as it now is.
    pub program: Program,
}

fn payload(program: program::Model) -> ProgramPayload {
    ProgramPayload {
        program: Program(program),
    }
}

#[derive(Default)]
pub struct ProgramMutation;

#[Object]
impl ProgramMutation {
    /// Creates a program (admins only).
    async fn create_program(
        &self,
        ctx: &Context<'_>,
        input: CreateProgramInput,
    ) -> Result<ProgramPayload> {
        let pm = id::typed("productManagerId", &input.product_manager_id)?;
        let program = gql::perform(ctx, |w| {
            Box::pin(usecase::create_program(
                w,
                input.name.clone(),
                input.vision.clone(),
                pm,
            ))
        })
        .await?;
        Ok(payload(program))
    }

    /// Changes a program's name or vision (its PM or an admin), or its
    /// Product Manager (admins only).
    async fn update_program(
        &self,
        ctx: &Context<'_>,
        input: UpdateProgramInput,
    ) -> Result<ProgramPayload> {
        let program_id = id::typed("programId", &input.program_id)?;
        let mut change = ProgramChange::default();
        match input.name {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => return Err(AppError::bad_input("name cannot be null").into()),
            MaybeUndefined::Value(name) => change.name = Some(name),
        }
        match input.vision {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => change.vision = Some(String::new()),
            MaybeUndefined::Value(vision) => change.vision = Some(vision),
        }
        match &input.product_manager_id {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                return Err(AppError::bad_input(
                    "productManagerId cannot be null: a program has exactly one Product Manager",
                )
                .into());
            }
            MaybeUndefined::Value(id) => {
                change.product_manager_id = Some(decode_as(Kind::User, "productManagerId", id)?);
            }
        }
        let program = gql::perform(ctx, |w| {
            Box::pin(usecase::update_program(w, program_id, change.clone()))
        })
        .await?;
        Ok(payload(program))
    }
}
