//! DataLoaders: one loader type with a typed key per relation. The loader
//! lives in the schema data without a cache, so concurrent requests batch
//! together and no request reads another's stale rows.

use std::collections::{BTreeSet, HashMap};

use async_graphql::dataloader::Loader;
use entity::{
    clarification, clarification_message, dependency, event, feature, increment, iteration,
    objective, program, story, team, team_member, user,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder,
    sea_query::{Expr, SelectStatement},
};

use crate::backlog::service::{Backlogs, pages};

/// Loads rows for the GraphQL layer in batches.
#[derive(Clone)]
pub struct AppLoader {
    db: DatabaseConnection,
}

impl AppLoader {
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }

    /// The connection the loaders read with.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.db
    }

    /// `column` is one of `ids`; see [`one_of`].
    pub fn one_of(&self, column: impl ColumnTrait, ids: Vec<i64>) -> Expr {
        one_of(self.db.get_database_backend(), column, ids)
    }
}

/// `column IN (ids)`. PostgreSQL gets the ids as one array parameter
/// (`column = ANY($1)`): a list of hundreds of parameters it parses and
/// plans anew on every read, which costs more than the read itself (a
/// dashboard page's 240 story ids: 0.75-1.0 ms against 0.33 ms for
/// their clarifications). SQLite, without arrays, gets the list.
pub fn one_of(backend: DbBackend, column: impl ColumnTrait, ids: Vec<i64>) -> Expr {
    match backend {
        DbBackend::Postgres => column.eq_any(ids),
        _ => column.is_in(ids),
    }
}

/// `column IN (subquery)`, for a subquery that returns a few rows. On
/// PostgreSQL it is `column = ANY(ARRAY(subquery))`: the planner takes `IN`
/// for a semi join and reads the whole table beside the subquery's rows
/// (a page's 107 providers: a scan of 3,000 stories, 1.06 ms), where an
/// array of ids goes through the primary key (0.53 ms).
pub fn one_of_rows(backend: DbBackend, column: impl ColumnTrait, rows: SelectStatement) -> Expr {
    match backend {
        DbBackend::Postgres => Expr::cust_with_exprs(
            "$1 = ANY(ARRAY($2))",
            [
                column.into_expr(),
                Expr::SubQuery(None, Box::new(rows.into())),
            ],
        ),
        _ => column.in_subquery(rows),
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

/// An increment by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IncrementById(pub i64);
/// An iteration by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IterationById(pub i64);
/// A feature by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeatureById(pub i64);
/// The increments of a program, by start date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IncrementsByProgram(pub i64);
/// The iterations of an increment, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IterationsByIncrement(pub i64);
/// The objectives of a team in an increment, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ObjectivesOfTeam {
    pub team: i64,
    pub increment: i64,
}

/// Implements `Loader<Key>` for a by-id key over an entity, reading its rows
/// with `$read`: [`all_rows`] (SeaORM), or [`crate::db::rows`] (by position
/// on PostgreSQL).
macro_rules! by_id_loader {
    ($key:ident, $entity:ident, $read:path) => {
        impl Loader<$key> for AppLoader {
            type Value = $entity::Model;
            type Error = DbErr;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $entity::Model>, DbErr> {
                let select = $entity::Entity::find()
                    .filter(self.one_of($entity::Column::Id, ids(keys, |k| k.0)));
                let rows = $read(&self.db, select).await?;
                Ok(rows.into_iter().map(|r| ($key(r.id), r)).collect())
            }
        }
    };
}

/// The rows `select` finds, decoded by SeaORM.
async fn all_rows<E: EntityTrait>(
    db: &DatabaseConnection,
    select: sea_orm::Select<E>,
) -> Result<Vec<E::Model>, DbErr> {
    select.all(db).await
}

by_id_loader!(UserById, user, all_rows);
by_id_loader!(ProgramById, program, all_rows);
by_id_loader!(TeamById, team, all_rows);
by_id_loader!(IncrementById, increment, all_rows);
by_id_loader!(IterationById, iteration, all_rows);
by_id_loader!(FeatureById, feature, crate::db::rows);
by_id_loader!(StoryById, story, all_rows);
by_id_loader!(ClarificationById, clarification, crate::db::rows);
by_id_loader!(EventById, event, all_rows);

/// An event by row id (a webhook renders its events as aliased `node`s, in
/// one read).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventById(pub i64);

/// A clarification by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClarificationById(pub i64);

/// The clarifications of a story, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClarificationsOfStory(pub i64);
/// The clarifications of a feature, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClarificationsOfFeature(pub i64);
/// The clarifications about a team's stories, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClarificationsOfTeam(pub i64);

impl Loader<ClarificationsOfTeam> for AppLoader {
    type Value = Vec<clarification::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ClarificationsOfTeam],
    ) -> Result<HashMap<ClarificationsOfTeam, Self::Value>, DbErr> {
        let rows = clarification::Entity::find()
            .filter(self.one_of(clarification::Column::TeamId, ids(keys, |k| k.0)))
            .order_by_asc(clarification::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| {
            ClarificationsOfTeam(r.team_id.unwrap_or_default())
        }))
    }
}

