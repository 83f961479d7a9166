//! The last event sequence number of a program; updating this row in the
//! writing transaction makes sequences gap-free and in commit order.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_counters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub program_id: i64,
    pub last_sequence: i64,
}

impl ActiveModelBehavior for ActiveModel {}
