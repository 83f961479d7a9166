//! The account changes: users and their tokens. These belong to no
//! program's log (no program's data changes), and say so to the unit of
//! work; the data version counts users.

use chrono::{DateTime, Utc};
use entity::{token, user};

use super::service;
use crate::{
    auth::policy::{self, Action},
    error::AppResult,
    ids::{ProgramId, TokenId, UserId},
    work::Work,
};

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

/// Issues another bearer token for a user (admins, or the user themselves),
/// with a label and an optional expiry.
pub async fn issue_token(
    work: &mut Work,
    id: UserId,
    label: String,
    expires_at: Option<DateTime<Utc>>,
) -> AppResult<(user::Model, String)> {
    work.require(Action::ManageTokens(id)).await?;
    let user = service::require(work.conn(), "userId", id.0).await?;
    let token = service::issue_token(work.conn(), work.now(), user.id, &label, expires_at).await?;
    work.outside_program_log();
    Ok((user, token))
}

/// Creates a board token of a program (its PM or an admin): it reads that
/// program and subscribes to it, nothing else. The creator owns it (lists
/// and revokes it); when the built-in administrator creates it, the
/// program's PM does. Answers the row and the secret, shown only once.
pub async fn create_board_token(
    work: &mut Work,
    program: ProgramId,
    label: String,
) -> AppResult<(token::Model, String)> {
    let program = policy::program(work.conn(), work.actor(), program).await?;
    work.require(Action::ManageProgram(&program, "create board tokens"))
        .await?;
    let owner = work.actor().user_id().unwrap_or(program.product_manager_id);
    let created =
        service::issue_board_token(work.conn(), work.now(), owner, program.id, &label).await?;
    work.outside_program_log();
    Ok(created)
}

/// Ends one token (its owner or an admin); its open subscriptions end
/// within about a second. Answers the token as it was.
pub async fn revoke_token(work: &mut Work, id: TokenId) -> AppResult<token::Model> {
    let token = policy::token(work.conn(), work.actor(), id).await?;
    work.require(Action::ManageTokens(UserId(token.user_id)))
        .await?;
    service::delete_token(work.conn(), token.id).await?;
    work.outside_program_log();
    Ok(token)
}

/// Ends every token of a user (admins: `portfolio user revoke`); answers
/// how many.
pub async fn revoke_all_tokens(work: &mut Work, id: UserId) -> AppResult<usize> {
    work.require(Action::Administer("revoke all of a user's tokens"))
        .await?;
    let tokens = service::tokens_of(work.conn(), id.0).await?;
    for token in &tokens {
        service::delete_token(work.conn(), token.id).await?;
    }
    work.outside_program_log();
    Ok(tokens.len())
}

/// A user's tokens (the user themselves or an admin).
pub async fn tokens_of(
    conn: &impl sea_orm::ConnectionTrait,
    actor: crate::auth::Actor,
    id: UserId,
) -> AppResult<Vec<token::Model>> {
    policy::require(conn, actor, Action::ManageTokens(id)).await?;
    service::tokens_of(conn, id.0).await
}
