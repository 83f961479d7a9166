//! A Program Increment: consecutive, equal-length iterations.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "increments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    /// Unique within the program.
    pub name: String,
    pub start_date: Date,
    /// The last day of the last iteration (inclusive).
    pub end_date: Date,
    pub iteration_count: i32,
    pub iteration_length_days: i32,
    pub created_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "program_id", to = "id")]
    pub program: BelongsTo<super::program::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
