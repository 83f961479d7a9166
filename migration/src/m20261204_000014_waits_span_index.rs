//! `Program.waits` reads every wait of a program that overlaps an increment
//! (its owner, kind, start and end). The index on (program, end) found those
//! rows but then looked each one up in the table; this one holds all the
//! columns read, so the figures come from the index alone. It keeps the
//! (program, end) prefix, so the open-wait lookups use it as before.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "waits_program_ended";
const NEW: &str = "waits_program_span";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(Waits::Table)
                    .col(Waits::ProgramId)
                    .col(Waits::EndedAt)
                    .col(Waits::StartedAt)
                    .col(Waits::OwnerId)
                    .col(Waits::Kind)
                    .col(Waits::Again)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table(Waits::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(Waits::Table)
                    .col(Waits::ProgramId)
                    .col(Waits::EndedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(NEW).table(Waits::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Waits {
    Table,
    ProgramId,
    Kind,
    OwnerId,
    Again,
    StartedAt,
    EndedAt,
}
