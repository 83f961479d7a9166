//! The `Feature` type, the program backlog, the roadmap, and the feature
//! mutations.

use async_graphql::{
    Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject,
    parser::types::SelectionSet,
};
use chrono::{DateTime, Utc};
use entity::{feature, feature_allocation, program};

use super::{
    service::{self, FeatureChange, NewFeature},
    state, usecase,
    wsjf::Wsjf,
};
use crate::{
    backlog::graphql::Story,
    clarification::graphql::Clarification,
    error::{AppError, AppResult},
    graphql::{
        self as gql,
        id::{self, Kind, encode},
        loaders::{
            AllocationsOfFeature, ClarificationsOfFeature, FeatureById, IncrementById,
            IncrementsByProgram, ProgramById, StoriesByFeature, TeamById, UserById,
        },
        one_pass::{Answer, Json, answer},
        pagination::{KeyedConnection, Page, connection_by_position},
    },
    increment::graphql::Increment,
    planning::graphql::{self as planning, Breakdown},
    program::graphql::Program,
    ranking::Place,
    team::graphql::Team,
    user::graphql::User,
};

gql::mirror_enum! {
    /// Where a feature is in its lifecycle.
    FeatureState mirrors state::FeatureState {
        /// A new idea, not yet analysed.
        Funnel,
        /// Being analysed and estimated.
        Analyzing,
        /// Ready to be planned.
        Backlog,
        /// Teams are building it.
        Implementing,
        /// Accepted by the Product Manager.
        Done,
    }
}

