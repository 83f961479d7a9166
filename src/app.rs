//! The HTTP application: routes, layers, and starting and stopping the server.

use std::{future::Future, net::SocketAddr, str::FromStr, sync::Arc};

use async_graphql::{
    BatchRequest, Data,
    http::{ALL_WEBSOCKET_PROTOCOLS, WebSocketProtocols},
    parser::types::ExecutableDocument,
};
use async_graphql_axum::GraphQLProtocol;
use axum::{
    Json, Router,
    body::Bytes,
    extract::{DefaultBodyLimit, State, WebSocketUpgrade, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tower_http::{cors::CorsLayer, trace::TraceLayer};

use crate::{
    auth::{Viewer, known::KnownViewers, token, watch::TokenWatch},
    clock::{Clock, SystemClock},
    config::Settings,
    db::Store,
    error::AppError,
    events::bus::EventBus,
    graphql::{
        AppSchema, build_schemas,
        cache::{Key, ReadScope, ResponseCache, Shared, Uncacheable, VersionReads},
        fanout::Fanout,
        guard::{self, DocumentLimits, Inspected},
        observe,
        ws::{Session, SessionSlot},
    },
    metrics::Metrics,
};

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// For HTTP requests: no extensions (the handler observes).
    schema: AppSchema,
    /// For websockets.
    live: AppSchema,
    store: Store,
    metrics: Arc<Metrics>,
    /// The hash of the built-in administrator's token, when set.
    admin_hash: Option<Arc<str>>,
    max_message_bytes: usize,
    cache: Arc<ResponseCache>,
    /// The counters a cached answer is checked against, read once for the
    /// requests that come at once.
    versions: Arc<VersionReads>,
    limits: DocumentLimits,
    /// Documents lately inspected, not parsed again.
    inspections: Arc<guard::Inspections>,
    /// Whom tokens presented lately were, for queries that start early
    /// (only with the response cache off; see `auth::known`).
    known: Arc<KnownViewers>,
    max_batch: usize,
    max_response_bytes: usize,
    clock: Arc<dyn Clock>,
    tokens: Arc<TokenWatch>,
    /// Shares each subscription among the websockets that ask the same.
    fanout: Fanout,
}

impl AppState {
    /// The viewer of a presented token, by the token's hash
    /// ([`token::hash`]), and the stored token's id.
    async fn viewer(&self, hashed: Option<&str>) -> Result<(Viewer, Option<i64>), AppError> {
        Viewer::authenticate(
            &self.store,
            self.admin_hash.as_deref(),
            hashed,
            self.clock.now(),
        )
        .await
    }

    /// The viewer of an HTTP request's token (by its hash), remembered for
    /// the token's next query when the response cache is off (see
    /// `auth::known`).
    async fn look_up(&self, hashed: Option<&str>) -> Result<Viewer, AppError> {
        let found = self.viewer(hashed).await.map(|(viewer, _)| viewer);
        if let (Some(hashed), Ok(viewer)) = (hashed, &found)
            && !self.cache.enabled()
        {
            self.known.learn(hashed, viewer);
        }
        found
    }
}

/// Connects to the database and migrates it.
pub async fn open_store(
    settings: &Settings,
) -> Result<Store, Box<dyn std::error::Error + Send + Sync>> {
    let store = Store::connect(settings).await?;
    store.migrate().await?;
    let changed = crate::dependency::service::store_all_risks(&store)
        .await
        .map_err(|err| format!("cannot store the risk of dependencies: {err:?}"))?;
    if changed > 0 {
        tracing::info!(changed, "stored the risk of dependencies");
    }
    Ok(store)
}

/// The router with every route and layer.
pub fn router(settings: &Settings, store: Store, clock: Arc<dyn Clock>, bus: EventBus) -> Router {
    router_and_schemas(settings, store, clock, bus).0
}

/// The router, and the schemas it serves (the webhook deliverer renders
/// events with the HTTP one).
fn router_and_schemas(
    settings: &Settings,
    store: Store,
    clock: Arc<dyn Clock>,
    bus: EventBus,
) -> (Router, crate::graphql::Schemas, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::new());
    let tokens = TokenWatch::start(
        store.clone(),
        clock.clone(),
        std::time::Duration::from_secs(1),
    );
    let schemas = build_schemas(settings, store.clone(), metrics.clone(), clock.clone(), bus);
    let state = AppState {
        schema: schemas.http.clone(),
        live: schemas.live.clone(),
        store,
        metrics: metrics.clone(),
        admin_hash: settings
            .admin_token
            .as_deref()
            .map(|admin| Arc::from(token::hash(admin))),
        max_message_bytes: settings.max_body_bytes,
        cache: Arc::new(ResponseCache::new(
            settings.response_cache_entries,
            settings.response_cache_bytes,
        )),
        versions: Arc::default(),
        limits: DocumentLimits {
            max_depth: settings.max_depth,
            max_fields: settings.max_query_fields,
        },
        inspections: Arc::default(),
        known: Arc::default(),
        max_batch: settings.max_batch.max(1),
        max_response_bytes: settings.max_response_bytes,
        clock,
        tokens,
        fanout: Fanout::new(
            schemas.live.clone(),
            settings.subscription_buffer,
            metrics.clone(),
        ),
    };
    let router = Router::new()
        .route("/graphql", get(crate::web::graphiql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(crate::web::routes(settings.assets_dir.clone()))
        .layer(DefaultBodyLimit::max(settings.max_body_bytes))
        .layer(
            CorsLayer::new()
                .allow_origin(tower_http::cors::Any)
                .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        )
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    (router, schemas, metrics)
}

/// A running server.
pub struct Server {
    /// The address it listens on (with the real port when 0 was asked for).
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    /// The webhook deliverer, stopped with the server.
    deliverer: JoinHandle<()>,
}

impl Server {
    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let served = joined((&mut self.task).await);
        self.deliverer.abort();
        served
    }

    /// Waits until the server ends (after a shutdown signal).
    pub async fn wait(mut self) -> std::io::Result<()> {
        let served = joined((&mut self.task).await);
        self.deliverer.abort();
        served
    }
}

/// The server task's outcome; a task that panicked or was cancelled is an
/// error too, never a clean stop.
fn joined(outcome: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Result<()> {
    outcome.unwrap_or_else(|err| {
        Err(std::io::Error::other(format!(
            "the server task failed: {err}"
        )))
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        self.deliverer.abort();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Opens the store, binds the listen address and serves in the background
/// until `signal` completes or the returned [`Server`] is stopped.
pub async fn start(
    settings: &Settings,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<Server, Box<dyn std::error::Error + Send + Sync>> {
    start_with_clock(settings, Arc::new(SystemClock), signal).await
}

/// [`start`] with a clock of the caller's (tests control time with it).
pub async fn start_with_clock(
    settings: &Settings,
    clock: Arc<dyn Clock>,
    signal: impl Future<Output = ()> + Send + 'static,
) -> Result<Server, Box<dyn std::error::Error + Send + Sync>> {
    let store = open_store(settings).await?;
    let listener = TcpListener::bind(settings.listen).await?;
    let addr = listener.local_addr()?;
    let bus = EventBus::start(
        store.clone(),
        settings.subscription_buffer,
        std::time::Duration::from_millis(settings.event_poll_ms),
    )
    .await?;
    let (app, schemas, metrics) =
        router_and_schemas(settings, store.clone(), clock.clone(), bus.clone());
    let deliverer = crate::webhook::deliver::start(
        store,
        clock,
        schemas.http,
        metrics,
        &bus,
        schemas.wake,
        crate::webhook::deliver::DeliverySettings {
            allow: crate::webhook::guard::Allow {
                http: settings.webhook_allow_http,
                private: settings.webhook_allow_private,
            },
            poll: std::time::Duration::from_millis(settings.webhook_poll_ms),
            concurrency: settings.webhook_concurrency,
            log_days: settings.webhook_log_days,
        },
    )
    .map_err(|err| format!("cannot start the webhook deliverer: {err:?}"))?;
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                tokio::select! {
                    () = signal => {},
                    _ = rx => {},
                }
                tracing::info!("shutting down: finishing in-flight requests");
            })
            .await
    });
    Ok(Server {
        addr,
        shutdown: Some(tx),
        task,
        deliverer,
    })
}

fn graphql_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    (status, Json(body)).into_response()
}

/// The hash of the request's bearer token ([`token::hash`]), hashed once
/// for its lookups; `Err` for an `Authorization` header that is not one.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, ()> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(token::from_authorization)
            .map(|presented| Some(token::hash(presented)))
            .ok_or(()),
    }
}

