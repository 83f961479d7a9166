//! One attempt to deliver one event to one webhook endpoint.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub webhook_id: i64,
    /// The event's sequence in its program's log.
    pub sequence: i64,
    /// The event's kind, as stored.
    pub kind: String,
    /// 1 for the first attempt at this event, counting on with each retry.
    pub attempt: i32,
    /// Sent again on request (`redeliverWebhookEvent`).
    pub redelivery: bool,
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    /// The receiver's HTTP status; null when no response came.
    pub status_code: Option<i32>,
    pub duration_ms: i64,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The start of the response body (at most 1 KiB).
    pub response_body: Option<String>,
    pub attempted_at: DateTimeUtc,
}

impl ActiveModelBehavior for ActiveModel {}