gql::mirror_enum! {
    /// How the program backlog is ordered.
    BacklogOrder mirrors service::BacklogOrder {
        /// Highest WSJF score first; ties, and features without a complete
        /// estimate (last), in the PM's rank.
        Wsjf,
        /// The Product Manager's own order (`rankFeature`).
        Rank,
    }
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Feature(pub feature::Model);

/// Its own fields, from its row.
impl Answer for Feature {
    fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool {
        Feature::write_field(&self.0, name, set, out)
    }
}

impl Feature {
    /// Writes field `name` of the feature `row` when its row answers it;
    /// false otherwise.
    pub fn write_field(
        row: &feature::Model,
        name: &str,
        set: &SelectionSet,
        out: &mut Json,
    ) -> bool {
        match name {
            "id" => out.id(Kind::Feature, row.id),
            "title" => out.str(&row.title),
            "externalKey" => out.opt_str(row.external_key.as_deref()),
            "description" => out.str(&row.description),
            "state" => match state::FeatureState::parse(&row.state) {
                Ok(state) => out.item(FeatureState::from(state)),
                Err(_) => return false,
            },
            "businessValue" => out.opt_int(row.business_value),
            "timeCriticality" => out.opt_int(row.time_criticality),
            "riskReduction" => out.opt_int(row.risk_reduction),
            "jobSize" => out.opt_int(row.job_size),
            "wsjf" => match wsjf(row) {
                Some(score) => return answer(&score, set, out),
                None => out.null(),
            },
            _ => return false,
        }
        true
    }
}

/// The feature's WSJF score, when all four inputs are set.
fn wsjf(row: &feature::Model) -> Option<WsjfScore> {
    Wsjf::from_parts(
        row.business_value,
        row.time_criticality,
        row.risk_reduction,
        row.job_size,
    )
    .map(|w| WsjfScore {
        score: w.score(),
        cost_of_delay: w.cost_of_delay(),
        job_size: w.job_size,
    })
}

/// A feature in the program backlog: a piece of value the teams deliver,
/// estimated with WSJF and planned into an increment.
#[Object]
impl Feature {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Feature, self.0.id)
    }

    /// Title, 1 to 200 characters.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The key of the epic it was imported from (a Jira issue key such as
    /// "SHOP-7"); null for features made here.
    async fn external_key(&self) -> Option<&str> {
        self.0.external_key.as_deref()
    }

    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Lifecycle state.
    async fn state(&self) -> Result<FeatureState> {
        Ok(state::FeatureState::parse(&self.0.state)?.into())
    }

    /// WSJF input: business value (1, 2, 3, 5, 8, 13 or 20), if estimated.
    async fn business_value(&self) -> Option<i32> {
        self.0.business_value
    }

    /// WSJF input: time criticality, if estimated.
    async fn time_criticality(&self) -> Option<i32> {
        self.0.time_criticality
    }

    /// WSJF input: risk reduction or opportunity enablement, if estimated.
    async fn risk_reduction(&self) -> Option<i32> {
        self.0.risk_reduction
    }

    /// WSJF input: job size, if estimated.
    async fn job_size(&self) -> Option<i32> {
        self.0.job_size
    }

    /// Weighted Shortest Job First; null until all four inputs are set.
    async fn wsjf(&self) -> Option<WsjfScore> {
        wsjf(&self.0)
    }

    /// The increment the feature is planned for, if any.
    async fn target_increment(&self, ctx: &Context<'_>) -> Result<Option<Increment>> {
        match self.0.target_increment_id {
            Some(id) => Ok(Some(Increment(
                gql::load_required(ctx, IncrementById(id)).await?,
            ))),
            None => Ok(None),
        }
    }

    /// The program whose backlog holds the feature.
    async fn program(&self, ctx: &Context<'_>) -> Result<Program> {
        Ok(Program(
            gql::load_required(ctx, ProgramById(self.0.program_id)).await?,
        ))
    }

    /// The stories that implement it, by team and then backlog rank.
    #[graphql(complexity = "50 * child_complexity + 1")]
    async fn stories(&self, ctx: &Context<'_>) -> Result<Vec<Story>> {
        let rows = gql::load_one(ctx, StoriesByFeature(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Story::from).collect())
    }

    /// The teams that have stories under it, by name.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        let rows = gql::load_one(ctx, StoriesByFeature(self.0.id))
            .await?
            .unwrap_or_default();
        let team_ids: std::collections::BTreeSet<i64> = rows.iter().map(|s| s.team_id).collect();
        let loader = gql::loader(ctx)?;
        let mut teams: Vec<_> = loader
            .load_many(team_ids.into_iter().map(TeamById))
            .await
            .map_err(AppError::from)?
            .into_values()
            .collect();
        teams.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(teams.into_iter().map(Team).collect())
    }

    /// How far along it is: accepted points of its stories against all their points.
    async fn progress(&self, ctx: &Context<'_>) -> Result<Progress> {
        let rows = gql::load_one(ctx, StoriesByFeature(self.0.id))
            .await?
            .unwrap_or_default();
        let total: i32 = rows.iter().filter_map(|s| s.points).sum();
        let accepted: i32 = rows
            .iter()
            .filter(|s| s.state == "ACCEPTED")
            .filter_map(|s| s.points)
            .sum();
        Ok(Progress {
            accepted_points: accepted,
            total_points: total,
            ratio: (total > 0).then(|| f64::from(accepted) / f64::from(total)),
            stories: i32::try_from(rows.len()).unwrap_or(i32::MAX),
            accepted_stories: i32::try_from(rows.iter().filter(|s| s.state == "ACCEPTED").count())
                .unwrap_or(i32::MAX),
        })
    }

    /// Questions about this feature, oldest first.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn clarifications(&self, ctx: &Context<'_>) -> Result<Vec<Clarification>> {
        let rows = gql::load_one(ctx, ClarificationsOfFeature(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Clarification).collect())
    }

    /// The teams the PM allocated it to, oldest allocation first.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn allocations(&self, ctx: &Context<'_>) -> Result<Vec<Allocation>> {
        let rows = gql::load_one(ctx, AllocationsOfFeature(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Allocation).collect())
    }

    /// Per allocated team, oldest allocation first, how far it has broken
    /// the feature down.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn breakdown(&self, ctx: &Context<'_>) -> Result<Vec<Breakdown>> {
        Ok(planning::breakdowns(ctx, &self.0, None).await?)
    }

    /// Whether it can be planned: allocated to at least one team, every
    /// allocated team has a story under it that is READY or further along,
    /// and no blocking clarification on it or its stories is open.
    async fn ready_for_planning(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(planning::ready_for_planning(ctx, &self.0).await?)
    }

    /// When the feature was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the feature last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// How much of a feature is done.
