//! Dependencies keep their risk, as the write path last assessed it: reads
//! filter and show it without re-deriving it from both stories' iterations.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time. The server
        // fills them in at start (`dependency::service::store_all_risks`).
        for column in [
            boolean(Dependencies::AtRisk).default(false).to_owned(),
            string(Dependencies::RiskReasons).default("").to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Dependencies::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("dependencies_program_risk")
                    .table(Dependencies::Table)
                    .col(Dependencies::ProgramId)
                    .col(Dependencies::AtRisk)
                    .col(Dependencies::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("dependencies_program_risk")
                    .table(Dependencies::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Dependencies::AtRisk, Dependencies::RiskReasons] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Dependencies::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Dependencies {
    Table,
    Id,
    ProgramId,
    AtRisk,
    RiskReasons,
}