/// The messages of a clarification, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MessagesOfClarification(pub i64);

impl Loader<ClarificationsOfStory> for AppLoader {
    type Value = Vec<clarification::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ClarificationsOfStory],
    ) -> Result<HashMap<ClarificationsOfStory, Self::Value>, DbErr> {
        let select = clarification::Entity::find()
            .filter(self.one_of(clarification::Column::StoryId, ids(keys, |k| k.0)))
            .order_by_asc(clarification::Column::Id);
        let rows = crate::db::rows(&self.db, select).await?;
        Ok(group(keys, rows, |r| {
            ClarificationsOfStory(r.story_id.unwrap_or_default())
        }))
    }
}

impl Loader<ClarificationsOfFeature> for AppLoader {
    type Value = Vec<clarification::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ClarificationsOfFeature],
    ) -> Result<HashMap<ClarificationsOfFeature, Self::Value>, DbErr> {
        let rows = clarification::Entity::find()
            .filter(self.one_of(clarification::Column::FeatureId, ids(keys, |k| k.0)))
            .order_by_asc(clarification::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| {
            ClarificationsOfFeature(r.feature_id.unwrap_or_default())
        }))
    }
}

/// The teams a feature is allocated to, oldest allocation first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AllocationsOfFeature(pub i64);

impl Loader<AllocationsOfFeature> for AppLoader {
    type Value = Vec<entity::feature_allocation::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[AllocationsOfFeature],
    ) -> Result<HashMap<AllocationsOfFeature, Self::Value>, DbErr> {
        let rows = crate::feature::service::allocations_of(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(group(keys, rows, |r| AllocationsOfFeature(r.feature_id)))
    }
}

impl Loader<MessagesOfClarification> for AppLoader {
    type Value = Vec<clarification_message::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[MessagesOfClarification],
    ) -> Result<HashMap<MessagesOfClarification, Self::Value>, DbErr> {
        let rows = clarification_message::Entity::find()
            .filter(self.one_of(
                clarification_message::Column::ClarificationId,
                ids(keys, |k| k.0),
            ))
            .order_by_asc(clarification_message::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| {
            MessagesOfClarification(r.clarification_id)
        }))
    }
}

/// A dependency with its risk assessment, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AssessedDependency(pub i64);
/// What a story needs: dependencies where it is the dependent, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DependenciesOfStory(pub i64);
/// Who needs a story: dependencies where it is the provider, oldest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DependentsOfStory(pub i64);
/// Whether a story is blocked (see `backlog::service::BLOCKED_SQL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StoryBlocked(pub i64);

impl Loader<AssessedDependency> for AppLoader {
    type Value = crate::dependency::service::Assessed;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[AssessedDependency],
    ) -> Result<HashMap<AssessedDependency, Self::Value>, DbErr> {
        let filter = crate::dependency::service::Filter {
            ids: Some(ids(keys, |k| k.0)),
            ..Default::default()
        };
        let rows = crate::dependency::service::assessed(&self.db, &filter).await?;
        Ok(rows
            .into_iter()
            .map(|a| (AssessedDependency(a.row.id), a))
            .collect())
    }
}

impl Loader<DependenciesOfStory> for AppLoader {
    type Value = Vec<dependency::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[DependenciesOfStory],
    ) -> Result<HashMap<DependenciesOfStory, Self::Value>, DbErr> {
        let rows = dependency::Entity::find()
            .filter(self.one_of(dependency::Column::DependentStoryId, ids(keys, |k| k.0)))
            .order_by_asc(dependency::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| {
            DependenciesOfStory(r.dependent_story_id)
        }))
    }
}

