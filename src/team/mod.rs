//! Teams of a program: Product Owner assignment and membership.

pub mod graphql;
pub mod service;
pub mod usecase;
