//! `importJiraCsv`, and finding imported items by their Jira key.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject};
use entity::program;

use super::{Import, ItemKind, Quiet, Summary, Target, apply, keys};
use crate::{
    auth::policy::Someone,
    backlog::graphql::Story,
    clock::Clock,
    error::AppResult,
    feature::graphql::Feature,
    graphql::{
        self as gql,
        id::{self, Kind, encode},
    },
};

/// The program's stories with `key` (at most one).
pub async fn stories_by_key(
    ctx: &Context<'_>,
    program: &program::Model,
    key: &str,
) -> AppResult<Vec<Story>> {
    let conn = gql::store(ctx)?.conn();
    let found = keys::stories(conn, program.id, &[key.to_owned()]).await?;
    Ok(found.into_values().map(Story::from).collect())
}

/// The program's features with `key` (at most one).
pub async fn features_by_key(
    ctx: &Context<'_>,
    program: &program::Model,
    key: &str,
) -> AppResult<Vec<Feature>> {
    let conn = gql::store(ctx)?.conn();
    let found = keys::feature(conn, program.id, key).await?;
    Ok(found.into_iter().map(Feature).collect())
}

/// Input of `importJiraCsv`.
#[derive(InputObject)]
pub struct ImportJiraCsvInput {
    /// The program to import into.
    pub program_id: ID,
    /// The file Jira writes with "Export Excel CSV (all fields)", as text.
    /// Rows in rank order (`ORDER BY Rank`) give each backlog its order.
    pub csv: String,
    /// Check every row against the rules and report, writing nothing.
    #[graphql(default)]
    pub dry_run: bool,
    /// The column naming each story's team (plain or as "Custom field
    /// (...)"); rows without it go to a team named after their project.
    #[graphql(default_with = "String::from(\"Team\")")]
    pub team_field: String,
    /// The increment whose iterations the sprints become (a sprint whose
    /// name holds the increment's name and ends in an iteration number is
    /// that iteration; the others by order). Without it, sprints are not
    /// imported.
    pub increment_id: Option<ID>,
    /// The Product Owner of the teams the import creates, by email;
    /// default: you (the program's Product Manager when you are the
    /// built-in administrator).
    pub product_owner_email: Option<String>,
    /// Stories resolved Done are accepted (ACCEPTED); otherwise DONE.
    #[graphql(default)]
    pub accept_done: bool,
}

/// The kinds of item an import creates.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ImportItemKind {
    Team,
    Feature,
    Story,
    Dependency,
}

impl From<ItemKind> for ImportItemKind {
    fn from(kind: ItemKind) -> Self {
        match kind {
            ItemKind::Team => Self::Team,
            ItemKind::Feature => Self::Feature,
            ItemKind::Story => Self::Story,
            ItemKind::Dependency => Self::Dependency,
        }
    }
}

/// What the import did with the items of one kind.
#[derive(SimpleObject)]
pub struct ImportCount {
    pub kind: ImportItemKind,
    pub created: i32,
    /// Changed in place, or moved to the export's order.
    pub updated: i32,
    /// Already as the export says: no change, no event.
    pub unchanged: i32,
    /// Rows the rules refused in full.
    pub refused: i32,
}

/// A row, or part of one, that the rules refused.
#[derive(SimpleObject)]
pub struct ImportRefusal {
    /// The Jira key (for a Blocks link, the blocked issue's).
    pub key: String,
    pub kind: ImportItemKind,
    pub reason: String,
}

/// What `importJiraCsv` did, or (dry run) would do.
#[derive(SimpleObject)]
pub struct ImportJiraCsvPayload {
    /// The program imported into.
    pub program_id: ID,
    /// Nothing was written.
    pub dry_run: bool,
    /// Rows read.
    pub rows: i32,
    /// Per kind: created, updated, unchanged, refused.
    pub counts: Vec<ImportCount>,
    /// Each refused row, and each refused part of an imported row (a status
    /// the rules did not allow, say), with the reason.
    pub refused: Vec<ImportRefusal>,
    /// Keys of the program's imported items missing from this export; they
    /// are left as they are.
    pub not_in_export: Vec<String>,
    /// Remarks on the export as a whole.
    pub notes: Vec<String>,
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl From<Summary> for ImportJiraCsvPayload {
    fn from(s: Summary) -> Self {
        Self {
            program_id: encode(Kind::Program, s.program_id),
            dry_run: s.dry_run,
            rows: count(s.rows),
            counts: ItemKind::ALL
                .iter()
                .map(|&k| {
                    let c = s.of(k);
                    ImportCount {
                        kind: k.into(),
                        created: count(c.created),
                        updated: count(c.updated),
                        unchanged: count(c.unchanged),
                        refused: count(c.refused),
                    }
                })
                .collect(),
            refused: s
                .refused
                .into_iter()
                .map(|r| ImportRefusal {
                    key: r.key,
                    kind: r.kind.into(),
                    reason: r.reason,
                })
                .collect(),
            not_in_export: s.not_in_export,
            notes: s.notes,
        }
    }
}

#[derive(Default)]
pub struct ImportMutation;

#[Object]
impl ImportMutation {
    /// Imports a Jira CSV export into a program (its PM or an admin): epics
    /// become features, stories, tasks and bugs become stories of their
    /// team, Blocks links become dependencies, through the same rules and
    /// events as the other mutations, one transaction per team. Run again
    /// with a newer export to update in place (items keep their
    /// `externalKey`). A body over the request limit is refused; import
    /// larger exports with `portfolio import jira --csv FILE`.
    async fn import_jira_csv(
        &self,
        ctx: &Context<'_>,
        input: ImportJiraCsvInput,
    ) -> Result<ImportJiraCsvPayload> {
        let program = id::typed("programId", &input.program_id)?;
        let increment = id::typed_opt("incrementId", input.increment_id.as_ref())?;
        let import = Import {
            files: vec![("csv".into(), input.csv)],
            target: Target::Program(program),
            team_field: input.team_field,
            product_owner: input.product_owner_email.map(Someone::Email),
            increment,
            accept_done: input.accept_done,
            dry_run: input.dry_run,
        };
        let actor = gql::actor(ctx)?;
        let clock = ctx
            .data::<Arc<dyn Clock>>()
            .map_err(|_| crate::error::AppError::Internal("no clock in the schema".into()))?;
        let summary = apply::run(
            gql::store(ctx)?,
            clock.as_ref(),
            actor,
            import,
            Arc::new(Quiet),
        )
        .await?;
        Ok(summary.into())
    }
}
