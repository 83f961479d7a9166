//! The `Event` type, `Program.events` (the activity feed) and the
//! subscriptions.

use std::sync::Arc;

use async_graphql::{Context, ID, Json, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use entity::{event, program};
use futures_util::{
    Stream, StreamExt,
    future::{BoxFuture, Either},
    stream::BoxStream,
};

use super::{bus::EventBus, kind, log::teams_of};
use crate::{
    auth::policy,
    backlog::graphql::Story,
    clarification::{graphql::Clarification, service as clarifications},
    dependency::graphql::Dependency,
    error::{AppError, AppResult},
    feature::graphql::Feature,
    graphql::{
        self as gql, fanout,
        id::{Kind, decode_as, encode},
        loaders::{AssessedDependency, FeatureById, ProgramById, StoryById, TeamById, UserById},
        node::{Node, load_node},
        pagination::{KeyedConnection, Page, connection, cursor},
    },
    ids::{ProgramId, TeamId},
    program::graphql::Program,
    team::graphql::Team,
    user::graphql::User,
    waits::graphql::WaitItem,
};

macro_rules! api_event_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)*) => {
        gql::mirror_enum! {
            /// What an event records.
            EventKind mirrors kind::EventKind {
                $($(#[doc = $doc])* $variant,)*
            }
        }
    };
}
super::kind::event_kind_list!(api_event_kinds);

/// Wraps the stored row; see the `#[Object]` impl for the API.
#[derive(Clone)]
pub struct Event(pub Arc<event::Model>);

/// Something that happened in a program, in the program's log.
#[Object]
impl Event {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Event, self.0.id)
    }

    /// Position in the program's log: gap-free, increasing, in commit order.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }

    /// Resume after this event with `programEvents(after: cursor)` or
    /// `Program.events(after: cursor)`.
    async fn cursor(&self) -> String {
        cursor(self.0.sequence)
    }

    /// What happened.
    async fn kind(&self) -> Result<EventKind> {
        Ok(kind::EventKind::parse(&self.0.kind)?.into())
    }

    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// Who did it; null for the built-in admin.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.actor_id {
            Some(id) => Ok(gql::load_one(ctx, UserById(id)).await?.map(User)),
            None => Ok(None),
        }
    }

    /// The type of what it is about (Story, Dependency, ...).
    async fn subject_type(&self) -> &str {
        &self.0.subject_type
    }

    /// The global ID of what it is about.
    async fn subject_id(&self) -> Result<ID> {
        Ok(subject_id(&self.0)?)
    }

    /// What it is about, as it is now; null once deleted.
    async fn subject(&self, ctx: &Context<'_>) -> Result<Option<Node>> {
        load_node(ctx, &subject_id(&self.0)?).await
    }

    /// The teams involved.
    #[graphql(complexity = "5 * child_complexity + 1")]
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        let mut teams = Vec::new();
        for id in teams_of(&self.0) {
            if let Some(t) = gql::load_one(ctx, TeamById(id)).await? {
                teams.push(Team(t));
            }
        }
        Ok(teams)
    }

    /// What changed.
    async fn payload(&self) -> Result<Json<serde_json::Value>> {
        let payload = serde_json::from_str(&self.0.payload).map_err(|err| {
            AppError::Internal(format!("event {} has a malformed payload: {err}", self.0.id).into())
        })?;
        Ok(Json(payload))
    }

    /// The program.
    async fn program(&self, ctx: &Context<'_>) -> Result<Program> {
        Ok(Program(
            gql::load_required(ctx, ProgramById(self.0.program_id)).await?,
        ))
    }
}

/// The global ID of an event's subject; INTERNAL (and logged) for a
/// subject type this server does not know, never some other object's ID.
fn subject_id(row: &event::Model) -> AppResult<ID> {
    let kind = Kind::from_name(&row.subject_type).ok_or_else(|| {
        AppError::Internal(
            format!(
                "event {} is about an unknown type {:?}",
                row.id, row.subject_type
            )
            .into(),
        )
    })?;
    Ok(encode(kind, row.subject_id))
}

