//! What waits for whom: one row per wait for a person's decision (an
//! answer, an acceptance, a dependency decision, a breakdown), open until
//! the decision, kept afterwards for the figures. Filled from the current
//! state of earlier rows (see `up`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Waits::Table)
                    .col(pk_auto(Waits::Id).big_integer())
                    .col(big_integer(Waits::ProgramId))
                    .col(string(Waits::Kind))
                    .col(string(Waits::SubjectType))
                    .col(big_integer(Waits::SubjectId))
                    .col(big_integer_null(Waits::TeamId))
                    .col(big_integer(Waits::OwnerId))
                    .col(boolean(Waits::Again).default(false))
                    .col(timestamp_with_time_zone(Waits::StartedAt))
                    .col(timestamp_with_time_zone_null(Waits::EndedAt))
                    .col(string_null(Waits::Outcome))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Waits::Table, Waits::ProgramId)
                            .to(Programs::Table, Programs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Waits::Table, Waits::OwnerId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "waits_owner_open",
                vec![Waits::ProgramId, Waits::OwnerId, Waits::EndedAt],
            ),
            (
                "waits_subject",
                vec![Waits::SubjectType, Waits::SubjectId, Waits::EndedAt],
            ),
            ("waits_team", vec![Waits::TeamId, Waits::EndedAt]),
            (
                "waits_program_ended",
                vec![Waits::ProgramId, Waits::EndedAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Waits::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // Earlier rows. Open waits come from the current state: an open
        // question waits on its assignee since it was asked (or, when it was
        // answered before, since it last changed: its reopening); an answered
        // one waits on its asker since it last changed; a DONE story waits on
        // its team's PO since it last changed; a REQUESTED dependency on the
        // provider team's PO since it was requested; an allocation on the
        // team's PO while the team has no story under the feature. Finished
        // waits are known only for first answers (asked to answered); earlier
        // acceptances and dependency decisions have no start or end time
        // and are left out of the figures.
        let db = manager.get_connection();
        for sql in [
            "INSERT INTO waits (program_id, kind, subject_type, subject_id, team_id, owner_id, again, started_at, ended_at, outcome)
             SELECT program_id, 'ANSWER', 'Clarification', id, team_id, assignee_id,
                    answered_at IS NOT NULL,
                    CASE WHEN answered_at IS NULL THEN asked_at ELSE updated_at END, NULL, NULL
             FROM clarifications WHERE status = 'OPEN'",
            "INSERT INTO waits (program_id, kind, subject_type, subject_id, team_id, owner_id, again, started_at, ended_at, outcome)
             SELECT program_id, 'ANSWER', 'Clarification', id, team_id,
                    COALESCE(answered_by_id, assignee_id), FALSE, asked_at, answered_at, 'ANSWERED'
             FROM clarifications WHERE answered_at IS NOT NULL",
            "INSERT INTO waits (program_id, kind, subject_type, subject_id, team_id, owner_id, again, started_at, ended_at, outcome)
             SELECT program_id, 'RESOLUTION', 'Clarification', id, team_id, asker_id, FALSE, updated_at, NULL, NULL
             FROM clarifications WHERE status = 'ANSWERED' AND asker_id IS NOT NULL",
            "INSERT INTO waits (program_id, kind, subject_type, subject_id, team_id, owner_id, again, started_at, ended_at, outcome)
             SELECT t.program_id, 'ACCEPTANCE', 'Story', s.id, t.id, t.product_owner_id, FALSE, s.updated_at, NULL, NULL
             FROM stories s JOIN teams t ON t.id = s.team_id WHERE s.state = 'DONE'",
            "INSERT INTO waits (program_id, kind, subject_type, subject_id, team_id, owner_id, again, started_at, ended_at, outcome)
             SELECT d.program_id, 'DECISION', 'Dependency', d.id, t.id, t.product_owner_id, FALSE, d.created_at, NULL, NULL
             FROM dependencies d JOIN stories s ON s.id = d.provider_story_id JOIN teams t ON t.id = s.team_id
             WHERE d.state = 'REQUESTED'",
            "INSERT INTO waits (program_id, kind, subject_type, subject_id, team_id, owner_id, again, started_at, ended_at, outcome)
             SELECT t.program_id, 'BREAKDOWN', 'Feature', a.feature_id, t.id, t.product_owner_id, FALSE, a.allocated_at, NULL, NULL
             FROM feature_allocations a JOIN teams t ON t.id = a.team_id
             WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.feature_id = a.feature_id AND s.team_id = a.team_id)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Waits::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Waits {
    Table,
    Id,
    ProgramId,
    Kind,
    SubjectType,
    SubjectId,
    TeamId,
    OwnerId,
    Again,
    StartedAt,
    EndedAt,
    Outcome,
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
