//! Who is asking: the viewer, resolved once at the edge (HTTP header or the
//! websocket's `connection_init` payload), and the rules of who may do what.

pub mod known;
pub mod policy;
pub mod token;
pub mod watch;

use chrono::{DateTime, Utc};
use entity::{token as token_row, user};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

use crate::{
    db::Store,
    error::{AppError, AppResult},
};

/// The viewer of one request or websocket connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Viewer {
    /// No token was presented.
    Anonymous,
    /// A token was presented but is unknown or malformed.
    InvalidToken,
    /// The `PORTFOLIO_ADMIN_TOKEN` holder: an administrator with no user row.
    BuiltinAdmin,
    /// A user, by one of their tokens.
    User(user::Model),
    /// A board token: reads one program and subscribes to it, nothing else.
    Board { program_id: i64 },
}

/// An authenticated viewer, as the rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The built-in administrator.
    BuiltinAdmin,
    /// A user; `admin` when the user is an administrator.
    User { id: i64, admin: bool },
    /// A board token (a wall screen): it reads `program_id` and subscribes
    /// to it; it is nobody, and may do nothing.
    Board { program_id: i64 },
}

impl Actor {
    pub fn is_admin(self) -> bool {
        matches!(self, Self::BuiltinAdmin | Self::User { admin: true, .. })
    }

    /// The user's id; `None` for the built-in administrator and a board.
    pub fn user_id(self) -> Option<i64> {
        match self {
            Self::BuiltinAdmin | Self::Board { .. } => None,
            Self::User { id, .. } => Some(id),
        }
    }

    /// Whether this actor is the user `id`.
    pub fn is_user(self, id: i64) -> bool {
        self.user_id() == Some(id)
    }
}

impl Viewer {
    /// Resolves a presented token by its hash ([`token::hash`] of the text
    /// stripped of `Bearer `) at time `now`: the viewer, and the stored
    /// token's id when it is a user's. `admin_hash` is the hash of the
    /// built-in administrator's token, when there is one. An expired token
    /// is not valid. A token's `last_used_at` is brought up to date when it
    /// is more than five minutes old, so a request costs a write at most
    /// that often per token.
    pub async fn authenticate(
        store: &Store,
        admin_hash: Option<&str>,
        hashed: Option<&str>,
        now: DateTime<Utc>,
    ) -> AppResult<(Self, Option<i64>)> {
        let Some(hashed) = hashed else {
            return Ok((Self::Anonymous, None));
        };
        if admin_hash == Some(hashed) {
            return Ok((Self::BuiltinAdmin, None));
        }
        let found = token_row::Entity::find()
            .filter(token_row::Column::TokenHash.eq(hashed))
            .find_also_related(user::Entity)
            .one(store.conn())
            .await?;
        let Some((row, Some(user))) = found else {
            return Ok((Self::InvalidToken, None));
        };
        if row.expires_at.is_some_and(|at| at <= now) {
            return Ok((Self::InvalidToken, None));
        }
        if row
            .last_used_at
            .is_none_or(|at| now - at > chrono::Duration::minutes(5))
        {
            let txn = store.begin_write().await?;
            token_row::Entity::update_many()
                .col_expr(token_row::Column::LastUsedAt, Expr::value(now))
                .filter(token_row::Column::Id.eq(row.id))
                .exec(&*txn)
                .await?;
            txn.commit().await?;
        }
        match row.program_id {
            Some(program_id) => Ok((Self::Board { program_id }, Some(row.id))),
            None => Ok((Self::User(user), Some(row.id))),
        }
    }

    /// The authenticated actor, or UNAUTHENTICATED.
    pub fn actor(&self) -> AppResult<Actor> {
        match self {
            Self::BuiltinAdmin => Ok(Actor::BuiltinAdmin),
            Self::User(u) => Ok(Actor::User {
                id: u.id,
                admin: u.admin,
            }),
            Self::Board { program_id } => Ok(Actor::Board {
                program_id: *program_id,
            }),
            Self::Anonymous => Err(AppError::Unauthenticated(
                "a bearer token is required: send `Authorization: Bearer <token>`".into(),
            )),
            Self::InvalidToken => Err(AppError::Unauthenticated(
                "the bearer token is not valid".into(),
            )),
        }
    }
}
