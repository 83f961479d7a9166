//! A team's PI objective, committed or stretch, with its business value.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "objectives")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub team_id: i64,
    pub increment_id: i64,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// 1 to 10.
    pub planned_value: i32,
    /// 0 to 10, once the PM scores it.
    pub actual_value: Option<i32>,
    pub committed: bool,
    pub created_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "team_id", to = "id")]
    pub team: BelongsTo<super::team::Entity>,
    #[sea_orm(belongs_to, from = "increment_id", to = "id")]
    pub increment: BelongsTo<super::increment::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
