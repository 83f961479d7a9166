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

use std::{borrow::Cow, io};

use async_graphql::{
    ContextSelectionSet, EnumType, OutputType, Positioned, ServerError, ServerResult, Value,
    connection::{CursorType, Edge, EmptyFields, PageInfo},
    parser::types::{Field, Selection, SelectionSet},
    registry::Registry,
    resolver_utils::resolve_list,
};
use axum::body::Bytes;

use super::pagination::{Cursor, KeyedConnection};
use crate::ids::{Global, Kind};

/// Marks an operation whose response is serialised by [`to_json`]: its
/// answers from memory are kept as the JSON text they were written as.
/// Without it (a webhook rendering events, say) that text is parsed back
/// into values.
pub struct RawJson;

/// An answer written as JSON text. Writing the text directly, rather than a
/// tree of values serialised afterwards, spares a map and an allocation per
/// object and per string, and freeing the tree: for a dashboard's 240
/// stories, about a third of the server's work.
pub struct Json(Vec<u8>);

impl Default for Json {
    /// Room for a small page, so that few answers grow their text.
    fn default() -> Self {
        Self(Vec::with_capacity(2048))
    }
}

impl Json {
    pub fn null(&mut self) {
        self.0.extend_from_slice(b"null");
    }

    pub fn bool(&mut self, value: bool) {
        self.0
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    pub fn int(&mut self, value: impl itoa::Integer) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A number; serde_json writes one that is not finite as null, as a
    /// value would serialise.
    pub fn float(&mut self, value: f64) {
        // Writing to memory cannot fail.
        let _ = serde_json::to_writer(&mut self.0, &value);
    }

    pub fn str(&mut self, value: &str) {
        // Writing to memory cannot fail.
        let _ = serde_json::to_writer(&mut self.0, value);
    }

    pub fn opt_int(&mut self, value: Option<i32>) {
        match value {
            Some(n) => self.int(n),
            None => self.null(),
        }
    }

    pub fn opt_str(&mut self, value: Option<&str>) {
        match value {
            Some(text) => self.str(text),
            None => self.null(),
        }
    }

    /// The global ID of row `id` of `kind`.
    pub fn id(&mut self, kind: Kind, id: i64) {
        // base64 needs no escaping.
        self.0.push(b'"');
        self.0.extend_from_slice(Global::new(kind, id).as_bytes());
        self.0.push(b'"');
    }

    /// The name of an enum item, as the schema spells it.
    pub fn item<T: EnumType>(&mut self, value: T) {
        match T::items().iter().find(|item| item.value == value) {
            Some(item) => self.plain_str(item.name),
            None => self.null(),
        }
    }

    /// Starts member `n` (0-based) of an object: its key and the colon.
    fn member(&mut self, n: usize, key: &str) {
        if n > 0 {
            self.0.push(b',');
        }
        self.plain_str(key);
        self.0.push(b':');
    }

    /// A string known to need no escaping (names, base64).
    fn plain_str(&mut self, value: &str) {
        self.0.push(b'"');
        self.0.extend_from_slice(value.as_bytes());
        self.0.push(b'"');
    }

    /// Drops what was written since `mark`, and says the answer failed.
    fn undo(&mut self, mark: usize) -> bool {
        self.0.truncate(mark);
        false
    }

    /// The answer as the executor's value: the text itself when the
    /// operation's response is serialised by [`to_json`], else parsed.
    fn into_value(self, ctx: &ContextSelectionSet<'_>) -> ServerResult<Value> {
        if ctx.data_opt::<RawJson>().is_some() {
            return Ok(Value::Binary(Bytes::from(self.0)));
        }
        serde_json::from_slice(&self.0)
            .map_err(|err| ServerError::new(format!("an answer does not parse: {err}"), None))
    }
}

/// A list of `items`, each written by `each`; false when one is not.
pub fn list<I: IntoIterator>(
    items: I,
    out: &mut Json,
    mut each: impl FnMut(I::Item, &mut Json) -> bool,
) -> bool {
    let mark = out.0.len();
    out.0.push(b'[');
    for (n, item) in items.into_iter().enumerate() {
        if n > 0 {
            out.0.push(b',');
        }
        if !each(item, out) {
            return out.undo(mark);
        }
    }
    out.0.push(b']');
    true
}

/// JSON text of a response (or batch) whose answers may hold raw JSON
/// (see [`RawJson`]).
pub fn to_json(value: &impl serde::Serialize) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(4096);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, RawFormatter);
    value.serialize(&mut serializer)?;
    Ok(out)
}

/// serde_json's compact output, but a value's bytes (only ever an answer's
/// JSON text, see [`Json::into_value`]) are written as they are.
struct RawFormatter;

