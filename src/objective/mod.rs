//! PI objectives of teams and the program's predictability.

pub mod graphql;
pub mod predictability;
pub mod service;
pub mod usecase;
