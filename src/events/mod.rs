//! The event log and live updates: every mutation records its events in its
//! own transaction (gap-free sequence per program, in commit order); a
//! dispatcher per process reads new events from the log and fans them out to
//! subscriptions (in-process wake-ups, plus LISTEN/NOTIFY on PostgreSQL so
//! several processes share one database).

pub mod bus;
pub mod graphql;
pub mod kind;
pub mod log;
