//! The one authorization policy: the roles table of DESIGN.md, in one place.
//!
//! Two questions, asked by use cases and loaders, never by resolvers:
//! - **May the actor see it?** One visibility function per entity
//!   ([`program`], [`team`], [`story`], [`feature`], [`dependency`],
//!   [`clarification`], [`objective`], [`can_see_user`]). A program is
//!   visible to admins, its PM, and the PO and members of its teams; to
//!   everyone else it and everything in it does not exist (NOT_FOUND, never
//!   FORBIDDEN, so its existence does not leak).
//! - **May the actor do it?** [`require`] with an [`Action`] naming what is
//!   done to what. Within a visible program, a refusal answers FORBIDDEN.

use entity::{
    clarification, dependency, feature, objective, program, story, team, team_member, user,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::Query,
};

use super::Actor;
use crate::{
    error::{AppError, AppResult},
    ids::{
        ClarificationId, DependencyId, FeatureId, ObjectiveId, ProgramId, StoryId, TeamId, TokenId,
        UserId, WebhookId,
    },
};

/// Something an actor wants to do, and what it is done to. Each variant is a
/// row of the roles table.
#[derive(Clone, Copy, Debug)]
pub enum Action<'a> {
    /// Create programs and users, assign a program's PM: admins.
    Administer(&'static str),
    /// Issue, list and revoke the bearer tokens of `user`: admins, or the
    /// user themselves.
    ManageTokens(UserId),
    /// Edit the vision, increments, features, program backlog rank; accept
    /// features; create and change teams; score objectives: admins and the
    /// program's PM. The text says what, for the refusal.
    ManageProgram(&'a program::Model, &'static str),
    /// Add or remove team members: admins, the program's PM, the team's PO.
    ManageMembers(&'a program::Model, &'a team::Model),
    /// Create and edit the team's stories: admins, its PO and members.
    WriteStories(&'a team::Model, &'static str),
    /// Rank the team backlog, accept or reject its stories: admins and its PO.
    OwnBacklog(&'a team::Model, &'static str),
    /// Request or remove a dependency of a story of `team`: admins, the
    /// program's PM, the team's PO and members.
    ChangeDependencies(&'a program::Model, &'a team::Model, &'static str),
    /// Commit or decline a dependency asked of the provider `team`: admins
    /// and its PO.
    DecideDependency(&'a team::Model, &'static str),
    /// Ask a clarification: anyone who may see the program.
    AskClarification(&'a program::Model),
    /// Answer: admins and the assignee.
    AnswerClarification(&'a clarification::Model),
    /// Resolve: admins, the asker and the assignee.
    ResolveClarification(&'a clarification::Model),
    /// Reopen: admins and the asker.
    ReopenClarification(&'a clarification::Model),
    /// Set a PI objective of `team`: admins, the program's PM, the team's PO.
    SetObjective(&'a program::Model, &'a team::Model),
    /// Set `team`'s capacity in an iteration: admins, the program's PM, the
    /// team's PO.
    SetCapacity(&'a program::Model, &'a team::Model),
    /// Vote the confidence of `team` in its plan: admins, its PO and
    /// members. (A vote is a person's: the use case refuses the built-in
    /// administrator, who is nobody.)
    VoteConfidence(&'a team::Model),
}

/// Whether `actor` may do `action`: Ok, or FORBIDDEN saying who may.
pub async fn require(
    conn: &impl ConnectionTrait,
    actor: Actor,
    action: Action<'_>,
) -> AppResult<()> {
    if actor.is_admin() {
        return Ok(());
    }
    if let Actor::Board { .. } = actor {
        return Err(AppError::forbidden(
            "a board token only reads its program and subscribes to it",
        ));
    }
    let pm = |p: &program::Model| actor.is_user(p.product_manager_id);
    let po = |t: &team::Model| actor.is_user(t.product_owner_id);
    let (allowed, who, what): (bool, &str, String) = match action {
        Action::Administer(what) => (false, "an admin", what.to_owned()),
        Action::ManageTokens(user) => (
            actor.is_user(user.0),
            "the user themselves or an admin",
            "manage a user's tokens".to_owned(),
        ),
        Action::ManageProgram(p, what) => (
            pm(p),
            "the program's Product Manager or an admin",
            what.to_owned(),
        ),
        Action::ManageMembers(p, t) => (
            pm(p) || po(t),
            "the program's Product Manager, the team's Product Owner or an admin",
            "change the team's members".to_owned(),
        ),
        Action::WriteStories(t, what) => (
            po(t) || is_member(conn, actor, t).await?,
            "the team's Product Owner, its members or an admin",
            what.to_owned(),
        ),
        Action::OwnBacklog(t, what) => (
            po(t),
            "the team's Product Owner or an admin",
            what.to_owned(),
        ),
        Action::ChangeDependencies(p, t, what) => (
            pm(p) || po(t) || is_member(conn, actor, t).await?,
            "the program's PM, or the dependent team's PO or members,",
            what.to_owned(),
        ),
        Action::DecideDependency(t, what) => (
            po(t),
            "the provider team's Product Owner or an admin",
            what.to_owned(),
        ),
        // Seeing the program is all it takes; the use case has checked that.
        Action::AskClarification(_) => (true, "", String::new()),
        Action::AnswerClarification(c) => (
            actor.is_user(c.assignee_id),
            "the assignee or an admin",
            "answer this clarification".to_owned(),
        ),
        Action::ResolveClarification(c) => (
            actor.is_user(c.assignee_id) || c.asker_id.is_some_and(|a| actor.is_user(a)),
            "the asker, the assignee or an admin",
            "resolve this clarification".to_owned(),
        ),
        Action::ReopenClarification(c) => (
            c.asker_id.is_some_and(|a| actor.is_user(a)),
            "the asker or an admin",
            "reopen this clarification".to_owned(),
        ),
        Action::SetObjective(p, t) => (
            pm(p) || po(t),
            "the team's Product Owner, the program's Product Manager or an admin",
            "set objectives".to_owned(),
        ),
        Action::SetCapacity(p, t) => (
            pm(p) || po(t),
            "the team's Product Owner, the program's Product Manager or an admin",
            "set the team's capacity".to_owned(),
        ),
        Action::VoteConfidence(t) => (
            po(t) || is_member(conn, actor, t).await?,
            "the team's Product Owner, its members or an admin",
            "vote the team's confidence".to_owned(),
        ),
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("only {who} may {what}")))
    }
}

async fn is_member(
    conn: &impl ConnectionTrait,
    actor: Actor,
    team: &team::Model,
) -> AppResult<bool> {
    match actor.user_id() {
        Some(user) => Ok(team_member::Entity::find_by_id((team.id, user))
            .one(conn)
            .await?
            .is_some()),
        None => Ok(false),
    }
}

/// The condition on `programs` rows that selects those `user_id` is part of.
pub fn programs_of_user(user_id: i64) -> Condition {
    let member_teams = Query::select()
        .column(team_member::Column::TeamId)
        .from(team_member::Entity)
        .and_where(team_member::Column::UserId.eq(user_id))
        .to_owned();
    let teams = Query::select()
        .column(team::Column::ProgramId)
        .from(team::Entity)
        .cond_where(
            Condition::any()
                .add(team::Column::ProductOwnerId.eq(user_id))
                .add(team::Column::Id.in_subquery(member_teams)),
        )
        .to_owned();
    Condition::any()
        .add(program::Column::ProductManagerId.eq(user_id))
        .add(program::Column::Id.in_subquery(teams))
}

/// The condition on `programs` rows that the actor may read.
pub fn readable_programs(actor: Actor) -> Condition {
    match actor {
        Actor::User { id, admin: false } => programs_of_user(id),
        Actor::Board { program_id } => Condition::all().add(program::Column::Id.eq(program_id)),
        Actor::BuiltinAdmin | Actor::User { admin: true, .. } => Condition::all(),
    }
}

/// Whether the actor may read the program.
pub async fn can_read_program(
    conn: &impl ConnectionTrait,
    actor: Actor,
    program: &program::Model,
) -> AppResult<bool> {
    if let Actor::Board { program_id } = actor {
        return Ok(program_id == program.id);
    }
    match actor.user_id() {
        _ if actor.is_admin() || actor.is_user(program.product_manager_id) => Ok(true),
        Some(user) => part_of(conn, user, program.id).await,
        None => Ok(false),
    }
}

/// Whether the actor may read the team's program: as [`can_read_program`],
/// with no statement for the team's own Product Owner, who is part of it.
async fn can_read_team(
    conn: &impl ConnectionTrait,
    actor: Actor,
    team: &team::Model,
    program: &program::Model,
) -> AppResult<bool> {
    if actor.is_user(team.product_owner_id) {
        return Ok(true);
    }
    can_read_program(conn, actor, program).await
}

/// Whether the actor may see user `user`: admins and the user always;
/// others when they share a program.
pub async fn can_see_user(
    conn: &impl ConnectionTrait,
    actor: Actor,
    user: UserId,
) -> AppResult<bool> {
    let id = match actor {
        Actor::User { id, admin: false } => id,
        // A board sees the people of its program.
        Actor::Board { program_id } => return part_of(conn, user.0, program_id).await,
        Actor::BuiltinAdmin | Actor::User { admin: true, .. } => return Ok(true),
    };
    if id == user.0 {
        return Ok(true);
    }
    let shared = program::Entity::find()
        .select_only()
        .column(program::Column::Id)
        .filter(programs_of_user(id))
        .filter(programs_of_user(user.0))
        .count(conn)
        .await?;
    Ok(shared > 0)
}

/// Someone named in an input: by ID, or by exact email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Someone {
    Id(UserId),
    Email(String),
}

/// The user `someone` names in input `field`, for a change to `program`
/// (a member, a PO, a PM). Admins may name anyone. Others may name people
/// already part of the program by ID, or anyone by exact email (knowing the
/// address is what lets a PM bring in a new person). Everyone else answers
/// exactly as a user who does not exist, so user IDs cannot be harvested.
pub async fn person(
    conn: &impl ConnectionTrait,
    actor: Actor,
    program: &program::Model,
    field: &str,
    someone: &Someone,
) -> AppResult<user::Model> {
    match someone {
        Someone::Id(id) => {
            let nobody =
                || AppError::not_found(format!("{field}: no user of this program has id {id}"));
            let found = user::Entity::find_by_id(id.0)
                .one(conn)
                .await?
                .ok_or_else(nobody)?;
            if actor.is_admin() || part_of(conn, id.0, program.id).await? {
                Ok(found)
            } else {
                Err(nobody())
            }
        }
        Someone::Email(email) => {
            let normalised = email.trim().to_lowercase();
            user::Entity::find()
                .filter(user::Column::Email.eq(normalised))
                .one(conn)
                .await?
                .ok_or_else(|| AppError::not_found(format!("{field}: no user has that email")))
        }
    }
}

/// Whether user `user_id` is part of program `program_id` (its PM, or a PO
/// or member of one of its teams).
async fn part_of(conn: &impl ConnectionTrait, user_id: i64, program_id: i64) -> AppResult<bool> {
    let count = program::Entity::find()
        .select_only()
        .column(program::Column::Id)
        .filter(program::Column::Id.eq(program_id))
        .filter(programs_of_user(user_id))
        .count(conn)
        .await?;
    Ok(count > 0)
}

/// Whether the actor may read user `user`'s email (the user is already
/// visible to them): admins and the user always; people sharing a program
/// only when the server is set to show emails.
pub fn can_see_email(actor: Actor, user: UserId, show_to_peers: bool) -> bool {
    actor.is_admin() || actor.is_user(user.0) || show_to_peers
}

fn missing(what: &str, id: impl std::fmt::Display) -> AppError {
    AppError::not_found(format!("no {what} with id {id}"))
}

/// Answers NOT_FOUND for `what` when the program is not visible.
fn hide(err: AppError, what: &str, id: impl std::fmt::Display) -> AppError {
    match err {
        AppError::NotFound(_) => missing(what, id),
        other => other,
    }
}

/// The program if it exists and the actor may read it; NOT_FOUND otherwise.
pub async fn program(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: ProgramId,
) -> AppResult<program::Model> {
    let found = program::Entity::find_by_id(id.0).one(conn).await?;
    match found {
        Some(p) if can_read_program(conn, actor, &p).await? => Ok(p),
        _ => Err(missing("program", id)),
    }
}

/// The team and its program if the actor may read them; NOT_FOUND otherwise.
pub async fn team(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: TeamId,
) -> AppResult<(team::Model, program::Model)> {
    let (team, program) = team::Entity::find_by_id(id.0)
        .find_also_related(program::Entity)
        .one(conn)
        .await?
        .ok_or_else(|| missing("team", id))?;
    match program {
        Some(p) if can_read_team(conn, actor, &team, &p).await? => Ok((team, p)),
        _ => Err(missing("team", id)),
    }
}

/// The story, its team and program, if the actor may read them.
pub async fn story(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: StoryId,
) -> AppResult<(story::Model, team::Model, program::Model)> {
    // One statement: the story joined with its team and program.
    let found = story::Entity::find_by_id(id.0)
        .find_also_related(team::Entity)
        .and_also_related(program::Entity)
        .one(conn)
        .await?;
    match found {
        Some((story, Some(team), Some(program)))
            if can_read_team(conn, actor, &team, &program).await? =>
        {
            Ok((story, team, program))
        }
        _ => Err(missing("story", id)),
    }
}

/// The feature and its program, if the actor may read them.
pub async fn feature(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: FeatureId,
) -> AppResult<(feature::Model, program::Model)> {
    let feature = feature::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| missing("feature", id))?;
    let program = program(conn, actor, ProgramId(feature.program_id))
        .await
        .map_err(|e| hide(e, "feature", id))?;
    Ok((feature, program))
}

/// The dependency and its program, if the actor may read them.
pub async fn dependency(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: DependencyId,
) -> AppResult<(dependency::Model, program::Model)> {
    let dep = dependency::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| missing("dependency", id))?;
    let program = program(conn, actor, ProgramId(dep.program_id))
        .await
        .map_err(|e| hide(e, "dependency", id))?;
    Ok((dep, program))
}

/// The clarification and its program, if the actor may read them.
pub async fn clarification(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: ClarificationId,
) -> AppResult<(clarification::Model, program::Model)> {
    let item = clarification::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| missing("clarification", id))?;
    let program = program(conn, actor, ProgramId(item.program_id))
        .await
        .map_err(|e| hide(e, "clarification", id))?;
    Ok((item, program))
}

