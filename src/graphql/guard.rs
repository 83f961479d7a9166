//! Bounds on a document's work, checked before the schema validates or runs
//! it, with or without a token: how deep its text nests, how many fields it
//! expands to once every fragment spread is counted each time it is used,
//! and how many introspection roots an operation has.
//!
//! async-graphql's validation walks the expanded tree before its depth and
//! complexity limits apply, so a 1 kB document of fragments that each spread
//! the next twice costs time that doubles with every level. Here the
//! expanded size is computed per fragment, once, from the parsed document:
//! linear in the document, whatever it expands to.

use std::collections::HashMap;

use async_graphql::parser::{
    parse_query,
    types::{ExecutableDocument, OperationType, Selection, SelectionSet},
};

use super::source::{Piece, pieces};
use crate::error::{AppError, AppResult};

/// Limits of a document (settings).
#[derive(Clone, Copy, Debug)]
pub struct DocumentLimits {
    /// The configured depth limit, named in the refusal of text nested
    /// deeper than the parser goes.
    pub max_depth: usize,
    /// Fields of an operation once fragments are expanded.
    pub max_fields: u64,
}

/// What the edge needs to know of a document that passed.
#[derive(Clone, Debug, Default)]
pub struct Inspected {
    /// Fields of the chosen operations, fragments expanded.
    pub fields: u64,
    /// Whether the operation run is a query.
    pub is_query: bool,
    /// The name of the operation run, when it has one.
    pub operation: Option<String>,
    /// The document as parsed, for the executor, so it is parsed once.
    pub document: Option<ExecutableDocument>,
}

/// `__type` fields an operation may have at its root (`__schema`: one).
const MAX_TYPE_ROOTS: usize = 20;

/// The parser's own nesting limit: text nested deeper fails to parse with
/// a message about recursion, so it is refused first, naming the setting.
const PARSER_NESTING: usize = 30;

/// Checks a document; BAD_USER_INPUT with a clear message when it breaks a
/// limit or does not parse (the message is cut, never echoing the body).
pub fn inspect(
    query: &str,
    operation_name: Option<&str>,
    limits: DocumentLimits,
) -> AppResult<Inspected> {
    if nesting(query) > PARSER_NESTING {
        return Err(AppError::bad_input(format!(
            "the query is nested deeper than the depth limit of {} (setting PORTFOLIO_MAX_DEPTH)",
            limits.max_depth
        )));
    }
    let doc = parse_query(query).map_err(|err| {
        let mut message = format!("the query does not parse: {err}");
        if message.len() > 300 {
            let cut = (0..=300)
                .rev()
                .find(|i| message.is_char_boundary(*i))
                .unwrap_or(0);
            message.truncate(cut);
            message.push('…');
        }
        AppError::bad_input(message)
    })?;
    let sizes = fragment_sizes(&doc);
    let mut inspected = Inspected::default();
    let chosen: Vec<_> = doc
        .operations
        .iter()
        .filter(|(name, _)| match operation_name {
            Some(wanted) => name.is_some_and(|n| n.as_str() == wanted),
            None => true,
        })
        .collect();
    for (name, op) in &chosen {
        let shape = shape(&op.node.selection_set.node);
        let fields = shape.expanded(&sizes);
        if fields > limits.max_fields {
            return Err(AppError::bad_input(format!(
                "the query expands to more than {} fields, counting each fragment spread \
                 every time it is used (setting PORTFOLIO_MAX_QUERY_FIELDS)",
                limits.max_fields
            )));
        }
        let (schemas, types) = introspection_roots(&doc, &op.node.selection_set.node);
        if schemas > 1 || types > MAX_TYPE_ROOTS {
            return Err(AppError::bad_input(format!(
                "an operation may ask for __schema once and __type at most {MAX_TYPE_ROOTS} times"
            )));
        }
        inspected.fields = inspected.fields.saturating_add(fields);
        if chosen.len() == 1 {
            inspected.is_query = op.node.ty == OperationType::Query;
            inspected.operation = name.map(|n| n.to_string());
        }
    }
    inspected.document = Some(doc);
    Ok(inspected)
}

/// Documents lately inspected, by their text and operation name. A client
/// sends the same few documents again and again, and parsing is the slow
/// part of a check: the dashboard's 600 bytes cost 7% of its uncached
/// answer's instructions to parse, and far less to copy. Only documents
/// that passed are kept, and only small ones.
pub struct Inspections {
    kept: std::sync::Mutex<lru::LruCache<DocumentKey, std::sync::Arc<Inspected>>>,
}

