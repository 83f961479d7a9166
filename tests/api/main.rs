//! The API test suite: one binary, one module per area. Every test starts its
//! own server on port 0 with a fresh database: an SQLite file in a temporary
//! folder, or, when `PORTFOLIO_TEST_DATABASE_URL` names a PostgreSQL server,
//! a fresh schema in that database.

mod helpers;

mod allocation;
mod auth;
mod backlog;
mod board;
mod browser;
mod clarifications;
mod contention;
mod dashboard;
mod dependencies;
mod events;
mod fanout;
mod hardening;
mod import;
mod planning;
mod policy;
mod programs;
mod roadmap;
mod server;
mod teams;
mod tokens;
mod waits;
mod webhooks;
