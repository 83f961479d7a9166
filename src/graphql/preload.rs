//! The children of a page of stories, read with the page: a backlog page
//! looks ahead at what the query asks of its stories (their feature, team,
//! dependencies with providers, clarifications, whether blocked) and reads
//! all of it for every page of the request in one loader batch. The
//! stories' fields then answer from memory instead of one loader round trip
//! each; what was not read ahead still goes through the loaders.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
};

use async_graphql::{Context, Lookahead, dataloader::Loader};
use entity::{clarification, dependency, feature, iteration, story, team};
use sea_orm::{DbErr, EntityTrait, QueryFilter, sea_query::Query};

use crate::{backlog::packed::cards_suffice_below, db::Spawned, error::AppResult};

use super::loaders::{
    AppLoader, ClarificationsOfStory, DependenciesOfStory, FeatureById, StoryBlocked,
    TeamsByProgram, one_of_rows,
};

/// What a query asks of a page's stories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Wants {
    pub feature: bool,
    pub team: bool,
    pub dependencies: bool,
    pub providers: bool,
    /// Whether the stories the dependencies reach (their providers, and
    /// the dependents of the providers' own dependencies) are asked more
    /// than a card shows, at any depth; else the providers are read as
    /// cards (see [`cards_suffice_below`]).
    pub whole_providers: bool,
    pub clarifications: bool,
    pub blocked: bool,
}

impl Wants {
    /// What the selection of a story (`node` of a backlog edge) asks for.
    pub fn of(story: &Lookahead<'_>) -> Self {
        let dependencies = story.field("dependencies");
        let provider = dependencies.field("provider");
        Self {
            feature: story.field("feature").exists(),
            team: story.field("team").exists() || provider.field("team").exists(),
            dependencies: dependencies.exists(),
            providers: provider.exists(),
            whole_providers: provider.exists() && !cards_suffice_below(&dependencies),
            clarifications: story.field("clarifications").exists(),
            blocked: story.field("blocked").exists(),
        }
    }

    pub fn any(&self) -> bool {
        *self != Self::default()
    }

    /// Whether everything `other` asks is asked here too.
    pub fn covers(&self, other: Self) -> bool {
        self.union(other) == *self
    }

    fn union(self, other: Self) -> Self {
        Self {
            feature: self.feature || other.feature,
            team: self.team || other.team,
            dependencies: self.dependencies || other.dependencies,
            providers: self.providers || other.providers,
            whole_providers: self.whole_providers || other.whole_providers,
            clarifications: self.clarifications || other.clarifications,
            blocked: self.blocked || other.blocked,
        }
    }
}

/// What `wants` asks of `stories` (of `programs`), read ahead for all the
/// pages of the request in one loader batch; None when nothing is wanted.
pub async fn read_ahead(
    ctx: &Context<'_>,
    stories: &[&story::Model],
    programs: Vec<i64>,
    wants: Wants,
) -> AppResult<Option<Arc<Preloaded>>> {
    match PagePreload::of(stories, programs, wants) {
        Some(preload) => super::load_one(ctx, preload).await,
        None => Ok(None),
    }
}

/// A page's stories, their features, their programs, and what to read
/// ahead.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PagePreload {
    pub stories: Vec<i64>,
    pub features: Vec<i64>,
    /// The stories' programs: a dependency's two stories are of one
    /// program, so their teams hold every provider's team.
    pub programs: Vec<i64>,
    pub wants: Wants,
}

impl PagePreload {
    /// What to read ahead of `stories` (of `programs`); None when nothing
    /// is wanted.
    pub fn of(stories: &[&story::Model], programs: Vec<i64>, wants: Wants) -> Option<Self> {
        if !wants.any() || stories.is_empty() {
            return None;
        }
        Some(Self {
            stories: stories.iter().map(|s| s.id).collect(),
            features: stories.iter().filter_map(|s| s.feature_id).collect(),
            programs,
            wants,
        })
    }
}

/// Rows by id: a dashboard looks up and inserts a few thousand per answer,
/// for which std's SipHash (made to resist keys chosen by an attacker; these
/// are the database's own ids) took a twentieth of the server's time.
pub type ById<V> = HashMap<i64, V, foldhash::fast::RandomState>;

/// Rows read ahead for the pages of one batch. The maps by story hold an
/// entry (maybe empty) for every story of the pages when that relation was
/// read; a story without an entry goes to the loaders.
#[derive(Debug, Default)]
pub struct Preloaded {
    pub features: ById<feature::Model>,
    pub teams: ById<team::Model>,
    /// The teams of each program read ahead, as `Program.teams` lists them.
    pub program_teams: ById<Vec<team::Model>>,
    /// Stories read ahead, by id: the providers of a page's dependencies,
    /// or a board's cards (the ends of its dependencies).
    pub stories: ById<story::Model>,
    /// Iterations read ahead, by id (a board's).
    pub iterations: ById<iteration::Model>,
    pub dependencies: ById<Vec<dependency::Model>>,
    pub clarifications: ById<Vec<clarification::Model>>,
    pub blocked: ById<bool>,
}

