//! A bearer token, stored only as the SHA-256 hash of its text.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// Hex SHA-256 of the token text.
    #[sea_orm(unique)]
    pub token_hash: String,
    pub created_at: DateTimeUtc,
    /// What the owner calls it ("CI", "laptop"); may be empty.
    pub label: String,
    /// When it last authenticated a request, to within a few minutes.
    pub last_used_at: Option<DateTimeUtc>,
    /// When it stops working; never when null.
    pub expires_at: Option<DateTimeUtc>,
    /// A board token's one program, which it may only read and subscribe
    /// to; null for a person's token. `user_id` is then who owns it (may
    /// list and revoke it), not who it acts as.
    pub program_id: Option<i64>,
    #[sea_orm(belongs_to, from = "user_id", to = "id")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
