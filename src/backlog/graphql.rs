//! The `Story` type, team backlogs, and the story mutations.

use std::sync::Arc;

use async_graphql::{
    Context, ID, InputObject, MaybeUndefined, Object, OutputType, Result, SimpleObject,
    parser::types::SelectionSet,
};
use chrono::{DateTime, Utc};
use entity::{story, team};

use super::{
    lifecycle,
    service::{NewStory, StoryChange},
    usecase,
};
use crate::{
    clarification::graphql::Clarification,
    dependency::graphql::Dependency,
    error::{AppError, AppResult},
    feature::graphql::Feature,
    graphql::{
        self as gql,
        id::{self, Kind, encode},
        loaders::{
            BacklogPage, ClarificationsOfStory, DependenciesOfStory, DependentsOfStory,
            FeatureById, IterationById, StoryBlocked, StoryPosition, TeamById,
        },
        one_pass::{Answer, Answered, Json, Plain, list, object},
        pagination::{KeyedConnection, Page, connection_by_position},
        preload::{self, Preloaded, Wants},
    },
    ids::TypedId,
    increment::graphql::Iteration,
    page::PageLimits,
    planning::graphql::IterationCapacity,
    team::graphql::Team,
};

gql::mirror_enum! {
    /// Where a story is in its lifecycle.
    StoryState mirrors lifecycle::StoryState {
        /// Being written.
        Draft,
        /// Meets the definition of ready: points, acceptance criteria, no open
        /// blocking clarification.
        Ready,
        /// Being built.
        InProgress,
        /// Built; awaiting the Product Owner's acceptance.
        Done,
        /// Accepted by the Product Owner. Final.
        Accepted,
    }
}

/// Wraps the stored row, and what its page read ahead; see the `#[Object]`
/// impl for the API.
pub struct Story {
    pub row: story::Model,
    /// Rows read ahead with the story's page (`graphql::preload`).
    pre: Option<Arc<Preloaded>>,
    /// Its place in the backlog, when its page says it.
    position: Option<i64>,
}

impl From<story::Model> for Story {
    fn from(row: story::Model) -> Self {
        Self {
            row,
            pre: None,
            position: None,
        }
    }
}

impl Story {
    fn pre(&self) -> Option<&Arc<Preloaded>> {
        self.pre.as_ref()
    }

    /// A story with rows read ahead (a provider of a preloaded page's
    /// dependency shares them: its team is there).
    pub fn preloaded(row: story::Model, pre: Arc<Preloaded>) -> Self {
        Self {
            row,
            pre: Some(pre),
            position: None,
        }
    }
}

/// A story field answered from its row alone (see [`OnePass`]).
#[derive(Clone, Copy, Debug)]
pub enum PlainStoryField {
    Id,
    Title,
    ExternalKey,
    Points,
    State,
}

impl Plain for Story {
    type Field = PlainStoryField;

    fn plain(name: &str) -> Option<PlainStoryField> {
        Some(match name {
            "id" => PlainStoryField::Id,
            "title" => PlainStoryField::Title,
            "externalKey" => PlainStoryField::ExternalKey,
            "points" => PlainStoryField::Points,
            "state" => PlainStoryField::State,
            _ => return None,
        })
    }

    fn write(&self, field: PlainStoryField, out: &mut Json) -> bool {
        write_plain(&self.row, field, out)
    }
}

/// Writes a plain field of `row`; false when its state does not parse.
fn write_plain(row: &story::Model, field: PlainStoryField, out: &mut Json) -> bool {
    match field {
        PlainStoryField::Id => out.id(Kind::Story, row.id),
        PlainStoryField::Title => out.str(&row.title),
        PlainStoryField::ExternalKey => out.opt_str(row.external_key.as_deref()),
        PlainStoryField::Points => out.opt_int(row.points),
        PlainStoryField::State => match lifecycle::StoryState::parse(&row.state) {
            Ok(state) => out.item(StoryState::from(state)),
            Err(_) => return false,
        },
    }
    true
}

/// Its own fields, and what its page read ahead: a backlog page's stories
/// answer a dashboard's whole selection from memory.
impl Answer for Story {
    fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool {
        Story::write_field(
            &self.row,
            self.position,
            self.pre.as_deref(),
            name,
            set,
            out,
        )
    }
}

