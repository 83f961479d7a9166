//! The `Team` type and the team mutations.

use async_graphql::{
    Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject,
    parser::types::SelectionSet,
};
use chrono::{DateTime, Utc};
use entity::team;

use super::usecase::{self, TeamEdit};
use crate::{
    auth::policy::Someone,
    backlog::{
        self,
        graphql::{Story, StoryState},
    },
    error::{AppError, AppResult},
    feature::graphql::Feature,
    graphql::pagination::KeyedConnection,
    graphql::{
        self as gql,
        id::{self, Kind, decode_as, encode},
        loaders::{MembersByTeam, ObjectivesOfTeam, ProgramById, UserById},
        one_pass::{Answer, Answered, Json},
    },
    ids::IncrementId,
    increment::service::find_in_program,
    insight::{self, graphql::TeamMetrics},
    objective::graphql::Objective,
    planning::graphql::{self as planning, Confidence},
    program::graphql::Program,
    user::graphql::User,
};

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Team(pub team::Model);

impl Answer for Team {
    fn field(&self, name: &str, _: &SelectionSet, out: &mut Json) -> bool {
        Team::write_field(&self.0, name, out)
    }
}

impl Team {
    /// Writes field `name` of the team `row` when it is one of its own
    /// columns; false otherwise.
    pub fn write_field(row: &team::Model, name: &str, out: &mut Json) -> bool {
        match name {
            "id" => out.id(Kind::Team, row.id),
            "name" => out.str(&row.name),
            _ => return false,
        }
        true
    }
}

