//! The GraphQL schema: roots merged from each domain, limits, loaders,
//! pagination, IDs, and what every resolver needs from the context.

pub mod ahead;
pub mod cache;
pub mod errors;
pub mod fanout;
pub mod guard;
pub mod id;
pub mod loaders;
pub mod node;
pub mod observe;
pub mod one_pass;
pub mod pagination;
pub mod preload;
pub mod scalars;
pub mod source;
pub mod ws;

use std::sync::Arc;

use async_graphql::{
    Context, MergedObject, Schema, SchemaBuilder,
    dataloader::{DataLoader, Loader},
};

use crate::{
    auth::{Actor, Viewer},
    backlog::graphql::StoryMutation,
    clarification::graphql::ClarificationMutation,
    clock::Clock,
    config::Settings,
    db::Store,
    dependency::graphql::DependencyMutation,
    error::{AppError, AppResult},
    events::{bus::EventBus, graphql::Subscription},
    feature::graphql::FeatureMutation,
    increment::graphql::IncrementMutation,
    metrics::Metrics,
    objective::graphql::ObjectiveMutation,
    program::graphql::{ProgramMutation, ProgramQuery},
    team::graphql::TeamMutation,
    user::graphql::{UserMutation, UserQuery},
    work::{Change, Work},
};
use loaders::AppLoader;

/// Declares an API enum that mirrors a domain enum variant by variant, with
/// `From` both ways: the domain knows nothing of GraphQL, and the API's
/// names and descriptions live with the API.
macro_rules! mirror_enum {
    (
        $(#[doc = $doc:literal])*
        $api:ident mirrors $($domain:ident)::+ {
            $($(#[doc = $vdoc:literal])* $variant:ident,)*
        }
    ) => {
        $(#[doc = $doc])*
        #[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $api {
            $($(#[doc = $vdoc])* $variant,)*
        }

        impl From<$api> for $($domain)::+ {
            fn from(value: $api) -> Self {
                use $($domain)::+ as Domain;
                match value {
                    $($api::$variant => Domain::$variant,)*
                }
            }
        }

        impl From<$($domain)::+> for $api {
            fn from(value: $($domain)::+) -> Self {
                use $($domain)::+ as Domain;
                match value {
                    $(Domain::$variant => $api::$variant,)*
                }
            }
        }
    };
}
pub(crate) use mirror_enum;
use pagination::PageLimits;

use crate::webhook::deliver::DeliveryWake;

/// Root query: the contract's `node`, `viewer`, `programs`, `program`.
#[derive(MergedObject, Default)]
pub struct Query(node::NodeQuery, UserQuery, ProgramQuery);

/// Root mutation: every mutation takes one `input` and returns a payload.
#[derive(MergedObject, Default)]
pub struct Mutation(
    UserMutation,
    ProgramMutation,
    TeamMutation,
    IncrementMutation,
    FeatureMutation,
    ObjectiveMutation,
    StoryMutation,
    DependencyMutation,
    ClarificationMutation,
    crate::planning::graphql::PlanningMutation,
    crate::webhook::graphql::WebhookMutation,
    crate::import::graphql::ImportMutation,
);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The schema with its limits, before any extension or runtime data.
pub fn schema_builder(settings: &Settings) -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity)
        .data(PageLimits {
            default: settings.default_page_size,
            max: settings.max_page_size,
        })
        .data(EmailsShown(settings.show_emails))
        .data(crate::webhook::guard::Allow {
            http: settings.webhook_allow_http,
            private: settings.webhook_allow_private,
        })
}

/// The schema served: the same types, limits and data twice.
#[derive(Clone)]
pub struct Schemas {
    /// For HTTP, without extensions: its handler observes each operation
    /// itself (`observe::finish`), so fields take async-graphql's fast path.
    pub http: AppSchema,
    /// For websockets, with the `observe::Observe` extension, which also
    /// counts open subscriptions.
    pub live: AppSchema,
    /// Wakes the webhook deliverer when an endpoint changes.
    pub wake: DeliveryWake,
}

/// A DataLoader the requests of one schema share. With no delay, a batch is
/// fetched once the task that asked has yielded: one pass over a request's
/// fields gathers their keys, without waiting on a timer.
fn shared_loader(store: &Store, delay_us: u64) -> Arc<DataLoader<AppLoader>> {
    let loader = AppLoader::new(store.conn().clone());
    let loader = if delay_us == 0 {
        DataLoader::new(
            loader,
            |fetch: futures_util::future::BoxFuture<'static, ()>| {
                tokio::spawn(async move {
                    tokio::task::yield_now().await;
                    fetch.await;
                })
            },
        )
        .delay(std::time::Duration::ZERO)
    } else {
        DataLoader::new(loader, tokio::spawn).delay(std::time::Duration::from_micros(delay_us))
    };
    Arc::new(loader)
}

/// How long the websocket schema's loader gathers keys at least: one event
/// wakes every subscriber's task at once, and their loads should batch
/// together rather than each go alone.
const LIVE_LOADER_DELAY_US: u64 = 1000;

/// The schemas for serving.
pub fn build_schemas(
    settings: &Settings,
    store: Store,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    bus: EventBus,
) -> Schemas {
    let wake = DeliveryWake::default();
    let counted = metrics.clone();
    let with_data = |builder: SchemaBuilder<Query, Mutation, Subscription>, delay_us: u64| {
        builder
            .data(store.clone())
            .data(wake.clone())
            .data(shared_loader(&store, delay_us))
            .data(ahead::Guesses::new(counted.clone()))
            .data(clock.clone())
            .data(bus.clone())
            .finish()
    };
    let live_delay = settings.loader_delay_us.max(LIVE_LOADER_DELAY_US);
    Schemas {
        http: with_data(schema_builder(settings), settings.loader_delay_us),
        live: with_data(
            schema_builder(settings).extension(observe::Observe { metrics }),
            live_delay,
        ),
        wake,
    }
}

/// The websocket schema alone (in-process tests and benchmarks).
pub fn build_schema(
    settings: &Settings,
    store: Store,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    bus: EventBus,
) -> AppSchema {
    build_schemas(settings, store, metrics, clock, bus).live
}

/// The SDL of the schema, as `portfolio schema` prints it.
pub fn sdl() -> String {
    schema_builder(&Settings::defaults()).finish().sdl()
}

/// A std mutex's guard; a poisoned mutex is taken as it is (its holder
/// panicked, and the data it guards is still whole for these uses).
pub(crate) fn locked<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn missing(what: &str) -> AppError {
    AppError::Internal(format!("schema data {what} is missing").into())
}

/// The authenticated actor of this request, or UNAUTHENTICATED.
pub fn actor(ctx: &Context<'_>) -> AppResult<Actor> {
    ctx.data_opt::<Viewer>()
        .unwrap_or(&Viewer::Anonymous)
        .actor()
}

/// The viewer of this request.
pub fn viewer<'a>(ctx: &Context<'a>) -> &'a Viewer {
    ctx.data_opt::<Viewer>().unwrap_or(&Viewer::Anonymous)
}

