//! A story in a team backlog.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stories")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub team_id: i64,
    /// None for enablers.
    pub feature_id: Option<i64>,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    #[sea_orm(column_type = "Text")]
    pub acceptance_criteria: String,
    pub points: Option<i32>,
    /// DRAFT, READY, IN_PROGRESS, DONE or ACCEPTED.
    pub state: String,
    pub iteration_id: Option<i64>,
    /// The PO's order: byte order of the key (see the app's `ranking::key`).
    pub rank_key: String,
    /// Why the PO last rejected it.
    #[sea_orm(column_type = "Text", nullable)]
    pub rejection_reason: Option<String>,
    /// When it first became READY (start of cycle time).
    pub ready_at: Option<DateTimeUtc>,
    /// When the PO accepted it.
    pub accepted_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The key of the item it was imported from (a Jira issue key).
    pub external_key: Option<String>,
    #[sea_orm(belongs_to, from = "team_id", to = "id")]
    pub team: BelongsTo<super::team::Entity>,
    #[sea_orm(belongs_to, from = "feature_id", to = "id")]
    pub feature: BelongsTo<Option<super::feature::Entity>>,
    #[sea_orm(belongs_to, from = "iteration_id", to = "id")]
    pub iteration: BelongsTo<Option<super::iteration::Entity>>,
}

impl ActiveModelBehavior for ActiveModel {}
