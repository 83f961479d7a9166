//! The `Webhook` type, `Program.webhooks`, and the webhook mutations.

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{program, webhook, webhook_delivery};

use super::{
    deliver::DeliveryWake,
    guard::{self, Allow},
    service::{self, Status},
    usecase::{self, WebhookChanges},
};
use crate::{
    auth::policy,
    error::{AppError, AppResult},
    events::{graphql::EventKind, kind},
    graphql::{
        self as gql,
        id::{self, Kind, encode},
        loaders::{ProgramById, UserById},
        pagination::{KeyedConnection, Page, connection},
    },
    ids::WebhookId,
    program::graphql::Program,
    user::graphql::User,
};

/// Wraps the stored row; see the `#[Object]` impl for the API.
#[derive(Clone)]
pub struct Webhook(pub webhook::Model);

/// An outbound webhook endpoint of a program: each event of its kinds is
/// POSTed to its URL as JSON `{type, timestamp, data}`, signed as the
/// Standard Webhooks spec says (`webhook-id`, `webhook-timestamp`,
/// `webhook-signature`), in the order of the program's log, one at a time.
/// Seen by the program's PM and admins only.
#[Object]
impl Webhook {
    /// Opaque global ID.
    pub async fn id(&self) -> ID {
        encode(Kind::Webhook, self.0.id)
    }

    /// The program whose events it receives.
    async fn program(&self, ctx: &Context<'_>) -> Result<Program> {
        Ok(Program(
            gql::load_required(ctx, ProgramById(self.0.program_id)).await?,
        ))
    }

    /// Where the events are POSTed.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// The kinds of events it receives; empty for every kind.
    async fn kinds(&self) -> Vec<EventKind> {
        service::kinds_of(&self.0)
            .into_iter()
            .map(EventKind::from)
            .collect()
    }

    /// What it is for.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Whether events are being sent. A disabled endpoint keeps its place
    /// in the log: enabling it (`updateWebhook`) sends what it missed.
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// Why it was disabled: a 410 Gone, three days of failures, or by hand.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }

    /// When it was disabled.
    async fn disabled_at(&self) -> Option<DateTime<Utc>> {
        self.0.disabled_at
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Who created it; null for the built-in admin.
    async fn created_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match self.0.created_by_id {
            Some(id) => Ok(gql::load_one(ctx, UserById(id)).await?.map(User)),
            None => Ok(None),
        }
    }

    /// The sequence of the last event of the program's log it is done with
    /// (delivered, or not of its kinds). It starts at the program's last
    /// event when the endpoint is created.
    async fn last_sequence(&self) -> i64 {
        self.0.last_sequence
    }

    /// Failed attempts in a row at the next event; 0 when all is well.
    async fn failures(&self) -> i32 {
        self.0.failures
    }

    /// Since when every attempt has failed; null when all is well. After 72
    /// hours of failures the endpoint is disabled.
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }

    /// When the next event is tried again, after a failure: 5 s, 5 min,
    /// 30 min, 2 h, 5 h, 10 h, then every 24 h, each give or take 10%, and
    /// never before the receiver's `Retry-After`.
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.next_attempt_at
    }

    /// Until when the secret before the last rotation still signs too.
    async fn previous_secret_expires_at(&self, ctx: &Context<'_>) -> Result<Option<DateTime<Utc>>> {
        let now = gql::now(ctx)?;
        Ok(self.0.previous_secret_until.filter(|at| *at > now))
    }

    /// The delivery log: every attempt, newest first, for the days the
    /// setting `PORTFOLIO_WEBHOOK_LOG_DAYS` keeps them (7 by default).
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only attempts that ended so.")] status: Option<DeliveryStatus>,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Return attempts after this cursor (older ones).")] after: Option<String>,
    ) -> Result<KeyedConnection<WebhookDelivery>> {
        gql::uncacheable(ctx);
        let page = Page::new(gql::page_limits(ctx)?, first, after.as_deref())?;
        let (rows, total) = service::deliveries(
            gql::store(ctx)?.conn(),
            self.0.id,
            status.map(Status::from),
            &page,
        )
        .await?;
        let program_id = self.0.program_id;
        Ok(connection(
            &page,
            rows,
            total,
            |d| d.id,
            |d| WebhookDelivery(d, program_id),
        ))
    }
}

/// How a delivery attempt ended.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeliveryStatus {
    /// The receiver answered 2xx.
    Succeeded,
    /// Anything else: no answer, a timeout, a 3xx, 4xx or 5xx.
    Failed,
}

impl From<DeliveryStatus> for Status {
    fn from(value: DeliveryStatus) -> Self {
        match value {
            DeliveryStatus::Succeeded => Status::Succeeded,
            DeliveryStatus::Failed => Status::Failed,
        }
    }
}

/// One attempt to deliver one event, and the program of its endpoint.
pub struct WebhookDelivery(pub webhook_delivery::Model, pub i64);

#[Object]
impl WebhookDelivery {
    /// The event's sequence in the program's log.
    async fn sequence(&self) -> i64 {
        self.0.sequence
    }

