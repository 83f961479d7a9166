//! Webhook endpoints and their delivery log in storage.

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use entity::{webhook, webhook_delivery, webhook_requeue};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::OnConflict,
};

use crate::{
    error::{AppError, AppResult},
    events::{kind::EventKind, log},
    page::Page,
};

/// Bytes of a signing secret (the spec asks for 24 to 64).
const SECRET_BYTES: usize = 32;

/// A new signing secret, `whsec_<base64>`.
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The stored form of the kinds an endpoint receives (empty: every kind).
pub fn kinds_text(kinds: &[EventKind]) -> String {
    if kinds.is_empty() {
        return String::new();
    }
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    format!(",{},", names.join(","))
}

/// The kinds an endpoint receives; empty for every kind.
pub fn kinds_of(row: &webhook::Model) -> Vec<EventKind> {
    row.kinds
        .split(',')
        .filter(|k| !k.is_empty())
        .filter_map(|k| EventKind::parse(k).ok())
        .collect()
}

/// What a new endpoint is made of.
pub struct NewWebhook {
    pub program_id: i64,
    pub url: String,
    pub kinds: Vec<EventKind>,
    pub description: String,
    pub created_by: Option<i64>,
}

/// Stores a new endpoint; it receives the events recorded from now on.
pub async fn create(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    new: NewWebhook,
) -> AppResult<webhook::Model> {
    let head = log::head(conn, new.program_id).await?;
    Ok(webhook::ActiveModel {
        program_id: Set(new.program_id),
        url: Set(new.url),
        kinds: Set(kinds_text(&new.kinds)),
        description: Set(new.description),
        secret: Set(new_secret()),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        enabled: Set(true),
        disabled_reason: Set(None),
        disabled_at: Set(None),
        created_at: Set(now),
        created_by_id: Set(new.created_by),
        last_sequence: Set(head),
        failures: Set(0),
        next_attempt_at: Set(None),
        failing_since: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// The endpoints of a program, oldest first.
pub async fn of_program(
    conn: &impl ConnectionTrait,
    program_id: i64,
) -> AppResult<Vec<webhook::Model>> {
    Ok(webhook::Entity::find()
        .filter(webhook::Column::ProgramId.eq(program_id))
        .order_by_asc(webhook::Column::Id)
        .all(conn)
        .await?)
}

/// One endpoint.
pub async fn find(conn: &impl ConnectionTrait, id: i64) -> AppResult<Option<webhook::Model>> {
    Ok(webhook::Entity::find_by_id(id).one(conn).await?)
}

/// Saves changed fields of an endpoint.
pub async fn save(
    conn: &impl ConnectionTrait,
    row: webhook::ActiveModel,
) -> AppResult<webhook::Model> {
    Ok(row.update(conn).await?)
}

/// Removes an endpoint with its delivery log and queue.
pub async fn delete(conn: &impl ConnectionTrait, id: i64) -> AppResult<()> {
    webhook_requeue::Entity::delete_many()
        .filter(webhook_requeue::Column::WebhookId.eq(id))
        .exec(conn)
        .await?;
    webhook_delivery::Entity::delete_many()
        .filter(webhook_delivery::Column::WebhookId.eq(id))
        .exec(conn)
        .await?;
    webhook::Entity::delete_by_id(id).exec(conn).await?;
    Ok(())
}

/// Queues one event to be sent again (once, however often asked).
pub async fn requeue(
    conn: &impl ConnectionTrait,
    webhook_id: i64,
    sequence: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    webhook_requeue::Entity::insert(webhook_requeue::ActiveModel {
        webhook_id: Set(webhook_id),
        sequence: Set(sequence),
        requested_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([
            webhook_requeue::Column::WebhookId,
            webhook_requeue::Column::Sequence,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// Events queued to be sent again, first asked first.
pub async fn requeued(
    conn: &impl ConnectionTrait,
    webhook_id: i64,
) -> AppResult<Option<webhook_requeue::Model>> {
    Ok(webhook_requeue::Entity::find()
        .filter(webhook_requeue::Column::WebhookId.eq(webhook_id))
        .order_by_asc(webhook_requeue::Column::RequestedAt)
        .order_by_asc(webhook_requeue::Column::Sequence)
        .one(conn)
        .await?)
}

/// Whether a delivery attempt succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(stored: &str) -> AppResult<Self> {
        match stored {
            "SUCCEEDED" => Ok(Self::Succeeded),
            "FAILED" => Ok(Self::Failed),
            other => Err(AppError::Internal(
                format!("unknown delivery status {other:?}").into(),
            )),
        }
    }
}

/// One page of an endpoint's delivery log, newest first, and how many
/// attempts match in all.
pub async fn deliveries(
    conn: &impl ConnectionTrait,
    webhook_id: i64,
    status: Option<Status>,
    page: &Page,
) -> AppResult<(Vec<webhook_delivery::Model>, u64)> {
    let mut query =
        webhook_delivery::Entity::find().filter(webhook_delivery::Column::WebhookId.eq(webhook_id));
    if let Some(status) = status {
        query = query.filter(webhook_delivery::Column::Status.eq(status.as_str()));
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = page.after {
        query = query.filter(webhook_delivery::Column::Id.lt(after));
    }
    let rows = query
        .order_by_desc(webhook_delivery::Column::Id)
        .limit(page.fetch())
        .all(conn)
        .await?;
    Ok((rows, total))
}
