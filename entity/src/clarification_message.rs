//! One message of a clarification: the question, an answer, or a reopening.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "clarification_messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub clarification_id: i64,
    /// QUESTION, ANSWER or REOPEN.
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// None for the built-in admin.
    pub author_id: Option<i64>,
    pub at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "clarification_id", to = "id")]
    pub clarification: BelongsTo<super::clarification::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
