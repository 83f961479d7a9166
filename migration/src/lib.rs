//! Database migrations, applied in order at start (`portfolio migrate` or `serve`).

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_foundation;
mod m20261128_000002_roadmap;
mod m20261128_000003_stories;
mod m20261128_000004_dependencies;
mod m20261128_000005_clarifications;
mod m20261128_000006_events;
mod m20261201_000007_token_details;
mod m20261201_000008_feature_allocations;
mod m20261201_000009_dependency_risk;
mod m20261201_000010_planning;
mod m20261201_000011_waits;
mod m20261203_000012_board_tokens;
mod m20261203_000013_webhooks;
mod m20261204_000014_waits_span_index;
mod m20261204_000015_external_keys;
mod m20261204_000016_stories_feature_iteration;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_foundation::Migration),
            Box::new(m20261128_000002_roadmap::Migration),
            Box::new(m20261128_000003_stories::Migration),
            Box::new(m20261128_000004_dependencies::Migration),
            Box::new(m20261128_000005_clarifications::Migration),
            Box::new(m20261128_000006_events::Migration),
            Box::new(m20261201_000007_token_details::Migration),
            Box::new(m20261201_000008_feature_allocations::Migration),
            Box::new(m20261201_000009_dependency_risk::Migration),
            Box::new(m20261201_000010_planning::Migration),
            Box::new(m20261201_000011_waits::Migration),
            Box::new(m20261203_000012_board_tokens::Migration),
            Box::new(m20261203_000013_webhooks::Migration),
            Box::new(m20261204_000014_waits_span_index::Migration),
            Box::new(m20261204_000015_external_keys::Migration),
            Box::new(m20261204_000016_stories_feature_iteration::Migration),
        ]
    }
}