    /// The event's kind.
    async fn event_kind(&self) -> Result<EventKind> {
        Ok(kind::EventKind::parse(&self.0.kind)?.into())
    }

    /// The `webhook-id` sent: the same for every attempt at one event.
    async fn message_id(&self) -> String {
        super::deliver::message_id(self.1, self.0.sequence)
    }

    /// 1 for the first attempt, counting on while attempts fail in a row.
    async fn attempt(&self) -> i32 {
        self.0.attempt
    }

    /// Sent again on request (`redeliverWebhookEvent`).
    async fn redelivery(&self) -> bool {
        self.0.redelivery
    }

    /// How it ended.
    async fn status(&self) -> Result<DeliveryStatus> {
        Ok(match Status::parse(&self.0.status)? {
            Status::Succeeded => DeliveryStatus::Succeeded,
            Status::Failed => DeliveryStatus::Failed,
        })
    }

    /// The receiver's HTTP status; null when none came.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }

    /// How long the attempt took, in milliseconds.
    async fn duration_ms(&self) -> i64 {
        self.0.duration_ms
    }

    /// Why it failed.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// The start of the receiver's answer (at most 1 KiB).
    async fn response_body(&self) -> Option<&str> {
        self.0.response_body.as_deref()
    }

    /// When it was made.
    async fn attempted_at(&self) -> DateTime<Utc> {
        self.0.attempted_at
    }
}

/// `Program.webhooks`: the PM's and admins' only; FORBIDDEN to others.
pub async fn program_webhooks(
    ctx: &Context<'_>,
    program: &program::Model,
) -> AppResult<Vec<Webhook>> {
    gql::uncacheable(ctx);
    if !policy::can_see_webhooks(gql::actor(ctx)?, program) {
        return Err(AppError::forbidden(policy::WEBHOOKS_HIDDEN));
    }
    let rows = service::of_program(gql::store(ctx)?.conn(), program.id).await?;
    Ok(rows.into_iter().map(Webhook).collect())
}

/// Input of `createWebhook`.
#[derive(InputObject)]
pub struct CreateWebhookInput {
    /// The program whose events it receives.
    pub program_id: ID,
    /// Where to POST: https, on a public address (see the settings
    /// `PORTFOLIO_WEBHOOK_ALLOW_HTTP` and `PORTFOLIO_WEBHOOK_ALLOW_PRIVATE`).
    pub url: String,
    /// The kinds of events to send; empty or omitted for every kind.
    #[graphql(default)]
    pub kinds: Vec<EventKind>,
    /// What it is for, up to 1,000 characters.
    #[graphql(default)]
    pub description: String,
}

/// Result of `createWebhook`.
#[derive(SimpleObject)]
pub struct CreateWebhookPayload {
    /// The endpoint.
    pub webhook: Webhook,
    /// The signing secret, `whsec_<base64>`, shown only this once: verify
    /// each request's `webhook-signature` with it.
    pub secret: String,
}

/// Input of `updateWebhook`: an omitted (or null) field stays as it is.
#[derive(InputObject)]
pub struct UpdateWebhookInput {
    /// The endpoint.
    pub webhook_id: ID,
    /// A new URL, checked as at creation.
    pub url: Option<String>,
    /// The kinds to send from now on; empty for every kind.
    pub kinds: Option<Vec<EventKind>>,
    /// A new description.
    pub description: Option<String>,
    /// false stops sending; true starts again where it stopped, with no
    /// failures counted.
    pub enabled: Option<bool>,
}

/// Result of the mutations that change an endpoint.
#[derive(SimpleObject)]
pub struct WebhookPayload {
    /// The endpoint as it now is.
    pub webhook: Webhook,
}

/// Input of `deleteWebhook`.
#[derive(InputObject)]
pub struct DeleteWebhookInput {
    /// The endpoint.
    pub webhook_id: ID,
}

/// Input of `rotateWebhookSecret`.
#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    /// The endpoint.
    pub webhook_id: ID,
}

/// Result of `deleteWebhook`.
#[derive(SimpleObject)]
pub struct DeleteWebhookPayload {
    /// The ID of the deleted endpoint.
    pub deleted_webhook_id: ID,
}

/// Result of `rotateWebhookSecret`.
#[derive(SimpleObject)]
pub struct RotateWebhookSecretPayload {
    /// The endpoint.
    pub webhook: Webhook,
    /// The new secret, shown only this once. For 24 hours both secrets
    /// sign each request (two signatures in `webhook-signature`).
    pub secret: String,
}

/// Input of `redeliverWebhookEvent`.
#[derive(InputObject)]
pub struct RedeliverWebhookEventInput {
    /// The endpoint.
    pub webhook_id: ID,
    /// The event's sequence in the program's log (`Event.sequence`).
    pub sequence: i64,
}

