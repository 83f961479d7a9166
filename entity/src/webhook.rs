//! An outbound webhook endpoint of a program, and where it is in the
//! program's event log.

use sea_orm::entity::prelude::*;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    pub url: String,
    /// The event kinds sent, as `,KIND,KIND,`; empty for every kind.
    pub kinds: String,
    pub description: String,
    /// The signing secret, `whsec_<base64>`.
    pub secret: String,
    /// During a rotation: the secret that signs beside the new one until
    /// `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTimeUtc>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Null for the built-in admin.
    pub created_by_id: Option<i64>,
    /// The last event of the program this endpoint is done with (delivered,
    /// or not of its kinds).
    pub last_sequence: i64,
    /// Failed attempts in a row at the next event.
    pub failures: i32,
    /// When the next event may be tried again; null when it may be tried now.
    pub next_attempt_at: Option<DateTimeUtc>,
    /// When the failures in a row began.
    pub failing_since: Option<DateTimeUtc>,
}

impl ActiveModelBehavior for ActiveModel {}