impl Story {
    /// Writes field `name` of the story `row`, from its row, its `position`
    /// when known and the rows `pre` read ahead; false when that needs the
    /// executor. Related rows are written where they are, not cloned.
    pub fn write_field(
        row: &story::Model,
        position: Option<i64>,
        pre: Option<&Preloaded>,
        name: &str,
        set: &SelectionSet,
        out: &mut Json,
    ) -> bool {
        if let Some(plain) = Self::plain(name) {
            return write_plain(row, plain, out);
        }
        if name == "position" {
            let Some(position) = position else {
                return false;
            };
            out.int(position);
            return true;
        }
        let Some(pre) = pre else {
            return false;
        };
        match name {
            "blocked" => match pre.blocked.get(&row.id) {
                Some(blocked) => out.bool(*blocked),
                None => return false,
            },
            "team" => {
                let Some(team) = pre.teams.get(&row.team_id) else {
                    return false;
                };
                return object(set, &Team::type_name(), out, |name, _, out| {
                    Team::write_field(team, name, out)
                });
            }
            "feature" => {
                let Some(id) = row.feature_id else {
                    out.null();
                    return true;
                };
                let Some(feature) = pre.features.get(&id) else {
                    return false;
                };
                return object(set, &Feature::type_name(), out, |name, set, out| {
                    Feature::write_field(feature, name, set, out)
                });
            }
            "dependencies" => {
                let Some(dependencies) = pre.dependencies.get(&row.id) else {
                    return false;
                };
                let typename = Dependency::type_name();
                return list(dependencies, out, |dependency, out| {
                    object(set, &typename, out, |name, set, out| {
                        Dependency::write_field(dependency, Some(pre), name, set, out)
                    })
                });
            }
            "clarifications" => {
                let Some(clarifications) = pre.clarifications.get(&row.id) else {
                    return false;
                };
                let typename = Clarification::type_name();
                return list(clarifications, out, |clarification, out| {
                    object(set, &typename, out, |name, _, out| {
                        Clarification::write_field(clarification, name, out)
                    })
                });
            }
            _ => return false,
        }
        true
    }
}

