//! The board's column of unplanned stories reads the stories of the
//! increment's features that have no iteration. With an index on the
//! feature alone, SQLite looked up every story of those features in the
//! table to test its iteration (12,500 lookups for 3,750 cards on the
//! 50-team benchmark); with the iteration in the index it seeks the
//! unplanned ones directly. It keeps the feature prefix, so it replaces the
//! index on the feature alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "stories_feature";
const NEW: &str = "stories_feature_iteration";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(Stories::Table)
                    .col(Stories::FeatureId)
                    .col(Stories::IterationId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table(Stories::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(Stories::Table)
                    .col(Stories::FeatureId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(NEW).table(Stories::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Stories {
    Table,
    FeatureId,
    IterationId,
}
