//! Relay's `Node` interface and `node(id:)`, which resolves any global ID
//! the viewer may see.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::{
    self as gql,
    id::{Kind, decode},
    loaders::{ProgramById, TeamById, UserById},
};
use crate::{
    auth::access,
    error::AppError,
    program::graphql::Program,
    team::graphql::Team,
    user::graphql::{User, can_see_user},
};

/// An object with a global ID.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Opaque global ID."))]
pub enum Node {
    User(User),
    Program(Program),
    Team(Team),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global ID; null when it does not exist or the
    /// viewer may not see it. A malformed ID is BAD_USER_INPUT.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let actor = gql::actor(ctx)?;
        let (kind, number) = decode(&id)?;
        let conn = gql::store(ctx)?.conn();
        let visible = |r: Result<_, AppError>| match r {
            Ok(v) => Ok(Some(v)),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        };
        Ok(match kind {
            Kind::User => match gql::load_one(ctx, UserById(number)).await? {
                Some(u) if can_see_user(ctx, actor, u.id).await? => Some(Node::User(User(u))),
                _ => None,
            },
            Kind::Program => {
                let found = gql::load_one(ctx, ProgramById(number)).await?;
                match found {
                    Some(p) if access::can_read_program(conn, actor, &p).await? => {
                        Some(Node::Program(Program(p)))
                    }
                    _ => None,
                }
            }
            Kind::Team => match gql::load_one(ctx, TeamById(number)).await? {
                Some(t) => visible(access::readable_program(conn, actor, t.program_id).await)?
                    .map(|_| Node::Team(Team(t))),
                None => None,
            },
        })
    }
}
