//! A feature allocated to a team by the PM: the team is to break it down.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "feature_allocations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub feature_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: i64,
    /// What the PM says of it to the team; may be empty.
    pub note: String,
    pub allocated_at: DateTimeUtc,
    /// Who allocated it; null for the built-in admin.
    pub allocated_by_id: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
