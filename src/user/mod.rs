//! Users and their tokens.

pub mod graphql;
pub mod service;
pub mod usecase;
