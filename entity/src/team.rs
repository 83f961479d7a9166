//! A team of a program: one Product Owner, members, one backlog.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "teams")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    /// Unique within the program.
    pub name: String,
    pub product_owner_id: i64,
    pub created_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "program_id", to = "id")]
    pub program: BelongsTo<super::program::Entity>,
    #[sea_orm(belongs_to, from = "product_owner_id", to = "id")]
    pub product_owner: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