/// The token, if it is the actor's own (or the actor is an admin): other
/// people's tokens do not exist for them.
pub async fn token(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: TokenId,
) -> AppResult<entity::token::Model> {
    match entity::token::Entity::find_by_id(id.0).one(conn).await? {
        Some(t) if actor.is_admin() || actor.is_user(t.user_id) => Ok(t),
        _ => Err(missing("token", id)),
    }
}

/// The webhook endpoint and its program. NOT_FOUND when the program is not
/// visible; FORBIDDEN to anyone but its PM and admins, who alone see
/// webhooks (their URLs and delivery logs).
pub async fn webhook(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: WebhookId,
) -> AppResult<(entity::webhook::Model, program::Model)> {
    let found = entity::webhook::Entity::find_by_id(id.0).one(conn).await?;
    let webhook = found.ok_or_else(|| missing("webhook", id))?;
    let program = program(conn, actor, ProgramId(webhook.program_id))
        .await
        .map_err(|e| hide(e, "webhook", id))?;
    if !can_see_webhooks(actor, &program) {
        return Err(AppError::forbidden(WEBHOOKS_HIDDEN));
    }
    Ok((webhook, program))
}

/// What a refusal to show webhooks says.
pub const WEBHOOKS_HIDDEN: &str =
    "only the program's Product Manager or an admin may see its webhooks";

/// Whether the actor sees the program's webhooks: admins and its PM.
pub fn can_see_webhooks(actor: Actor, program: &program::Model) -> bool {
    actor.is_admin() || actor.is_user(program.product_manager_id)
}

/// The objective, its team and program, if the actor may read them.
pub async fn objective(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: ObjectiveId,
) -> AppResult<(objective::Model, team::Model, program::Model)> {
    let found = objective::Entity::find_by_id(id.0).one(conn).await?;
    let objective = found.ok_or_else(|| missing("objective", id))?;
    let (team, program) = team(conn, actor, TeamId(objective.team_id))
        .await
        .map_err(|e| hide(e, "objective", id))?;
    Ok((objective, team, program))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_program_hides_the_object() {
        let hidden = hide(AppError::not_found("no program"), "story", StoryId(4));
        assert_eq!(hidden.code(), "NOT_FOUND");
        assert_eq!(hidden.message(), format!("no story with id {}", StoryId(4)));
        // A database failure is not "not found": it stays INTERNAL.
        let failed = hide(
            AppError::Internal("connection reset".into()),
            "story",
            StoryId(4),
        );
        assert_eq!(failed.code(), "INTERNAL");
    }
}
