//! Portfolio: a GraphQL server for programs of several agile teams.

/// Starting the HTTP server: routes, layers, shutdown.
pub mod app;
/// Viewer resolution (tokens) and the roles table.
pub mod auth;
/// Team backlogs: stories, readiness, rank, acceptance.
pub mod backlog;
/// Clarifications: questions, answers, response times.
pub mod clarification;
/// Where the time comes from (tests set it).
pub mod clock;
/// Command line and settings.
pub mod config;
/// The store: pool, migrations, write transactions.
pub mod db;
/// Sample data for newcomers and benchmarks.
pub mod demo;
/// Dependencies between stories, risk, the program board.
pub mod dependency;
/// The one error type and its `extensions.code`.
pub mod error;
/// The event log, its dispatcher, and subscriptions.
pub mod events;
/// Features, WSJF and the program backlog.
pub mod feature;
/// Schema assembly, IDs, loaders, pagination, observability.
pub mod graphql;
/// Typed IDs of stored rows and their global form.
pub mod ids;
/// Bringing a program over from Jira's CSV export.
pub mod import;
/// Program Increments and their iterations.
pub mod increment;
/// Program and team metrics per increment.
pub mod insight;
/// Prometheus metrics.
pub mod metrics;
/// PI objectives and predictability.
pub mod objective;
/// Pages and cursors of ordered lists.
pub mod page;
/// PI planning: capacity, load, confidence votes, readiness.
pub mod planning;
/// Programs and the Product Manager's side.
pub mod program;
/// Ranked lists: rank keys and moves in storage.
pub mod ranking;
/// Teams, their Product Owners and members.
pub mod team;
/// Names, emails and long text checked at the edge.
pub mod text;
/// Users and tokens.
pub mod user;
/// What waits for whom: queues, figures, live updates.
pub mod waits;
/// The pages and assets the binary serves: GraphiQL and the program board.
pub mod web;
/// Outbound webhooks: endpoints, the URL guard, the deliverer.
pub mod webhook;
/// The unit of work: the one path every change takes.
pub mod work;