/// A story in a team backlog: a small piece of a feature (or an enabler of
/// its own) that one team builds in one iteration.
#[Object]
impl Story {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Story, self.row.id)
    }

    /// Title, 1 to 200 characters.
    async fn title(&self) -> &str {
        &self.row.title
    }

    /// The key of the item it was imported from (a Jira issue key such as
    /// "SHOP-42"); null for stories made here.
    async fn external_key(&self) -> Option<&str> {
        self.row.external_key.as_deref()
    }

    /// Description.
    async fn description(&self) -> &str {
        &self.row.description
    }

    /// Acceptance criteria; needed to become READY.
    async fn acceptance_criteria(&self) -> &str {
        &self.row.acceptance_criteria
    }

    /// Story points (0, 1, 2, 3, 5, 8, 13, 20, 40 or 100); needed to become READY.
    async fn points(&self) -> Option<i32> {
        self.row.points
    }

    /// Lifecycle state.
    async fn state(&self) -> Result<StoryState> {
        Ok(lifecycle::StoryState::parse(&self.row.state)?.into())
    }

    /// 1-based place in the team backlog.
    async fn position(&self, ctx: &Context<'_>) -> Result<i64> {
        if let Some(position) = self.position {
            return Ok(position);
        }
        Ok(gql::load_required(ctx, StoryPosition(self.row.id)).await?)
    }

    /// The team whose backlog holds the story.
    async fn team(&self, ctx: &Context<'_>) -> Result<Team> {
        if let Some(team) = self.pre().and_then(|p| p.teams.get(&self.row.team_id)) {
            return Ok(Team(team.clone()));
        }
        Ok(Team(
            gql::load_required(ctx, TeamById(self.row.team_id)).await?,
        ))
    }

    /// The feature it is part of; null for an enabler.
    async fn feature(&self, ctx: &Context<'_>) -> Result<Option<Feature>> {
        if let Some(f) = self
            .row
            .feature_id
            .and_then(|id| self.pre()?.features.get(&id))
        {
            return Ok(Some(Feature(f.clone())));
        }
        match self.row.feature_id {
            Some(id) => Ok(Some(Feature(
                gql::load_required(ctx, FeatureById(id)).await?,
            ))),
            None => Ok(None),
        }
    }

    /// The iteration it is planned into; null when unplanned.
    async fn iteration(&self, ctx: &Context<'_>) -> Result<Option<Iteration>> {
        if let Some(it) = self
            .row
            .iteration_id
            .and_then(|id| self.pre()?.iterations.get(&id))
        {
            return Ok(Some(Iteration(it.clone())));
        }
        match self.row.iteration_id {
            Some(id) => Ok(Some(Iteration(
                gql::load_required(ctx, IterationById(id)).await?,
            ))),
            None => Ok(None),
        }
    }

    /// Whether it waits on something: an unresolved dependency on another
    /// story, or an open blocking clarification.
    async fn blocked(&self, ctx: &Context<'_>) -> Result<bool> {
        if let Some(blocked) = self.pre().and_then(|p| p.blocked.get(&self.row.id)) {
            return Ok(*blocked);
        }
        Ok(gql::load_one(ctx, StoryBlocked(self.row.id))
            .await?
            .unwrap_or(false))
    }

    /// What this story needs: its dependencies on other stories, oldest first.
    #[graphql(complexity = "5 * child_complexity + 1")]
    async fn dependencies(&self, ctx: &Context<'_>) -> Result<Vec<Dependency>> {
        if let Some(pre) = self.pre()
            && let Some(rows) = pre.dependencies.get(&self.row.id)
        {
            return Ok(rows
                .iter()
                .map(|d| Dependency::preloaded(d.clone(), pre.clone()))
                .collect());
        }
        let rows = gql::load_one(ctx, DependenciesOfStory(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Dependency::from).collect())
    }

    /// Who needs this story: dependencies of other stories on it, oldest first.
    #[graphql(complexity = "5 * child_complexity + 1")]
    async fn dependents(&self, ctx: &Context<'_>) -> Result<Vec<Dependency>> {
        let rows = gql::load_one(ctx, DependentsOfStory(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Dependency::from).collect())
    }

    /// Questions about this story, oldest first.
    #[graphql(complexity = "5 * child_complexity + 1")]
    async fn clarifications(&self, ctx: &Context<'_>) -> Result<Vec<Clarification>> {
        if let Some(rows) = self.pre().and_then(|p| p.clarifications.get(&self.row.id)) {
            return Ok(rows.iter().cloned().map(Clarification).collect());
        }
        let rows = gql::load_one(ctx, ClarificationsOfStory(self.row.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(Clarification).collect())
    }

    /// Why the Product Owner last rejected it, if ever.
    async fn rejection_reason(&self) -> Option<&str> {
        self.row.rejection_reason.as_deref()
    }

    /// When it first became READY.
    async fn ready_at(&self) -> Option<DateTime<Utc>> {
        self.row.ready_at
    }

    /// When the Product Owner accepted it.
    async fn accepted_at(&self) -> Option<DateTime<Utc>> {
        self.row.accepted_at
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.row.updated_at
    }
}

/// The page `first` and `after` ask of team `team`'s backlog, and the key
/// that reads it (`count`: whether the query asks the filtered total).
/// BAD_USER_INPUT for a page out of range or a malformed cursor.
pub fn backlog_key(
    limits: PageLimits,
    team: i64,
    states: Option<Vec<StoryState>>,
    blocked: Option<bool>,
    first: Option<i32>,
    after: Option<&str>,
    count: bool,
) -> AppResult<(Page, BacklogPage)> {
    let page = Page::new(limits, first, after)?;
    let states = states.map(|s| {
        let mut names: Vec<&'static str> = s
            .iter()
            .map(|s| lifecycle::StoryState::from(*s).as_str())
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    });
    let key = BacklogPage {
        team,
        states,
        blocked,
        offset: u64::try_from(page.after.unwrap_or(0)).unwrap_or(0),
        limit: page.fetch(),
        count,
        light: false,
    };
    Ok((page, key))
}

