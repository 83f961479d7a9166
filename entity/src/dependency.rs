//! A dependency: the dependent story needs the provider story.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "dependencies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The program of both stories (for filtering).
    pub program_id: i64,
    pub dependent_story_id: i64,
    pub provider_story_id: i64,
    /// REQUESTED, COMMITTED, DECLINED or RESOLVED.
    pub state: String,
    /// The state before it became RESOLVED, restored if the provider story
    /// goes back to work.
    pub resolved_from: Option<String>,
    /// When the dependent team needs it; None means "by the dependent
    /// story's own iteration".
    pub needed_by_iteration_id: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub decline_reason: Option<String>,
    /// None when requested by the built-in admin.
    pub requested_by_id: Option<i64>,
    /// Whether it is at risk, as the write path last assessed it.
    pub at_risk: bool,
    /// Why, as comma-separated reason names; empty when not at risk.
    pub risk_reasons: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "program_id", to = "id")]
    pub program: BelongsTo<super::program::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
