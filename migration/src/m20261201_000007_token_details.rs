//! Tokens get a label, when they were last used, and an optional expiry.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            string(Tokens::Label).default("").to_owned(),
            timestamp_with_time_zone_null(Tokens::LastUsedAt),
            timestamp_with_time_zone_null(Tokens::ExpiresAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tokens::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Tokens::Label, Tokens::LastUsedAt, Tokens::ExpiresAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tokens::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Label,
    LastUsedAt,
    ExpiresAt,
}
