//! Team backlogs: stories, their lifecycle and the definition of ready, the
//! PO's rank, acceptance.

pub mod graphql;
pub mod lifecycle;
pub mod packed;
pub mod service;
pub mod usecase;