#[derive(SimpleObject)]
pub struct Progress {
    /// Points of its accepted stories.
    pub accepted_points: i32,
    /// Points of all its stories (unestimated ones count 0).
    pub total_points: i32,
    /// acceptedPoints / totalPoints; null when no story has points.
    pub ratio: Option<f64>,
    /// How many stories it has.
    pub stories: i32,
    /// How many of them are accepted.
    pub accepted_stories: i32,
}

/// A feature's WSJF score and its parts.
#[derive(SimpleObject)]
#[graphql(name = "Wsjf")]
pub struct WsjfScore {
    /// Cost of delay / job size.
    pub score: f64,
    /// Business value + time criticality + risk reduction.
    pub cost_of_delay: i32,
    /// Job size.
    pub job_size: i32,
}

impl Answer for WsjfScore {
    fn field(&self, name: &str, _: &SelectionSet, out: &mut Json) -> bool {
        match name {
            "score" => out.float(self.score),
            "costOfDelay" => out.int(self.cost_of_delay),
            "jobSize" => out.int(self.job_size),
            _ => return false,
        }
        true
    }
}

/// The program's roadmap: features grouped by the increment they target.
#[derive(SimpleObject)]
pub struct Roadmap {
    /// The program's increments in date order, each with its features.
    pub increments: Vec<RoadmapIncrement>,
    /// Features not planned into any increment, in rank order.
    pub unplanned: Vec<Feature>,
}

/// One increment of the roadmap.
#[derive(SimpleObject)]
pub struct RoadmapIncrement {
    /// The increment.
    pub increment: Increment,
    /// The features targeted at it, in the PM's rank order.
    pub features: Vec<Feature>,
}

/// `Program.programBacklog`.
pub async fn program_backlog(
    ctx: &Context<'_>,
    program: &program::Model,
    order_by: BacklogOrder,
    states: Option<Vec<FeatureState>>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<KeyedConnection<Feature>> {
    let page = Page::new(gql::page_limits(ctx)?, first, after.as_deref())?;
    let states: Option<Vec<state::FeatureState>> = gql::enum_set(states);
    let (rows, total) = service::backlog(
        gql::store(ctx)?.conn(),
        program.id,
        order_by.into(),
        states.as_deref(),
        &page,
    )
    .await?;
    Ok(connection_by_position(&page, rows, total, Feature))
}

/// `Program.roadmap`.
pub async fn roadmap(ctx: &Context<'_>, program: &program::Model) -> AppResult<Roadmap> {
    let increments = gql::load_one(ctx, IncrementsByProgram(program.id))
        .await?
        .unwrap_or_default();
    let mut features = service::all_in_rank_order(gql::store(ctx)?.conn(), program.id).await?;
    let increments = increments
        .into_iter()
        .map(|inc| {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut features)
                .into_iter()
                .partition(|f| f.target_increment_id == Some(inc.id));
            features = rest;
            RoadmapIncrement {
                increment: Increment(inc),
                features: mine.into_iter().map(Feature).collect(),
            }
        })
        .collect();
    Ok(Roadmap {
        increments,
        unplanned: features.into_iter().map(Feature).collect(),
    })
}

/// Input of `createFeature`.
#[derive(InputObject)]
pub struct CreateFeatureInput {
    /// The program whose backlog gets the feature (at the bottom).
    pub program_id: ID,
    /// Title, 1 to 200 characters.
    pub title: String,
    /// Description, up to 10,000 characters.
    #[graphql(default)]
    pub description: String,
    /// WSJF input: 1, 2, 3, 5, 8, 13 or 20.
    pub business_value: Option<i32>,
    /// WSJF input: 1, 2, 3, 5, 8, 13 or 20.
    pub time_criticality: Option<i32>,
    /// WSJF input: 1, 2, 3, 5, 8, 13 or 20.
    pub risk_reduction: Option<i32>,
    /// WSJF input: 1, 2, 3, 5, 8, 13 or 20.
    pub job_size: Option<i32>,
    /// An increment of the same program.
    pub target_increment_id: Option<ID>,
}