/// A team of a program, with one Product Owner who ranks its backlog.
#[Object]
impl Team {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Team, self.0.id)
    }

    /// Name, unique within the program.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// When the team was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The program the team belongs to.
    async fn program(&self, ctx: &Context<'_>) -> Result<Program> {
        Ok(Program(
            gql::load_required(ctx, ProgramById(self.0.program_id)).await?,
        ))
    }

    /// The team's one Product Owner.
    async fn product_owner(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(
            gql::load_required(ctx, UserById(self.0.product_owner_id)).await?,
        ))
    }

    /// The team's members, by name. The Product Owner is listed only when
    /// also added as a member.
    #[graphql(complexity = "10 * child_complexity + 1")]
    async fn members(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        let members = gql::load_one(ctx, MembersByTeam(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(members.into_iter().map(User).collect())
    }
    /// What the team's PO has been handed and not yet broken down: features
    /// allocated to the team with no story of the team under them, oldest
    /// allocation first; with `incrementId`, only those targeting it.
    #[graphql(complexity = "20 * child_complexity + 1")]
    async fn intake(&self, ctx: &Context<'_>, increment_id: Option<ID>) -> Result<Vec<Feature>> {
        let increment = id::typed_opt::<IncrementId>("incrementId", increment_id.as_ref())?;
        let rows = crate::feature::service::intake(
            gql::store(ctx)?.conn(),
            self.0.id,
            increment.map(|i| i.0),
        )
        .await?;
        Ok(rows.into_iter().map(Feature).collect())
    }

    /// The team's PI objectives for an increment of its program, oldest first.
    async fn objectives(&self, ctx: &Context<'_>, increment_id: ID) -> Result<Vec<Objective>> {
        let increment = decode_as(Kind::Increment, "incrementId", &increment_id)?;
        find_in_program(
            gql::store(ctx)?.conn(),
            "incrementId",
            self.0.program_id,
            increment,
        )
        .await?;
        let rows = gql::load_one(
            ctx,
            ObjectivesOfTeam {
                team: self.0.id,
                increment,
            },
        )
        .await?
        .unwrap_or_default();
        Ok(rows.into_iter().map(Objective).collect())
    }

    /// The team backlog in the Product Owner's rank order. Cursors are
    /// positions in the (filtered) list.
    #[graphql(complexity = "first.map_or(50, |n| n.max(0) as usize) * child_complexity + 1")]
    async fn backlog(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only stories in these states.")] states: Option<Vec<StoryState>>,
        #[graphql(desc = "Only blocked stories (true) or only unblocked ones (false).")]
        blocked: Option<bool>,
        #[graphql(desc = "Page size: default 50, at most 100 (settings).")] first: Option<i32>,
        #[graphql(desc = "Return stories after this cursor.")] after: Option<String>,
    ) -> Result<Answered<KeyedConnection<Answered<Story>>>> {
        let page = backlog::graphql::team_backlog(ctx, &self.0, states, blocked, first, after);
        Ok(Answered(page.await?))
    }

    /// The team's confidence votes for an increment of its program.
    async fn confidence(&self, ctx: &Context<'_>, increment_id: ID) -> Result<Confidence> {
        Ok(planning::confidence(ctx, self.0.program_id, Some(self.0.id), &increment_id).await?)
    }

    /// The team's figures for an increment of its program.
    async fn metrics(&self, ctx: &Context<'_>, increment_id: ID) -> Result<TeamMetrics> {
        Ok(insight::graphql::team_metrics(ctx, &self.0, &increment_id).await?)
    }
}

/// Input of `createTeam`.
#[derive(InputObject)]
pub struct CreateTeamInput {
    /// The program the team belongs to.
    pub program_id: ID,
    /// Name, 1 to 200 characters, unique within the program.
    pub name: String,
    /// The user who will be the team's Product Owner: someone already part
    /// of the program (admins: anyone). Or give `productOwnerEmail`.
    pub product_owner_id: Option<ID>,
    /// The Product Owner by exact email, for someone new to the program.
    pub product_owner_email: Option<String>,
}

/// Input of `updateTeam`: an omitted field stays as it is.
#[derive(InputObject)]
pub struct UpdateTeamInput {
    /// The team to change.
    pub team_id: ID,
    /// New name (cannot be null).
    pub name: MaybeUndefined<String>,
    /// A new Product Owner (cannot be null): someone already part of the
    /// program (admins: anyone).
    pub product_owner_id: MaybeUndefined<ID>,
    /// A new Product Owner by exact email, for someone new to the program.
    pub product_owner_email: Option<String>,
}

/// Input of `addTeamMember`.
#[derive(InputObject)]
pub struct AddTeamMemberInput {
    /// The team.
    pub team_id: ID,
    /// The user to add: someone already part of the program (admins:
    /// anyone). Or give `email`.
    pub user_id: Option<ID>,
    /// The user to add by exact email, for someone new to the program.
    pub email: Option<String>,
}

/// Input of `removeTeamMember`.
#[derive(InputObject)]
pub struct RemoveTeamMemberInput {
    /// The team.
    pub team_id: ID,
    /// The user to remove.
    pub user_id: ID,
}

/// Result of the team mutations.
#[derive(SimpleObject)]
pub struct TeamPayload {
    /// The team as it now is.
    pub team: Team,
}

/// Exactly one of an ID (field `field`) and an email.
fn someone(field: &str, id: Option<&ID>, email: Option<&str>) -> AppResult<Someone> {
    match (id, email) {
        (Some(id), None) => Ok(Someone::Id(id::typed(field, id)?)),
        (None, Some(email)) => Ok(Someone::Email(email.to_owned())),
        _ => Err(AppError::bad_input(format!(
            "give exactly one of {field} and an email"
        ))),
    }
}

fn payload(team: team::Model) -> TeamPayload {
    TeamPayload { team: Team(team) }
}

#[derive(Default)]
pub struct TeamMutation;

#[Object]
impl TeamMutation {
    /// Creates a team in a program (the program's PM or an admin).
    async fn create_team(&self, ctx: &Context<'_>, input: CreateTeamInput) -> Result<TeamPayload> {
        let program = id::typed("programId", &input.program_id)?;
        let po = someone(
            "productOwnerId",
            input.product_owner_id.as_ref(),
            input.product_owner_email.as_deref(),
        )?;
        let team = gql::perform(ctx, |w| {
            Box::pin(usecase::create_team(
                w,
                program,
                input.name.clone(),
                po.clone(),
            ))
        })
        .await?;
        Ok(payload(team))
    }

    /// Renames a team or assigns its Product Owner (the program's PM or an admin).
    async fn update_team(&self, ctx: &Context<'_>, input: UpdateTeamInput) -> Result<TeamPayload> {
        let team_id = id::typed("teamId", &input.team_id)?;
        let mut change = TeamEdit::default();
        match input.name {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => return Err(AppError::bad_input("name cannot be null").into()),
            MaybeUndefined::Value(name) => change.name = Some(name),
        }
        match &input.product_owner_id {
            MaybeUndefined::Undefined => {}
            MaybeUndefined::Null => {
                return Err(AppError::bad_input(
                    "productOwnerId cannot be null: a team has exactly one Product Owner",
                )
                .into());
            }
            MaybeUndefined::Value(id) => {
                change.product_owner = Some(Someone::Id(id::typed("productOwnerId", id)?));
            }
        }
        if let Some(email) = &input.product_owner_email {
            if change.product_owner.is_some() {
                return Err(AppError::bad_input(
                    "give at most one of productOwnerId and productOwnerEmail",
                )
                .into());
            }
            change.product_owner = Some(Someone::Email(email.clone()));
        }
        let team = gql::perform(ctx, |w| {
            Box::pin(usecase::update_team(w, team_id, change.clone()))
        })
        .await?;
        Ok(payload(team))
    }

    /// Adds a user to a team (the program's PM, the team's PO or an admin):
    /// by `userId` someone already part of the program, by `email` anyone.
    /// A user of another program is answered as a user who does not exist.
    async fn add_team_member(
        &self,
        ctx: &Context<'_>,
        input: AddTeamMemberInput,
    ) -> Result<TeamPayload> {
        let team_id = id::typed("teamId", &input.team_id)?;
        let user = someone("userId", input.user_id.as_ref(), input.email.as_deref())?;
        let team = gql::perform(ctx, |w| {
            Box::pin(usecase::add_team_member(w, team_id, user.clone()))
        })
        .await?;
        Ok(payload(team))
    }

    /// Removes a user from a team (the program's PM, the team's PO or an admin).
    async fn remove_team_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveTeamMemberInput,
    ) -> Result<TeamPayload> {
        let team_id = id::typed("teamId", &input.team_id)?;
        let user = id::typed("userId", &input.user_id)?;
        let team = gql::perform(ctx, |w| {
            Box::pin(usecase::remove_team_member(w, team_id, user))
        })
        .await?;
        Ok(payload(team))
    }
}
