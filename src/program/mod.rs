//! Programs: the Product Manager's side (vision now; increments, features
//! and the program backlog as they land).

pub mod graphql;
pub mod service;
pub mod usecase;