/// The store.
pub fn store<'a>(ctx: &Context<'a>) -> AppResult<&'a Store> {
    ctx.data::<Store>().map_err(|_| missing("Store"))
}

/// Marks this request's response as not to be stored in the response cache
/// (it shows what the data version does not follow, such as tokens).
pub fn uncacheable(ctx: &Context<'_>) {
    if let Ok(mark) = ctx.data::<cache::Uncacheable>() {
        mark.mark();
    }
}

/// Notes that this response reads program `program_id` (through a root
/// field that stays within it), for the response cache.
pub fn reads_program(ctx: &Context<'_>, program_id: i64) {
    if let Ok(scope) = ctx.data::<cache::ReadScope>() {
        scope.program(program_id);
    }
}

/// Notes that this response reads across programs (or what no program's
/// counter follows): any write invalidates it in the response cache.
pub fn reads_everything(ctx: &Context<'_>) {
    if let Ok(scope) = ctx.data::<cache::ReadScope>() {
        scope.everything();
    }
}

/// The current time, from the app's clock. A query that reads it is not
/// stored in the response cache (its answer changes with time).
pub fn now(ctx: &Context<'_>) -> AppResult<chrono::DateTime<chrono::Utc>> {
    uncacheable(ctx);
    Ok(ctx
        .data::<Arc<dyn Clock>>()
        .map_err(|_| missing("Clock"))?
        .now())
}

/// Runs a use case as one unit of work by this request's actor, at the
/// app clock's time (`crate::work::perform`).
pub async fn perform<T>(
    ctx: &Context<'_>,
    change: impl for<'w> Fn(&'w mut Work) -> Change<'w, T>,
) -> AppResult<T> {
    let actor = actor(ctx)?;
    let clock = ctx.data::<Arc<dyn Clock>>().map_err(|_| missing("Clock"))?;
    crate::work::perform(store(ctx)?, clock.as_ref(), actor, change).await
}

/// An enum list argument as the small set it is: duplicates dropped (a
/// client may send thousands of them, more than a statement can bind),
/// first occurrences kept in order, converted to the domain enum.
pub fn enum_set<A, D>(list: Option<Vec<A>>) -> Option<Vec<D>>
where
    A: Copy + Eq + std::hash::Hash + Into<D>,
{
    list.map(|items| {
        let mut seen = std::collections::HashSet::new();
        items
            .into_iter()
            .filter(|item| seen.insert(*item))
            .map(Into::into)
            .collect()
    })
}

/// Whether users' emails are shown to the people they share a program with
/// (setting `PORTFOLIO_SHOW_EMAILS`).
#[derive(Clone, Copy, Debug)]
pub struct EmailsShown(pub bool);

/// The page-size settings.
pub fn page_limits(ctx: &Context<'_>) -> AppResult<PageLimits> {
    ctx.data::<PageLimits>()
        .copied()
        .map_err(|_| missing("PageLimits"))
}

/// The shared loader.
pub fn loader<'a>(ctx: &Context<'a>) -> AppResult<&'a DataLoader<AppLoader>> {
    ctx.data::<Arc<DataLoader<AppLoader>>>()
        .map(Arc::as_ref)
        .map_err(|_| missing("DataLoader"))
}

/// Loads one value through the shared loader.
pub async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> AppResult<Option<<AppLoader as Loader<K>>::Value>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    AppLoader: Loader<K, Error = sea_orm::DbErr>,
{
    Ok(loader(ctx)?.load_one(key).await?)
}

/// Loads a value that must exist (a foreign key); INTERNAL when it does not.
pub async fn load_required<K>(
    ctx: &Context<'_>,
    key: K,
) -> AppResult<<AppLoader as Loader<K>>::Value>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + std::fmt::Debug + 'static,
    AppLoader: Loader<K, Error = sea_orm::DbErr>,
{
    let what = format!("{key:?}");
    load_one(ctx, key)
        .await?
        .ok_or_else(|| AppError::Internal(format!("{what} refers to a missing row").into()))
}