/// Input of `updateFeature`: an omitted field stays as it is, null clears it.
#[derive(InputObject)]
pub struct UpdateFeatureInput {
    /// The feature to change.
    pub feature_id: ID,
    /// New title (cannot be null).
    pub title: MaybeUndefined<String>,
    /// New description; null clears it.
    pub description: MaybeUndefined<String>,
    /// WSJF input: 1, 2, 3, 5, 8, 13 or 20; null clears it.
    pub business_value: MaybeUndefined<i32>,
    /// WSJF input; null clears it.
    pub time_criticality: MaybeUndefined<i32>,
    /// WSJF input; null clears it.
    pub risk_reduction: MaybeUndefined<i32>,
    /// WSJF input; null clears it.
    pub job_size: MaybeUndefined<i32>,
    /// An increment of the same program; null unplans the feature.
    pub target_increment_id: MaybeUndefined<ID>,
}

/// Input of `rankFeature`: exactly one of `beforeId` and `afterId`.
#[derive(InputObject)]
pub struct RankFeatureInput {
    /// The feature to move.
    pub feature_id: ID,
    /// Put it right before this feature of the same backlog.
    pub before_id: Option<ID>,
    /// Put it right after this feature of the same backlog.
    pub after_id: Option<ID>,
}

/// Input of `setFeatureState`.
#[derive(InputObject)]
pub struct SetFeatureStateInput {
    /// The feature.
    pub feature_id: ID,
    /// The new state: one step forward or back from the current one.
    pub state: FeatureState,
}

/// Result of the feature mutations.
#[derive(SimpleObject)]
pub struct FeaturePayload {
    /// The feature as it now is.
    pub feature: Feature,
}

fn optional(value: MaybeUndefined<i32>) -> Option<Option<i32>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Allocation(pub feature_allocation::Model);

/// A feature handed to a team to break down into stories.
#[Object]
impl Allocation {
    /// The team.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        Ok(Team(
            gql::load_required(ctx, TeamById(self.0.team_id)).await?,
        ))
    }

    /// What the PM said of it to the team; may be empty.
    async fn note(&self) -> &str {
        &self.0.note
    }

    /// When it was allocated.
    async fn allocated_at(&self) -> DateTime<Utc> {
        self.0.allocated_at
    }

    /// How far the team has broken the feature down.
    async fn breakdown(&self, ctx: &Context<'_>) -> Result<Breakdown> {
        let feature = gql::load_required(ctx, FeatureById(self.0.feature_id)).await?;
        planning::breakdowns(ctx, &feature, Some(self.0.team_id))
            .await?
            .pop()
            .ok_or_else(|| AppError::Internal("an allocation without its breakdown".into()).into())
    }

    /// Who allocated it; null for the built-in admin.
    async fn allocated_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.allocated_by_id {
            Some(id) => Ok(Some(User(gql::load_required(ctx, UserById(id)).await?))),
            None => Ok(None),
        }
    }
}

/// Input of `allocateFeature`.
#[derive(InputObject)]
pub struct AllocateFeatureInput {
    /// The feature.
    pub feature_id: ID,
    /// A team of the feature's program.
    pub team_id: ID,
    /// What the PM says of it to the team, up to 10,000 characters.
    #[graphql(default)]
    pub note: String,
}

/// Input of `deallocateFeature`.
#[derive(InputObject)]
pub struct DeallocateFeatureInput {
    /// The feature.
    pub feature_id: ID,
    /// A team it is allocated to.
    pub team_id: ID,
    /// Take the team's unfinished stories out of the feature instead of
    /// refusing (they stay in the backlog).
    #[graphql(default)]
    pub force: bool,
}

fn payload(feature: feature::Model) -> FeaturePayload {
    FeaturePayload {
        feature: Feature(feature),
    }
}

#[derive(Default)]
pub struct FeatureMutation;

#[Object]
impl FeatureMutation {
    /// Adds a feature to the bottom of the program backlog, in FUNNEL (the
    /// program's PM or an admin).
    async fn create_feature(
        &self,
        ctx: &Context<'_>,
        input: CreateFeatureInput,
    ) -> Result<FeaturePayload> {
        let program = id::typed("programId", &input.program_id)?;
        let new = NewFeature {
            title: input.title,
            description: input.description,
            business_value: input.business_value,
            time_criticality: input.time_criticality,
            risk_reduction: input.risk_reduction,
            job_size: input.job_size,
            target_increment_id: id::typed_opt(
                "targetIncrementId",
                input.target_increment_id.as_ref(),
            )?,
        };
        let feature = gql::perform(ctx, |w| {
            Box::pin(usecase::create_feature(w, program, new.clone()))
        })
        .await?;
        Ok(payload(feature))
    }