/// A document's text and the operation asked of it.
type DocumentKey = (Box<str>, Option<Box<str>>);

impl Inspections {
    /// How many documents are kept.
    const ENTRIES: usize = 128;
    /// The longest text kept (its parsed form is some ten times larger).
    const MAX_BYTES: usize = 8 * 1024;

    pub fn new() -> Self {
        let entries =
            std::num::NonZeroUsize::new(Self::ENTRIES).unwrap_or(std::num::NonZeroUsize::MIN);
        Self {
            kept: std::sync::Mutex::new(lru::LruCache::new(entries)),
        }
    }

    /// [`inspect`], or a copy of what it found for the same text and
    /// operation under the same limits (the server's limits do not change
    /// while it runs).
    pub fn inspect(
        &self,
        query: &str,
        operation_name: Option<&str>,
        limits: DocumentLimits,
    ) -> AppResult<Inspected> {
        if query.len() > Self::MAX_BYTES {
            return inspect(query, operation_name, limits);
        }
        let key = (Box::from(query), operation_name.map(Box::from));
        let hit = super::locked(&self.kept).get(&key).cloned();
        if let Some(hit) = hit {
            return Ok(Inspected::clone(&hit));
        }
        let inspected = inspect(query, operation_name, limits)?;
        super::locked(&self.kept).put(key, std::sync::Arc::new(inspected.clone()));
        Ok(inspected)
    }
}

impl Default for Inspections {
    fn default() -> Self {
        Self::new()
    }
}

/// How deep brackets nest in the text, outside strings and comments.
fn nesting(query: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    for piece in pieces(query) {
        match piece {
            Piece::Char('{' | '[' | '(') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            Piece::Char('}' | ']' | ')') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A selection set's own fields and the fragments it spreads (each time).
struct Shape<'a> {
    fields: u64,
    spreads: Vec<&'a str>,
}

impl Shape<'_> {
    fn expanded(&self, sizes: &HashMap<&str, u64>) -> u64 {
        self.spreads.iter().fold(self.fields, |total, name| {
            total.saturating_add(sizes.get(name).copied().unwrap_or(0))
        })
    }
}

fn shape(set: &SelectionSet) -> Shape<'_> {
    let mut out = Shape {
        fields: 0,
        spreads: Vec::new(),
    };
    // Nesting is bounded by the parser, so plain recursion is safe here.
    fn walk<'a>(set: &'a SelectionSet, out: &mut Shape<'a>) {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    out.fields += 1;
                    walk(&field.node.selection_set.node, out);
                }
                Selection::InlineFragment(inline) => walk(&inline.node.selection_set.node, out),
                Selection::FragmentSpread(spread) => {
                    out.spreads.push(spread.node.fragment_name.node.as_str());
                }
            }
        }
    }
    walk(set, &mut out);
    out
}

/// The expanded size of every fragment, each computed once, without
/// recursion (a chain of fragments can be as long as the document). A
/// fragment that spreads itself counts as empty there: validation refuses
/// the cycle anyway.
fn fragment_sizes(doc: &ExecutableDocument) -> HashMap<&str, u64> {
    let shapes: HashMap<&str, Shape<'_>> = doc
        .fragments
        .iter()
        .map(|(name, def)| (name.as_str(), shape(&def.node.selection_set.node)))
        .collect();
    let mut sizes: HashMap<&str, u64> = HashMap::new();
    let mut in_progress: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for start in shapes.keys() {
        let mut stack: Vec<&str> = vec![start];
        while let Some(&name) = stack.last() {
            if sizes.contains_key(name) {
                stack.pop();
                continue;
            }
            let Some(shape) = shapes.get(name) else {
                sizes.insert(name, 0);
                stack.pop();
                continue;
            };
            if in_progress.insert(name) {
                for spread in &shape.spreads {
                    if !sizes.contains_key(spread) && !in_progress.contains(spread) {
                        stack.push(spread);
                    }
                }
            } else {
                sizes.insert(name, shape.expanded(&sizes));
                in_progress.remove(name);
                stack.pop();
            }
        }
    }
    sizes
}

