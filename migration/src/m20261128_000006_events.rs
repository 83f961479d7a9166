//! The event log and the per-program sequence counters.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(EventCounters::Table)
                    .col(big_integer(EventCounters::ProgramId).primary_key())
                    .col(big_integer(EventCounters::LastSequence).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventCounters::Table, EventCounters::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO event_counters (program_id, last_sequence) SELECT id, 0 FROM programs",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(big_pk_auto(Events::Id))
                    .col(big_integer(Events::ProgramId))
                    .col(big_integer(Events::Sequence))
                    .col(string(Events::Kind))
                    .col(string(Events::SubjectType))
                    .col(big_integer(Events::SubjectId))
                    .col(string(Events::TeamIds))
                    .col(big_integer_null(Events::ActorId))
                    .col(timestamp_with_time_zone(Events::At))
                    .col(text(Events::Payload))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Events::Table, Events::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("events_program_sequence")
                    .table(Events::Table)
                    .col(Events::ProgramId)
                    .col(Events::Sequence)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Events::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(EventCounters::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum EventCounters {
    Table,
    ProgramId,
    LastSequence,
}

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    ProgramId,
    Sequence,
    Kind,
    SubjectType,
    SubjectId,
    TeamIds,
    ActorId,
    At,
    Payload,
}
