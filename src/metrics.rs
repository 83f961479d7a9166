//! Prometheus metrics, kept in the app state (no global registry) and served
//! as text at `/metrics`.

use std::{
    collections::HashSet,
    sync::{Mutex, PoisonError},
};

use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// Most distinct operation names kept as label values; later ones count as
/// `other`, so clients cannot grow the metric set without bound.
const MAX_OPERATION_LABELS: usize = 200;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GuessLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatementLabels {
    kind: &'static str,
}

type HistogramFamily = Family<OperationLabels, Histogram, fn() -> Histogram>;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    subscriptions: Gauge,
    subscription_groups: Gauge,
    pool: Family<PoolLabels, Gauge>,
    statements: Family<StatementLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    guesses: Family<GuessLabels, Counter>,
    early: Family<GuessLabels, Counter>,
    delivery_delay: Histogram,
    /// Held while the statement counters catch up with the driver's counts,
    /// so two scrapes at once never add the same statements twice.
    statements_sync: Mutex<()>,
    known_operations: Mutex<HashSet<String>>,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("portfolio");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let subscriptions = Gauge::default();
        let subscription_groups = Gauge::default();
        let pool = Family::<PoolLabels, Gauge>::default();
        let statements = Family::<StatementLabels, Counter>::default();
        registry.register(
            "graphql_requests",
            "GraphQL operations by operation name and outcome (ok or the first error code)",
            requests.clone(),
        );
        registry.register(
            "graphql_request_duration_seconds",
            "Time to answer a GraphQL query or mutation",
            latency.clone(),
        );
        registry.register(
            "graphql_subscriptions_open",
            "Subscriptions currently open",
            subscriptions.clone(),
        );
        registry.register(
            "graphql_subscription_groups",
            "Distinct subscriptions resolved, each once per event for all its subscribers",
            subscription_groups.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database pool connections by state (idle or in_use)",
            pool.clone(),
        );
        registry.register(
            "db_statements",
            "SQL statements sent since start, by kind (read or write); a counter read from the driver",
            statements.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "webhook_deliveries",
            "Webhook delivery attempts by outcome (succeeded or failed)",
            deliveries.clone(),
        );
        let guesses = Family::<GuessLabels, Counter>::default();
        registry.register(
            "read_ahead_guesses",
            "Dashboards that read their stories' relations beside their pages, on the guess \
             that the pages hold what they last held, by outcome (held, or missed: read again)",
            guesses.clone(),
        );
        let early = Family::<GuessLabels, Counter>::default();
        registry.register(
            "early_queries",
            "Queries run beside their token's lookup as the viewer the token was last time \
             (response cache off), by outcome (kept, or ran_again: the viewer had changed)",
            early.clone(),
        );
        // 1 ms to about 9 h.
        let delivery_delay = Histogram::new(exponential_buckets(0.001, 2.0, 25));
        registry.register(
            "webhook_delivery_delay_seconds",
            "Time from an event to its successful delivery to one endpoint",
            delivery_delay.clone(),
        );
        Self {
            registry,
            statements,
            deliveries,
            guesses,
            early,
            delivery_delay,
            requests,
            latency,
            subscriptions,
            subscription_groups,
            pool,
            statements_sync: Mutex::new(()),
            known_operations: Mutex::new(HashSet::new()),
        }
    }

    fn operation_label(&self, operation: &str) -> String {
        let mut known = self
            .known_operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if known.contains(operation) {
            return operation.to_owned();
        }
        if known.len() < MAX_OPERATION_LABELS {
            known.insert(operation.to_owned());
            return operation.to_owned();
        }
        "other".to_owned()
    }

    /// Counts one finished query or mutation.
    pub fn record_request(&self, operation: &str, outcome: &str, seconds: f64) {
        let operation = self.operation_label(operation);
        self.requests
            .get_or_create(&RequestLabels {
                operation: operation.clone(),
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&OperationLabels { operation })
            .observe(seconds);
    }

    /// Counts one webhook delivery attempt; `delay` is the time from the
    /// event to a successful delivery.
    pub fn record_delivery(&self, delivered: bool, delay_seconds: f64) {
        let outcome = if delivered { "succeeded" } else { "failed" };
        self.deliveries
            .get_or_create(&DeliveryLabels { outcome })
            .inc();
        if delivered {
            self.delivery_delay.observe(delay_seconds.max(0.0));
        }
    }

    /// Counts one dashboard that read ahead on a guess of its pages.
    pub fn record_guess(&self, held: bool) {
        let outcome = if held { "held" } else { "missed" };
        self.guesses.get_or_create(&GuessLabels { outcome }).inc();
    }

    /// Counts one query run beside its token's lookup.
    pub fn record_early(&self, kept: bool) {
        let outcome = if kept { "kept" } else { "ran_again" };
        self.early.get_or_create(&GuessLabels { outcome }).inc();
    }

    /// A subscription opened (+1) or closed (-1).
    pub fn subscriptions_changed(&self, delta: i64) {
        self.subscriptions.inc_by(delta);
    }

    /// A shared subscription started (+1) or ended (-1).
    pub fn subscription_groups_changed(&self, delta: i64) {
        self.subscription_groups.inc_by(delta);
    }

    /// The Prometheus text exposition, with the database figures read now.
    pub fn render(&self, pool_open: u32, pool_idle: usize, statements: (u64, u64)) -> String {
        // The driver's counts only grow; the counters catch up with them.
        let sync = self
            .statements_sync
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (kind, sent) in [("read", statements.0), ("write", statements.1)] {
            let counter = self.statements.get_or_create(&StatementLabels { kind });
            counter.inc_by(sent.saturating_sub(counter.get()));
        }
        drop(sync);
        let idle = i64::try_from(pool_idle).unwrap_or(i64::MAX);
        self.pool
            .get_or_create(&PoolLabels { state: "idle" })
            .set(idle);
        self.pool
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(pool_open).saturating_sub(idle));
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