/// Whether the request says its body is JSON, as GraphQL over HTTP asks
/// (`application/json` or `application/graphql-response+json`).
fn json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v == "application/graphql-response+json")
}

/// Checks every document of a request against the limits, off the async
/// workers; a batch shares one field budget.
async fn inspect_all(
    state: &AppState,
    documents: Vec<(String, Option<String>)>,
) -> Result<Vec<Inspected>, AppError> {
    let limits = state.limits;
    let inspections = state.inspections.clone();
    let length: usize = documents.iter().map(|(query, _)| query.len()).sum();
    let inspect = move || {
        let mut all = Vec::new();
        let mut fields = 0u64;
        for (query, operation) in &documents {
            let inspected = inspections.inspect(query, operation.as_deref(), limits)?;
            fields = fields.saturating_add(inspected.fields);
            if fields > limits.max_fields {
                return Err(AppError::bad_input(format!(
                    "the batch expands to more than {} fields in all (setting PORTFOLIO_MAX_QUERY_FIELDS)",
                    limits.max_fields
                )));
            }
            all.push(inspected);
        }
        Ok(all)
    };
    // Parsing is linear in the text: a request of a few kilobytes, as
    // nearly all are, is inspected in place; a larger one on a blocking
    // thread, so it holds up no other request. Handing a document to that
    // thread and back costs two thread switches.
    if length <= INSPECT_IN_PLACE_BYTES {
        return inspect();
    }
    let outcome = tokio::task::spawn_blocking(inspect).await;
    outcome.map_err(|err| AppError::Internal(Box::new(err)))?
}

