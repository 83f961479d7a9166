//! Lists of stories whose query asks only for the story's own scalar fields,
//! such as a board's cards: each field is answered for every story in one
//! pass.
//!
//! The executor resolves a list item by item, and an object field by field,
//! each in a future of its own, so 12,000 cards of four fields cost some
//! 60,000 futures; on the board that was nearly half the answer's time. When
//! every selection under the list is a plain field from [`Plain`] (no
//! fragment, directive or argument), the answer is built directly; anything
//! else, and any value that cannot be answered, goes the executor's way.

use std::borrow::Cow;

use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry::Registry,
    resolver_utils::{enum_value, resolve_list},
};

use super::{
    graphql::{Story, StoryState},
    lifecycle,
};
use crate::graphql::id::{Kind, encode};

/// A story field answered from its row alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plain {
    Typename,
    Id,
    Title,
    ExternalKey,
    Points,
    State,
}

impl Plain {
    fn named(name: &str) -> Option<Self> {
        Some(match name {
            "__typename" => Self::Typename,
            "id" => Self::Id,
            "title" => Self::Title,
            "externalKey" => Self::ExternalKey,
            "points" => Self::Points,
            "state" => Self::State,
            _ => return None,
        })
    }

    /// The value `Story`'s resolver gives; `None` when it would fail.
    fn value(self, story: &Story) -> Option<Value> {
        let row = &story.row;
        Some(match self {
            Self::Typename => Value::String("Story".to_owned()),
            Self::Id => Value::String(encode(Kind::Story, row.id).0),
            Self::Title => Value::String(row.title.clone()),
            Self::ExternalKey => row
                .external_key
                .as_ref()
                .map_or(Value::Null, |key| Value::String(key.clone())),
            Self::Points => row.points.map_or(Value::Null, Value::from),
            Self::State => enum_value(StoryState::from(
                lifecycle::StoryState::parse(&row.state).ok()?,
            )),
        })
    }
}

/// `[Story!]!`, answered in one pass when the query allows.
pub struct Cards(pub Vec<Story>);

/// What to answer for each story: response keys and fields, in order.
type Plan = Vec<(Name, Plain)>;

impl Cards {
    /// The plan, when every selection is a [`Plain`] field with no
    /// directive, argument or selection of its own.
    fn plan(ctx: &ContextSelectionSet<'_>) -> Option<Plan> {
        let plan = ctx
            .item
            .node
            .items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field)
                    if field.node.directives.is_empty()
                        && field.node.arguments.is_empty()
                        && field.node.selection_set.node.items.is_empty() =>
                {
                    Plain::named(&field.node.name.node)
                        .map(|plain| (field.node.response_key().node.clone(), plain))
                }
                _ => None,
            })
            .collect::<Option<Plan>>()?;
        (!plan.is_empty()).then_some(plan)
    }

    /// Every story's answer, or `None` when one value cannot be answered.
    fn answer(&self, plan: &Plan) -> Option<Value> {
        let mut list = Vec::with_capacity(self.0.len());
        for story in &self.0 {
            let mut object = IndexMap::with_capacity(plan.len());
            for (key, plain) in plan {
                object.insert(key.clone(), plain.value(story)?);
            }
            list.push(Value::Object(object));
        }
        Some(Value::List(list))
    }
}

impl OutputType for Cards {
    fn type_name() -> Cow<'static, str> {
        <Vec<Story> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<Story> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<Story> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // No extension of ours watches single fields (the schema's one
        // observes whole operations), so none misses these.
        if let Some(plan) = Self::plan(ctx)
            && let Some(answer) = self.answer(&plan)
        {
            return Ok(answer);
        }
        resolve_list(ctx, field, &self.0, Some(self.0.len())).await
    }
}
