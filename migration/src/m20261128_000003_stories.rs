//! Stories: the team backlogs.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261128_000002_roadmap::rank_key;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Stories::Table)
                    .col(big_pk_auto(Stories::Id))
                    .col(big_integer(Stories::TeamId))
                    .col(big_integer_null(Stories::FeatureId))
                    .col(string(Stories::Title))
                    .col(text(Stories::Description))
                    .col(text(Stories::AcceptanceCriteria))
                    .col(integer_null(Stories::Points))
                    .col(string(Stories::State))
                    .col(big_integer_null(Stories::IterationId))
                    .col(rank_key(manager, Stories::RankKey))
                    .col(text_null(Stories::RejectionReason))
                    .col(timestamp_with_time_zone_null(Stories::ReadyAt))
                    .col(timestamp_with_time_zone_null(Stories::AcceptedAt))
                    .col(timestamp_with_time_zone(Stories::CreatedAt))
                    .col(timestamp_with_time_zone(Stories::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stories::Table, Stories::TeamId)
                            .to(Teams::Table, Teams::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stories::Table, Stories::FeatureId)
                            .to(Features::Table, Features::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Stories::Table, Stories::IterationId)
                            .to(Iterations::Table, Iterations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "stories_team_rank",
                vec![Stories::TeamId, Stories::RankKey],
                true,
            ),
            (
                "stories_team_state",
                vec![Stories::TeamId, Stories::State],
                false,
            ),
            ("stories_feature", vec![Stories::FeatureId], false),
            ("stories_iteration", vec![Stories::IterationId], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Stories::Table);
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Stories::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Features {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Iterations {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Stories {
    Table,
    Id,
    TeamId,
    FeatureId,
    Title,
    Description,
    AcceptanceCriteria,
    Points,
    State,
    IterationId,
    RankKey,
    RejectionReason,
    ReadyAt,
    AcceptedAt,
    CreatedAt,
    UpdatedAt,
}