/// The document of a single request, inspected as [`inspect_all`] does.
async fn inspect_one(
    state: &AppState,
    request: &async_graphql::Request,
) -> Result<Inspected, AppError> {
    let documents = vec![(request.query.clone(), request.operation_name.clone())];
    let inspected = inspect_all(state, documents).await?;
    Ok(inspected.into_iter().next().unwrap_or_default())
}

/// The most text of a request's documents inspected on the request's own
/// task (see [`inspect_all`]).
const INSPECT_IN_PLACE_BYTES: usize = 16 * 1024;

/// The error asking for less, when a response of `len` bytes is larger
/// than the setting allows.
fn oversized(state: &AppState, len: usize) -> Option<Response> {
    (len > state.max_response_bytes).then(|| {
        graphql_error(
            StatusCode::OK,
            "BAD_USER_INPUT",
            &format!(
                "the response would be {len} bytes, more than the {} the server sends \
                 (setting PORTFOLIO_MAX_RESPONSE_BYTES): ask for fewer items or fields",
                state.max_response_bytes
            ),
        )
    })
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !json_content_type(&headers) {
        return graphql_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "BAD_USER_INPUT",
            "send the request as Content-Type: application/json",
        );
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let message = format!(
                "the request body is larger than the server accepts: {} bytes (setting \
                 PORTFOLIO_MAX_BODY_BYTES); import a larger Jira export with the command line, \
                 `portfolio import jira --csv FILE`",
                state.max_message_bytes
            );
            return graphql_error(StatusCode::PAYLOAD_TOO_LARGE, "BAD_USER_INPUT", &message);
        }
        Err(rejection) => {
            return graphql_error(rejection.status(), "BAD_USER_INPUT", &rejection.body_text());
        }
    };
    let request: BatchRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => {
            return graphql_error(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("the body is not a GraphQL request: {err}"),
            );
        }
    };
    let presented = bearer(&headers);
    // A query by a token seen lately starts beside the token's lookup.
    let request = match (request, &presented) {
        (BatchRequest::Single(single), Ok(Some(hashed))) if !state.cache.enabled() => {
            match state.known.get(hashed) {
                Some(guessed) => return early(&state, hashed, single, guessed, &body).await,
                None => BatchRequest::Single(single),
            }
        }
        (request, _) => request,
    };
    let too_many = matches!(&request, BatchRequest::Batch(rs) if rs.len() > state.max_batch);
    let documents: Vec<(String, Option<String>)> = match &request {
        _ if too_many => Vec::new(),
        BatchRequest::Single(r) => vec![(r.query.clone(), r.operation_name.clone())],
        BatchRequest::Batch(rs) => rs
            .iter()
            .map(|r| (r.query.clone(), r.operation_name.clone()))
            .collect(),
    };
    // The token is looked up while the documents are parsed and checked:
    // the lookup's round trip costs no time of its own.
    let viewer = async {
        match &presented {
            Ok(hashed) => state.look_up(hashed.as_deref()).await,
            Err(()) => Ok(Viewer::InvalidToken),
        }
    };
    // So is the data version, for a query the cache may answer: a read
    // that starts now, after the request came, may serve it.
    let single = matches!(&request, BatchRequest::Single(_));
    let inspect = async {
        if too_many {
            return (None, None);
        }
        let inspected = inspect_all(&state, documents).await;
        let cacheable = single
            && state.cache.enabled()
            && matches!(&inspected, Ok(docs) if docs.first().is_some_and(|d| d.is_query));
        let versions = if cacheable {
            Some(state.versions.read(state.store.conn()).await)
        } else {
            None
        };
        (Some(inspected), versions)
    };
    let (viewer, (inspected, versions)) = tokio::join!(viewer, inspect);
    let viewer = match viewer {
        Ok(viewer) => viewer,
        Err(err) => {
            let err = async_graphql::Error::from(err);
            return graphql_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", &err.message);
        }
    };
    let started = std::time::Instant::now();
    let Some(inspected) = inspected else {
        return graphql_error(
            StatusCode::BAD_REQUEST,
            "BAD_USER_INPUT",
            &format!(
                "a batch may hold at most {} operations (setting PORTFOLIO_MAX_BATCH)",
                state.max_batch
            ),
        );
    };
    let inspected = match inspected {
        Ok(inspected) => inspected,
        Err(err) => return refused(err),
    };
    let request = match request {
        BatchRequest::Single(request) => request,
        BatchRequest::Batch(requests) => {
            let mut responses = Vec::with_capacity(requests.len());
            for (request, document) in requests.into_iter().zip(inspected) {
                let operation = operation_name(&request, &document).to_owned();
                let request = parsed(request, document.document);
                responses.push(execute(&state, request.data(viewer.clone()), &operation).await);
            }
            return respond(&state, &responses);
        }
    };
    let mut document = inspected.into_iter().next().unwrap_or_default();
    // A query may be answered from the cache while what it read has not changed.
    let at = match versions {
        Some(Ok(at)) => at,
        Some(Err(err)) => {
            tracing::warn!(error = %err, "cannot read the data versions; not caching");
            return run_inspected(&state, request, document, viewer).await;
        }
        None => return run_inspected(&state, request, document, viewer).await,
    };
    let operation = operation_name(&request, &document).to_owned();
    let request = parsed(request, document.document.take());
    let mark = Uncacheable::default();
    let scope = ReadScope::default();
    let request = request.data(mark.clone()).data(scope.clone());
    let key = Key::new(viewer_key(&viewer), &request);
    let served_from_cache = |bytes: Bytes| {
        state
            .metrics
            .record_request(&operation, "cached", started.elapsed().as_secs_f64());
        json_bytes(bytes)
    };
    if let Some(hit) = state.cache.get(&key, &at) {
        return served_from_cache(hit);
    }
    // Missed: compute, or wait for the same computation under way.
    let mut pending = Some(request.data(viewer));
    let mut reply: Option<Response> = None;
    let shared = state
        .cache
        .share(&key, at.total, async {
            let request = pending.take()?;
            let response = execute(&state, request, &operation).await;
            let cacheable = response.errors.is_empty() && !mark.is_marked();
            match render(&state, &response) {
                Ok(bytes) => {
                    reply = Some(json_bytes(bytes.clone()));
                    cacheable.then(|| {
                        state.cache.put(key.clone(), &scope, &at, bytes.clone());
                        bytes
                    })
                }
                Err(refusal) => {
                    reply = Some(*refusal);
                    None
                }
            }
        })
        .await;
    match (shared, reply, pending) {
        (Shared::Answer(bytes), _, _) => served_from_cache(bytes),
        (_, Some(reply), _) => reply,
        (_, None, Some(request)) => {
            let response = execute(&state, request, &operation).await;
            respond(&state, &response)
        }
        (_, None, None) => graphql_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        ),
    }
}

