//! Features and the program backlog: WSJF, states, the PM's rank.

pub mod graphql;
pub mod service;
pub mod state;
pub mod usecase;
pub mod wsjf;