/// Distinct ids, in order.
fn set(ids: impl IntoIterator<Item = i64>) -> Vec<i64> {
    ids.into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A key per id.
fn each<K>(ids: &[i64], key: fn(i64) -> K) -> Vec<K> {
    ids.iter().map(|id| key(*id)).collect()
}

/// Loads through another relation's own loader (its one query), when
/// wanted; nothing otherwise.
async fn through<K, V>(
    loader: AppLoader,
    wanted: bool,
    keys: Vec<K>,
) -> Result<HashMap<K, V>, DbErr>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    V: Send + Sync + Clone + 'static,
    AppLoader: Loader<K, Value = V, Error = DbErr>,
{
    if !wanted || keys.is_empty() {
        return Ok(HashMap::new());
    }
    Loader::<K>::load(&loader, &keys).await
}

/// Runs one read of a wave as a task of its own. Polled together inside
/// one task, the reads went out one after another (the last ones 1-2 ms
/// after the first, at c=1) and their rows were decoded on one core; as
/// tasks they go out at once and decode on both. When one read fails, the
/// others are dropped, and so cancelled.
async fn apart<T: Send + 'static>(
    read: impl Future<Output = Result<T, DbErr>> + Send + 'static,
) -> Result<T, DbErr> {
    Spawned::new(read).read().await
}

impl Loader<PagePreload> for AppLoader {
    type Value = Arc<Preloaded>;
    type Error = DbErr;

    async fn load(
        &self,
        keys: &[PagePreload],
    ) -> Result<HashMap<PagePreload, Arc<Preloaded>>, DbErr> {
        let wants = keys.iter().fold(Wants::default(), |w, k| w.union(k.wants));
        let stories = set(keys.iter().flat_map(|k| k.stories.iter().copied()));
        let features = set(keys.iter().flat_map(|k| k.features.iter().copied()));
        let programs = set(keys.iter().flat_map(|k| k.programs.iter().copied()));
        let shared = Arc::new(self.preload(stories, features, programs, wants).await?);
        Ok(keys.iter().map(|k| (k.clone(), shared.clone())).collect())
    }
}

impl AppLoader {
    /// What `wants` asks of `stories` (with `features`, their features, and
    /// `programs`, whose teams give theirs), read in one wave of statements
    /// that go out at once.
    async fn preload(
        &self,
        stories: Vec<i64>,
        features: Vec<i64>,
        programs: Vec<i64>,
        wants: Wants,
    ) -> Result<Preloaded, DbErr> {
        let db = self.conn();
        // The providers of the stories' dependencies, as a subquery: every
        // read below is independent, so they all go at once.
        let providers_of = || {
            Query::select()
                .column(dependency::Column::ProviderStoryId)
                .from(dependency::Entity)
                .and_where(self.one_of(dependency::Column::DependentStoryId, stories.clone()))
                .to_owned()
        };
        let backend = db.get_database_backend();
        // On PostgreSQL the dependencies come with their providers in one
        // statement, where apart each read the dependencies.
        let joined = wants.providers && backend == sea_orm::DbBackend::Postgres;
        let (features, dependencies, clarifications, blocked, providers, teams) = futures_util::try_join!(
            apart(through(
                self.clone(),
                wants.feature,
                each(&features, FeatureById)
            )),
            apart(through(
                self.clone(),
                wants.dependencies && !joined,
                each(&stories, DependenciesOfStory)
            )),
            apart(through(
                self.clone(),
                wants.clarifications,
                each(&stories, ClarificationsOfStory)
            )),
            apart(through(
                self.clone(),
                wants.blocked,
                each(&stories, StoryBlocked)
            )),
            apart({
                let db = db.clone();
                let joined = joined.then(|| stories.clone());
                let light = !wants.whole_providers;
                let providers = (wants.providers && joined.is_none()).then(|| {
                    story::Entity::find().filter(one_of_rows(
                        backend,
                        story::Column::Id,
                        providers_of(),
                    ))
                });
                async move {
                    if let Some(stories) = joined {
                        let rows =
                            crate::dependency::service::with_providers_pg(&db, stories, light);
                        let (dependencies, providers) = rows.await?.into_iter().unzip();
                        return Ok((dependencies, providers));
                    }
                    match providers {
                        Some(providers) => Ok((
                            Vec::new(),
                            crate::backlog::packed::cards(&db, providers, light).await?,
                        )),
                        None => Ok((Vec::new(), Vec::new())),
                    }
                }
            }),
            // A dependency's two stories are of one program, so the teams of
            // the pages' programs hold every provider's team: a read of the
            // small teams table, where the providers' teams took a scan of
            // the dependencies (0.8 ms of PostgreSQL's time per dashboard).
            // It is `Program.teams`'s own read, which a dashboard then takes
            // from here (`graphql::ahead`). A team not read ahead goes to
            // the loader.
            apart(through(
                self.clone(),
                wants.team,
                each(&programs, TeamsByProgram)
            )),
        )?;
        let (joined_dependencies, providers) = providers;
        let mut dependencies: ById<Vec<dependency::Model>> =
            dependencies.into_iter().map(|(k, v)| (k.0, v)).collect();
        if joined {
            dependencies.extend(stories.iter().map(|s| (*s, Vec::new())));
            for row in joined_dependencies {
                dependencies
                    .entry(row.dependent_story_id)
                    .or_default()
                    .push(row);
            }
        }
        Ok(Preloaded {
            features: features.into_iter().map(|(k, v)| (k.0, v)).collect(),
            teams: teams
                .values()
                .flatten()
                .map(|t| (t.id, t.clone()))
                .collect(),
            program_teams: teams.into_iter().map(|(k, v)| (k.0, v)).collect(),
            stories: providers.into_iter().map(|s| (s.id, s)).collect(),
            iterations: ById::default(),
            dependencies,
            clarifications: clarifications.into_iter().map(|(k, v)| (k.0, v)).collect(),
            blocked: blocked.into_iter().map(|(k, v)| (k.0, v)).collect(),
        })
    }
}
