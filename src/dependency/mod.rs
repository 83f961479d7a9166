//! Dependencies between stories: negotiation, the cycle check, the at-risk
//! rules, and the program board.

pub mod board;
pub mod cycle;
pub mod graphql;
pub mod risk;
pub mod service;
pub mod usecase;
pub mod watch;
