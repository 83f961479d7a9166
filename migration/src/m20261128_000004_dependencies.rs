//! Dependencies between stories.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Dependencies::Table)
                    .col(big_pk_auto(Dependencies::Id))
                    .col(big_integer(Dependencies::ProgramId))
                    .col(big_integer(Dependencies::DependentStoryId))
                    .col(big_integer(Dependencies::ProviderStoryId))
                    .col(string(Dependencies::State))
                    .col(string_null(Dependencies::ResolvedFrom))
                    .col(big_integer_null(Dependencies::NeededByIterationId))
                    .col(text_null(Dependencies::DeclineReason))
                    .col(big_integer_null(Dependencies::RequestedById))
                    .col(timestamp_with_time_zone(Dependencies::CreatedAt))
                    .col(timestamp_with_time_zone(Dependencies::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dependencies::Table, Dependencies::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dependencies::Table, Dependencies::DependentStoryId)
                            .to(Stories::Table, Stories::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dependencies::Table, Dependencies::ProviderStoryId)
                            .to(Stories::Table, Stories::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dependencies::Table, Dependencies::NeededByIterationId)
                            .to(Iterations::Table, Iterations::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dependencies::Table, Dependencies::RequestedById)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "dependencies_pair",
                vec![
                    Dependencies::DependentStoryId,
                    Dependencies::ProviderStoryId,
                ],
                true,
            ),
            (
                "dependencies_provider",
                vec![Dependencies::ProviderStoryId],
                false,
            ),
            (
                "dependencies_program_state",
                vec![Dependencies::ProgramId, Dependencies::State],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Dependencies::Table);
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
            .drop_table(Table::drop().table(Dependencies::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Stories {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Iterations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Dependencies {
    Table,
    Id,
    ProgramId,
    DependentStoryId,
    ProviderStoryId,
    State,
    ResolvedFrom,
    NeededByIterationId,
    DeclineReason,
    RequestedById,
    CreatedAt,
    UpdatedAt,
}