/// `Team.backlog`: through the loader, so the backlogs of many teams in one
/// query cost two statements.
pub async fn team_backlog(
    ctx: &Context<'_>,
    team: &team::Model,
    states: Option<Vec<StoryState>>,
    blocked: Option<bool>,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<KeyedConnection<Answered<Story>>> {
    let count = ctx.look_ahead().field("totalCount").exists();
    let (page, key) = backlog_key(
        gql::page_limits(ctx)?,
        team.id,
        states,
        blocked,
        first,
        after.as_deref(),
        count,
    )?;
    let unfiltered = key.states.is_none() && key.blocked.is_none();
    // What the query asks of the stories is read for all pages at once.
    let wants = Wants::of(&ctx.look_ahead().field("edges").field("node"));
    // The page, and its stories' relations, may have been read ahead with
    // the program (`gql::ahead`).
    let (rows, total, pre) = match gql::ahead::ahead(ctx).and_then(|a| a.take_page(&key)) {
        Some(page) => (
            page.rows,
            page.total,
            page.wants.covers(wants).then_some(page.pre),
        ),
        None => {
            let (rows, total) = gql::load_one(ctx, key).await?.unwrap_or_default();
            (rows, total, None)
        }
    };
    let pre = match pre {
        Some(pre) => pre,
        None => {
            // Not the row read past the page to learn whether more follow.
            let stories: Vec<&story::Model> = rows.iter().take(page.shown()).collect();
            preload::read_ahead(ctx, &stories, vec![team.program_id], wants).await?
        }
    };
    let start = page.after.unwrap_or(0);
    let rows: Vec<_> = rows.into_iter().zip(start + 1..).collect();
    Ok(connection_by_position(
        &page,
        rows,
        total,
        |(row, position)| {
            Answered(Story {
                row,
                pre: pre.clone(),
                // Without filters, a page's order is the backlog's.
                position: unfiltered.then_some(position),
            })
        },
    ))
}

/// Input of `createStory`.
#[derive(InputObject)]
pub struct CreateStoryInput {
    /// The team whose backlog gets the story (at the bottom).
    pub team_id: ID,
    /// A feature of the same program; omit for an enabler.
    pub feature_id: Option<ID>,
    /// Title, 1 to 200 characters.
    pub title: String,
    /// Description, up to 10,000 characters.
    #[graphql(default)]
    pub description: String,
    /// Acceptance criteria, up to 10,000 characters.
    #[graphql(default)]
    pub acceptance_criteria: String,
    /// Story points: 0, 1, 2, 3, 5, 8, 13, 20, 40 or 100.
    pub points: Option<i32>,
    /// An iteration of the same program to plan the story into at once;
    /// omit to leave it unplanned.
    pub iteration_id: Option<ID>,
}

/// Input of `updateStory`: an omitted field stays as it is, null clears it.
#[derive(InputObject)]
pub struct UpdateStoryInput {
    /// The story to change.
    pub story_id: ID,
    /// A feature of the same program; null makes it an enabler.
    pub feature_id: MaybeUndefined<ID>,
    /// New title (cannot be null).
    pub title: MaybeUndefined<String>,
    /// New description; null clears it.
    pub description: MaybeUndefined<String>,
    /// New acceptance criteria; null clears them (DRAFT stories only).
    pub acceptance_criteria: MaybeUndefined<String>,
    /// New points; null clears them (DRAFT stories only).
    pub points: MaybeUndefined<i32>,
    /// An iteration of the same program; null unplans the story.
    pub iteration_id: MaybeUndefined<ID>,
}

/// Input of `rankStory`: exactly one of `beforeId` and `afterId`.
#[derive(InputObject)]
pub struct RankStoryInput {
    /// The story to move.
    pub story_id: ID,
    /// Put it right before this story of the same backlog.
    pub before_id: Option<ID>,
    /// Put it right after this story of the same backlog.
    pub after_id: Option<ID>,
}

/// Input of `setStoryState`.
#[derive(InputObject)]
pub struct SetStoryStateInput {
    /// The story.
    pub story_id: ID,
    /// DRAFT, READY, IN_PROGRESS or DONE, one step from the current state.
    pub state: StoryState,
}

/// Input of `acceptStory`.
#[derive(InputObject)]
pub struct AcceptStoryInput {
    /// A DONE story.
    pub story_id: ID,
}

/// Input of `rejectStory`.
#[derive(InputObject)]
pub struct RejectStoryInput {
    /// A DONE story.
    pub story_id: ID,
    /// Why it is not accepted (required).
    pub reason: String,
}

/// Result of the story mutations.
#[derive(SimpleObject)]
pub struct StoryPayload {
    /// The story as it now is.
    pub story: Story,
    /// Set by `createStory` and `updateStory` when the change planned or
    /// re-estimated the story beyond its team's capacity in the iteration
    /// (allowed): the capacity and load there now. Null otherwise.
    pub over_capacity: Option<IterationCapacity>,
}

fn text_change(value: MaybeUndefined<String>) -> Option<String> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(String::new()),
        MaybeUndefined::Value(v) => Some(v),
    }
}

fn id_change<T: TypedId>(field: &str, value: &MaybeUndefined<ID>) -> AppResult<Option<Option<T>>> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(Some(id::typed(field, id)?)),
    })
}