impl serde_json::ser::Formatter for RawFormatter {
    fn write_byte_array<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        value: &[u8],
    ) -> io::Result<()> {
        writer.write_all(value)
    }
}

/// A type some of whose fields are answered from memory alone.
pub trait Plain: OutputType + Sync {
    /// Names one of those fields.
    type Field: Copy + Send + Sync;

    /// The field called `name` (as in the schema), when it is plain.
    fn plain(name: &str) -> Option<Self::Field>;

    /// Writes the value its resolver gives; false when that would fail.
    fn write(&self, field: Self::Field, out: &mut Json) -> bool;
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
type Plan<'a, F> = Vec<(&'a str, Option<F>)>;

/// `[T!]!`, answered in one pass when the query allows.
pub struct OnePass<T>(pub Vec<T>);

impl<T: Plain> OnePass<T> {
    /// The plan, when every selection is a plain field. A key asked again
    /// is answered once, where it was first asked: validation lets a key
    /// be asked twice only for the same field.
    fn plan<'a>(ctx: &ContextSelectionSet<'a>) -> Option<Plan<'a, T::Field>> {
        let mut plan: Plan<'a, T::Field> = Vec::new();
        for selection in &ctx.item.node.items {
            let field = bare(selection).filter(|f| f.selection_set.node.items.is_empty())?;
            let key = field.response_key().node.as_str();
            let answer = match field.name.node.as_str() {
                "__typename" => None,
                name => Some(T::plain(name)?),
            };
            if plan.iter().all(|(planned, _)| *planned != key) {
                plan.push((key, answer));
            }
        }
        (!plan.is_empty()).then_some(plan)
    }

    /// Every item's answer, or false when one value cannot be answered.
    fn answer(&self, plan: &Plan<'_, T::Field>, out: &mut Json) -> bool {
        let typename = T::type_name();
        list(&self.0, out, |item, out| {
            out.0.push(b'{');
            for (n, (key, field)) in plan.iter().enumerate() {
                out.member(n, key);
                match field {
                    Some(field) => {
                        if !item.write(*field, out) {
                            return false;
                        }
                    }
                    None => out.plain_str(&typename),
                }
            }
            out.0.push(b'}');
            true
        })
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
        if let Some(plan) = Self::plan(ctx) {
            let mut out = Json::default();
            if self.answer(&plan, &mut out) {
                return out.into_value(ctx);
            }
        }
        resolve_list(ctx, field, &self.0, Some(self.0.len())).await
    }
}

/// A type that can answer some selections of itself, object fields
/// included, from memory.
pub trait Answer: OutputType {
    /// Writes the value of its field `name` with the selection `set` under
    /// it (empty for a scalar); false when that needs the executor.
    fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool;
}

/// Writes `item`'s answer to `set`, when every selection in it is a bare
/// field (no fragment, directive or argument) that `item` answers; false,
/// with nothing written, otherwise.
pub fn answer<T: Answer>(item: &T, set: &SelectionSet, out: &mut Json) -> bool {
    object(set, &T::type_name(), out, |name, set, out| {
        item.field(name, set, out)
    })
}

/// Writes the object of type `typename` whose fields `field` writes, as
/// [`answer`] does; for rows answered without a wrapper of their own.
pub fn object(
    set: &SelectionSet,
    typename: &str,
    out: &mut Json,
    mut field: impl FnMut(&str, &SelectionSet, &mut Json) -> bool,
) -> bool {
    let mark = out.0.len();
    out.0.push(b'{');
    for (n, selection) in set.items.iter().enumerate() {
        let Some(selected) = bare(selection) else {
            return out.undo(mark);
        };
        let key = selected.response_key().node.as_str();
        // A key asked twice merges its selections; the executor does that.
        let again = set.items[..n].iter().any(|earlier| {
            matches!(&earlier.node, Selection::Field(f) if f.node.response_key().node == key)
        });
        if again {
            return out.undo(mark);
        }
        out.member(n, key);
        let written = match selected.name.node.as_str() {
            "__typename" => {
                out.plain_str(typename);
                true
            }
            name => field(name, &selected.selection_set.node, out),
        };
        if !written {
            return out.undo(mark);
        }
    }
    out.0.push(b'}');
    true
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
        let mut out = Json::default();
        if answer(&self.0, &ctx.item.node, &mut out) {
            return out.into_value(ctx);
        }
        self.0.resolve(ctx, field).await
    }
}

impl<T: Answer + Sync> Answer for Answered<T> {
    fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool {
        self.0.field(name, set, out)
    }
}