/// `Program.events`: the activity feed, oldest first.
pub async fn program_events(
    ctx: &Context<'_>,
    program: &program::Model,
    after: Option<String>,
    first: Option<i32>,
    kinds: Option<Vec<EventKind>>,
) -> AppResult<KeyedConnection<Event>> {
    let page = Page::new(gql::page_limits(ctx)?, first, after.as_deref())?;
    let kinds: Option<Vec<kind::EventKind>> = gql::enum_set(kinds);
    let (rows, total) =
        super::log::page(gql::store(ctx)?.conn(), program.id, kinds.as_deref(), &page).await?;
    Ok(connection(
        &page,
        rows,
        total,
        |e| e.sequence,
        |e| Event(Arc::new(e)),
    ))
}

/// A program event with what it is about.
#[derive(SimpleObject)]
pub struct ProgramEventUpdate {
    /// The event (`sequence`, `cursor`, `kind`, `at`, `actor`, `subject`).
    pub event: Event,
}

/// A dependency changed.
pub struct DependencyUpdate(Event);

/// A dependency event and the dependency as it now is.
#[Object]
impl DependencyUpdate {
    /// The event.
    async fn event(&self) -> &Event {
        &self.0
    }

    /// The dependency as it now is; null once removed.
    async fn dependency(&self, ctx: &Context<'_>) -> Result<Option<Dependency>> {
        Ok(gql::load_one(ctx, AssessedDependency(self.0.0.subject_id))
            .await?
            .map(Dependency::from))
    }
}

/// A clarification changed.
pub struct ClarificationUpdate(Event);

/// A clarification event and the clarification as it now is.
#[Object]
impl ClarificationUpdate {
    /// The event.
    async fn event(&self) -> &Event {
        &self.0
    }

    /// The clarification as it now is.
    async fn clarification(&self, ctx: &Context<'_>) -> Result<Option<Clarification>> {
        Ok(
            clarifications::find(gql::store(ctx)?.conn(), self.0.0.subject_id)
                .await?
                .map(Clarification),
        )
    }
}

/// A story of a backlog changed.
pub struct BacklogUpdate(Event);

/// A story event and the story as it now is.
#[Object]
impl BacklogUpdate {
    /// The event.
    async fn event(&self) -> &Event {
        &self.0
    }

    /// The story as it now is; null when the event is about a feature.
    async fn story(&self, ctx: &Context<'_>) -> Result<Option<Story>> {
        if self.0.0.subject_type != Kind::Story.name() {
            return Ok(None);
        }
        Ok(gql::load_one(ctx, StoryById(self.0.0.subject_id))
            .await?
            .map(Story::from))
    }

    /// The feature allocated to the team or taken back from it, as it now
    /// is (FEATURE_ALLOCATED, FEATURE_DEALLOCATED); null for story events.
    async fn feature(&self, ctx: &Context<'_>) -> Result<Option<Feature>> {
        if self.0.0.subject_type != Kind::Feature.name() {
            return Ok(None);
        }
        Ok(gql::load_one(ctx, FeatureById(self.0.0.subject_id))
            .await?
            .map(Feature))
    }
}

fn bus<'a>(ctx: &Context<'a>) -> AppResult<&'a EventBus> {
    ctx.data::<EventBus>()
        .map_err(|_| AppError::Internal("schema data EventBus is missing".into()))
}

/// The events of a program the viewer is part of, after `after`, filtered.
///
/// Both the setup and the stream are boxed: async-graphql keeps a
/// subscription's setup future and its stream side by side for as long as
/// the subscription lives, so every byte of either is paid per idle
/// subscriber.
fn follow<'a, F>(
    ctx: &'a Context<'_>,
    program_id: &'a ID,
    after: Option<String>,
    keep: F,
) -> BoxFuture<'a, AppResult<BoxStream<'static, Result<Event, AppError>>>>
where
    F: Fn(&event::Model) -> bool + Send + Sync + 'static,
{
    Box::pin(follow_inner(ctx, program_id, after, keep))
}

