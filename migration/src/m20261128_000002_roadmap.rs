//! Program increments and their iterations, features (the program backlog),
//! and PI objectives.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A rank-key column: byte order must be the order, so PostgreSQL compares it
/// with the "C" collation rather than the database's locale.
pub fn rank_key(manager: &SchemaManager, col: impl IntoIden) -> ColumnDef {
    let mut def = string(col);
    if manager.get_database_backend() == sea_orm::DbBackend::Postgres {
        def.extra("COLLATE \"C\"");
    }
    def
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Increments::Table)
                    .col(big_pk_auto(Increments::Id))
                    .col(big_integer(Increments::ProgramId))
                    .col(string(Increments::Name))
                    .col(date(Increments::StartDate))
                    .col(date(Increments::EndDate))
                    .col(integer(Increments::IterationCount))
                    .col(integer(Increments::IterationLengthDays))
                    .col(timestamp_with_time_zone(Increments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Increments::Table, Increments::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("increments_program_name")
                    .table(Increments::Table)
                    .col(Increments::ProgramId)
                    .col(Increments::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("increments_program_start")
                    .table(Increments::Table)
                    .col(Increments::ProgramId)
                    .col(Increments::StartDate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Iterations::Table)
                    .col(big_pk_auto(Iterations::Id))
                    .col(big_integer(Iterations::IncrementId))
                    .col(integer(Iterations::Number))
                    .col(date(Iterations::StartDate))
                    .col(date(Iterations::EndDate))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Iterations::Table, Iterations::IncrementId)
                            .to(Increments::Table, Increments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("iterations_increment_number")
                    .table(Iterations::Table)
                    .col(Iterations::IncrementId)
                    .col(Iterations::Number)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Features::Table)
                    .col(big_pk_auto(Features::Id))
                    .col(big_integer(Features::ProgramId))
                    .col(string(Features::Title))
                    .col(text(Features::Description))
                    .col(string(Features::State))
                    .col(integer_null(Features::BusinessValue))
                    .col(integer_null(Features::TimeCriticality))
                    .col(integer_null(Features::RiskReduction))
                    .col(integer_null(Features::JobSize))
                    .col(double_null(Features::WsjfScore))
                    .col(big_integer_null(Features::TargetIncrementId))
                    .col(rank_key(manager, Features::RankKey))
                    .col(timestamp_with_time_zone(Features::CreatedAt))
                    .col(timestamp_with_time_zone(Features::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Features::Table, Features::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Features::Table, Features::TargetIncrementId)
                            .to(Increments::Table, Increments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("features_program_rank")
                    .table(Features::Table)
                    .col(Features::ProgramId)
                    .col(Features::RankKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("features_program_wsjf")
                    .table(Features::Table)
                    .col(Features::ProgramId)
                    .col(Features::WsjfScore)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("features_target_increment")
                    .table(Features::Table)
                    .col(Features::TargetIncrementId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Objectives::Table)
                    .col(big_pk_auto(Objectives::Id))
                    .col(big_integer(Objectives::TeamId))
                    .col(big_integer(Objectives::IncrementId))
                    .col(text(Objectives::Description))
                    .col(integer(Objectives::PlannedValue))
                    .col(integer_null(Objectives::ActualValue))
                    .col(boolean(Objectives::Committed))
                    .col(timestamp_with_time_zone(Objectives::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Objectives::Table, Objectives::TeamId)
                            .to(Teams::Table, Teams::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Objectives::Table, Objectives::IncrementId)
                            .to(Increments::Table, Increments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("objectives_team_increment")
                    .table(Objectives::Table)
                    .col(Objectives::TeamId)
                    .col(Objectives::IncrementId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Objectives::Table.into_iden(),
            Features::Table.into_iden(),
            Iterations::Table.into_iden(),
            Increments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Teams {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Increments {
    Table,
    Id,
    ProgramId,
    Name,
    StartDate,
    EndDate,
    IterationCount,
    IterationLengthDays,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Iterations {
    Table,
    Id,
    IncrementId,
    Number,
    StartDate,
    EndDate,
}

#[derive(DeriveIden)]
enum Features {
    Table,
    Id,
    ProgramId,
    Title,
    Description,
    State,
    BusinessValue,
    TimeCriticality,
    RiskReduction,
    JobSize,
    WsjfScore,
    TargetIncrementId,
    RankKey,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Objectives {
    Table,
    Id,
    TeamId,
    IncrementId,
    Description,
    PlannedValue,
    ActualValue,
    Committed,
    CreatedAt,
}