/// Input of `replayWebhook`.
#[derive(InputObject)]
pub struct ReplayWebhookInput {
    /// The endpoint.
    pub webhook_id: ID,
    /// Send every event after this sequence again (0: the whole log), up to
    /// the endpoint's `lastSequence`.
    pub after_sequence: i64,
}

fn allow(ctx: &Context<'_>) -> Allow {
    ctx.data::<Allow>().copied().unwrap_or_default()
}

fn wake(ctx: &Context<'_>) {
    if let Ok(wake) = ctx.data::<DeliveryWake>() {
        wake.wake();
    }
}

fn kinds(list: Vec<EventKind>) -> Vec<kind::EventKind> {
    gql::enum_set(Some(list)).unwrap_or_default()
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Creates a webhook endpoint of a program (its PM or an admin). It
    /// receives the events recorded from now on; `replayWebhook` sends
    /// earlier ones. The payload holds its secret, shown only this once.
    async fn create_webhook(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookInput,
    ) -> Result<CreateWebhookPayload> {
        let program_id = id::typed("programId", &input.program_id)?;
        // Who asks comes first: an anonymous caller makes no DNS lookups.
        gql::actor(ctx)?;
        let url = guard::check(&input.url, allow(ctx)).await?;
        let kinds = kinds(input.kinds);
        let row = gql::perform(ctx, |w| {
            Box::pin(usecase::create_webhook(
                w,
                program_id,
                url.clone(),
                kinds.clone(),
                input.description.clone(),
            ))
        })
        .await?;
        wake(ctx);
        Ok(CreateWebhookPayload {
            secret: row.secret.clone(),
            webhook: Webhook(row),
        })
    }

    /// Changes a webhook endpoint (the program's PM or an admin).
    async fn update_webhook(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookInput,
    ) -> Result<WebhookPayload> {
        let webhook_id: WebhookId = id::typed("webhookId", &input.webhook_id)?;
        gql::actor(ctx)?;
        let url = match &input.url {
            Some(text) => Some(guard::check(text, allow(ctx)).await?),
            None => None,
        };
        let changes = WebhookChanges {
            url,
            kinds: input.kinds.map(kinds),
            description: input.description,
            enabled: input.enabled,
        };
        let row = gql::perform(ctx, |w| {
            Box::pin(usecase::update_webhook(w, webhook_id, changes.clone()))
        })
        .await?;
        wake(ctx);
        Ok(WebhookPayload {
            webhook: Webhook(row),
        })
    }

    /// Deletes a webhook endpoint and its delivery log (the program's PM or
    /// an admin). An attempt under way finishes, and is not recorded.
    async fn delete_webhook(
        &self,
        ctx: &Context<'_>,
        input: DeleteWebhookInput,
    ) -> Result<DeleteWebhookPayload> {
        let webhook_id: WebhookId = id::typed("webhookId", &input.webhook_id)?;
        gql::perform(ctx, |w| Box::pin(usecase::delete_webhook(w, webhook_id))).await?;
        Ok(DeleteWebhookPayload {
            deleted_webhook_id: id::of(webhook_id),
        })
    }

    /// Gives a webhook endpoint a new secret (the program's PM or an
    /// admin). The old one keeps signing beside it for 24 hours, so the
    /// receiver can switch without losing a request.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        input: RotateWebhookSecretInput,
    ) -> Result<RotateWebhookSecretPayload> {
        let webhook_id: WebhookId = id::typed("webhookId", &input.webhook_id)?;
        let (row, secret) = gql::perform(ctx, |w| {
            Box::pin(usecase::rotate_webhook_secret(w, webhook_id))
        })
        .await?;
        Ok(RotateWebhookSecretPayload {
            webhook: Webhook(row),
            secret,
        })
    }

    /// Sends one event of the program's log to the endpoint again, before
    /// anything it has not had yet (the program's PM or an admin). Its
    /// `webhook-id` is the one the event always has.
    async fn redeliver_webhook_event(
        &self,
        ctx: &Context<'_>,
        input: RedeliverWebhookEventInput,
    ) -> Result<WebhookPayload> {
        let webhook_id: WebhookId = id::typed("webhookId", &input.webhook_id)?;
        let sequence = input.sequence;
        let row = gql::perform(ctx, |w| {
            Box::pin(usecase::redeliver_webhook_event(w, webhook_id, sequence))
        })
        .await?;
        wake(ctx);
        Ok(WebhookPayload {
            webhook: Webhook(row),
        })
    }

    /// Sends every event after a sequence again, in order (the program's PM
    /// or an admin): for a receiver that lost its data.
    async fn replay_webhook(
        &self,
        ctx: &Context<'_>,
        input: ReplayWebhookInput,
    ) -> Result<WebhookPayload> {
        let webhook_id: WebhookId = id::typed("webhookId", &input.webhook_id)?;
        let after = input.after_sequence;
        let row = gql::perform(ctx, |w| {
            Box::pin(usecase::replay_webhook(w, webhook_id, after))
        })
        .await?;
        wake(ctx);
        Ok(WebhookPayload {
            webhook: Webhook(row),
        })
    }
}