    /// Changes a feature's title, description, WSJF inputs or target
    /// increment (the program's PM or an admin).
    async fn update_feature(
        &self,
        ctx: &Context<'_>,
        input: UpdateFeatureInput,
    ) -> Result<FeaturePayload> {
        let feature_id = id::typed("featureId", &input.feature_id)?;
        let mut change = FeatureChange::default();
        match input.title {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => return Err(AppError::bad_input("title cannot be null").into()),
            MaybeUndefined::Value(t) => change.title = Some(t),
        }
        match input.description {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => change.description = Some(String::new()),
            MaybeUndefined::Value(d) => change.description = Some(d),
        }
        change.business_value = optional(input.business_value);
        change.time_criticality = optional(input.time_criticality);
        change.risk_reduction = optional(input.risk_reduction);
        change.job_size = optional(input.job_size);
        change.target_increment_id = match &input.target_increment_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(id) => Some(Some(id::typed("targetIncrementId", id)?)),
        };
        let feature = gql::perform(ctx, |w| {
            Box::pin(usecase::update_feature(w, feature_id, change.clone()))
        })
        .await?;
        Ok(payload(feature))
    }

    /// Moves a feature right before or right after another feature of the
    /// same program backlog (the program's PM or an admin). To move it to the
    /// top, put it before the first; to the bottom, after the last.
    async fn rank_feature(
        &self,
        ctx: &Context<'_>,
        input: RankFeatureInput,
    ) -> Result<FeaturePayload> {
        let feature_id = id::typed("featureId", &input.feature_id)?;
        let (anchor, place) = match (&input.before_id, &input.after_id) {
            (Some(id), None) => (id::typed("beforeId", id)?, Place::Before),
            (None, Some(id)) => (id::typed("afterId", id)?, Place::After),
            _ => {
                return Err(AppError::bad_input("give exactly one of beforeId and afterId").into());
            }
        };
        let feature = gql::perform(ctx, |w| {
            Box::pin(usecase::rank_feature(w, feature_id, anchor, place))
        })
        .await?;
        Ok(payload(feature))
    }

    /// Moves a feature one step along FUNNEL → ANALYZING → BACKLOG →
    /// IMPLEMENTING → DONE, forward or back (the program's PM or an admin;
    /// moving to DONE is the PM's acceptance).
    async fn set_feature_state(
        &self,
        ctx: &Context<'_>,
        input: SetFeatureStateInput,
    ) -> Result<FeaturePayload> {
        let feature_id = id::typed("featureId", &input.feature_id)?;
        let state = input.state.into();
        let feature = gql::perform(ctx, |w| {
            Box::pin(usecase::set_feature_state(w, feature_id, state))
        })
        .await?;
        Ok(payload(feature))
    }

    /// Hands a feature to a team of its program (the PM or an admin); the
    /// team's PO sees it in `Team.intake` until a story is under it.
    async fn allocate_feature(
        &self,
        ctx: &Context<'_>,
        input: AllocateFeatureInput,
    ) -> Result<FeaturePayload> {
        let feature_id = id::typed("featureId", &input.feature_id)?;
        let team = id::typed("teamId", &input.team_id)?;
        let feature = gql::perform(ctx, |w| {
            Box::pin(usecase::allocate_feature(
                w,
                feature_id,
                team,
                input.note.clone(),
            ))
        })
        .await?;
        Ok(payload(feature))
    }

    /// Takes a feature back from a team (the PM or an admin). Refused
    /// (CONFLICT, naming them) while the team has unfinished stories under
    /// it, unless `force: true`, which takes them out of the feature.
    async fn deallocate_feature(
        &self,
        ctx: &Context<'_>,
        input: DeallocateFeatureInput,
    ) -> Result<FeaturePayload> {
        let feature_id = id::typed("featureId", &input.feature_id)?;
        let team = id::typed("teamId", &input.team_id)?;
        let feature = gql::perform(ctx, |w| {
            Box::pin(usecase::deallocate_feature(
                w,
                feature_id,
                team,
                input.force,
            ))
        })
        .await?;
        Ok(payload(feature))
    }
}
