//! Clarifications and their messages.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clarifications::Table)
                    .col(big_pk_auto(Clarifications::Id))
                    .col(big_integer(Clarifications::ProgramId))
                    .col(big_integer_null(Clarifications::StoryId))
                    .col(big_integer_null(Clarifications::FeatureId))
                    .col(big_integer_null(Clarifications::TeamId))
                    .col(text(Clarifications::Question))
                    .col(big_integer_null(Clarifications::AskerId))
                    .col(big_integer(Clarifications::AssigneeId))
                    .col(string(Clarifications::Status))
                    .col(boolean(Clarifications::Blocking))
                    .col(timestamp_with_time_zone(Clarifications::AskedAt))
                    .col(timestamp_with_time_zone_null(Clarifications::AnsweredAt))
                    .col(big_integer_null(Clarifications::AnsweredById))
                    .col(timestamp_with_time_zone_null(Clarifications::ResolvedAt))
                    .col(timestamp_with_time_zone(Clarifications::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Clarifications::Table, Clarifications::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Clarifications::Table, Clarifications::StoryId)
                            .to(Stories::Table, Stories::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Clarifications::Table, Clarifications::FeatureId)
                            .to(Features::Table, Features::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Clarifications::Table, Clarifications::AssigneeId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "clarifications_program",
                vec![Clarifications::ProgramId, Clarifications::Status],
            ),
            ("clarifications_story", vec![Clarifications::StoryId]),
            ("clarifications_feature", vec![Clarifications::FeatureId]),
            ("clarifications_team", vec![Clarifications::TeamId]),
            (
                "clarifications_assignee",
                vec![Clarifications::AssigneeId, Clarifications::Status],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Clarifications::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ClarificationMessages::Table)
                    .col(big_pk_auto(ClarificationMessages::Id))
                    .col(big_integer(ClarificationMessages::ClarificationId))
                    .col(string(ClarificationMessages::Kind))
                    .col(text(ClarificationMessages::Body))
                    .col(big_integer_null(ClarificationMessages::AuthorId))
                    .col(timestamp_with_time_zone(ClarificationMessages::At))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ClarificationMessages::Table,
                                ClarificationMessages::ClarificationId,
                            )
                            .to(Clarifications::Table, Clarifications::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("clarification_messages_clarification")
                    .table(ClarificationMessages::Table)
                    .col(ClarificationMessages::ClarificationId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ClarificationMessages::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Clarifications::Table).to_owned())
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
enum Features {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden, Clone, Copy)]
enum Clarifications {
    Table,
    Id,
    ProgramId,
    StoryId,
    FeatureId,
    TeamId,
    Question,
    AskerId,
    AssigneeId,
    Status,
    Blocking,
    AskedAt,
    AnsweredAt,
    AnsweredById,
    ResolvedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ClarificationMessages {
    Table,
    Id,
    ClarificationId,
    Kind,
    Body,
    AuthorId,
    At,
}