impl Loader<DependentsOfStory> for AppLoader {
    type Value = Vec<dependency::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[DependentsOfStory],
    ) -> Result<HashMap<DependentsOfStory, Self::Value>, DbErr> {
        let rows = dependency::Entity::find()
            .filter(self.one_of(dependency::Column::ProviderStoryId, ids(keys, |k| k.0)))
            .order_by_asc(dependency::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| {
            DependentsOfStory(r.provider_story_id)
        }))
    }
}

impl Loader<StoryBlocked> for AppLoader {
    type Value = bool;
    type Error = DbErr;

    async fn load(&self, keys: &[StoryBlocked]) -> Result<HashMap<StoryBlocked, bool>, DbErr> {
        let blocked: std::collections::HashSet<i64> =
            crate::backlog::service::blocked_among(&self.db, &ids(keys, |k| k.0))
                .await?
                .into_iter()
                .collect();
        Ok(keys.iter().map(|k| (*k, blocked.contains(&k.0))).collect())
    }
}

/// A story by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StoryById(pub i64);

/// One page of a team backlog and the filtered total: pages of many teams
/// load in two statements, whatever the number of teams.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BacklogPage {
    pub team: i64,
    pub states: Option<Vec<&'static str>>,
    pub blocked: Option<bool>,
    pub offset: u64,
    pub limit: u64,
    /// Whether to count the filtered backlog (the query asks `totalCount`);
    /// when not, the count is 0 and one statement fewer is sent.
    pub count: bool,
    /// Whether the stories may be read as cards (`packed::cards`: without
    /// what [`crate::backlog::packed::NOT_ON_CARDS`] answers), because the
    /// query asks none of it. Only pages read ahead are.
    pub light: bool,
}

impl BacklogPage {
    /// The pages of this shape (its team aside) of `backlogs`, by team.
    async fn read(
        &self,
        db: &DatabaseConnection,
        backlogs: Backlogs<'_>,
    ) -> Result<HashMap<i64, (Vec<story::Model>, u64)>, DbErr> {
        let (states, blocked) = (self.states.as_deref(), self.blocked);
        pages(
            db,
            backlogs,
            states,
            blocked,
            self.offset,
            self.limit,
            self.count,
            self.light,
        )
        .await
    }
}

impl Loader<BacklogPage> for AppLoader {
    type Value = (Vec<story::Model>, u64);
    type Error = DbErr;

    async fn load(&self, keys: &[BacklogPage]) -> Result<HashMap<BacklogPage, Self::Value>, DbErr> {
        let mut out = HashMap::new();
        // Keys that differ only by team share one query.
        let mut groups: HashMap<BacklogPage, Vec<i64>> = HashMap::new();
        for k in keys {
            let shape = BacklogPage {
                team: 0,
                ..k.clone()
            };
            groups.entry(shape).or_default().push(k.team);
        }
        for (shape, teams) in groups {
            let pages = shape.read(&self.db, Backlogs::Teams(&teams)).await?;
            for (team, page) in pages {
                out.insert(
                    BacklogPage {
                        team,
                        ..shape.clone()
                    },
                    page,
                );
            }
        }
        Ok(out)
    }
}

/// The pages of one shape (`shape`, its team 0) of every team backlog of
/// program `program`, read without first reading the teams. The keys of a
/// batch share one read: the value holds the pages of all their programs'
/// teams, by team (a team without stories on the page has none).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProgramPages {
    pub program: i64,
    pub shape: BacklogPage,
}

impl Loader<ProgramPages> for AppLoader {
    type Value = std::sync::Arc<HashMap<i64, (Vec<story::Model>, u64)>>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ProgramPages],
    ) -> Result<HashMap<ProgramPages, Self::Value>, DbErr> {
        let mut groups: HashMap<&BacklogPage, Vec<i64>> = HashMap::new();
        for k in keys {
            groups.entry(&k.shape).or_default().push(k.program);
        }
        let mut out = HashMap::new();
        for (shape, programs) in groups {
            let pages = shape
                .read(&self.db, Backlogs::OfPrograms(&programs))
                .await?;
            let pages = std::sync::Arc::new(pages);
            for program in programs {
                let key = ProgramPages {
                    program,
                    shape: shape.clone(),
                };
                out.insert(key, pages.clone());
            }
        }
        Ok(out)
    }
}