fn story_payload(story: story::Model) -> StoryPayload {
    StoryPayload {
        story: Story::from(story),
        over_capacity: None,
    }
}

#[derive(Default)]
pub struct StoryMutation;

#[Object]
impl StoryMutation {
    /// Adds a story to the bottom of a team backlog, in DRAFT, and plans
    /// it into `iterationId` when given (the team's PO, its members or an
    /// admin).
    async fn create_story(
        &self,
        ctx: &Context<'_>,
        input: CreateStoryInput,
    ) -> Result<StoryPayload> {
        let team = id::typed("teamId", &input.team_id)?;
        let new = NewStory {
            feature_id: id::typed_opt("featureId", input.feature_id.as_ref())?,
            title: input.title,
            description: input.description,
            acceptance_criteria: input.acceptance_criteria,
            points: input.points,
            external_key: None,
            iteration_id: id::typed_opt("iterationId", input.iteration_id.as_ref())?,
        };
        let (story, over) = gql::perform(ctx, |w| {
            Box::pin(usecase::create_story(w, team, new.clone()))
        })
        .await?;
        Ok(StoryPayload {
            over_capacity: over.map(IterationCapacity),
            ..story_payload(story)
        })
    }

    /// Changes a story (the team's PO, its members or an admin).
    async fn update_story(
        &self,
        ctx: &Context<'_>,
        input: UpdateStoryInput,
    ) -> Result<StoryPayload> {
        let story = id::typed("storyId", &input.story_id)?;
        let change = StoryChange {
            feature_id: id_change("featureId", &input.feature_id)?,
            title: match input.title {
                MaybeUndefined::Null => {
                    return Err(AppError::bad_input("title cannot be null").into());
                }
                other => text_change(other),
            },
            description: text_change(input.description),
            acceptance_criteria: text_change(input.acceptance_criteria),
            points: match input.points {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(p) => Some(Some(p)),
            },
            iteration_id: id_change("iterationId", &input.iteration_id)?,
        };
        let (story, over) = gql::perform(ctx, |w| {
            Box::pin(usecase::update_story(w, story, change.clone()))
        })
        .await?;
        Ok(StoryPayload {
            over_capacity: over.map(IterationCapacity),
            ..story_payload(story)
        })
    }

    /// Moves a story right before or right after another story of the same
    /// backlog (the team's PO or an admin). To the top: before the first;
    /// to the bottom: after the last.
    async fn rank_story(&self, ctx: &Context<'_>, input: RankStoryInput) -> Result<StoryPayload> {
        let story = id::typed("storyId", &input.story_id)?;
        let (anchor, place) = usecase::place_of(
            id::typed_opt("beforeId", input.before_id.as_ref())?,
            id::typed_opt("afterId", input.after_id.as_ref())?,
        )?;
        let story = gql::perform(ctx, |w| {
            Box::pin(usecase::rank_story(w, story, anchor, place))
        })
        .await?;
        Ok(story_payload(story))
    }

    /// Moves a story one step: DRAFT ⇄ READY ⇄ IN_PROGRESS ⇄ DONE (the
    /// team's PO, its members or an admin). READY needs points, acceptance
    /// criteria and no open blocking clarification.
    async fn set_story_state(
        &self,
        ctx: &Context<'_>,
        input: SetStoryStateInput,
    ) -> Result<StoryPayload> {
        let story = id::typed("storyId", &input.story_id)?;
        let state = input.state.into();
        let story =
            gql::perform(ctx, |w| Box::pin(usecase::set_story_state(w, story, state))).await?;
        Ok(story_payload(story))
    }

    /// Accepts a DONE story (the team's PO or an admin).
    async fn accept_story(
        &self,
        ctx: &Context<'_>,
        input: AcceptStoryInput,
    ) -> Result<StoryPayload> {
        let story = id::typed("storyId", &input.story_id)?;
        let story = gql::perform(ctx, |w| Box::pin(usecase::accept_story(w, story))).await?;
        Ok(story_payload(story))
    }

    /// Rejects a DONE story back to IN_PROGRESS with a reason (the team's PO
    /// or an admin).
    async fn reject_story(
        &self,
        ctx: &Context<'_>,
        input: RejectStoryInput,
    ) -> Result<StoryPayload> {
        let story = id::typed("storyId", &input.story_id)?;
        let story = gql::perform(ctx, |w| {
            Box::pin(usecase::reject_story(w, story, input.reason.clone()))
        })
        .await?;
        Ok(story_payload(story))
    }
}