/// The reply to a document the limits or the parser refuse.
fn refused(err: AppError) -> Response {
    let code = err.code();
    let err = async_graphql::Error::from(err);
    graphql_error(StatusCode::OK, code, &err.message)
}

/// What a request by a token seen lately came to before its lookup ended.
enum Early {
    /// A query, run as the viewer the token was last time.
    Ran(Ran),
    /// Not a query: it waits for the lookup.
    Later(async_graphql::Request),
    /// Refused by the limits or the parser.
    Refused(AppError),
}

/// A single request whose token (hashed as `hashed`) was `guessed` when
/// last looked up, with the response cache off: a query runs as that viewer
/// while the token is looked up, and its answer is sent only when the
/// lookup finds the same viewer; else it runs again as the viewer found (see
/// `auth::known`).
async fn early(
    state: &AppState,
    hashed: &str,
    request: async_graphql::Request,
    guessed: Viewer,
    body: &Bytes,
) -> Response {
    let lookup = state.look_up(Some(hashed));
    let run = async {
        let document = match inspect_one(state, &request).await {
            Ok(document) => document,
            Err(err) => return Early::Refused(err),
        };
        if !document.is_query {
            return Early::Later(request);
        }
        let (request, operation) = ready(request, document, guessed.clone());
        Early::Ran(run(state, request, &operation).await)
    };
    let (viewer, outcome) = tokio::join!(lookup, run);
    let viewer = match viewer {
        Ok(viewer) => viewer,
        Err(err) => {
            let err = async_graphql::Error::from(err);
            return graphql_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL", &err.message);
        }
    };
    match outcome {
        Early::Ran(ran) if viewer == guessed => {
            state.metrics.record_early(true);
            respond(state, &ran.finish(&state.metrics))
        }
        Early::Ran(_) => match serde_json::from_slice::<BatchRequest>(body) {
            Ok(BatchRequest::Single(request)) => {
                state.metrics.record_early(false);
                run_as(state, request, viewer).await
            }
            _ => graphql_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "internal error",
            ),
        },
        Early::Later(request) => run_as(state, request, viewer).await,
        Early::Refused(err) => refused(err),
    }
}

