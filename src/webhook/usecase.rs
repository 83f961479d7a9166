//! The changes to webhook endpoints, by the program's PM or an admin. They
//! change no program data, so they record no event in the program's log
//! (which every member reads); `Program.webhooks` is never cached instead.

use chrono::{DateTime, Duration, Utc};
use entity::webhook;
use sea_orm::{ActiveValue::Set, IntoActiveModel};

use super::{
    guard::CheckedUrl,
    service::{self, NewWebhook},
};
use crate::{
    auth::policy::Action,
    error::{AppError, AppResult},
    events::{kind::EventKind, log},
    ids::{ProgramId, WebhookId},
    text,
    work::Work,
};

/// How long the old secret signs beside the new one after a rotation.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;

/// Longest description.
const DESCRIPTION_MAX: usize = 1000;

fn description(value: &str) -> AppResult<String> {
    let text = text::long_text("description", value)?;
    if text.chars().count() > DESCRIPTION_MAX {
        return Err(AppError::bad_input(format!(
            "description must be at most {DESCRIPTION_MAX} characters"
        )));
    }
    Ok(text)
}

/// Creates an endpoint of a program; it receives the events recorded from
/// now on. Answers the endpoint (whose secret is shown only this once).
pub async fn create_webhook(
    work: &mut Work,
    program: ProgramId,
    url: CheckedUrl,
    kinds: Vec<EventKind>,
    text: String,
) -> AppResult<webhook::Model> {
    let program = work.program(program).await?;
    work.require(Action::ManageProgram(&program, "manage webhooks"))
        .await?;
    let created = service::create(
        work.conn(),
        work.now(),
        NewWebhook {
            program_id: program.id,
            url: url.0,
            kinds,
            description: description(&text)?,
            created_by: work.actor().user_id(),
        },
    )
    .await?;
    work.outside_program_log();
    Ok(created)
}

/// What `updateWebhook` changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct WebhookChanges {
    pub url: Option<CheckedUrl>,
    pub kinds: Option<Vec<EventKind>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// Changes an endpoint. Enabling a disabled one starts it afresh at the
/// event it stopped at, with no failures counted.
pub async fn update_webhook(
    work: &mut Work,
    id: WebhookId,
    changes: WebhookChanges,
) -> AppResult<webhook::Model> {
    let (row, program) = work.webhook(id).await?;
    work.require(Action::ManageProgram(&program, "manage webhooks"))
        .await?;
    let was_enabled = row.enabled;
    let mut active = row.into_active_model();
    if let Some(url) = changes.url {
        active.url = Set(url.0);
    }
    if let Some(kinds) = changes.kinds {
        active.kinds = Set(service::kinds_text(&kinds));
    }
    if let Some(text) = changes.description {
        active.description = Set(description(&text)?);
    }
    match changes.enabled {
        Some(true) if !was_enabled => {
            active.enabled = Set(true);
            active.disabled_reason = Set(None);
            active.disabled_at = Set(None);
            restart(&mut active);
        }
        Some(false) if was_enabled => {
            active.enabled = Set(false);
            active.disabled_reason = Set(Some("disabled by hand".into()));
            active.disabled_at = Set(Some(work.now()));
        }
        _ => {}
    }
    let saved = service::save(work.conn(), active).await?;
    work.outside_program_log();
    Ok(saved)
}

/// Forgets the failures in a row: the next event is tried at once.
fn restart(active: &mut webhook::ActiveModel) {
    active.failures = Set(0);
    active.next_attempt_at = Set(None);
    active.failing_since = Set(None);
}

/// Deletes an endpoint with its delivery log; answers it as it was.
pub async fn delete_webhook(work: &mut Work, id: WebhookId) -> AppResult<webhook::Model> {
    let (row, program) = work.webhook(id).await?;
    work.require(Action::ManageProgram(&program, "manage webhooks"))
        .await?;
    service::delete(work.conn(), row.id).await?;
    work.outside_program_log();
    Ok(row)
}

/// Gives an endpoint a new secret; the old one keeps signing beside it for
/// 24 hours. Answers the endpoint and the new secret.
pub async fn rotate_webhook_secret(
    work: &mut Work,
    id: WebhookId,
) -> AppResult<(webhook::Model, String)> {
    let (row, program) = work.webhook(id).await?;
    work.require(Action::ManageProgram(&program, "manage webhooks"))
        .await?;
    let secret = service::new_secret();
    let until: DateTime<Utc> = work.now() + Duration::hours(ROTATION_OVERLAP_HOURS);
    let old = row.secret.clone();
    let mut active = row.into_active_model();
    active.previous_secret = Set(Some(old));
    active.previous_secret_until = Set(Some(until));
    active.secret = Set(secret.clone());
    let saved = service::save(work.conn(), active).await?;
    work.outside_program_log();
    Ok((saved, secret))
}

/// Checks that `sequence` names an event of the program's log.
async fn check_sequence(work: &Work, program_id: i64, field: &str, sequence: i64) -> AppResult<()> {
    let head = log::head(work.conn(), program_id).await?;
    if sequence < 1 || sequence > head {
        return Err(AppError::bad_input(format!(
            "{field} must be between 1 and the program's last event, {head} (got {sequence})"
        )));
    }
    Ok(())
}

/// Queues one event of the log to be sent to the endpoint again, before
/// the events it has not had yet (whatever its kinds).
pub async fn redeliver_webhook_event(
    work: &mut Work,
    id: WebhookId,
    sequence: i64,
) -> AppResult<webhook::Model> {
    let (row, program) = work.webhook(id).await?;
    work.require(Action::ManageProgram(&program, "manage webhooks"))
        .await?;
    check_sequence(work, program.id, "sequence", sequence).await?;
    service::requeue(work.conn(), row.id, sequence, work.now()).await?;
    let mut active = row.into_active_model();
    restart(&mut active);
    let saved = service::save(work.conn(), active).await?;
    work.outside_program_log();
    Ok(saved)
}

/// Sends every event after `after` again (of the endpoint's kinds), in
/// order, for a receiver that lost its data: moves the endpoint's cursor
/// back. `after` may be 0 (the whole log), and not beyond the cursor.
pub async fn replay_webhook(
    work: &mut Work,
    id: WebhookId,
    after: i64,
) -> AppResult<webhook::Model> {
    let (row, program) = work.webhook(id).await?;
    work.require(Action::ManageProgram(&program, "manage webhooks"))
        .await?;
    if after < 0 || after > row.last_sequence {
        return Err(AppError::bad_input(format!(
            "afterSequence must be between 0 and the last event the webhook is done with, {} (got {after})",
            row.last_sequence
        )));
    }
    let mut active = row.into_active_model();
    active.last_sequence = Set(after);
    restart(&mut active);
    let saved = service::save(work.conn(), active).await?;
    work.outside_program_log();
    Ok(saved)
}
