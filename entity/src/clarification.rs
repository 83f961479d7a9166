//! A question about a story (to its team's PO) or a feature (to the PM).

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clarifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    /// Exactly one of story_id and feature_id is set.
    pub story_id: Option<i64>,
    pub feature_id: Option<i64>,
    /// The story's team, for filters; None for a feature.
    pub team_id: Option<i64>,
    #[sea_orm(column_type = "Text")]
    pub question: String,
    /// None when the built-in admin asked.
    pub asker_id: Option<i64>,
    pub assignee_id: i64,
    /// OPEN, ANSWERED or RESOLVED.
    pub status: String,
    pub blocking: bool,
    pub asked_at: DateTimeUtc,
    /// The first answer's time.
    pub answered_at: Option<DateTimeUtc>,
    /// Who gave the first answer.
    pub answered_by_id: Option<i64>,
    pub resolved_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "program_id", to = "id")]
    pub program: BelongsTo<super::program::Entity>,
    #[sea_orm(has_many)]
    pub messages: HasMany<super::clarification_message::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
