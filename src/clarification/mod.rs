//! Clarifications: questions about a story (to its team's PO) or a feature
//! (to the PM), answered, resolved, reopened, and measured.

pub mod graphql;
pub mod response;
pub mod service;
pub mod status;
pub mod usecase;
