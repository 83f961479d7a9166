//! Program and team metrics for an increment: predictability now; flow,
//! dependencies and clarifications as those parts land.

pub mod flow;
pub mod graphql;
