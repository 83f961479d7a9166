//! An iteration of a Program Increment, numbered from 1.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "iterations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub increment_id: i64,
    pub number: i32,
    pub start_date: Date,
    /// Inclusive.
    pub end_date: Date,
    #[sea_orm(belongs_to, from = "increment_id", to = "id")]
    pub increment: BelongsTo<super::increment::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