/// `__schema` and `__type` fields at the root of an operation, through
/// inline fragments and fragment spreads.
fn introspection_roots(doc: &ExecutableDocument, root: &SelectionSet) -> (usize, usize) {
    let (mut schemas, mut types) = (0, 0);
    let mut seen = std::collections::HashSet::new();
    let mut sets = vec![root];
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => match field.node.name.node.as_str() {
                    "__schema" => schemas += 1,
                    "__type" => types += 1,
                    _ => {}
                },
                Selection::InlineFragment(inline) => sets.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if seen.insert(name.as_str())
                        && let Some(def) = doc.fragments.get(name)
                    {
                        sets.push(&def.node.selection_set.node);
                    }
                }
            }
        }
    }
    (schemas, types)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits {
        max_depth: 15,
        max_fields: 10_000,
    };

    /// `fragment F0 on User { ...F1 ...F1 }` ... down to `F{levels}`.
    fn doubling(levels: usize) -> String {
        let mut q = String::from("query { viewer { ...F0 } }\n");
        for i in 0..levels {
            q.push_str(&format!(
                "fragment F{i} on User {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        q.push_str(&format!("fragment F{levels} on User {{ id }}\n"));
        q
    }

    #[test]
    fn a_doubling_fragment_chain_is_refused_at_once() {
        // 2^30 fields once expanded, refused from 31 fragment sizes.
        let err = inspect(&doubling(30), None, LIMITS).unwrap_err();
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert!(
            err.message().contains("expands to more than"),
            "{}",
            err.message()
        );
        // A small chain is fine: 2^5 + 1 fields.
        assert_eq!(inspect(&doubling(5), None, LIMITS).unwrap().fields, 33);
    }

    #[test]
    fn a_long_fragment_chain_does_not_recurse() {
        let mut q = String::from("query { viewer { ...F0 } }\n");
        for i in 0..20_000 {
            q.push_str(&format!("fragment F{i} on User {{ id ...F{} }}\n", i + 1));
        }
        q.push_str("fragment F20000 on User { id }\n");
        let err = inspect(&q, None, LIMITS).unwrap_err();
        assert!(err.message().contains("expands"), "{}", err.message());
    }

    #[test]
    fn deep_text_is_refused_naming_the_depth_setting() {
        let q = format!("{}{}", "{ a ".repeat(50), "}".repeat(50));
        let err = inspect(&q, None, LIMITS).unwrap_err();
        assert!(
            err.message().contains("depth limit of 15"),
            "{}",
            err.message()
        );
        // Brackets inside strings and comments do not count.
        let q = format!("query {{ viewer {{ id }} }} # {}\n", "{".repeat(100));
        assert!(inspect(&q, None, LIMITS).is_ok());
        let q = format!("query {{ program(id: \"{}\") {{ id }} }}", "{".repeat(100));
        assert!(inspect(&q, None, LIMITS).is_ok());
    }

    #[test]
    fn parse_errors_do_not_echo_the_document() {
        let q = format!("{{ {} ", "a".repeat(400_000));
        let err = inspect(&q, None, LIMITS).unwrap_err();
        assert!(err.message().len() < 400, "{}", err.message().len());
    }

    #[test]
    fn one_introspection_root_per_operation() {
        let many = format!(
            "{{ {} }}",
            (0..3)
                .map(|i| format!("s{i}: __schema {{ queryType {{ name }} }}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(inspect(&many, None, LIMITS).is_err());
        assert!(inspect("{ __schema { queryType { name } } }", None, LIMITS).is_ok());
        let both = "{ __schema { queryType { name } } __type(name: \"User\") { name } }";
        assert!(inspect(both, None, LIMITS).is_ok());
        let types = format!(
            "{{ {} }}",
            (0..21)
                .map(|i| format!("t{i}: __type(name: \"User\") {{ name }}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(inspect(&types, None, LIMITS).is_err());
    }

    #[test]
    fn the_operation_run_is_named() {
        let q = "query A { viewer { id } } mutation B { __typename }";
        let a = inspect(q, Some("A"), LIMITS).unwrap();
        assert!(a.is_query);
        assert_eq!(a.operation.as_deref(), Some("A"));
        let b = inspect(q, Some("B"), LIMITS).unwrap();
        assert!(!b.is_query);
        let single = inspect("query Overview { viewer { id } }", None, LIMITS).unwrap();
        assert_eq!(single.operation.as_deref(), Some("Overview"));
    }
}