async fn follow_inner<F>(
    ctx: &Context<'_>,
    program_id: &ID,
    after: Option<String>,
    keep: F,
) -> AppResult<BoxStream<'static, Result<Event, AppError>>>
where
    F: Fn(&event::Model) -> bool + Send + Sync + 'static,
{
    let actor = gql::actor(ctx)?;
    let program = decode_as(Kind::Program, "programId", program_id)?;
    policy::program(gql::store(ctx)?.conn(), actor, ProgramId(program)).await?;
    let after = match after {
        Some(c) => Some(
            Page::new(gql::page_limits(ctx)?, None, Some(&c))?
                .after
                .unwrap_or(0),
        ),
        None => None,
    };
    let store = gql::store(ctx)?.clone();
    let (start, stream) = bus(ctx)?.stream(program, after).await?;
    // A shared subscription's fan-out follows where in the log it is.
    let position = ctx.data_opt::<fanout::Position>().cloned();
    if let Some(p) = &position {
        p.start(start);
    }
    let events = stream
        .inspect(move |item| {
            if let (Some(p), Ok(e)) = (&position, item) {
                p.reach(e.sequence);
            }
        })
        .filter_map(move |item| match item {
            // The viewer's removal from a team, or a change of a team's PO
            // or the program's PM, may have taken the program away from
            // them: check again before sending anything more.
            Ok(e) if may_revoke_access(&e, actor) => {
                let store = store.clone();
                let keep = keep(&e);
                Either::Right(Box::pin(async move {
                    match policy::program(store.conn(), actor, ProgramId(program)).await {
                        Ok(_) => keep.then(|| Ok(Event(e))),
                        Err(err) => Some(Err(err)),
                    }
                }))
            }
            Ok(e) => Either::Left(std::future::ready(keep(&e).then(|| Ok(Event(e))))),
            Err(err) => Either::Left(std::future::ready(Some(Err(err)))),
        })
        .boxed();
    // An error is the last thing a subscription sends: it ends right after.
    Ok(
        futures_util::stream::unfold(Some(events), |events| async move {
            let mut events = events?;
            let item = events.next().await?;
            let rest = item.is_ok().then_some(events);
            Some((item, rest))
        })
        .boxed(),
    )
}

/// Whether `row` can have taken its program away from `actor`. Kept narrow:
/// each subscriber of the program asks the database when it says yes.
fn may_revoke_access(row: &event::Model, actor: crate::auth::Actor) -> bool {
    let Some(user) = actor.user_id().filter(|_| !actor.is_admin()) else {
        return false;
    };
    // An event this server cannot read is checked again: when in doubt,
    // ask the database rather than keep sending.
    let Some(kind) = kind_of(row) else {
        return true;
    };
    if !matches!(
        kind,
        kind::EventKind::TeamMemberRemoved
            | kind::EventKind::TeamUpdated
            | kind::EventKind::ProgramUpdated
    ) {
        return false;
    }
    let Ok(payload) = serde_json::from_str::<serde_json::Value>(&row.payload) else {
        return true;
    };
    let set = |field: &str| {
        payload["fields"]
            .as_array()
            .is_none_or(|fields| fields.iter().any(|f| f == field))
    };
    match kind {
        kind::EventKind::TeamMemberRemoved => payload["userId"]
            .as_str()
            .is_none_or(|removed| removed == encode(Kind::User, user).0.as_str()),
        kind::EventKind::TeamUpdated => set("productOwnerId"),
        _ => set("productManagerId"),
    }
}

fn kind_of(row: &event::Model) -> Option<kind::EventKind> {
    kind::EventKind::parse(&row.kind).ok()
}

fn has_team(row: &event::Model, team: Option<i64>) -> bool {
    team.is_none_or(|t| teams_of(row).contains(&t))
}

#[derive(Default)]
pub struct Subscription;

/// Live updates over the websocket (`/graphql/ws`). A subscription needs a
/// token (in `connection_init`) and a program the viewer is part of.
#[Subscription]
impl Subscription {
    /// Every event of a program, optionally only some kinds. With `after`
    /// (a cursor) it first sends every event after it from the log, then
    /// live ones: no gap, no duplicate. Any subscription whose client falls
    /// further behind than the server buffers (setting
    /// `PORTFOLIO_SUBSCRIPTION_BUFFER`) is ended with a CONFLICT error whose
    /// `extensions.resumeAfter` is the cursor to pass as `after`.
    async fn program_events(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        after: Option<String>,
        kinds: Option<Vec<EventKind>>,
    ) -> Result<impl Stream<Item = Result<ProgramEventUpdate>> + use<>> {
        let kinds: Option<Vec<kind::EventKind>> = gql::enum_set(kinds);
        let keep = move |e: &event::Model| {
            kinds
                .as_ref()
                .is_none_or(|ks| kind_of(e).is_some_and(|k| ks.contains(&k)))
        };
        let stream = follow(ctx, &program_id, after, keep).await?;
        Ok(stream.map(|r| {
            r.map(|event| ProgramEventUpdate { event })
                .map_err(Into::into)
        }))
    }