/// The stories of a feature, by team then rank.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StoriesByFeature(pub i64);
/// A story's 1-based place in its team backlog.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StoryPosition(pub i64);
/// A team's stories that matter to its flow in an increment: those planned
/// into the increment's iterations, and those in progress now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowOfTeam {
    pub team: i64,
    pub increment: i64,
}

impl Loader<StoriesByFeature> for AppLoader {
    type Value = Vec<story::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[StoriesByFeature],
    ) -> Result<HashMap<StoriesByFeature, Vec<story::Model>>, DbErr> {
        let rows = story::Entity::find()
            .filter(self.one_of(story::Column::FeatureId, ids(keys, |k| k.0)))
            .order_by_asc(story::Column::TeamId)
            .order_by_asc(story::Column::RankKey)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| {
            StoriesByFeature(r.feature_id.unwrap_or_default())
        }))
    }
}

impl Loader<StoryPosition> for AppLoader {
    type Value = i64;
    type Error = DbErr;

    async fn load(&self, keys: &[StoryPosition]) -> Result<HashMap<StoryPosition, i64>, DbErr> {
        let positions = crate::backlog::service::positions(&self.db, &ids(keys, |k| k.0)).await?;
        Ok(positions
            .into_iter()
            .map(|(id, p)| (StoryPosition(id), p))
            .collect())
    }
}

impl Loader<FlowOfTeam> for AppLoader {
    type Value = Vec<story::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[FlowOfTeam],
    ) -> Result<HashMap<FlowOfTeam, Vec<story::Model>>, DbErr> {
        let increments = ids(keys, |k| k.increment);
        let iterations = iteration::Entity::find()
            .filter(self.one_of(iteration::Column::IncrementId, increments))
            .all(&self.db)
            .await?;
        let iteration_ids: Vec<i64> = iterations.iter().map(|i| i.id).collect();
        let rows = story::Entity::find()
            .filter(self.one_of(story::Column::TeamId, ids(keys, |k| k.team)))
            .filter(
                self.one_of(story::Column::IterationId, iteration_ids)
                    .or(story::Column::State.eq("IN_PROGRESS")),
            )
            .order_by_asc(story::Column::RankKey)
            .all(&self.db)
            .await?;
        let increment_of: HashMap<i64, i64> =
            iterations.iter().map(|i| (i.id, i.increment_id)).collect();
        let mut out: HashMap<FlowOfTeam, Vec<story::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            for key in keys.iter().filter(|k| k.team == row.team_id) {
                let planned_here =
                    row.iteration_id.and_then(|i| increment_of.get(&i)) == Some(&key.increment);
                if planned_here || row.state == "IN_PROGRESS" {
                    out.entry(*key).or_default().push(row.clone());
                }
            }
        }
        Ok(out)
    }
}

/// Groups rows by a key, with an empty list for every key asked.
fn group<K: Copy + Eq + std::hash::Hash, R>(
    keys: &[K],
    rows: Vec<R>,
    key_of: impl Fn(&R) -> K,
) -> HashMap<K, Vec<R>> {
    let mut out: HashMap<K, Vec<R>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for row in rows {
        out.entry(key_of(&row)).or_default().push(row);
    }
    out
}

impl Loader<IncrementsByProgram> for AppLoader {
    type Value = Vec<increment::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[IncrementsByProgram],
    ) -> Result<HashMap<IncrementsByProgram, Vec<increment::Model>>, DbErr> {
        let rows = increment::Entity::find()
            .filter(self.one_of(increment::Column::ProgramId, ids(keys, |k| k.0)))
            .order_by_asc(increment::Column::StartDate)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| IncrementsByProgram(r.program_id)))
    }
}

impl Loader<IterationsByIncrement> for AppLoader {
    type Value = Vec<iteration::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[IterationsByIncrement],
    ) -> Result<HashMap<IterationsByIncrement, Vec<iteration::Model>>, DbErr> {
        let rows = iteration::Entity::find()
            .filter(self.one_of(iteration::Column::IncrementId, ids(keys, |k| k.0)))
            .order_by_asc(iteration::Column::Number)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| IterationsByIncrement(r.increment_id)))
    }
}

