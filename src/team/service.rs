//! Creating and changing teams and their members. Knows nothing of GraphQL.

use chrono::{DateTime, Utc};
use entity::{program, team, team_member};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter,
};

use crate::{
    error::{AppError, AppResult},
    ids::{Kind, global},
    text, user,
};

async fn ensure_name_free(
    conn: &impl ConnectionTrait,
    program_id: i64,
    name: &str,
    except: Option<i64>,
) -> AppResult<()> {
    let mut query = team::Entity::find()
        .filter(team::Column::ProgramId.eq(program_id))
        .filter(team::Column::Name.eq(name));
    if let Some(id) = except {
        query = query.filter(team::Column::Id.ne(id));
    }
    if query.one(conn).await?.is_some() {
        return Err(duplicate(name));
    }
    Ok(())
}

fn duplicate(name: &str) -> AppError {
    AppError::conflict(format!("the program already has a team named {name:?}"))
}

/// Creates a team in a program with its Product Owner.
pub async fn create(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program: &program::Model,
    name: &str,
    product_owner_id: i64,
) -> AppResult<team::Model> {
    let name = text::name("name", name)?;
    ensure_name_free(conn, program.id, &name, None).await?;
    team::ActiveModel {
        program_id: Set(program.id),
        name: Set(name.clone()),
        product_owner_id: Set(product_owner_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| AppError::unique_violation(e, duplicate(&name).message()))
}

/// A change to a team; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TeamChange {
    pub name: Option<String>,
    pub product_owner_id: Option<i64>,
}

/// Applies a change to a team.
pub async fn update(
    conn: &impl ConnectionTrait,
    team: team::Model,
    change: TeamChange,
) -> AppResult<team::Model> {
    let program_id = team.program_id;
    let team_id = team.id;
    let mut row = team.into_active_model();
    let mut new_name = None;
    if let Some(name) = change.name {
        let name = text::name("name", &name)?;
        ensure_name_free(conn, program_id, &name, Some(team_id)).await?;
        row.name = Set(name.clone());
        new_name = Some(name);
    }
    if let Some(po) = change.product_owner_id {
        row.product_owner_id = Set(po);
    }
    row.update(conn).await.map_err(|e| {
        AppError::unique_violation(e, duplicate(new_name.as_deref().unwrap_or("")).message())
    })
}

async fn membership(
    conn: &impl ConnectionTrait,
    team_id: i64,
    user_id: i64,
) -> AppResult<Option<team_member::Model>> {
    Ok(team_member::Entity::find_by_id((team_id, user_id))
        .one(conn)
        .await?)
}

/// Adds a user to a team; CONFLICT when already a member.
pub async fn add_member(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    team: &team::Model,
    user_id: i64,
) -> AppResult<()> {
    let user = user::service::require(conn, "userId", user_id).await?;
    let already = || {
        AppError::conflict(format!(
            "{} is already a member of team {:?}",
            user.name, team.name
        ))
    };
    if membership(conn, team.id, user_id).await?.is_some() {
        return Err(already());
    }
    team_member::ActiveModel {
        team_id: Set(team.id),
        user_id: Set(user_id),
        created_at: Set(now),
    }
    .insert(conn)
    .await
    .map_err(|e| AppError::unique_violation(e, already().message()))?;
    Ok(())
}

/// Removes a user from a team; CONFLICT when not a member.
pub async fn remove_member(
    conn: &impl ConnectionTrait,
    team: &team::Model,
    user_id: i64,
) -> AppResult<()> {
    // Not a member: answered the same whether the user exists or not.
    if membership(conn, team.id, user_id).await?.is_none() {
        return Err(AppError::not_found(format!(
            "userId: no member of team {:?} has id {}",
            team.name,
            global(Kind::User, user_id)
        )));
    }
    team_member::Entity::delete_by_id((team.id, user_id))
        .exec(conn)
        .await?;
    Ok(())
}
