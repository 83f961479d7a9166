//! A program (agile release train): one Product Manager, several teams.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "programs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub vision: String,
    pub product_manager_id: i64,
    pub created_at: DateTimeUtc,
    #[sea_orm(belongs_to, from = "product_manager_id", to = "id")]
    pub product_manager: BelongsTo<super::user::Entity>,
    #[sea_orm(has_many)]
    pub teams: HasMany<super::team::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
