//! Creating, changing and listing programs. Knows nothing of GraphQL.

use chrono::{DateTime, Utc};
use entity::program;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::{
    auth::{Actor, policy},
    error::{AppError, AppResult},
    ids::ProgramId,
    page::Page,
    text, user,
};

/// Creates a program with its Product Manager.
pub async fn create(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    name: &str,
    vision: &str,
    product_manager_id: i64,
) -> AppResult<program::Model> {
    let name = text::name("name", name)?;
    let vision = text::long_text("vision", vision)?;
    user::service::require(conn, "productManagerId", product_manager_id).await?;
    let program = program::ActiveModel {
        name: Set(name),
        vision: Set(vision),
        product_manager_id: Set(product_manager_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    crate::events::log::start_counter(conn, program.id).await?;
    Ok(program)
}

/// A change to a program; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProgramChange {
    pub name: Option<String>,
    pub vision: Option<String>,
    pub product_manager_id: Option<i64>,
}

/// Applies a change to a program.
pub async fn update(
    conn: &impl ConnectionTrait,
    program: program::Model,
    change: ProgramChange,
) -> AppResult<program::Model> {
    let mut row = program.into_active_model();
    if let Some(name) = change.name {
        row.name = Set(text::name("name", &name)?);
    }
    if let Some(vision) = change.vision {
        row.vision = Set(text::long_text("vision", &vision)?);
    }
    if let Some(pm) = change.product_manager_id {
        user::service::require(conn, "productManagerId", pm).await?;
        row.product_manager_id = Set(pm);
    }
    Ok(row.update(conn).await?)
}

/// One page of the programs the actor may read, in creation order, and how
/// many there are in all.
pub async fn list_readable(
    conn: &impl ConnectionTrait,
    actor: Actor,
    page: &Page,
) -> AppResult<(Vec<program::Model>, u64)> {
    let readable = program::Entity::find().filter(policy::readable_programs(actor));
    let total = readable.clone().count(conn).await?;
    let mut query = readable
        .order_by_asc(program::Column::Id)
        .limit(page.fetch());
    if let Some(after) = page.after {
        query = query.filter(program::Column::Id.gt(after));
    }
    Ok((query.all(conn).await?, total))
}

/// The program, if it exists and the actor may read it.
pub async fn visible(
    conn: &impl ConnectionTrait,
    actor: Actor,
    id: ProgramId,
) -> AppResult<Option<program::Model>> {
    match policy::program(conn, actor, id).await {
        Ok(p) => Ok(Some(p)),
        Err(AppError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Locks the program row until the transaction ends (PostgreSQL; SQLite has
/// one writer at a time). Serialises changes to a program's ranked and
/// non-overlapping lists. `FOR NO KEY UPDATE`: the lock only serialises
/// writers, so it leaves the foreign-key checks of other inserts (which take
/// `KEY SHARE` on the program row) alone.
pub async fn lock(conn: &impl ConnectionTrait, program_id: i64) -> AppResult<()> {
    program::Entity::find_by_id(program_id)
        .lock(sea_orm::sea_query::LockType::NoKeyUpdate)
        .one(conn)
        .await?;
    Ok(())
}
