//! What every operation needs around it: a tracing span with the operation
//! name, request metrics, and an `extensions.code` on errors raised before
//! any resolver ran (syntax, validation, limits, input coercion), which are
//! all BAD_USER_INPUT.
//!
//! The HTTP handler observes its operations itself with [`finish`]: any
//! schema extension puts every field of every response through the
//! extension chain (and a registry lookup), which costs more than most
//! fields do. The websocket schema has the [`Observe`] extension, which
//! also counts open subscriptions (but for a shared one's upstream: the
//! fan-out counts its members).

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use async_graphql::{
    Request, Response, ServerError, ServerResult, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextRequest, NextSubscribe,
    },
    parser::types::{DocumentOperations, ExecutableDocument},
};
use futures_util::{StreamExt, stream::BoxStream};
use tracing::{Instrument, Span, field::Empty};

use crate::metrics::Metrics;

/// The extension factory; add it to the schema once.
pub struct Observe {
    pub metrics: Arc<Metrics>,
}

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveOperation {
            metrics: self.metrics.clone(),
            operation: Mutex::new(None),
        })
    }
}

struct ObserveOperation {
    metrics: Arc<Metrics>,
    operation: Mutex<Option<String>>,
}

impl ObserveOperation {
    fn operation(&self) -> String {
        self.operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or_else(|| "anonymous".to_owned())
    }

    fn set_operation(&self, name: &str) {
        let mut slot = self
            .operation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(name.to_owned());
        }
    }
}

/// Gives every error that lacks one the code BAD_USER_INPUT: resolvers always
/// set a code, so a missing one means async-graphql refused the request itself.
pub fn default_error_codes(errors: &mut [ServerError]) {
    for err in errors {
        let ext = err.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", "BAD_USER_INPUT");
        }
    }
}

fn outcome(resp: &Response) -> String {
    match resp.errors.first() {
        None => "ok".to_owned(),
        Some(err) => err
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(|code| code.to_string().trim_matches('"').to_owned())
            .unwrap_or_else(|| "BAD_USER_INPUT".to_owned()),
    }
}

/// The span an operation runs in; [`finish`] fills in its fields.
pub fn span() -> Span {
    tracing::info_span!("graphql", operation = Empty, outcome = Empty)
}

/// Ends an operation that ran in `span` since `started`: default error
/// codes, the span's fields, the log line and the request metrics.
pub fn finish(
    metrics: &Metrics,
    span: &Span,
    operation: &str,
    started: Instant,
    resp: &mut Response,
) {
    default_error_codes(&mut resp.errors);
    let outcome = outcome(resp);
    span.record("operation", operation);
    span.record("outcome", outcome.as_str());
    let seconds = started.elapsed().as_secs_f64();
    span.in_scope(|| tracing::info!(seconds, "graphql operation finished"));
    metrics.record_request(operation, &outcome, seconds);
}

#[async_trait::async_trait]
impl Extension for ObserveOperation {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let span = span();
        let mut resp = next.run(ctx).instrument(span.clone()).await;
        finish(&self.metrics, &span, &self.operation(), started, &mut resp);
        resp
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        // A shared subscription's members are counted by the fan-out.
        let guard = ctx
            .data_opt::<super::fanout::Upstream>()
            .is_none()
            .then(|| OpenSubscription::new(self.metrics.clone()));
        next.run(ctx, stream)
            .map(move |mut resp| {
                let _open = &guard;
                default_error_codes(&mut resp.errors);
                resp
            })
            .boxed()
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Some(name) = &request.operation_name {
            self.set_operation(name);
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let DocumentOperations::Multiple(ops) = &doc.operations
            && ops.len() == 1
            && let Some(name) = ops.keys().next()
        {
            self.set_operation(name);
        }
        Ok(doc)
    }
}

/// Counts an open subscription for as long as it lives.
pub(crate) struct OpenSubscription(Arc<Metrics>);

impl OpenSubscription {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        metrics.subscriptions_changed(1);
        Self(metrics)
    }
}

impl Drop for OpenSubscription {
    fn drop(&mut self) {
        self.0.subscriptions_changed(-1);
    }
}
