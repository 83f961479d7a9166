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
//! The same holds for a whole object tree ([`Answer`], [`Answered`]): a
//! backlog page's stories with their feature, dependencies and providers,
//! clarifications and team, all read ahead, are answered without one
//! executor future per field. A selection the tree cannot answer from memory
//! (a fragment, a directive, an argument, a field that needs a read) sends the
//! whole object the executor's way, so the answer is always the executor's.
//!
//! No extension of ours watches single fields (the schema's one observes
//! whole operations), so none misses these.

use std::borrow::Cow;

use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value,
    connection::{Edge, EmptyFields, PageInfo},
    indexmap::IndexMap,
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
    resolver_utils::resolve_list,
};

use super::pagination::KeyedConnection;

/// A type some of whose fields are answered from memory alone.
pub trait Plain: OutputType + Sync {
    /// Names one of those fields.
    type Field: Copy + Send + Sync;

    /// The field called `name` (as in the schema), when it is plain.
    fn plain(name: &str) -> Option<Self::Field>;

    /// The value its resolver gives; `None` when that would fail.
    fn value(&self, field: Self::Field) -> Option<Value>;
}

/// The field a selection is, when it is a bare one: no fragment,
/// directive or argument.
fn bare(selection: &Positioned<Selection>) -> Option<&Field> {
    match &selection.node {
        Selection::Field(field)
            if field.node.directives.is_empty() && field.node.arguments.is_empty() =>
        {
            Some(&field.node)
        }
        _ => None,
    }
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
            .map(|selection| {
                let field = bare(selection).filter(|f| f.selection_set.node.items.is_empty())?;
                let key = field.response_key().node.clone();
                match field.name.node.as_str() {
                    "__typename" => Some((key, None)),
                    name => T::plain(name).map(|plain| (key, Some(plain))),
                }
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

/// A type that can answer some selections of itself, object fields
/// included, from memory.
pub trait Answer: OutputType {
    /// The value of its field `name` with the selection `set` under it
    /// (empty for a scalar); `None` when that needs the executor.
    fn field(&self, name: &str, set: &SelectionSet) -> Option<Value>;
}

/// `item`'s answer to `set`, when every selection in it is a bare field
/// (no fragment, directive or argument) that `item` answers.
pub fn answer<T: Answer>(item: &T, set: &SelectionSet) -> Option<Value> {
    let mut object = IndexMap::with_capacity(set.items.len());
    for selection in &set.items {
        let field = bare(selection)?;
        let value = match field.name.node.as_str() {
            "__typename" => Value::String(T::type_name().into_owned()),
            name => item.field(name, &field.selection_set.node)?,
        };
        // A key asked twice merges its selections; the executor does that.
        if object
            .insert(field.response_key().node.clone(), value)
            .is_some()
        {
            return None;
        }
    }
    Some(Value::Object(object))
}

/// The answer of each item, as a list.
pub fn answer_all<T: Answer>(
    items: impl IntoIterator<Item = T>,
    set: &SelectionSet,
) -> Option<Value> {
    items
        .into_iter()
        .map(|item| answer(&item, set))
        .collect::<Option<Vec<_>>>()
        .map(Value::List)
}

/// A `T` that answers its selection from memory when it can ([`Answer`]),
/// and goes the executor's way otherwise. The schema sees `T` itself.
pub struct Answered<T>(pub T);

impl<T: Answer + Sync> OutputType for Answered<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        if let Some(value) = answer(&self.0, &ctx.item.node) {
            return Ok(value);
        }
        self.0.resolve(ctx, field).await
    }
}

impl<T: Answer + Sync> Answer for Answered<T> {
    fn field(&self, name: &str, set: &SelectionSet) -> Option<Value> {
        self.0.field(name, set)
    }
}

/// A page of `T`s answers from memory when its items do: the executor
/// otherwise resolves each edge as an object of its own (a dashboard's 240
/// edges, each with its cursor and node).
impl<T: Answer + Sync + Send> Answer for KeyedConnection<T> {
    fn field(&self, name: &str, set: &SelectionSet) -> Option<Value> {
        match name {
            "edges" => self
                .edges
                .iter()
                .map(|edge| answer(edge, set))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            "nodes" => self
                .edges
                .iter()
                .map(|edge| answer(&edge.node, set))
                .collect::<Option<Vec<_>>>()
                .map(Value::List),
            "pageInfo" => answer(
                &PageInfo {
                    has_previous_page: self.has_previous_page,
                    has_next_page: self.has_next_page,
                    start_cursor: self.edges.first().map(|e| e.cursor.clone()),
                    end_cursor: self.edges.last().map(|e| e.cursor.clone()),
                },
                set,
            ),
            "totalCount" => Some(Value::from(self.additional_fields.total_count)),
            _ => None,
        }
    }
}

impl<T: Answer + Sync + Send> Answer for Edge<String, T, EmptyFields> {
    fn field(&self, name: &str, set: &SelectionSet) -> Option<Value> {
        match name {
            "cursor" => Some(Value::String(self.cursor.clone())),
            "node" => answer(&self.node, set),
            _ => None,
        }
    }
}

impl Answer for PageInfo {
    fn field(&self, name: &str, _: &SelectionSet) -> Option<Value> {
        let cursor = |c: &Option<String>| c.clone().map_or(Value::Null, Value::String);
        match name {
            "hasPreviousPage" => Some(Value::Boolean(self.has_previous_page)),
            "hasNextPage" => Some(Value::Boolean(self.has_next_page)),
            "startCursor" => Some(cursor(&self.start_cursor)),
            "endCursor" => Some(cursor(&self.end_cursor)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{SimpleObject, parser::parse_query};

    use super::*;

    #[derive(SimpleObject)]
    struct Card {
        id: i32,
        title: String,
        next: Option<Box<Card>>,
    }

    impl Answer for Card {
        fn field(&self, name: &str, set: &SelectionSet) -> Option<Value> {
            match name {
                "id" => Some(Value::from(self.id)),
                "title" => Some(Value::String(self.title.clone())),
                "next" => match &self.next {
                    Some(next) => answer(next.as_ref(), set),
                    None => Some(Value::Null),
                },
                _ => None,
            }
        }
    }

    /// The answer of `card` to the selection of the query `{ ... }`.
    fn answer_to(card: &Card, query: &str) -> Option<Value> {
        let doc = parse_query(query).unwrap();
        let (_, operation) = doc.operations.iter().next().unwrap();
        answer(card, &operation.node.selection_set.node)
    }

    fn card() -> Card {
        Card {
            id: 1,
            title: "Pay".into(),
            next: Some(Box::new(Card {
                id: 2,
                title: "Ship".into(),
                next: None,
            })),
        }
    }

    #[test]
    fn bare_fields_are_answered_in_order_with_aliases_and_typenames() {
        let answer = answer_to(
            &card(),
            "{ title key: id next { __typename id next { id } } }",
        );
        let json = serde_json::to_string(&answer.unwrap()).unwrap();
        assert_eq!(
            json,
            r#"{"title":"Pay","key":1,"next":{"__typename":"Card","id":2,"next":null}}"#
        );
    }

    #[test]
    fn anything_else_goes_the_executors_way() {
        for query in [
            "{ id ... on Card { title } }",
            "{ id ...Rest } fragment Rest on Card { title }",
            "{ id @skip(if: false) }",
            "{ next(first: 1) { id } }",
            "{ id unknown }",
            "{ next { id } next { title } }",
            "{ next { unknown } }",
        ] {
            assert_eq!(answer_to(&card(), query), None, "{query}");
        }
    }
}
