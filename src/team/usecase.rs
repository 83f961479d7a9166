//! The team changes: create, rename or hand to a new PO, add and remove
//! members.

use entity::team;

use super::service::{self, TeamChange};
use crate::{
    auth::policy::{self, Action, Someone},
    clarification::usecase::hand_over_team,
    error::AppResult,
    events::{
        kind::EventKind,
        log::{NewEvent, set_fields},
    },
    ids::{Kind, ProgramId, TeamId, UserId, global},
    work::Work,
};

/// A change to a team; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct TeamEdit {
    pub name: Option<String>,
    /// The new PO, by ID (someone of the program) or by exact email.
    pub product_owner: Option<Someone>,
}

/// Creates a team in a program with its PO (the program's PM).
pub async fn create_team(
    work: &mut Work,
    program: ProgramId,
    name: String,
    product_owner: Someone,
) -> AppResult<team::Model> {
    let program = work.program(program).await?;
    work.require(Action::ManageProgram(&program, "create teams"))
        .await?;
    let po = policy::person(
        work.conn(),
        work.actor(),
        &program,
        "productOwnerId",
        &product_owner,
    )
    .await?;
    let team = service::create(work.conn(), work.now(), &program, &name, po.id).await?;
    let created = NewEvent::new(EventKind::TeamCreated, (Kind::Team, team.id)).teams([team.id]);
    work.record(program.id, created).await?;
    Ok(team)
}

/// Renames a team or hands it to a new PO (the program's PM), who takes
/// over the open clarifications of its stories.
pub async fn update_team(work: &mut Work, id: TeamId, edit: TeamEdit) -> AppResult<team::Model> {
    let (team, program) = work.team(id).await?;
    work.require(Action::ManageProgram(&program, "change teams"))
        .await?;
    let product_owner_id = match &edit.product_owner {
        Some(someone) => Some(
            policy::person(
                work.conn(),
                work.actor(),
                &program,
                "productOwnerId",
                someone,
            )
            .await?
            .id,
        ),
        None => None,
    };
    let change = TeamChange {
        name: edit.name,
        product_owner_id,
    };
    let new_po = change
        .product_owner_id
        .filter(|po| *po != team.product_owner_id);
    let fields = set_fields(&[
        ("name", change.name.is_some()),
        ("productOwnerId", change.product_owner_id.is_some()),
    ]);
    let team = service::update(work.conn(), team, change).await?;
    if let Some(po) = new_po {
        hand_over_team(work, team.id, po).await?;
        crate::waits::sync::team_handed_over(work, &team).await?;
    }
    let updated = NewEvent::new(EventKind::TeamUpdated, (Kind::Team, team.id))
        .teams([team.id])
        .payload(serde_json::json!({ "fields": fields }));
    work.record(program.id, updated).await?;
    Ok(team)
}

/// Adds someone to a team (the program's PM or the team's PO): a person
/// already part of the program by ID, or anyone by exact email.
pub async fn add_team_member(
    work: &mut Work,
    id: TeamId,
    someone: Someone,
) -> AppResult<team::Model> {
    let (team, program) = work.team(id).await?;
    work.require(Action::ManageMembers(&program, &team)).await?;
    let user = policy::person(work.conn(), work.actor(), &program, "userId", &someone).await?;
    service::add_member(work.conn(), work.now(), &team, user.id).await?;
    let added = NewEvent::new(EventKind::TeamMemberAdded, (Kind::Team, team.id))
        .teams([team.id])
        .payload(serde_json::json!({ "userId": global(Kind::User, user.id) }));
    work.record(program.id, added).await?;
    Ok(team)
}

/// Removes a user from a team (the program's PM or the team's PO).
pub async fn remove_team_member(
    work: &mut Work,
    id: TeamId,
    user: UserId,
) -> AppResult<team::Model> {
    let (team, program) = work.team(id).await?;
    work.require(Action::ManageMembers(&program, &team)).await?;
    service::remove_member(work.conn(), &team, user.0).await?;
    let removed = NewEvent::new(EventKind::TeamMemberRemoved, (Kind::Team, team.id))
        .teams([team.id])
        .payload(serde_json::json!({ "userId": global(Kind::User, user.0) }));
    work.record(program.id, removed).await?;
    Ok(team)
}
