//! The `User` type, `viewer`, `createUser` and `issueToken`.

use std::collections::HashSet;

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{token, user};

use super::usecase;
use crate::{
    auth::{Actor, Viewer, policy},
    clarification::{
        self,
        graphql::{Clarification, ClarificationStatus},
        service::ListFilter,
    },
    graphql::pagination::KeyedConnection,
    graphql::{
        self as gql,
        id::{self, Kind, encode},
        loaders::{ProgramById, ProgramsOfUser, TeamsOfUser},
    },
    ids::UserId,
    program::graphql::Program,
    team::graphql::Team,
};

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct User(pub user::Model);

/// The ids of the programs the actor may read; `None` when it may read all.
pub async fn readable_program_ids(ctx: &Context<'_>, actor: Actor) -> Result<Option<HashSet<i64>>> {
    match actor {
        Actor::User { id, admin: false } => {
            let programs = gql::load_one(ctx, ProgramsOfUser(id))
                .await?
                .unwrap_or_default();
            Ok(Some(programs.into_iter().map(|p| p.id).collect()))
        }
        Actor::Board { program_id } => Ok(Some(HashSet::from([program_id]))),
        Actor::BuiltinAdmin | Actor::User { admin: true, .. } => Ok(None),
    }
}

/// A person. One person may hold several roles: the Product Manager of a
/// program can also be the Product Owner of a team.
#[Object]
impl User {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::User, self.0.id)
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Email address, lower-cased; null unless the viewer is an admin or
    /// this user (or the server shows emails to everyone sharing a program:
    /// `PORTFOLIO_SHOW_EMAILS`).
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let shown = ctx.data_opt::<gql::EmailsShown>().is_some_and(|s| s.0);
        let visible = policy::can_see_email(gql::actor(ctx)?, UserId(self.0.id), shown);
        Ok(visible.then_some(self.0.email.as_str()))
    }

    /// Whether the user is an administrator.
    async fn admin(&self) -> bool {
        self.0.admin
    }

    /// When the user was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// What waits on this user's decision in a program the viewer reads,
    /// oldest first: questions to answer, answers to accept, stories to
    /// accept, dependency requests to decide, features to break down.
    /// `viewer { waitingOnMe(programId:) }` is the viewer's own queue.
    #[graphql(complexity = "20 * child_complexity + 1")]
    async fn waiting_on_me(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
    ) -> Result<Vec<crate::waits::graphql::WaitItem>> {
        Ok(crate::waits::graphql::queue(ctx, self.0.id, &program_id).await?)
    }

    /// Teams where this user is the Product Owner or a member, by name; only
    /// those of programs the viewer can see.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn teams(&self, ctx: &Context<'_>) -> Result<Vec<Team>> {
        gql::reads_everything(ctx);
        let actor = gql::actor(ctx)?;
        let teams = gql::load_one(ctx, TeamsOfUser(self.0.id))
            .await?
            .unwrap_or_default();
        let readable = if actor.is_user(self.0.id) {
            None
        } else {
            readable_program_ids(ctx, actor).await?
        };
        Ok(teams
            .into_iter()
            .filter(|t| readable.as_ref().is_none_or(|r| r.contains(&t.program_id)))
            .map(Team)
            .collect())
    }

    /// Clarifications assigned to this user (the inbox), oldest first. Other
    /// viewers see only those of programs they are part of.
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn assigned_clarifications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only clarifications in these statuses.")] statuses: Option<
            Vec<ClarificationStatus>,
        >,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Return clarifications after this cursor.")] after: Option<String>,
    ) -> Result<KeyedConnection<Clarification>> {
        self.inbox(ctx, statuses, first, after).await
    }

    /// Programs this user is part of (as PM, PO or member), by name; only
    /// those the viewer can see.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn programs(&self, ctx: &Context<'_>) -> Result<Vec<Program>> {
        gql::reads_everything(ctx);
        let actor = gql::actor(ctx)?;
        let programs = gql::load_one(ctx, ProgramsOfUser(self.0.id))
            .await?
            .unwrap_or_default();
        let readable = if actor.is_user(self.0.id) {
            None
        } else {
            readable_program_ids(ctx, actor).await?
        };
        Ok(programs
            .into_iter()
            .filter(|p| readable.as_ref().is_none_or(|r| r.contains(&p.id)))
            .map(Program)
            .collect())
    }
    /// This user's tokens, oldest first: to the user themselves and admins
    /// only (FORBIDDEN otherwise). Never their secrets.
    async fn tokens(&self, ctx: &Context<'_>) -> Result<Vec<Token>> {
        // Tokens come and go outside every program's log: never cached.
        gql::uncacheable(ctx);
        let rows = usecase::tokens_of(gql::store(ctx)?.conn(), gql::actor(ctx)?, UserId(self.0.id))
            .await?;
        Ok(rows.into_iter().map(Token).collect())
    }
}

