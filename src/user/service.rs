//! Creating users and issuing tokens. Knows nothing of GraphQL.

use chrono::{DateTime, Utc};
use entity::{token as token_row, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};

use crate::{
    auth::token,
    error::{AppError, AppResult},
    ids::{Kind, global},
    text,
};

/// Creates a user and a first token; returns the user and the token text.
pub async fn create(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    name: &str,
    email: &str,
    admin: bool,
) -> AppResult<(user::Model, String)> {
    let name = text::name("name", name)?;
    let email = text::email(email)?;
    let duplicate = || AppError::conflict(format!("a user with email {email} already exists"));
    if find_by_email(conn, &email).await?.is_some() {
        return Err(duplicate());
    }
    let user = user::ActiveModel {
        name: Set(name),
        email: Set(email.clone()),
        admin: Set(admin),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| {
        AppError::unique_violation(e, format!("a user with email {email} already exists"))
    })?;
    let token = issue_token(conn, now, user.id, "first token", None).await?;
    Ok((user, token))
}

/// Issues a new token for a user; earlier tokens stay valid. A label is at
/// most 200 characters; an expiry must be in the future.
pub async fn issue_token(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user_id: i64,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<String> {
    if expires_at.is_some_and(|at| at <= now) {
        return Err(AppError::bad_input("expiresAt must be in the future"));
    }
    let (_, text) = insert_token(conn, now, user_id, label, expires_at, None).await?;
    Ok(text)
}

/// Issues a board token of `program_id`, owned by `owner_id` (who may list
/// and revoke it): the row and its secret.
pub async fn issue_board_token(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    owner_id: i64,
    program_id: i64,
    label: &str,
) -> AppResult<(token_row::Model, String)> {
    insert_token(conn, now, owner_id, label, None, Some(program_id)).await
}

async fn insert_token(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    user_id: i64,
    label: &str,
    expires_at: Option<DateTime<Utc>>,
    program_id: Option<i64>,
) -> AppResult<(token_row::Model, String)> {
    let label = if label.trim().is_empty() {
        String::new()
    } else {
        text::name("label", label)?
    };
    let text = token::generate();
    let row = token_row::ActiveModel {
        user_id: Set(user_id),
        token_hash: Set(token::hash(&text)),
        created_at: Set(now),
        label: Set(label),
        last_used_at: Set(None),
        expires_at: Set(expires_at),
        program_id: Set(program_id),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok((row, text))
}

/// The user with this (normalised) email, if any.
pub async fn find_by_email(
    conn: &impl ConnectionTrait,
    email: &str,
) -> AppResult<Option<user::Model>> {
    Ok(user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(conn)
        .await?)
}

/// The user `id`, or NOT_FOUND naming the input `field`.
pub async fn require(conn: &impl ConnectionTrait, field: &str, id: i64) -> AppResult<user::Model> {
    user::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| {
            AppError::not_found(format!(
                "{field}: no user with id {}",
                global(Kind::User, id)
            ))
        })
}

/// A user's tokens, oldest first (never their secrets: only hashes are kept).
pub async fn tokens_of(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> AppResult<Vec<token_row::Model>> {
    Ok(token_row::Entity::find()
        .filter(token_row::Column::UserId.eq(user_id))
        .order_by_asc(token_row::Column::Id)
        .all(conn)
        .await?)
}

/// Ends a token: its row goes, so it authenticates nothing from now on.
pub async fn delete_token(conn: &impl ConnectionTrait, id: i64) -> AppResult<()> {
    token_row::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}
