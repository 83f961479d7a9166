//! What waits for whom. Every wait for one person's decision (a question's
//! answer, an answer's resolution, a story's acceptance, a dependency
//! decision, a feature's breakdown) is a row kept by the write path: the
//! use cases call [`sync`] after each change, which opens, ends or moves
//! the waits of what changed and records an event for each. The queue, the
//! figures and the live updates read those rows and events only.

pub mod graphql;
pub mod kind;
pub mod service;
pub mod sync;
