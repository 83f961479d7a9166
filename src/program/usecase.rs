//! The program changes: create, and change the name, vision or PM.

use entity::program;

use super::service::{self, ProgramChange};
use crate::{
    auth::policy::Action,
    clarification::usecase::hand_over_program,
    error::AppResult,
    events::{
        kind::EventKind,
        log::{NewEvent, set_fields},
    },
    ids::{Kind, ProgramId, UserId},
    work::Work,
};

/// Creates a program with its Product Manager (admins).
pub async fn create_program(
    work: &mut Work,
    name: String,
    vision: String,
    product_manager: UserId,
) -> AppResult<program::Model> {
    work.require(Action::Administer("create programs")).await?;
    let program =
        service::create(work.conn(), work.now(), &name, &vision, product_manager.0).await?;
    let created = NewEvent::new(EventKind::ProgramCreated, (Kind::Program, program.id));
    work.record(program.id, created).await?;
    Ok(program)
}

/// Changes a program's name or vision (its PM), or its PM (admins); a new
/// PM takes over the open clarifications of the program's features.
pub async fn update_program(
    work: &mut Work,
    id: ProgramId,
    change: ProgramChange,
) -> AppResult<program::Model> {
    let program = work.program(id).await?;
    work.require(Action::ManageProgram(&program, "change the program"))
        .await?;
    if change.product_manager_id.is_some() {
        work.require(Action::Administer("assign a program's Product Manager"))
            .await?;
    }
    let new_pm = change
        .product_manager_id
        .filter(|pm| *pm != program.product_manager_id);
    let fields = set_fields(&[
        ("name", change.name.is_some()),
        ("vision", change.vision.is_some()),
        ("productManagerId", change.product_manager_id.is_some()),
    ]);
    let program = service::update(work.conn(), program, change).await?;
    let updated = NewEvent::new(EventKind::ProgramUpdated, (Kind::Program, program.id))
        .payload(serde_json::json!({ "fields": fields }));
    work.record(program.id, updated).await?;
    if let Some(pm) = new_pm {
        hand_over_program(work, program.id, pm).await?;
    }
    Ok(program)
}
