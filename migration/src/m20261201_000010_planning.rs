//! PI planning: each team's capacity per iteration, and the teams'
//! confidence votes at the end of planning.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TeamCapacities::Table)
                    .col(big_integer(TeamCapacities::TeamId))
                    .col(big_integer(TeamCapacities::IterationId))
                    .col(integer(TeamCapacities::Points))
                    .col(timestamp_with_time_zone(TeamCapacities::SetAt))
                    .col(big_integer_null(TeamCapacities::SetById))
                    .primary_key(
                        Index::create()
                            .col(TeamCapacities::TeamId)
                            .col(TeamCapacities::IterationId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamCapacities::Table, TeamCapacities::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(TeamCapacities::Table, TeamCapacities::IterationId)
                            .to(Iterations::Table, Iterations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("team_capacities_iteration")
                    .table(TeamCapacities::Table)
                    .col(TeamCapacities::IterationId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConfidenceVotes::Table)
                    .col(big_integer(ConfidenceVotes::IncrementId))
                    .col(big_integer(ConfidenceVotes::TeamId))
                    .col(big_integer(ConfidenceVotes::UserId))
                    .col(integer(ConfidenceVotes::Value))
                    .col(timestamp_with_time_zone(ConfidenceVotes::VotedAt))
                    .primary_key(
                        Index::create()
                            .col(ConfidenceVotes::IncrementId)
                            .col(ConfidenceVotes::TeamId)
                            .col(ConfidenceVotes::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConfidenceVotes::Table, ConfidenceVotes::IncrementId)
                            .to(Increments::Table, Increments::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConfidenceVotes::Table, ConfidenceVotes::TeamId)
                            .to(Teams::Table, Teams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConfidenceVotes::Table, ConfidenceVotes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ConfidenceVotes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TeamCapacities::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TeamCapacities {
    Table,
    TeamId,
    IterationId,
    Points,
    SetAt,
    SetById,
}

#[derive(DeriveIden)]
enum ConfidenceVotes {
    Table,
    IncrementId,
    TeamId,
    UserId,
    Value,
    VotedAt,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Iterations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Increments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
