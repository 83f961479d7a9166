//! DataLoaders: one loader type with a typed key per relation. The loader
//! lives in the schema data without a cache, so concurrent requests batch
//! together and no request reads another's stale rows.

use std::collections::{BTreeSet, HashMap};

use async_graphql::dataloader::Loader;
use entity::{program, team, team_member, user};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, ExprTrait, QueryFilter, QueryOrder,
};

/// Loads rows for the GraphQL layer in batches.
pub struct AppLoader {
    db: DatabaseConnection,
}

impl AppLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// A user by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UserById(pub i64);
/// A program by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgramById(pub i64);
/// A team by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TeamById(pub i64);
/// The teams of a program, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TeamsByProgram(pub i64);
/// The members of a team (not its PO unless also a member), by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MembersByTeam(pub i64);
/// The teams a user is PO or member of, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TeamsOfUser(pub i64);
/// The programs a user is part of (PM, PO or member), by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgramsOfUser(pub i64);

fn ids<K: Copy>(keys: &[K], f: impl Fn(K) -> i64) -> Vec<i64> {
    keys.iter()
        .map(|k| f(*k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

impl Loader<UserById> for AppLoader {
    type Value = user::Model;
    type Error = DbErr;

    async fn load(&self, keys: &[UserById]) -> Result<HashMap<UserById, user::Model>, DbErr> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (UserById(r.id), r)).collect())
    }
}

impl Loader<ProgramById> for AppLoader {
    type Value = program::Model;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ProgramById],
    ) -> Result<HashMap<ProgramById, program::Model>, DbErr> {
        let rows = program::Entity::find()
            .filter(program::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (ProgramById(r.id), r)).collect())
    }
}

impl Loader<TeamById> for AppLoader {
    type Value = team::Model;
    type Error = DbErr;

    async fn load(&self, keys: &[TeamById]) -> Result<HashMap<TeamById, team::Model>, DbErr> {
        let rows = team::Entity::find()
            .filter(team::Column::Id.is_in(ids(keys, |k| k.0)))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| (TeamById(r.id), r)).collect())
    }
}

impl Loader<TeamsByProgram> for AppLoader {
    type Value = Vec<team::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[TeamsByProgram],
    ) -> Result<HashMap<TeamsByProgram, Vec<team::Model>>, DbErr> {
        let rows = team::Entity::find()
            .filter(team::Column::ProgramId.is_in(ids(keys, |k| k.0)))
            .order_by_asc(team::Column::Name)
            .order_by_asc(team::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<_, Vec<_>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            out.entry(TeamsByProgram(row.program_id))
                .or_default()
                .push(row);
        }
        Ok(out)
    }
}

impl Loader<MembersByTeam> for AppLoader {
    type Value = Vec<user::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[MembersByTeam],
    ) -> Result<HashMap<MembersByTeam, Vec<user::Model>>, DbErr> {
        let rows = team_member::Entity::find()
            .filter(team_member::Column::TeamId.is_in(ids(keys, |k| k.0)))
            .find_also_related(user::Entity)
            .order_by_asc(user::Column::Name)
            .order_by_asc(user::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<_, Vec<_>> = keys.iter().map(|k| (*k, Vec::new())).collect();
        for (membership, user) in rows {
            if let Some(user) = user {
                out.entry(MembersByTeam(membership.team_id))
                    .or_default()
                    .push(user);
            }
        }
        Ok(out)
    }
}

impl AppLoader {
    /// Teams per user where the user is PO or member.
    async fn teams_of_users(&self, users: &[i64]) -> Result<HashMap<i64, Vec<team::Model>>, DbErr> {
        let memberships = team_member::Entity::find()
            .filter(team_member::Column::UserId.is_in(users.to_vec()))
            .all(&self.db)
            .await?;
        let member_team_ids: Vec<i64> = memberships.iter().map(|m| m.team_id).collect();
        let teams = team::Entity::find()
            .filter(
                team::Column::ProductOwnerId
                    .is_in(users.to_vec())
                    .or(team::Column::Id.is_in(member_team_ids)),
            )
            .order_by_asc(team::Column::Name)
            .order_by_asc(team::Column::Id)
            .all(&self.db)
            .await?;
        let mut out: HashMap<i64, Vec<team::Model>> = HashMap::new();
        for team in teams {
            for &user in users {
                let is_member = memberships
                    .iter()
                    .any(|m| m.user_id == user && m.team_id == team.id);
                if team.product_owner_id == user || is_member {
                    out.entry(user).or_default().push(team.clone());
                }
            }
        }
        Ok(out)
    }
}

impl Loader<TeamsOfUser> for AppLoader {
    type Value = Vec<team::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[TeamsOfUser],
    ) -> Result<HashMap<TeamsOfUser, Vec<team::Model>>, DbErr> {
        let users = ids(keys, |k| k.0);
        let mut by_user = self.teams_of_users(&users).await?;
        Ok(users
            .into_iter()
            .map(|u| (TeamsOfUser(u), by_user.remove(&u).unwrap_or_default()))
            .collect())
    }
}

impl Loader<ProgramsOfUser> for AppLoader {
    type Value = Vec<program::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ProgramsOfUser],
    ) -> Result<HashMap<ProgramsOfUser, Vec<program::Model>>, DbErr> {
        let users = ids(keys, |k| k.0);
        let teams = self.teams_of_users(&users).await?;
        let via_teams: Vec<i64> = teams
            .values()
            .flatten()
            .map(|t| t.program_id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let programs = program::Entity::find()
            .filter(
                program::Column::ProductManagerId
                    .is_in(users.clone())
                    .or(program::Column::Id.is_in(via_teams)),
            )
            .order_by_asc(program::Column::Name)
            .order_by_asc(program::Column::Id)
            .all(&self.db)
            .await?;
        Ok(users
            .into_iter()
            .map(|user| {
                let mine = programs
                    .iter()
                    .filter(|p| {
                        p.product_manager_id == user
                            || teams
                                .get(&user)
                                .is_some_and(|ts| ts.iter().any(|t| t.program_id == p.id))
                    })
                    .cloned()
                    .collect();
                (ProgramsOfUser(user), mine)
            })
            .collect())
    }
}
