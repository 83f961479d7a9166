//! Program Increments and their iterations.

pub mod graphql;
pub mod schedule;
pub mod service;
pub mod usecase;
