//! Who may see and change what, per the roles table of DESIGN.md.
//!
//! A program is visible to admins, its PM, and the PO and members of its
//! teams; to everyone else it does not exist (NOT_FOUND, never FORBIDDEN, so
//! its existence does not leak). Within a visible program, a forbidden change
//! answers FORBIDDEN.

use entity::{program, team, team_member};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
    sea_query::Query,
};

use super::Actor;
use crate::error::{AppError, AppResult};

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
        _ => Condition::all(),
    }
}

/// Whether the actor may read the program.
pub async fn can_read_program(
    conn: &impl ConnectionTrait,
    actor: Actor,
    program: &program::Model,
) -> AppResult<bool> {
    if actor.is_admin() || actor.is_user(program.product_manager_id) {
        return Ok(true);
    }
    let count = program::Entity::find()
        .select_only()
        .column(program::Column::Id)
        .filter(program::Column::Id.eq(program.id))
        .filter(readable_programs(actor))
        .count(conn)
        .await?;
    Ok(count > 0)
}

/// The program if it exists and the actor may read it; NOT_FOUND otherwise.
pub async fn readable_program(
    conn: &impl ConnectionTrait,
    actor: Actor,
    program_id: i64,
) -> AppResult<program::Model> {
    let found = program::Entity::find_by_id(program_id).one(conn).await?;
    match found {
        Some(p) if can_read_program(conn, actor, &p).await? => Ok(p),
        _ => Err(AppError::not_found(format!(
            "no program with id {}",
            crate::graphql::id::encode(crate::graphql::id::Kind::Program, program_id).0
        ))),
    }
}

/// The team and its program if the actor may read them; NOT_FOUND otherwise.
pub async fn readable_team(
    conn: &impl ConnectionTrait,
    actor: Actor,
    team_id: i64,
) -> AppResult<(team::Model, program::Model)> {
    let not_found = || {
        AppError::not_found(format!(
            "no team with id {}",
            crate::graphql::id::encode(crate::graphql::id::Kind::Team, team_id).0
        ))
    };
    let (team, program) = team::Entity::find_by_id(team_id)
        .find_also_related(program::Entity)
        .one(conn)
        .await?
        .ok_or_else(not_found)?;
    let program = program.ok_or_else(not_found)?;
    if !can_read_program(conn, actor, &program).await? {
        return Err(not_found());
    }
    Ok((team, program))
}

/// Admins and the program's PM manage the program's teams, vision and roadmap.
pub fn require_program_manager(
    actor: Actor,
    program: &program::Model,
    action: &str,
) -> AppResult<()> {
    if actor.is_admin() || actor.is_user(program.product_manager_id) {
        Ok(())
    } else {
        Err(AppError::forbidden(format!(
            "only the program's Product Manager or an admin may {action}"
        )))
    }
}

/// Admins only.
pub fn require_admin(actor: Actor, action: &str) -> AppResult<()> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden(format!("only an admin may {action}")))
    }
}

/// What the actor is to a team: admin, its PO, a member.
#[derive(Clone, Copy, Debug, Default)]
pub struct TeamRole {
    pub admin: bool,
    pub product_owner: bool,
    pub member: bool,
}

/// The actor's role in `team`.
pub async fn team_role(
    conn: &impl ConnectionTrait,
    actor: Actor,
    team: &team::Model,
) -> AppResult<TeamRole> {
    let member = match actor.user_id() {
        Some(user) => team_member::Entity::find_by_id((team.id, user))
            .one(conn)
            .await?
            .is_some(),
        None => false,
    };
    Ok(TeamRole {
        admin: actor.is_admin(),
        product_owner: actor.is_user(team.product_owner_id),
        member,
    })
}

impl TeamRole {
    /// Admins, the PO and members write the team's stories.
    pub fn require_writer(self, action: &str) -> AppResult<()> {
        if self.admin || self.product_owner || self.member {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "only the team's Product Owner, its members or an admin may {action}"
            )))
        }
    }

    /// Admins and the PO rank, accept and reject.
    pub fn require_owner(self, action: &str) -> AppResult<()> {
        if self.admin || self.product_owner {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "only the team's Product Owner or an admin may {action}"
            )))
        }
    }
}
