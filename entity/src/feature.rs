//! A feature in a program backlog.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "features")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// FUNNEL, ANALYZING, BACKLOG, IMPLEMENTING or DONE.
    pub state: String,
    pub business_value: Option<i32>,
    pub time_criticality: Option<i32>,
    pub risk_reduction: Option<i32>,
    pub job_size: Option<i32>,
    /// Derived from the four WSJF inputs when all are set, for ordering.
    pub wsjf_score: Option<f64>,
    pub target_increment_id: Option<i64>,
    /// The PM's order: byte order of the key (see the app's `ranking::key`).
    pub rank_key: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The key of the item it was imported from (a Jira issue key).
    pub external_key: Option<String>,
    #[sea_orm(belongs_to, from = "program_id", to = "id")]
    pub program: BelongsTo<super::program::Entity>,
    #[sea_orm(belongs_to, from = "target_increment_id", to = "id")]
    pub target_increment: BelongsTo<Option<super::increment::Entity>>,
}

impl ActiveModelBehavior for ActiveModel {}