    /// Dependency events of a program; with `teamId`, those where the team
    /// is on either side. With `after` (an event's cursor) it first sends
    /// the matching events after it from the log, then live ones.
    async fn dependency_updates(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        team_id: Option<ID>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<DependencyUpdate>> + use<>> {
        let team = team_id
            .as_ref()
            .map(|t| decode_as(Kind::Team, "teamId", t))
            .transpose()?;
        let keep = move |e: &event::Model| {
            kind_of(e).is_some_and(kind::EventKind::is_dependency) && has_team(e, team)
        };
        let stream = follow(ctx, &program_id, after, keep).await?;
        Ok(stream.map(|r| r.map(DependencyUpdate).map_err(Into::into)))
    }

    /// Clarification events of a program; optionally only a team's, or one
    /// story's. With `after` (an event's cursor) it first sends the matching
    /// events after it from the log, then live ones.
    async fn clarification_updates(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        team_id: Option<ID>,
        story_id: Option<ID>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<ClarificationUpdate>> + use<>> {
        let team = team_id
            .as_ref()
            .map(|t| decode_as(Kind::Team, "teamId", t))
            .transpose()?;
        let story = story_id
            .as_ref()
            .map(|s| decode_as(Kind::Story, "storyId", s))
            .transpose()?;
        let keep = move |e: &event::Model| {
            kind_of(e).is_some_and(kind::EventKind::is_clarification)
                && has_team(e, team)
                && story.is_none_or(|s| {
                    serde_json::from_str::<serde_json::Value>(&e.payload)
                        .ok()
                        .and_then(|p| p.get("storyId").and_then(|v| v.as_i64()))
                        == Some(s)
                })
        };
        let stream = follow(ctx, &program_id, after, keep).await?;
        Ok(stream.map(|r| r.map(ClarificationUpdate).map_err(Into::into)))
    }

    /// Story events of a team backlog (created, changed, ranked, state) and
    /// features allocated to the team or taken back from it.
    /// With `after` (an event's cursor) it first sends the matching events
    /// after it from the log, then live ones.
    async fn backlog_updates(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<BacklogUpdate>> + use<>> {
        let actor = gql::actor(ctx)?;
        let team = decode_as(Kind::Team, "teamId", &team_id)?;
        let (_, program) =
            Box::pin(policy::team(gql::store(ctx)?.conn(), actor, TeamId(team))).await?;
        let keep = move |e: &event::Model| {
            kind_of(e).is_some_and(|k| k.is_story() || k.is_allocation()) && has_team(e, Some(team))
        };
        let stream = follow(ctx, &encode(Kind::Program, program.id), after, keep).await?;
        Ok(stream.map(|r| r.map(BacklogUpdate).map_err(Into::into)))
    }

    /// The viewer's own queue of a program, live: an item entering it (a
    /// wait started on the viewer, or passed to them) or leaving it (ended,
    /// or passed to someone else). With `after` (an event's cursor) it first
    /// sends the matching events after it from the log, then live ones.
    async fn waiting_updates(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<WaitingUpdate>> + use<>> {
        let Some(me) = gql::actor(ctx)?.user_id() else {
            return Err(AppError::bad_input(
                "nothing waits on the built-in administrator or a board token; subscribe with a user's token",
            )
            .into());
        };
        let me_global = encode(Kind::User, me).0;
        let keep = move |e: &event::Model| {
            kind_of(e).is_some_and(kind::EventKind::is_wait) && wait_change(e, &me_global).is_some()
        };
        let stream = follow(ctx, &program_id, after, keep).await?;
        let me_global = encode(Kind::User, me).0;
        Ok(stream.map(move |r| {
            r.map(|event| {
                let entered = wait_change(&event.0, &me_global) == Some(true);
                WaitingUpdate { event, entered }
            })
            .map_err(Into::into)
        }))
    }
}

/// Whether a wait event brings an item into `user`'s queue (true), takes
/// one out (false), or is someone else's (None).
fn wait_change(e: &event::Model, user: &str) -> Option<bool> {
    let payload: serde_json::Value = serde_json::from_str(&e.payload).ok()?;
    let owner = payload.get("ownerId").and_then(|v| v.as_str());
    let previous = payload.get("previousOwnerId").and_then(|v| v.as_str());
    match kind_of(e)? {
        kind::EventKind::WaitStarted if owner == Some(user) => Some(true),
        kind::EventKind::WaitEnded if owner == Some(user) => Some(false),
        kind::EventKind::WaitMoved if owner == Some(user) => Some(true),
        kind::EventKind::WaitMoved if previous == Some(user) => Some(false),
        _ => None,
    }
}

gql::mirror_enum! {
    /// How an item's place in a queue changed.
    WaitChange mirrors WaitChangeKind {
        /// It now waits on the viewer.
        Entered,
        /// It no longer waits on the viewer.
        Left,
    }
}

/// The domain side of [`WaitChange`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitChangeKind {
    Entered,
    Left,
}

/// An item entered or left the viewer's queue.
pub struct WaitingUpdate {
    event: Event,
    entered: bool,
}

/// A wait event of the viewer's queue and the item as it now is.
#[Object]
impl WaitingUpdate {
    /// The event (WAIT_STARTED, WAIT_ENDED or WAIT_MOVED).
    async fn event(&self) -> &Event {
        &self.event
    }

    /// Whether the item entered or left the viewer's queue.
    async fn change(&self) -> WaitChange {
        if self.entered {
            WaitChange::Entered
        } else {
            WaitChange::Left
        }
    }

    /// The item as it now is (with `endedAt` and `outcome` once ended).
    async fn item(&self, ctx: &Context<'_>) -> Result<Option<WaitItem>> {
        let payload: serde_json::Value = serde_json::from_str(&self.event.0.payload)
            .map_err(|e| AppError::Internal(e.to_string().into()))?;
        let Some(id) = payload.get("waitId").and_then(serde_json::Value::as_i64) else {
            return Ok(None);
        };
        Ok(crate::waits::service::find(gql::store(ctx)?.conn(), id)
            .await?
            .map(WaitItem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Actor;
    use crate::events::kind::EventKind;

    fn row(kind: EventKind, payload: serde_json::Value) -> event::Model {
        event::Model {
            id: 1,
            program_id: 1,
            sequence: 1,
            kind: kind.as_str().to_owned(),
            subject_type: "Team".to_owned(),
            subject_id: 1,
            team_ids: String::new(),
            actor_id: None,
            at: chrono::Utc::now(),
            payload: payload.to_string(),
        }
    }

    #[test]
    fn only_changes_that_can_take_the_program_away_are_checked_again() {
        let mia = Actor::User {
            id: 7,
            admin: false,
        };
        let removed = |user: i64| {
            row(
                EventKind::TeamMemberRemoved,
                serde_json::json!({ "userId": encode(Kind::User, user).0 }),
            )
        };
        let fields = |kind, fields: &[&str]| row(kind, serde_json::json!({ "fields": fields }));
        assert!(may_revoke_access(&removed(7), mia));
        assert!(!may_revoke_access(&removed(8), mia));
        assert!(may_revoke_access(
            &fields(EventKind::TeamUpdated, &["name", "productOwnerId"]),
            mia
        ));
        assert!(!may_revoke_access(
            &fields(EventKind::TeamUpdated, &["name"]),
            mia
        ));
        assert!(may_revoke_access(
            &fields(EventKind::ProgramUpdated, &["productManagerId"]),
            mia
        ));
        assert!(!may_revoke_access(
            &fields(EventKind::ProgramUpdated, &["vision"]),
            mia
        ));
        assert!(!may_revoke_access(
            &row(EventKind::StoryCreated, serde_json::json!({})),
            mia
        ));
        // What cannot be read is checked again (fails closed).
        let mut unknown = row(EventKind::StoryCreated, serde_json::json!({}));
        unknown.kind = "SOMETHING_NEW".to_owned();
        assert!(may_revoke_access(&unknown, mia));
        let mut garbled = fields(EventKind::TeamUpdated, &["name"]);
        garbled.payload = "{not json".to_owned();
        assert!(may_revoke_access(&garbled, mia));
        assert!(may_revoke_access(
            &row(EventKind::TeamMemberRemoved, serde_json::json!({})),
            mia
        ));
        // An unknown subject type is an error, not a Program's ID.
        let mut odd = row(EventKind::StoryCreated, serde_json::json!({}));
        odd.subject_type = "Gadget".to_owned();
        assert_eq!(subject_id(&odd).unwrap_err().code(), "INTERNAL");
        // Administrators read every program.
        assert!(!may_revoke_access(&removed(7), Actor::BuiltinAdmin));
        assert!(!may_revoke_access(
            &removed(7),
            Actor::User { id: 7, admin: true }
        ));
    }
}
