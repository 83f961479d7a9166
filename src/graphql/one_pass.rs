//! Lists answered in one pass when their query asks only the items' own
//! scalar fields, such as a board's cards and dependencies.
//!
//! The executor resolves a list item by item, and an object field by field,
//! each in a future of its own: 12,444 cards of four fields cost some 60,000
//! futures, nearly half of a board's answer. When every selection under the
//! list is a plain field of its type ([`Plain`]: no fragment, directive,
//! argument or selection of its own), the answer is built directly; anything
//! else, and any value that cannot be answered, goes the executor's way.
//!
//! No extension of ours watches single fields (the schema's one observes
//! whole operations), so none misses these.

use std::borrow::Cow;

use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
    indexmap::IndexMap,
    parser::types::{Field, Selection},
    registry::Registry,
    resolver_utils::resolve_list,
};

/// A type some of whose fields are answered from memory alone.
pub trait Plain: OutputType + Sync {
    /// Names one of those fields.
    type Field: Copy + Send + Sync;

    /// The field called `name` (as in the schema), when it is plain.
    fn plain(name: &str) -> Option<Self::Field>;

    /// The value its resolver gives; `None` when that would fail.
    fn value(&self, field: Self::Field) -> Option<Value>;
}

/// What to answer for each item, in order: its response key and either
/// `__typename` (`None`) or a plain field.
type Plan<F> = Vec<(Name, Option<F>)>;

/// `[T!]!`, answered in one pass when the query allows.
pub struct OnePass<T>(pub Vec<T>);

impl<T: Plain> OnePass<T> {
    /// The plan, when every selection is a plain field.
    fn plan(ctx: &ContextSelectionSet<'_>) -> Option<Plan<T::Field>> {
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
                    let key = field.node.response_key().node.clone();
                    match field.node.name.node.as_str() {
                        "__typename" => Some((key, None)),
                        name => T::plain(name).map(|plain| (key, Some(plain))),
                    }
                }
                _ => None,
            })
            .collect::<Option<Plan<T::Field>>>()?;
        (!plan.is_empty()).then_some(plan)
    }

    /// Every item's answer, or `None` when one value cannot be answered.
    fn answer(&self, plan: &Plan<T::Field>) -> Option<Value> {
        let typename = T::type_name();
        let mut list = Vec::with_capacity(self.0.len());
        for item in &self.0 {
            let mut object = IndexMap::with_capacity(plan.len());
            for (key, field) in plan {
                let value = match field {
                    Some(field) => item.value(*field)?,
                    None => Value::String(typename.clone().into_owned()),
                };
                object.insert(key.clone(), value);
            }
            list.push(Value::Object(object));
        }
        Some(Value::List(list))
    }
}

impl<T: Plain> OutputType for OnePass<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(plan) = Self::plan(ctx)
            && let Some(answer) = self.answer(&plan)
        {
            return Ok(answer);
        }
        resolve_list(ctx, field, &self.0, Some(self.0.len())).await
    }
}
