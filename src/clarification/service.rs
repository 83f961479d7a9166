//! Asking, answering, resolving, reopening and reassigning clarifications,
//! and listing them. Knows nothing of GraphQL.

use chrono::{DateTime, Utc};
use entity::{clarification, clarification_message};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};

use super::status::{ClarificationStatus, MessageKind};
use crate::{error::AppResult, page::Page, text};

/// What a clarification is about, and who answers it.
pub enum Subject {
    /// A story: its team's PO answers.
    Story {
        story_id: i64,
        team_id: i64,
        product_owner_id: i64,
    },
    /// A feature: the program's PM answers.
    Feature {
        feature_id: i64,
        product_manager_id: i64,
    },
}

/// A question, answer or reason: 1 to 10,000 characters after trimming
/// (`text::required_text` checks both bounds).
fn body(field: &str, value: &str) -> AppResult<String> {
    text::required_text(field, value)
}

async fn add_message(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    clarification_id: i64,
    kind: MessageKind,
    body: String,
    author: Option<i64>,
) -> AppResult<()> {
    clarification_message::ActiveModel {
        clarification_id: Set(clarification_id),
        kind: Set(kind.as_str().to_owned()),
        body: Set(body),
        author_id: Set(author),
        at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Asks a question; the assignee is the story team's PO or the PM, now.
pub async fn ask(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program_id: i64,
    subject: Subject,
    asker: Option<i64>,
    question: &str,
    blocking: bool,
) -> AppResult<clarification::Model> {
    let question = body("question", question)?;
    let (story_id, feature_id, team_id, assignee) = match subject {
        Subject::Story {
            story_id,
            team_id,
            product_owner_id,
        } => (Some(story_id), None, Some(team_id), product_owner_id),
        Subject::Feature {
            feature_id,
            product_manager_id,
        } => (None, Some(feature_id), None, product_manager_id),
    };
    let row = clarification::ActiveModel {
        program_id: Set(program_id),
        story_id: Set(story_id),
        feature_id: Set(feature_id),
        team_id: Set(team_id),
        question: Set(question.clone()),
        asker_id: Set(asker),
        assignee_id: Set(assignee),
        status: Set(ClarificationStatus::Open.as_str().to_owned()),
        blocking: Set(blocking),
        asked_at: Set(now),
        answered_at: Set(None),
        answered_by_id: Set(None),
        resolved_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    add_message(conn, now, row.id, MessageKind::Question, question, asker).await?;
    Ok(row)
}

/// Answers; the first answer sets `answered_at` and `answered_by`.
pub async fn answer(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    item: clarification::Model,
    author: Option<i64>,
    answer: &str,
) -> AppResult<clarification::Model> {
    let answer = body("answer", answer)?;
    ClarificationStatus::parse(&item.status)?.check_answer()?;
    let id = item.id;
    let first = item.answered_at.is_none();
    let mut row = item.into_active_model();
    row.status = Set(ClarificationStatus::Answered.as_str().to_owned());
    if first {
        row.answered_at = Set(Some(now));
        row.answered_by_id = Set(author);
    }
    row.updated_at = Set(now);
    let updated = row.update(conn).await?;
    add_message(conn, now, id, MessageKind::Answer, answer, author).await?;
    Ok(updated)
}

/// Resolves.
pub async fn resolve(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    item: clarification::Model,
) -> AppResult<clarification::Model> {
    ClarificationStatus::parse(&item.status)?.check_resolve()?;
    let mut row = item.into_active_model();
    row.status = Set(ClarificationStatus::Resolved.as_str().to_owned());
    row.resolved_at = Set(Some(now));
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// Reopens an answered or resolved clarification, with a reason.
pub async fn reopen(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    item: clarification::Model,
    author: Option<i64>,
    reason: &str,
) -> AppResult<clarification::Model> {
    let reason = body("reason", reason)?;
    ClarificationStatus::parse(&item.status)?.check_reopen()?;
    let id = item.id;
    let mut row = item.into_active_model();
    row.status = Set(ClarificationStatus::Open.as_str().to_owned());
    row.resolved_at = Set(None);
    row.updated_at = Set(now);
    let updated = row.update(conn).await?;
    add_message(conn, now, id, MessageKind::Reopen, reason, author).await?;
    Ok(updated)
}

fn unresolved() -> Vec<&'static str> {
    vec![
        ClarificationStatus::Open.as_str(),
        ClarificationStatus::Answered.as_str(),
    ]
}

/// A team's new PO takes over the open and answered clarifications of the
/// team's stories. Returns the ones that moved.
pub async fn reassign_team(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    team_id: i64,
    new_po: i64,
) -> AppResult<Vec<clarification::Model>> {
    let moved = clarification::Entity::find()
        .filter(clarification::Column::TeamId.eq(team_id))
        .filter(clarification::Column::StoryId.is_not_null())
        .filter(clarification::Column::Status.is_in(unresolved()))
        .filter(clarification::Column::AssigneeId.ne(new_po))
        .all(conn)
        .await?;
    reassign(conn, now, moved, new_po).await
}

/// A program's new PM takes over the open and answered clarifications of
/// its features. Returns the ones that moved.
pub async fn reassign_program(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program_id: i64,
    new_pm: i64,
) -> AppResult<Vec<clarification::Model>> {
    let moved = clarification::Entity::find()
        .filter(clarification::Column::ProgramId.eq(program_id))
        .filter(clarification::Column::FeatureId.is_not_null())
        .filter(clarification::Column::Status.is_in(unresolved()))
        .filter(clarification::Column::AssigneeId.ne(new_pm))
        .all(conn)
        .await?;
    reassign(conn, now, moved, new_pm).await
}

async fn reassign(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    items: Vec<clarification::Model>,
    assignee: i64,
) -> AppResult<Vec<clarification::Model>> {
    let ids: Vec<i64> = items.iter().map(|c| c.id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    clarification::Entity::update_many()
        .col_expr(clarification::Column::AssigneeId, Expr::value(assignee))
        .col_expr(clarification::Column::UpdatedAt, Expr::value(now))
        .filter(clarification::Column::Id.is_in(ids.clone()))
        .exec(conn)
        .await?;
    Ok(clarification::Entity::find()
        .filter(clarification::Column::Id.is_in(ids))
        .order_by_asc(clarification::Column::Id)
        .all(conn)
        .await?)
}

/// The questions of a story's open blocking clarifications, oldest first.
pub async fn open_blocking_questions(
    conn: &impl ConnectionTrait,
    story_id: i64,
) -> AppResult<Vec<String>> {
    Ok(clarification::Entity::find()
        .filter(clarification::Column::StoryId.eq(story_id))
        .filter(clarification::Column::Blocking.eq(true))
        .filter(clarification::Column::Status.eq(ClarificationStatus::Open.as_str()))
        .order_by_asc(clarification::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.question)
        .collect())
}

/// Filters of a list.
#[derive(Default)]
pub struct ListFilter {
    pub program: Option<i64>,
    /// Only these programs (the inbox of another user: what the viewer reads).
    pub programs: Option<Vec<i64>>,
    pub assignee: Option<i64>,
    pub statuses: Option<Vec<ClarificationStatus>>,
}

/// One page of clarifications, oldest first, and how many match.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &ListFilter,
    page: &Page,
) -> AppResult<(Vec<clarification::Model>, u64)> {
    let mut query = clarification::Entity::find();
    if let Some(program) = filter.program {
        query = query.filter(clarification::Column::ProgramId.eq(program));
    }
    if let Some(programs) = &filter.programs {
        query = query.filter(clarification::Column::ProgramId.is_in(programs.clone()));
    }
    if let Some(assignee) = filter.assignee {
        query = query.filter(clarification::Column::AssigneeId.eq(assignee));
    }
    if let Some(statuses) = &filter.statuses {
        query =
            query.filter(clarification::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    let total = query.clone().count(conn).await?;
    if let Some(after) = page.after {
        query = query.filter(clarification::Column::Id.gt(after));
    }
    let rows = query
        .order_by_asc(clarification::Column::Id)
        .limit(page.fetch())
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// The clarification `id`, if any.
pub async fn find(conn: &impl ConnectionTrait, id: i64) -> AppResult<Option<clarification::Model>> {
    Ok(clarification::Entity::find_by_id(id).one(conn).await?)
}

/// Every clarification of a program, for its figures.
pub async fn of_program(
    conn: &impl ConnectionTrait,
    program_id: i64,
) -> AppResult<Vec<clarification::Model>> {
    Ok(clarification::Entity::find()
        .filter(clarification::Column::ProgramId.eq(program_id))
        .all(conn)
        .await?)
}

/// Clarifications decoded by position on PostgreSQL ([`crate::db::rows`]):
/// a dashboard reads a hundred, and SeaORM's lookup of each column by name
/// was a tenth of its server time.
impl crate::db::ByPosition for clarification::Entity {
    const COLUMNS: &'static str = "id, program_id, story_id, feature_id, team_id, question, \
         asker_id, assignee_id, status, blocking, asked_at, answered_at, answered_by_id, \
         resolved_at, updated_at";

    fn decode(
        row: &sea_orm::sqlx::postgres::PgRow,
    ) -> Result<clarification::Model, sea_orm::sqlx::Error> {
        use sea_orm::sqlx::Row as _;
        Ok(clarification::Model {
            id: row.try_get_unchecked(0)?,
            program_id: row.try_get_unchecked(1)?,
            story_id: row.try_get_unchecked(2)?,
            feature_id: row.try_get_unchecked(3)?,
            team_id: row.try_get_unchecked(4)?,
            question: row.try_get_unchecked(5)?,
            asker_id: row.try_get_unchecked(6)?,
            assignee_id: row.try_get_unchecked(7)?,
            status: row.try_get_unchecked(8)?,
            blocking: row.try_get_unchecked(9)?,
            asked_at: crate::db::pg_time(row, 10)?,
            answered_at: crate::db::pg_opt_time(row, 11)?,
            answered_by_id: row.try_get_unchecked(12)?,
            resolved_at: crate::db::pg_opt_time(row, 13)?,
            updated_at: crate::db::pg_time(row, 14)?,
        })
    }
}