/// Runs a single request as `viewer`, without the response cache.
async fn run_as(state: &AppState, request: async_graphql::Request, viewer: Viewer) -> Response {
    match inspect_one(state, &request).await {
        Ok(document) => run_inspected(state, request, document, viewer).await,
        Err(err) => refused(err),
    }
}

/// Runs a single request, already inspected as `document`, as `viewer`,
/// without the response cache.
async fn run_inspected(
    state: &AppState,
    request: async_graphql::Request,
    document: Inspected,
    viewer: Viewer,
) -> Response {
    let (request, operation) = ready(request, document, viewer);
    respond(state, &execute(state, request, &operation).await)
}

/// The request with the document its inspection parsed, as `viewer`'s,
/// with what a request carries that the cache does not answer; and its
/// operation's name.
fn ready(
    request: async_graphql::Request,
    mut document: Inspected,
    viewer: Viewer,
) -> (async_graphql::Request, String) {
    let operation = operation_name(&request, &document).to_owned();
    let request = parsed(request, document.document.take())
        .data(Uncacheable::default())
        .data(ReadScope::default())
        .data(viewer);
    (request, operation)
}

/// The response's (or batch's) bytes, or the reply refusing it (too large,
/// or it does not serialise).
fn render(state: &AppState, response: &impl serde::Serialize) -> Result<Bytes, Box<Response>> {
    let Ok(bytes) = crate::graphql::one_pass::to_json(response) else {
        return Err(Box::new(graphql_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "internal error",
        )));
    };
    match oversized(state, bytes.len()) {
        Some(refusal) => Err(Box::new(refusal)),
        None => Ok(Bytes::from(bytes)),
    }
}

/// The reply carrying a response (or batch), or refusing it.
fn respond(state: &AppState, response: &impl serde::Serialize) -> Response {
    render(state, response).map_or_else(|refusal| *refusal, json_bytes)
}

/// The request with the document its inspection parsed, so the executor
/// does not parse it again.
fn parsed(
    mut request: async_graphql::Request,
    document: Option<ExecutableDocument>,
) -> async_graphql::Request {
    if let Some(document) = document {
        request.set_parsed_query(document);
    }
    request
}

