//! Outbound webhooks: endpoints of a program, the log of delivery attempts,
//! and events queued to be sent again. Each endpoint keeps its own cursor in
//! the program's event log (`last_sequence`), moved in the same transaction
//! that records the attempt that delivered it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .col(big_pk_auto(Webhooks::Id))
                    .col(big_integer(Webhooks::ProgramId))
                    .col(text(Webhooks::Url))
                    .col(text(Webhooks::Kinds))
                    .col(text(Webhooks::Description))
                    .col(text(Webhooks::Secret))
                    .col(text_null(Webhooks::PreviousSecret))
                    .col(timestamp_with_time_zone_null(Webhooks::PreviousSecretUntil))
                    .col(boolean(Webhooks::Enabled))
                    .col(text_null(Webhooks::DisabledReason))
                    .col(timestamp_with_time_zone_null(Webhooks::DisabledAt))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .col(big_integer_null(Webhooks::CreatedById))
                    .col(big_integer(Webhooks::LastSequence))
                    .col(integer(Webhooks::Failures))
                    .col(timestamp_with_time_zone_null(Webhooks::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Webhooks::FailingSince))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Webhooks::Table, Webhooks::ProgramId)
                            .to(Programs::Table, Programs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhooks_program")
                    .table(Webhooks::Table)
                    .col(Webhooks::ProgramId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(big_pk_auto(WebhookDeliveries::Id))
                    .col(big_integer(WebhookDeliveries::WebhookId))
                    .col(big_integer(WebhookDeliveries::Sequence))
                    .col(text(WebhookDeliveries::Kind))
                    .col(integer(WebhookDeliveries::Attempt))
                    .col(boolean(WebhookDeliveries::Redelivery))
                    .col(text(WebhookDeliveries::Status))
                    .col(integer_null(WebhookDeliveries::StatusCode))
                    .col(big_integer(WebhookDeliveries::DurationMs))
                    .col(text_null(WebhookDeliveries::Error))
                    .col(text_null(WebhookDeliveries::ResponseBody))
                    .col(timestamp_with_time_zone(WebhookDeliveries::AttemptedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_webhook")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::WebhookId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookRequeues::Table)
                    .col(big_integer(WebhookRequeues::WebhookId))
                    .col(big_integer(WebhookRequeues::Sequence))
                    .col(timestamp_with_time_zone(WebhookRequeues::RequestedAt))
                    .primary_key(
                        Index::create()
                            .col(WebhookRequeues::WebhookId)
                            .col(WebhookRequeues::Sequence),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookRequeues::Table, WebhookRequeues::WebhookId)
                            .to(Webhooks::Table, Webhooks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookRequeues::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            Webhooks::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    ProgramId,
    Url,
    Kinds,
    Description,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    Enabled,
    DisabledReason,
    DisabledAt,
    CreatedAt,
    CreatedById,
    LastSequence,
    Failures,
    NextAttemptAt,
    FailingSince,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    WebhookId,
    Sequence,
    Kind,
    Attempt,
    Redelivery,
    Status,
    StatusCode,
    DurationMs,
    Error,
    ResponseBody,
    AttemptedAt,
}

#[derive(DeriveIden)]
enum WebhookRequeues {
    Table,
    WebhookId,
    Sequence,
    RequestedAt,
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
}