impl User {
    /// Clarifications assigned to this user: their inbox, oldest first.
    /// Another viewer sees only those of programs they are part of.
    async fn inbox(
        &self,
        ctx: &Context<'_>,
        statuses: Option<Vec<ClarificationStatus>>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<KeyedConnection<Clarification>> {
        gql::reads_everything(ctx);
        let actor = gql::actor(ctx)?;
        let programs = if actor.is_user(self.0.id) {
            None
        } else {
            readable_program_ids(ctx, actor)
                .await?
                .map(|ids| ids.into_iter().collect())
        };
        let filter = ListFilter {
            assignee: Some(self.0.id),
            programs,
            statuses: gql::enum_set(statuses),
            ..Default::default()
        };
        Ok(clarification::graphql::list(ctx, filter, first, after).await?)
    }
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Token(pub token::Model);

/// A bearer token of a user. Its secret is shown once, when it is issued,
/// and is never stored: only its hash is.
#[Object]
impl Token {
    /// Opaque global ID; `revokeToken` takes it.
    pub async fn id(&self) -> ID {
        encode(Kind::Token, self.0.id)
    }

    /// What its owner calls it; may be empty.
    async fn label(&self) -> &str {
        &self.0.label
    }

    /// When it was issued.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last authenticated a request, to within five minutes; null
    /// when never.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    /// When it stops working; null when it does not expire.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at
    }

    /// For a board token (`createBoardToken`): the one program it reads and
    /// subscribes to. Null for a person's token.
    async fn program(&self, ctx: &Context<'_>) -> Result<Option<Program>> {
        match self.0.program_id {
            Some(id) => Ok(gql::load_one(ctx, ProgramById(id)).await?.map(Program)),
            None => Ok(None),
        }
    }
}

#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// The user the bearer token belongs to; null for the built-in admin
    /// token, which has no user.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        gql::reads_everything(ctx);
        gql::actor(ctx)?;
        Ok(match gql::viewer(ctx) {
            Viewer::User(u) => Some(User(u.clone())),
            _ => None,
        })
    }
}

/// Input of `createUser`.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// Display name, 1 to 200 characters.
    pub name: String,
    /// Email address; unique, case-insensitive.
    pub email: String,
    /// Make the user an administrator.
    #[graphql(default)]
    pub admin: bool,
}

/// Result of `createUser`.
#[derive(SimpleObject)]
pub struct CreateUserPayload {
    /// The new user.
    pub user: User,
    /// The user's first bearer token. It is shown only this once.
    pub token: String,
}

/// Input of `issueToken`.
#[derive(InputObject)]
pub struct IssueTokenInput {
    /// The user to issue a token for.
    pub user_id: ID,
    /// What to call it ("CI", "laptop"), up to 200 characters.
    #[graphql(default)]
    pub label: String,
    /// When it stops working (in the future); by default never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Input of `createBoardToken`.
#[derive(InputObject)]
pub struct CreateBoardTokenInput {
    /// The program the token reads.
    pub program_id: ID,
    /// What to call it ("Wall screen, 3rd floor"), up to 200 characters.
    #[graphql(default)]
    pub label: String,
}

/// Result of `createBoardToken`.
#[derive(SimpleObject)]
pub struct CreateBoardTokenPayload {
    /// The bearer secret. It is shown only this once: put it in the board's
    /// URL fragment, `/board?program=<id>#token=<secret>`.
    pub secret: String,
    /// The token, as `viewer.tokens` lists it; `revokeToken` ends it.
    pub token: Token,
}

/// Input of `revokeToken`.
#[derive(InputObject)]
pub struct RevokeTokenInput {
    /// One of the viewer's tokens (admins: anyone's), from `viewer.tokens`.
    pub token_id: ID,
}

/// Result of `revokeToken`.
#[derive(SimpleObject)]
pub struct RevokeTokenPayload {
    /// The ID of the revoked token.
    pub revoked_token_id: ID,
    /// The token as it was just before.
    pub token: Token,
}

/// Result of `issueToken`.
#[derive(SimpleObject)]
pub struct IssueTokenPayload {
    /// The user the token belongs to.
    pub user: User,
    /// A new bearer token. It is shown only this once; earlier tokens stay valid.
    pub token: String,
}

#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user (admins only). The payload holds the user's first
    /// token, which is shown only this once.
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> Result<CreateUserPayload> {
        let (user, token) = gql::perform(ctx, |w| {
            Box::pin(usecase::create_user(
                w,
                input.name.clone(),
                input.email.clone(),
                input.admin,
            ))
        })
        .await?;
        Ok(CreateUserPayload {
            user: User(user),
            token,
        })
    }

    /// Issues a new bearer token for a user (admins, or users for themselves).
    async fn issue_token(
        &self,
        ctx: &Context<'_>,
        input: IssueTokenInput,
    ) -> Result<IssueTokenPayload> {
        let user_id = id::typed("userId", &input.user_id)?;
        let (user, token) = gql::perform(ctx, |w| {
            Box::pin(usecase::issue_token(
                w,
                user_id,
                input.label.clone(),
                input.expires_at,
            ))
        })
        .await?;
        Ok(IssueTokenPayload {
            user: User(user),
            token,
        })
    }

    /// Creates a read-only board token for a wall screen (the program's PM
    /// or an admin): it reads that one program and subscribes to it, and
    /// every mutation with it answers FORBIDDEN. It belongs to its creator
    /// (to the PM when the built-in administrator creates it), who lists it
    /// in `viewer.tokens` and ends it with `revokeToken`.
    async fn create_board_token(
        &self,
        ctx: &Context<'_>,
        input: CreateBoardTokenInput,
    ) -> Result<CreateBoardTokenPayload> {
        let program_id = id::typed("programId", &input.program_id)?;
        let (token, secret) = gql::perform(ctx, |w| {
            Box::pin(usecase::create_board_token(
                w,
                program_id,
                input.label.clone(),
            ))
        })
        .await?;
        Ok(CreateBoardTokenPayload {
            secret,
            token: Token(token),
        })
    }

    /// Ends one of the viewer's tokens (admins: anyone's). Requests with it
    /// are refused from now on, and its open subscriptions end within about
    /// a second (closed with 4403).
    async fn revoke_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeTokenInput,
    ) -> Result<RevokeTokenPayload> {
        let token_id = id::typed("tokenId", &input.token_id)?;
        let token = gql::perform(ctx, |w| Box::pin(usecase::revoke_token(w, token_id))).await?;
        Ok(RevokeTokenPayload {
            revoked_token_id: id::of(token_id),
            token: Token(token),
        })
    }
}
