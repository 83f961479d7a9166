//! Features and stories keep the key of the item they were imported from
//! (a Jira issue key such as "SHOP-42"), so a second import finds them and
//! updates them in place. Unique per program for features; a story's
//! program is its team's, so the importer keeps its keys unique, and the
//! index makes the lookup cheap.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Features::Table)
                    .add_column(string_null(Features::ExternalKey))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Stories::Table)
                    .add_column(string_null(Stories::ExternalKey))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("features_program_external_key")
                    .table(Features::Table)
                    .col(Features::ProgramId)
                    .col(Features::ExternalKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("stories_external_key")
                    .table(Stories::Table)
                    .col(Stories::ExternalKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("stories_external_key")
                    .table(Stories::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("features_program_external_key")
                    .table(Features::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Stories::Table)
                    .drop_column(Stories::ExternalKey)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Features::Table)
                    .drop_column(Features::ExternalKey)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Features {
    Table,
    ProgramId,
    ExternalKey,
}

#[derive(DeriveIden)]
enum Stories {
    Table,
    ExternalKey,
}
