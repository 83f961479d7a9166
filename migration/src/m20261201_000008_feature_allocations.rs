//! Features allocated to teams: the PM hands a feature to the teams that
//! will break it down into stories.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FeatureAllocations::Table)
                    .col(big_integer(FeatureAllocations::FeatureId))
                    .col(big_integer(FeatureAllocations::TeamId))
                    .col(text(FeatureAllocations::Note).default(""))
                    .col(timestamp_with_time_zone(FeatureAllocations::AllocatedAt))
                    .col(big_integer_null(FeatureAllocations::AllocatedById))
                    .primary_key(
                        Index::create()
                            .col(FeatureAllocations::FeatureId)
                            .col(FeatureAllocations::TeamId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FeatureAllocations::Table, FeatureAllocations::FeatureId)
                            .to(Features::Table, Features::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(FeatureAllocations::Table, FeatureAllocations::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("feature_allocations_team")
                    .table(FeatureAllocations::Table)
                    .col(FeatureAllocations::TeamId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FeatureAllocations::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum FeatureAllocations {
    Table,
    FeatureId,
    TeamId,
    Note,
    AllocatedAt,
    AllocatedById,
}

#[derive(DeriveIden)]
enum Features {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
}