/// The operation's name for logs and metrics.
fn operation_name<'a>(request: &'a async_graphql::Request, document: &'a Inspected) -> &'a str {
    request
        .operation_name
        .as_deref()
        .or(document.operation.as_deref())
        .unwrap_or("anonymous")
}

/// Runs one operation on the HTTP schema, observed (`observe::finish`).
async fn execute(
    state: &AppState,
    request: async_graphql::Request,
    operation: &str,
) -> async_graphql::Response {
    run(state, request, operation).await.finish(&state.metrics)
}

/// An operation that ran, not yet observed: a query that started before its
/// token's lookup ended is observed only when its answer is sent.
struct Ran {
    response: async_graphql::Response,
    span: tracing::Span,
    operation: String,
    started: std::time::Instant,
}

impl Ran {
    /// The response, with the operation's log line and request metrics.
    fn finish(mut self, metrics: &Metrics) -> async_graphql::Response {
        let (span, operation) = (&self.span, &self.operation);
        observe::finish(metrics, span, operation, self.started, &mut self.response);
        self.response
    }
}

/// Runs one operation on the HTTP schema; see [`Ran`].
async fn run(state: &AppState, request: async_graphql::Request, operation: &str) -> Ran {
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let span = observe::span();
    // Each operation keeps what its resolvers read ahead (`graphql::ahead`),
    // and its answers from memory as JSON text: `render` writes them as
    // they are (`graphql::one_pass`).
    let request = request
        .data(crate::graphql::ahead::Ahead::default())
        .data(crate::graphql::one_pass::RawJson);
    let response = state.schema.execute(request).instrument(span.clone()).await;
    Ran {
        response,
        span,
        operation: operation.to_owned(),
        started,
    }
}

fn json_bytes(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

/// Who the response was computed for: responses differ by viewer.
fn viewer_key(viewer: &Viewer) -> String {
    match viewer {
        Viewer::Anonymous => "anonymous".to_owned(),
        Viewer::InvalidToken => "invalid".to_owned(),
        Viewer::BuiltinAdmin => "admin".to_owned(),
        Viewer::User(u) => format!("user:{}", u.id),
        Viewer::Board { program_id } => format!("board:{program_id}"),
    }
}

async fn graphql_ws(
    State(state): State<AppState>,
    // Refuses (400) an upgrade that names no protocol we speak.
    _known: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let protocol = headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|protocols| {
            protocols
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        })
        .unwrap_or(WebSocketProtocols::GraphQLWS);
    // Small buffers (512 B read, write through): an idle subscription should
    // cost little, and clients send little (a larger message takes more
    // reads). A stalled client's writes stop at 1 MiB (its subscription then
    // falls behind the event buffer and is ended).
    let max_message = state.max_message_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(max_message)
        .on_upgrade(move |socket| {
            let schema = state.live.clone();
            let tokens = state.tokens.clone();
            let fanout = state.fanout.clone();
            let session = SessionSlot::default();
            let slot = session.clone();
            let init = move |payload: serde_json::Value| async move {
                let presented = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .map(|v| token::from_authorization(v).map(token::hash).ok_or(()))
                    .transpose();
                let (viewer, token_id) = match presented {
                    Ok(hashed) => state.viewer(hashed.as_deref()).await?,
                    Err(()) => (Viewer::InvalidToken, None),
                };
                if matches!(viewer, Viewer::InvalidToken) {
                    return Err(async_graphql::Error::new("the bearer token is not valid"));
                }
                *slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Session {
                    token: token_id,
                    viewer: Some(viewer.clone()),
                };
                let mut data = Data::default();
                data.insert(viewer);
                Ok(data)
            };
            crate::graphql::ws::serve(socket, schema, protocol, init, tokens, session, fanout)
        })
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.store.ping().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let (open, idle) = state.store.pool_use();
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state
            .metrics
            .render(open, idle, state.store.statements().get()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_server_task_that_panicked_is_not_a_clean_stop() {
        let task = tokio::spawn(async { panic!("boom") });
        let outcome: Result<std::io::Result<()>, _> = task.await;
        assert!(joined(outcome).is_err());
        assert!(joined(Ok(Ok(()))).is_ok());
    }
}
