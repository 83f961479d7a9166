//! One person's confidence vote ("fist of five") for their team's plan of
//! an increment.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "confidence_votes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub increment_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub team_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: i64,
    /// 1 to 5.
    pub value: i32,
    pub voted_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
