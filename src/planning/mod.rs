//! PI planning beyond allocation: each team's capacity per iteration and the
//! load planned against it, the teams' confidence votes, and whether the
//! features of an increment are ready to be planned.

pub mod graphql;
pub mod readiness;
pub mod service;
pub mod usecase;
