//! A wait for one person's decision: open until the decision, kept after it.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "waits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    /// ANSWER, RESOLUTION, ACCEPTANCE, DECISION or BREAKDOWN.
    pub kind: String,
    /// Clarification, Story, Dependency or Feature.
    pub subject_type: String,
    pub subject_id: i64,
    /// The team whose PO decides (and, for a breakdown, the team allocated).
    pub team_id: Option<i64>,
    /// Who it waits on now (or waited on when it ended).
    pub owner_id: i64,
    /// An answer waited for again after a reopening (not a first answer).
    pub again: bool,
    pub started_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    /// How it ended, e.g. ANSWERED, ACCEPTED, REJECTED, COMMITTED.
    pub outcome: Option<String>,
}

impl ActiveModelBehavior for ActiveModel {}
