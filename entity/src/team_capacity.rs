//! How many points a team plans to take on in one iteration.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "team_capacities")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub iteration_id: i64,
    /// 0 to 1,000.
    pub points: i32,
    pub set_at: DateTimeUtc,
    /// Who set it; null for the built-in admin.
    pub set_by_id: Option<i64>,
}

impl ActiveModelBehavior for ActiveModel {}
