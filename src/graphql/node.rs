//! Relay's `Node` interface and `node(id:)`, which resolves any global ID
//! the viewer may see.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::{
    self as gql,
    id::{Kind, decode},
    loaders::{
        EventById, FeatureById, IncrementById, IterationById, ProgramById, StoryById, TeamById,
        UserById,
    },
};

use crate::{
    auth::{Actor, policy},
    backlog::graphql::Story,
    clarification::{graphql::Clarification, service as clarifications},
    dependency::{graphql::Dependency, service as dependencies},
    error::AppResult,
    events::graphql::Event,
    feature::graphql::Feature,
    ids::UserId,
    increment::graphql::{Increment, Iteration},
    objective::{graphql::Objective, service as objectives},
    program::graphql::Program,
    team::graphql::Team,
    user::graphql::{Token, User},
};

/// An object with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global ID."))]
pub enum Node {
    User(User),
    Program(Program),
    Team(Team),
    Increment(Increment),
    Iteration(Iteration),
    Feature(Feature),
    Objective(Objective),
    Story(Story),
    Dependency(Dependency),
    Clarification(Clarification),
    Event(Event),
    Token(Token),
    Webhook(crate::webhook::graphql::Webhook),
}

/// Whether the actor may read program `program_id`.
async fn readable(ctx: &Context<'_>, actor: Actor, program_id: i64) -> AppResult<bool> {
    gql::reads_program(ctx, program_id);
    match gql::load_one(ctx, ProgramById(program_id)).await? {
        Some(p) => policy::can_read_program(gql::store(ctx)?.conn(), actor, &p).await,
        None => Ok(false),
    }
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global ID; null when it does not exist or the
    /// viewer may not see it. A malformed ID is BAD_USER_INPUT.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        load_node(ctx, &id).await
    }
}

/// The object with global ID `id`, if it exists and the viewer may see it.
pub async fn load_node(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let actor = gql::actor(ctx)?;
    let (kind, n) = decode(id)?;
    if matches!(kind, Kind::User | Kind::Token) {
        // A user's fields reach into every program they are part of.
        gql::reads_everything(ctx);
    }
    let node = match kind {
        Kind::Token => {
            let id = crate::ids::TokenId(n);
            match policy::token(gql::store(ctx)?.conn(), actor, id).await {
                Ok(t) => Some(Node::Token(Token(t))),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            }
        }
        Kind::User => match gql::load_one(ctx, UserById(n)).await? {
            Some(u)
                if policy::can_see_user(gql::store(ctx)?.conn(), actor, UserId(u.id)).await? =>
            {
                Some(Node::User(User(u)))
            }
            _ => None,
        },
        Kind::Program => match gql::load_one(ctx, ProgramById(n)).await? {
            Some(p) if readable(ctx, actor, p.id).await? => Some(Node::Program(Program(p))),
            _ => None,
        },
        Kind::Team => match gql::load_one(ctx, TeamById(n)).await? {
            Some(t) if readable(ctx, actor, t.program_id).await? => Some(Node::Team(Team(t))),
            _ => None,
        },
        Kind::Increment => match gql::load_one(ctx, IncrementById(n)).await? {
            Some(i) if readable(ctx, actor, i.program_id).await? => {
                Some(Node::Increment(Increment(i)))
            }
            _ => None,
        },
        Kind::Iteration => match gql::load_one(ctx, IterationById(n)).await? {
            Some(it) => match gql::load_one(ctx, IncrementById(it.increment_id)).await? {
                Some(i) if readable(ctx, actor, i.program_id).await? => {
                    Some(Node::Iteration(Iteration(it)))
                }
                _ => None,
            },
            None => None,
        },
        Kind::Feature => match gql::load_one(ctx, FeatureById(n)).await? {
            Some(f) if readable(ctx, actor, f.program_id).await? => Some(Node::Feature(Feature(f))),
            _ => None,
        },
        Kind::Story => match gql::load_one(ctx, StoryById(n)).await? {
            Some(st) => match gql::load_one(ctx, TeamById(st.team_id)).await? {
                Some(t) if readable(ctx, actor, t.program_id).await? => {
                    Some(Node::Story(Story::from(st)))
                }
                _ => None,
            },
            None => None,
        },
        Kind::Dependency => match dependencies::find(gql::store(ctx)?.conn(), n).await? {
            Some(d) if readable(ctx, actor, d.program_id).await? => {
                Some(Node::Dependency(Dependency::from(d)))
            }
            _ => None,
        },
        Kind::Clarification => match clarifications::find(gql::store(ctx)?.conn(), n).await? {
            Some(c) if readable(ctx, actor, c.program_id).await? => {
                Some(Node::Clarification(Clarification(c)))
            }
            _ => None,
        },
        Kind::Event => match gql::load_one(ctx, EventById(n)).await? {
            Some(e) if readable(ctx, actor, e.program_id).await? => {
                Some(Node::Event(Event(std::sync::Arc::new(e))))
            }
            _ => None,
        },
        Kind::Webhook => {
            gql::uncacheable(ctx);
            match policy::webhook(gql::store(ctx)?.conn(), actor, crate::ids::WebhookId(n)).await {
                Ok((w, _)) => Some(Node::Webhook(crate::webhook::graphql::Webhook(w))),
                Err(crate::error::AppError::NotFound(_) | crate::error::AppError::Forbidden(_)) => {
                    None
                }
                Err(e) => return Err(e.into()),
            }
        }
        Kind::Objective => match objectives::find(gql::store(ctx)?.conn(), n).await? {
            Some((o, t)) if readable(ctx, actor, t.program_id).await? => {
                Some(Node::Objective(Objective(o)))
            }
            _ => None,
        },
    };
    Ok(node)
}
