//! Board tokens: a token may be bound to one program, which it can only read
//! and subscribe to (the wall screen's token). Null for a person's token.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .add_column(big_integer_null(Tokens::ProgramId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tokens::Table)
                    .drop_column(Tokens::ProgramId)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tokens {
    Table,
    ProgramId,
}
