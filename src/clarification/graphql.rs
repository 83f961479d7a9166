//! The `Clarification` type, its lists, and the clarification mutations.

use async_graphql::{
    Context, ID, InputObject, Object, Result, SimpleObject, Union, parser::types::SelectionSet,
};
use chrono::{DateTime, Utc};
use entity::{clarification, clarification_message};

use super::{
    service::{self, ListFilter},
    status,
    usecase::{self, About},
};
use crate::{
    backlog::graphql::Story,
    error::{AppError, AppResult},
    feature::graphql::Feature,
    graphql::{
        self as gql,
        id::{self, Kind, encode},
        loaders::{FeatureById, MessagesOfClarification, StoryById, UserById},
        one_pass::{Answer, Json},
        pagination::{KeyedConnection, Page, connection},
    },
    user::graphql::User,
};

gql::mirror_enum! {
    /// Where a clarification stands.
    ClarificationStatus mirrors status::ClarificationStatus {
        /// Asked, waiting for an answer.
        Open,
        /// Answered; the asker has not accepted the answer yet.
        Answered,
        /// The asker (or the assignee) closed it.
        Resolved,
    }
}

gql::mirror_enum! {
    /// What a message of a clarification is.
    MessageKind mirrors status::MessageKind {
        /// The question that opened it.
        Question,
        /// An answer by the assignee.
        Answer,
        /// Why the asker reopened it.
        Reopen,
    }
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct Clarification(pub clarification::Model);

/// Its own fields, from its row.
impl Answer for Clarification {
    fn field(&self, name: &str, _: &SelectionSet, out: &mut Json) -> bool {
        Clarification::write_field(&self.0, name, out)
    }
}

impl Clarification {
    /// Writes field `name` of the clarification `row` when its row answers
    /// it; false otherwise.
    pub fn write_field(row: &clarification::Model, name: &str, out: &mut Json) -> bool {
        match name {
            "id" => out.id(Kind::Clarification, row.id),
            "question" => out.str(&row.question),
            "status" => match status::ClarificationStatus::parse(&row.status) {
                Ok(status) => out.item(ClarificationStatus::from(status)),
                Err(_) => return false,
            },
            "blocking" => out.bool(row.blocking),
            _ => return false,
        }
        true
    }
}

/// What a clarification is about.
#[derive(Union)]
pub enum ClarificationSubject {
    Story(Story),
    Feature(Feature),
}

/// A question about a story (answered by its team's Product Owner) or a
/// feature (answered by the Product Manager), with its answers.
#[Object]
impl Clarification {
    /// Opaque global ID; `node(id:)` resolves it.
    pub async fn id(&self) -> ID {
        encode(Kind::Clarification, self.0.id)
    }

    /// The story or feature it is about.
    async fn subject(&self, ctx: &Context<'_>) -> Result<ClarificationSubject> {
        Ok(match (self.0.story_id, self.0.feature_id) {
            (Some(id), _) => ClarificationSubject::Story(Story::from(
                gql::load_required(ctx, StoryById(id)).await?,
            )),
            (None, Some(id)) => ClarificationSubject::Feature(Feature(
                gql::load_required(ctx, FeatureById(id)).await?,
            )),
            (None, None) => {
                return Err(AppError::Internal("a clarification without subject".into()).into());
            }
        })
    }

    /// The question.
    async fn question(&self) -> &str {
        &self.0.question
    }

    /// Where it stands.
    async fn status(&self) -> Result<ClarificationStatus> {
        Ok(status::ClarificationStatus::parse(&self.0.status)?.into())
    }

    /// Whether it keeps its story out of READY (and blocked) while open.
    async fn blocking(&self) -> bool {
        self.0.blocking
    }

    /// Who asked; null when the built-in admin did.
    async fn asked_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.asker_id).await
    }

    /// Who must answer: the story team's PO, or the program's PM for a
    /// feature. Follows the role when it changes hands.
    async fn assignee(&self, ctx: &Context<'_>) -> Result<User> {
        Ok(User(
            gql::load_required(ctx, UserById(self.0.assignee_id)).await?,
        ))
    }

    /// Who gave the first answer.
    async fn answered_by(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.answered_by_id).await
    }

    /// When it was asked.
    async fn asked_at(&self) -> DateTime<Utc> {
        self.0.asked_at
    }

    /// When it was first answered.
    async fn answered_at(&self) -> Option<DateTime<Utc>> {
        self.0.answered_at
    }

    /// When it was resolved (null while not resolved).
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }

    /// Hours from asking to the first answer; null until answered.
    async fn response_time_hours(&self) -> Option<f64> {
        self.0
            .answered_at
            .map(|a| (a - self.0.asked_at).num_seconds() as f64 / 3600.0)
    }

    /// The conversation in order: the question, answers, reasons for reopening.
    #[graphql(complexity = "5 * child_complexity + 1")]
    async fn messages(&self, ctx: &Context<'_>) -> Result<Vec<ClarificationMessage>> {
        let rows = gql::load_one(ctx, MessagesOfClarification(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(ClarificationMessage).collect())
    }

    /// The latest answer, if any.
    async fn answer(&self, ctx: &Context<'_>) -> Result<Option<String>> {
        let rows = gql::load_one(ctx, MessagesOfClarification(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .rev()
            .find(|m| m.kind == status::MessageKind::Answer.as_str())
            .map(|m| m.body))
    }
}

async fn user(ctx: &Context<'_>, id: Option<i64>) -> Result<Option<User>> {
    match id {
        Some(id) => Ok(Some(User(gql::load_required(ctx, UserById(id)).await?))),
        None => Ok(None),
    }
}

/// Wraps the stored row; see the `#[Object]` impl for the API.
pub struct ClarificationMessage(pub clarification_message::Model);

/// One message of a clarification.
#[Object]
impl ClarificationMessage {
    /// Question, answer, or reason for reopening.
    async fn kind(&self) -> Result<MessageKind> {
        Ok(status::MessageKind::parse(&self.0.kind)?.into())
    }

    /// The text.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Who wrote it; null for the built-in admin.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        user(ctx, self.0.author_id).await
    }

    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// A page of clarifications.
pub async fn list(
    ctx: &Context<'_>,
    filter: ListFilter,
    first: Option<i32>,
    after: Option<String>,
) -> AppResult<KeyedConnection<Clarification>> {
    let page = Page::new(gql::page_limits(ctx)?, first, after.as_deref())?;
    let (rows, total) = service::list(gql::store(ctx)?.conn(), &filter, &page).await?;
    Ok(connection(&page, rows, total, |c| c.id, Clarification))
}

/// Input of `askClarification`: exactly one of `storyId` and `featureId`.
#[derive(InputObject)]
pub struct AskClarificationInput {
    /// Ask about this story (its team's PO answers).
    pub story_id: Option<ID>,
    /// Ask about this feature (the PM answers).
    pub feature_id: Option<ID>,
    /// The question, 1 to 10,000 characters.
    pub question: String,
    /// Whether the story cannot be READY until this is answered.
    #[graphql(default)]
    pub blocking: bool,
}

/// Input of `answerClarification`.
#[derive(InputObject)]
pub struct AnswerClarificationInput {
    /// The clarification.
    pub clarification_id: ID,
    /// The answer, 1 to 10,000 characters.
    pub answer: String,
}

/// Input of `resolveClarification`.
#[derive(InputObject)]
pub struct ResolveClarificationInput {
    /// The clarification.
    pub clarification_id: ID,
}

/// Input of `reopenClarification`.
#[derive(InputObject)]
pub struct ReopenClarificationInput {
    /// The clarification.
    pub clarification_id: ID,
    /// Why the answer is not enough, 1 to 10,000 characters.
    pub reason: String,
}

/// Result of the clarification mutations.
#[derive(SimpleObject)]
pub struct ClarificationPayload {
    /// The clarification as it now is.
    pub clarification: Clarification,
}

fn payload(item: clarification::Model) -> ClarificationPayload {
    ClarificationPayload {
        clarification: Clarification(item),
    }
}

#[derive(Default)]
pub struct ClarificationMutation;

#[Object]
impl ClarificationMutation {
    /// Asks about a story or a feature (anyone on the program). The story
    /// team's PO, or the PM for a feature, is assigned to answer.
    async fn ask_clarification(
        &self,
        ctx: &Context<'_>,
        input: AskClarificationInput,
    ) -> Result<ClarificationPayload> {
        let about = match (&input.story_id, &input.feature_id) {
            (Some(story), None) => About::Story(id::typed("storyId", story)?),
            (None, Some(feature)) => About::Feature(id::typed("featureId", feature)?),
            _ => {
                return Err(
                    AppError::bad_input("give exactly one of storyId and featureId").into(),
                );
            }
        };
        let item = gql::perform(ctx, |w| {
            Box::pin(usecase::ask_clarification(
                w,
                about,
                input.question.clone(),
                input.blocking,
            ))
        })
        .await?;
        Ok(payload(item))
    }

    /// Answers (the assignee or an admin). The first answer sets `answeredAt`.
    async fn answer_clarification(
        &self,
        ctx: &Context<'_>,
        input: AnswerClarificationInput,
    ) -> Result<ClarificationPayload> {
        let item_id = id::typed("clarificationId", &input.clarification_id)?;
        let item = gql::perform(ctx, |w| {
            Box::pin(usecase::answer_clarification(
                w,
                item_id,
                input.answer.clone(),
            ))
        })
        .await?;
        Ok(payload(item))
    }

    /// Resolves: the asker accepts the answer (the assignee or an admin may too).
    async fn resolve_clarification(
        &self,
        ctx: &Context<'_>,
        input: ResolveClarificationInput,
    ) -> Result<ClarificationPayload> {
        let item_id = id::typed("clarificationId", &input.clarification_id)?;
        let item = gql::perform(ctx, |w| {
            Box::pin(usecase::resolve_clarification(w, item_id))
        })
        .await?;
        Ok(payload(item))
    }

    /// Reopens an answered or resolved clarification with a reason (the
    /// asker or an admin).
    async fn reopen_clarification(
        &self,
        ctx: &Context<'_>,
        input: ReopenClarificationInput,
    ) -> Result<ClarificationPayload> {
        let item_id = id::typed("clarificationId", &input.clarification_id)?;
        let item = gql::perform(ctx, |w| {
            Box::pin(usecase::reopen_clarification(
                w,
                item_id,
                input.reason.clone(),
            ))
        })
        .await?;
        Ok(payload(item))
    }
}