impl Loader<ObjectivesOfTeam> for AppLoader {
    type Value = Vec<objective::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[ObjectivesOfTeam],
    ) -> Result<HashMap<ObjectivesOfTeam, Vec<objective::Model>>, DbErr> {
        let rows = objective::Entity::find()
            .filter(self.one_of(objective::Column::TeamId, ids(keys, |k| k.team)))
            .filter(self.one_of(objective::Column::IncrementId, ids(keys, |k| k.increment)))
            .order_by_asc(objective::Column::Id)
            .all(&self.db)
            .await?;
        let rows = rows
            .into_iter()
            .filter(|r| {
                keys.contains(&ObjectivesOfTeam {
                    team: r.team_id,
                    increment: r.increment_id,
                })
            })
            .collect();
        Ok(group(keys, rows, |r| ObjectivesOfTeam {
            team: r.team_id,
            increment: r.increment_id,
        }))
    }
}

fn ids<K: Copy>(keys: &[K], f: impl Fn(K) -> i64) -> Vec<i64> {
    keys.iter()
        .map(|k| f(*k))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

impl Loader<TeamsByProgram> for AppLoader {
    type Value = Vec<team::Model>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[TeamsByProgram],
    ) -> Result<HashMap<TeamsByProgram, Vec<team::Model>>, DbErr> {
        let rows = team::Entity::find()
            .filter(self.one_of(team::Column::ProgramId, ids(keys, |k| k.0)))
            .order_by_asc(team::Column::Name)
            .order_by_asc(team::Column::Id)
            .all(&self.db)
            .await?;
        Ok(group(keys, rows, |r| TeamsByProgram(r.program_id)))
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
            .filter(self.one_of(team_member::Column::TeamId, ids(keys, |k| k.0)))
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
            .filter(self.one_of(team_member::Column::UserId, users.to_vec()))
            .all(&self.db)
            .await?;
        let member_team_ids: Vec<i64> = memberships.iter().map(|m| m.team_id).collect();
        let teams = team::Entity::find()
            .filter(
                self.one_of(team::Column::ProductOwnerId, users.to_vec())
                    .or(self.one_of(team::Column::Id, member_team_ids)),
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
                self.one_of(program::Column::ProductManagerId, users.clone())
                    .or(self.one_of(program::Column::Id, via_teams)),
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

/// A team's capacity and load in one iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LoadOfTeam {
    pub team: i64,
    pub iteration: i64,
}

impl Loader<LoadOfTeam> for AppLoader {
    type Value = crate::planning::service::Load;
    type Error = DbErr;

    async fn load(&self, keys: &[LoadOfTeam]) -> Result<HashMap<LoadOfTeam, Self::Value>, DbErr> {
        use crate::planning::service::{Load, capacities, loads};
        let teams = ids(keys, |k| k.team);
        let iterations = ids(keys, |k| k.iteration);
        let (capacities, loads) = futures_util::try_join!(
            capacities(&self.db, &teams, &iterations),
            loads(&self.db, &teams, &iterations)
        )?;
        Ok(keys
            .iter()
            .map(|k| {
                let slot = (k.team, k.iteration);
                let load = Load {
                    team_id: k.team,
                    iteration_id: k.iteration,
                    capacity: capacities.get(&slot).copied(),
                    load: loads.get(&slot).copied().unwrap_or(0),
                };
                (*k, load)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::QueryTrait;

    use super::*;

    fn sql(backend: DbBackend, ids: Vec<i64>) -> (String, usize) {
        let statement = story::Entity::find()
            .filter(one_of(backend, story::Column::Id, ids))
            .build(backend);
        let values = statement.values.map_or(0, |v| v.0.len());
        (statement.sql, values)
    }

    #[test]
    fn postgres_gets_an_id_list_as_one_array_and_sqlite_as_a_list() {
        let (pg, values) = sql(DbBackend::Postgres, (1..=240).collect());
        assert!(pg.ends_with(r#"WHERE "stories"."id" = ANY($1)"#), "{pg}");
        assert_eq!(values, 1);
        let (lite, values) = sql(DbBackend::Sqlite, vec![1, 2, 3]);
        assert!(
            lite.ends_with(r#"WHERE "stories"."id" IN (?, ?, ?)"#),
            "{lite}"
        );
        assert_eq!(values, 3);
        // No ids match nothing (`1 = 2`), on either.
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let statement = story::Entity::find()
                .filter(one_of(backend, story::Column::Id, Vec::new()))
                .build(backend);
            let values = statement.values.unwrap().0;
            assert_eq!(values, vec![1.into(), 2.into()], "{}", statement.sql);
        }
    }
}
