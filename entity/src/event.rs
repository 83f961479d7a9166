//! One entry of a program's append-only event log.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    /// Gap-free and increasing per program, in commit order.
    pub sequence: i64,
    pub kind: String,
    /// The GraphQL type of the subject (Story, Dependency, ...).
    pub subject_type: String,
    pub subject_id: i64,
    /// The teams involved, as ",1,2," (empty: ",").
    pub team_ids: String,
    /// None for the built-in admin.
    pub actor_id: Option<i64>,
    pub at: DateTimeUtc,
    /// JSON: what changed.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
}

impl ActiveModelBehavior for ActiveModel {}
