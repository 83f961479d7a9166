//! SeaORM entities: one module per table. Storage rows only; the API wraps them
//! in its own types so the table layout can change without breaking clients.

pub mod clarification;
pub mod clarification_message;
pub mod confidence_vote;
pub mod dependency;
pub mod event;
pub mod event_counter;
pub mod feature;
pub mod feature_allocation;
pub mod increment;
pub mod iteration;
pub mod objective;
pub mod program;
pub mod story;
pub mod team;
pub mod team_capacity;
pub mod team_member;
pub mod token;
pub mod user;
pub mod wait;
pub mod webhook;
pub mod webhook_delivery;
pub mod webhook_requeue;