/// A page of `T`s answers from memory when its items do: the executor
/// otherwise resolves each edge as an object of its own (a dashboard's 240
/// edges, each with its cursor and node).
impl<T: Answer + Sync + Send> Answer for KeyedConnection<T> {
    fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool {
        match name {
            "edges" => list(&self.edges, out, |edge, out| answer(edge, set, out)),
            "nodes" => list(&self.edges, out, |edge, out| answer(&edge.node, set, out)),
            "pageInfo" => answer(
                &PageInfo {
                    has_previous_page: self.has_previous_page,
                    has_next_page: self.has_next_page,
                    start_cursor: self.edges.first().map(|e| e.cursor.encode_cursor()),
                    end_cursor: self.edges.last().map(|e| e.cursor.encode_cursor()),
                },
                set,
                out,
            ),
            "totalCount" => {
                out.int(self.additional_fields.total_count);
                true
            }
            _ => false,
        }
    }
}

impl<T: Answer + Sync + Send> Answer for Edge<Cursor, T, EmptyFields> {
    fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool {
        match name {
            "cursor" => {
                out.str(&self.cursor.encode_cursor());
                true
            }
            "node" => answer(&self.node, set, out),
            _ => false,
        }
    }
}

impl Answer for PageInfo {
    fn field(&self, name: &str, _: &SelectionSet, out: &mut Json) -> bool {
        match name {
            "hasPreviousPage" => out.bool(self.has_previous_page),
            "hasNextPage" => out.bool(self.has_next_page),
            "startCursor" => out.opt_str(self.start_cursor.as_deref()),
            "endCursor" => out.opt_str(self.end_cursor.as_deref()),
            _ => return false,
        }
        true
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
        fn field(&self, name: &str, set: &SelectionSet, out: &mut Json) -> bool {
            match name {
                "id" => out.int(self.id),
                "title" => out.str(&self.title),
                "next" => match &self.next {
                    Some(next) => return answer(next.as_ref(), set, out),
                    None => out.null(),
                },
                _ => return false,
            }
            true
        }
    }

    /// The answer of `card` to the selection of the query `{ ... }`, as
    /// JSON text.
    fn answer_to(card: &Card, query: &str) -> Option<String> {
        let doc = parse_query(query).unwrap();
        let (_, operation) = doc.operations.iter().next().unwrap();
        let mut out = Json::default();
        let answered = answer(card, &operation.node.selection_set.node, &mut out);
        let text = String::from_utf8(out.0).unwrap();
        if !answered {
            assert_eq!(text, "", "a refused answer leaves nothing written");
            return None;
        }
        Some(text)
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
        assert_eq!(
            answer.unwrap(),
            r#"{"title":"Pay","key":1,"next":{"__typename":"Card","id":2,"next":null}}"#
        );
    }

    #[test]
    fn strings_are_escaped_and_numbers_written_as_serde_json_would() {
        let card = Card {
            id: -7,
            title: "Say \"hi\"\n\ttab \\ \u{1} é 🦀".into(),
            next: None,
        };
        let answer = answer_to(&card, "{ id title }").unwrap();
        let expected = serde_json::json!({ "id": -7, "title": card.title });
        assert_eq!(answer, expected.to_string());
        let mut out = Json::default();
        out.float(0.1 + 0.2);
        out.0.push(b',');
        out.float(f64::NAN);
        assert_eq!(
            String::from_utf8(out.0).unwrap(),
            "0.30000000000000004,null"
        );
    }

    struct Query;

    #[async_graphql::Object]
    impl Query {
        async fn card(&self) -> Answered<Card> {
            Answered(card())
        }
    }

    /// An answer from memory is the same response whether it is kept as
    /// text ([`RawJson`], written by [`to_json`]) or parsed back into
    /// values (serialised as any response is).
    #[tokio::test]
    async fn kept_as_text_or_parsed_the_response_is_the_same() {
        let schema = async_graphql::Schema::new(
            Query,
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        );
        let query = r#"{ card { title key: id next { __typename id } } }"#;
        let raw = schema
            .execute(async_graphql::Request::new(query).data(RawJson))
            .await;
        assert!(matches!(&raw.data, Value::Object(o) if matches!(o["card"], Value::Binary(_))));
        let parsed = schema.execute(query).await;
        assert!(matches!(&parsed.data, Value::Object(o) if matches!(o["card"], Value::Object(_))));
        let expected =
            r#"{"data":{"card":{"title":"Pay","key":1,"next":{"__typename":"Card","id":2}}}}"#;
        assert_eq!(String::from_utf8(to_json(&raw).unwrap()).unwrap(), expected);
        assert_eq!(serde_json::to_string(&parsed).unwrap(), expected);
        // A selection the tree cannot answer goes the executor's way.
        let fragment = "{ card { ... on Card { title } } }";
        let raw = schema
            .execute(async_graphql::Request::new(fragment).data(RawJson))
            .await;
        assert_eq!(
            String::from_utf8(to_json(&raw).unwrap()).unwrap(),
            r#"{"data":{"card":{"title":"Pay"}}}"#
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
