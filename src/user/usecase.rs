//! The account changes: users and their tokens. These belong to no
//! program's log (no program's data changes), and say so to the unit of
//! work; the data version counts users.

use entity::user;

use super::service;
use crate::{auth::policy::Action, error::AppResult, ids::UserId, work::Work};

/// Creates a user (admins); answers the user and their first token.
pub async fn create_user(
    work: &mut Work,
    name: String,
    email: String,
    admin: bool,
) -> AppResult<(user::Model, String)> {
    work.require(Action::Administer("create users")).await?;
    let created = service::create(work.conn(), work.now(), &name, &email, admin).await?;
    work.outside_program_log();
    Ok(created)
}

/// Issues another bearer token for a user (admins, or the user themselves).
pub async fn issue_token(work: &mut Work, id: UserId) -> AppResult<(user::Model, String)> {
    work.require(Action::IssueToken(id)).await?;
    let user = service::require(work.conn(), "userId", id.0).await?;
    let token = service::issue_token(work.conn(), work.now(), user.id).await?;
    work.outside_program_log();
    Ok((user, token))
}
