//! Subscriptions shared by every websocket subscriber that asks the same.
//!
//! Subscribers who send the same subscription (the same document once
//! comments, commas and white space are taken out, the same variables and
//! operation name) with the same viewer would each get the same answer to
//! every event. The fan-out resolves such a subscription once, as a *group*:
//! one upstream stream on the websocket schema, each response serialized
//! once, and the same bytes queued to every member.
//!
//! A member's queue holds as many responses as the subscription buffer
//! (`PORTFOLIO_SUBSCRIPTION_BUFFER`). A member whose queue is full is
//! dropped from its group; it then sends what was queued and ends with the
//! CONFLICT error a lagging subscription ends with, whose `resumeAfter` is
//! the cursor of the last event it sent. The others go on.
//!
//! A subscription that reads from the log (`after:` given) starts from its
//! own point: it is not shared, nor is anything else the group could not
//! answer identically (several operations with none named, a root fragment,
//! request extensions).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicI64, Ordering},
    },
};

use async_graphql::{
    Data, Name, Request, Response, ServerError, Variables,
    parser::types::{DocumentOperations, OperationType, Selection},
};
use futures_util::{
    StreamExt,
    stream::{BoxStream, unfold},
};
use serde_json::Value as Json;
use tokio::{sync::mpsc, task::JoinHandle};

use super::{AppSchema, locked, observe::OpenSubscription};
use crate::{
    auth::{Actor, Viewer},
    error::AppError,
    metrics::Metrics,
    page::cursor,
};

/// Where in its program's log a subscription's event stream has read to:
/// set by `follow` when it is in the session's data (a group's upstream),
/// read by the group as each response comes out.
#[derive(Clone, Default)]
pub struct Position(Arc<Positions>);

struct Positions {
    start: AtomicI64,
    current: AtomicI64,
}

impl Default for Positions {
    fn default() -> Self {
        Self {
            start: AtomicI64::new(UNSET),
            current: AtomicI64::new(UNSET),
        }
    }
}

const UNSET: i64 = i64::MIN;

fn known(value: i64) -> Option<i64> {
    (value != UNSET).then_some(value)
}

impl Position {
    /// The stream starts after event `sequence`.
    pub fn start(&self, sequence: i64) {
        self.0.start.store(sequence, Ordering::Release);
    }

    /// The stream has read event `sequence` (sent or filtered out).
    pub fn reach(&self, sequence: i64) {
        self.0.current.store(sequence, Ordering::Release);
    }

    fn started(&self) -> Option<i64> {
        known(self.0.start.load(Ordering::Acquire))
    }

    fn current(&self) -> Option<i64> {
        known(self.0.current.load(Ordering::Acquire))
    }
}

/// Marks the session data of a group's upstream: the websocket schema's
/// `Observe` extension counts members, not upstreams, as open subscriptions.
pub struct Upstream;

/// What makes two subscriptions the same: who asks (no one, for an
/// anonymous connection) and what.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct Key {
    actor: Option<Actor>,
    document: String,
    variables: String,
    operation: Option<String>,
}

/// A `subscribe` payload the fan-out can serve.
pub struct Shareable {
    query: String,
    document: String,
    variables: Json,
    operation: Option<String>,
    /// The root field's response key, for the path of a member's own error.
    root: String,
}

impl Shareable {
    /// The payload of a `subscribe` message, when it can be shared; `None`
    /// when it must run on its own.
    pub fn of(payload: &Json) -> Option<Self> {
        let query = payload.get("query")?.as_str()?;
        let variables = match payload.get("variables") {
            None | Some(Json::Null) => Json::Object(Default::default()),
            Some(v @ Json::Object(_)) => v.clone(),
            Some(_) => return None,
        };
        let operation = match payload.get("operationName") {
            None | Some(Json::Null) => None,
            Some(Json::String(name)) => Some(name.clone()),
            Some(_) => return None,
        };
        if payload
            .get("extensions")
            .is_some_and(|e| !e.is_null() && e.as_object().is_none_or(|e| !e.is_empty()))
        {
            return None;
        }
        let root = live_root(query, operation.as_deref(), &variables)?;
        Some(Self {
            document: normalize(query),
            query: query.to_owned(),
            variables,
            operation,
            root,
        })
    }

    fn key(&self, viewer: &Viewer) -> Key {
        Key {
            actor: viewer.actor().ok(),
            document: self.document.clone(),
            variables: canonical(&self.variables),
            operation: self.operation.clone(),
        }
    }

    fn request(&self) -> Request {
        let mut request = Request::new(self.query.clone())
            .variables(Variables::from_json(self.variables.clone()));
        if let Some(name) = &self.operation {
            request = request.operation_name(name.clone());
        }
        request
    }
}

/// The response key of the one root field of a subscription that follows
/// live events only; `None` for anything else.
fn live_root(query: &str, operation: Option<&str>, variables: &Json) -> Option<String> {
    let doc = async_graphql::parser::parse_query(query).ok()?;
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(&Name::new(name))?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    let op = &op.node;
    if op.ty != OperationType::Subscription {
        return None;
    }
    let [selection] = op.selection_set.node.items.as_slice() else {
        return None;
    };
    let Selection::Field(field) = &selection.node else {
        return None;
    };
    let field = &field.node;
    let after = field
        .arguments
        .iter()
        .find(|(name, _)| name.node.as_str() == "after")
        .map(|(_, value)| &value.node);
    let unset = match after {
        None | Some(async_graphql_value::Value::Null) => true,
        Some(async_graphql_value::Value::Variable(name)) => match variables.get(name.as_str()) {
            Some(value) => value.is_null(),
            None => op
                .variable_definitions
                .iter()
                .find(|d| d.node.name.node == *name)
                .is_none_or(|d| {
                    d.node
                        .default_value
                        .as_ref()
                        .is_none_or(|v| v.node == async_graphql::Value::Null)
                }),
        },
        Some(_) => false,
    };
    unset.then(|| field.response_key().node.to_string())
}

/// A document without what GraphQL ignores: comments, commas, and white
/// space except one blank between two names or numbers. String literals
/// are kept as they are.
fn normalize(document: &str) -> String {
    let mut out = String::with_capacity(document.len());
    let mut chars = document.chars().peekable();
    let mut gap = false;
    let word = |c: char| c.is_alphanumeric() || c == '_';
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                while chars.next_if(|&c| c != '\n' && c != '\r').is_some() {}
                gap = true;
            }
            ' ' | '\t' | '\n' | '\r' | ',' | '\u{feff}' => gap = true,
            '"' => {
                out.push('"');
                let block = chars.next_if_eq(&'"').is_some();
                if block && chars.next_if_eq(&'"').is_none() {
                    // `""`: the empty string.
                    out.push('"');
                } else if block {
                    out.push_str("\"\"");
                    let mut quotes = 0;
                    while let Some(c) = chars.next() {
                        out.push(c);
                        // `\"""` is three quotes of the text.
                        if c == '\\' && chars.clone().take(3).eq("\"\"\"".chars()) {
                            out.push_str("\"\"\"");
                            chars.nth(2);
                            quotes = 0;
                            continue;
                        }
                        quotes = if c == '"' { quotes + 1 } else { 0 };
                        if quotes == 3 {
                            break;
                        }
                    }
                } else {
                    while let Some(c) = chars.next() {
                        out.push(c);
                        match c {
                            '\\' => {
                                if let Some(escaped) = chars.next() {
                                    out.push(escaped);
                                }
                            }
                            '"' => break,
                            _ => {}
                        }
                    }
                }
                gap = false;
            }
            c => {
                if gap && word(c) && out.chars().next_back().is_some_and(word) {
                    out.push(' ');
                }
                out.push(c);
                gap = false;
            }
        }
    }
    out
}

/// JSON with every object's keys in order: equal values, equal text.
fn canonical(value: &Json) -> String {
    fn sorted(value: &Json) -> Json {
        match value {
            Json::Object(map) => {
                let mut entries: Vec<(&String, &Json)> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Json::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    sorted(value).to_string()
}

/// What a group sends its members.
#[derive(Clone)]
enum Frame {
    /// A response, serialized, and where in the log the group had read to.
    Next {
        payload: Arc<str>,
        position: Option<i64>,
    },
    /// The subscription ended.
    End,
}

/// The shared subscriptions of one server process.
#[derive(Clone)]
pub struct Fanout(Arc<Hub>);

struct Hub {
    schema: AppSchema,
    buffer: usize,
    metrics: Arc<Metrics>,
    groups: Mutex<HashMap<Key, Weak<Group>>>,
}

/// One shared subscription: its upstream task (aborted once no member is
/// left) and its members' queues.
struct Group {
    hub: Arc<Hub>,
    key: Key,
    root: String,
    position: Position,
    members: Arc<Mutex<Members>>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Members {
    queues: Vec<(u64, mpsc::Sender<Frame>)>,
    next_id: u64,
    /// The position of the last response sent, for who joins now.
    last: Option<i64>,
    ended: bool,
}

impl Members {
    /// A new member's queue: its id, and the end it reads.
    fn add(&mut self, buffer: usize) -> (u64, mpsc::Receiver<Frame>) {
        let (tx, rx) = mpsc::channel(buffer);
        let id = self.next_id;
        self.next_id += 1;
        self.queues.push((id, tx));
        (id, rx)
    }

    /// Queues `frame` to every member; a member whose queue is full is
    /// dropped (it ends with an error once it has sent its queue).
    fn send(&mut self, frame: &Frame) {
        self.queues
            .retain(|(_, queue)| queue.try_send(frame.clone()).is_ok());
    }

    fn end(&mut self) {
        self.ended = true;
        self.send(&Frame::End);
        self.queues.clear();
    }
}

/// Ends the group's members when its upstream task ends, however it ends.
struct EndOnDrop(Arc<Mutex<Members>>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        locked(&self.0).end();
    }
}

impl Fanout {
    /// A fan-out over the websocket schema; `buffer` responses are queued
    /// per member at most.
    pub fn new(schema: AppSchema, buffer: usize, metrics: Arc<Metrics>) -> Self {
        Self(Arc::new(Hub {
            schema,
            buffer: buffer.max(1),
            metrics,
            groups: Mutex::new(HashMap::new()),
        }))
    }

    /// How many groups are running.
    pub fn groups(&self) -> usize {
        locked(&self.0.groups)
            .values()
            .filter(|g| g.strong_count() > 0)
            .count()
    }

    /// Joins the group of `shareable` as `viewer`, starting it when none
    /// runs. Must be called within the runtime.
    pub fn join(&self, shareable: Shareable, viewer: &Viewer) -> Member {
        let key = shareable.key(viewer);
        // A group found ended is let go of after the lock: its drop takes it.
        let mut _ended = None;
        let mut groups = locked(&self.0.groups);
        if let Some(group) = groups.get(&key).and_then(Weak::upgrade) {
            match Group::attach(&group) {
                Some(member) => return member,
                None => _ended = Some(group),
            }
        }
        let member = self.start(key.clone(), &shareable, viewer);
        groups.insert(key, Arc::downgrade(&member.group));
        member
    }

    /// A new group and its first member, queued before the upstream runs.
    fn start(&self, key: Key, shareable: &Shareable, viewer: &Viewer) -> Member {
        let position = Position::default();
        // In the session's data: extensions see no request's.
        let mut session = Data::default();
        session.insert(viewer.clone());
        session.insert(Upstream);
        session.insert(position.clone());
        // Answers from memory stay JSON text; `run` writes them as they are.
        session.insert(super::one_pass::RawJson);
        let upstream = self
            .0
            .schema
            .execute_stream_with_session_data(shareable.request(), Arc::new(session));
        let mut members = Members::default();
        let (id, rx) = members.add(self.0.buffer);
        let members = Arc::new(Mutex::new(members));
        let task = tokio::spawn(run(upstream, members.clone(), position.clone()));
        self.0.metrics.subscription_groups_changed(1);
        let group = Arc::new(Group {
            hub: self.0.clone(),
            key,
            root: shareable.root.clone(),
            position,
            members,
            task,
        });
        Member::new(group, id, rx, None)
    }
}

/// Resolves the group's subscription once per event for all its members.
async fn run(
    mut upstream: BoxStream<'static, Response>,
    members: Arc<Mutex<Members>>,
    position: Position,
) {
    let _end = EndOnDrop(members.clone());
    while let Some(response) = upstream.next().await {
        let text = super::one_pass::to_json(&response)
            .and_then(|bytes| String::from_utf8(bytes).map_err(serde::ser::Error::custom));
        let payload = text.unwrap_or_else(|err| {
            tracing::error!(error = %err, "a subscription response does not serialize");
            r#"{"data":null,"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#
                .to_owned()
        });
        let position = position.current();
        let mut members = locked(&members);
        if position.is_some() {
            members.last = position;
        }
        members.send(&Frame::Next {
            payload: payload.into(),
            position,
        });
    }
}

impl Group {
    /// A new member, queued from the next response on; `None` once ended.
    fn attach(group: &Arc<Self>) -> Option<Member> {
        let mut members = locked(&group.members);
        if members.ended {
            return None;
        }
        let (id, rx) = members.add(group.hub.buffer);
        let last = members.last;
        drop(members);
        Some(Member::new(group.clone(), id, rx, last))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.task.abort();
        self.hub.metrics.subscription_groups_changed(-1);
        let mut groups = locked(&self.hub.groups);
        if groups
            .get(&self.key)
            .is_some_and(|g| std::ptr::eq(g.as_ptr(), self))
        {
            groups.remove(&self.key);
        }
    }
}

/// One subscriber of a group.
pub struct Member {
    group: Arc<Group>,
    id: u64,
    rx: mpsc::Receiver<Frame>,
    /// The position of the last response it was sent (or that the group had
    /// sent when it joined).
    last: Option<i64>,
    _open: OpenSubscription,
}

impl Member {
    fn new(group: Arc<Group>, id: u64, rx: mpsc::Receiver<Frame>, last: Option<i64>) -> Self {
        let open = OpenSubscription::new(group.hub.metrics.clone());
        Self {
            group,
            id,
            rx,
            last,
            _open: open,
        }
    }

    /// Its responses, serialized; the stream ends when the subscription
    /// does.
    pub fn responses(self) -> BoxStream<'static, Arc<str>> {
        unfold(Some(self), |member| async move {
            let mut member = member?;
            match member.rx.recv().await {
                Some(Frame::Next { payload, position }) => {
                    if position.is_some() {
                        member.last = position;
                    }
                    Some((payload, Some(member)))
                }
                Some(Frame::End) => None,
                // Dropped from the group: it fell behind.
                None => Some((member.fell_behind(), None)),
            }
        })
        .boxed()
    }

    /// The error that ends a member that fell behind.
    fn fell_behind(&self) -> Arc<str> {
        let resume = self
            .last
            .or_else(|| self.group.position.started())
            .unwrap_or(0);
        let cursor = cursor(resume);
        let message = format!(
            "this subscription fell behind and was ended; subscribe again with after: \"{cursor}\" to resume"
        );
        let err: async_graphql::Error = AppError::Lagged { message, cursor }.into();
        let mut error = ServerError::new(err.message, None);
        error.extensions = err.extensions;
        error.path = vec![async_graphql::PathSegment::Field(self.group.root.clone())];
        let response = Response::from_errors(vec![error]);
        serde_json::to_string(&response)
            .unwrap_or_else(|_| r#"{"data":null,"errors":[{"message":"this subscription fell behind","extensions":{"code":"CONFLICT"}}]}"#.to_owned())
            .into()
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        locked(&self.group.members)
            .queues
            .retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_that_differ_in_what_graphql_ignores_are_one() {
        let plain = normalize(
            "subscription($p: ID!) { programEvents(programId: $p) { event { sequence kind } } }",
        );
        let spaced = normalize(
            "# the feed\nsubscription ( $p : ID! ) {\n  programEvents(programId: $p) {\n    event { sequence, kind } # both\n  }\n}\n",
        );
        assert_eq!(plain, spaced);
        assert_eq!(
            plain,
            "subscription($p:ID!){programEvents(programId:$p){event{sequence kind}}}"
        );
        // Strings keep their white space, commas and hashes.
        assert_eq!(normalize(r#"{ a(b: "x,  # y") }"#), r#"{a(b:"x,  # y")}"#);
        assert_eq!(normalize(r#"{ a(b: "q\" ,c") c }"#), r#"{a(b:"q\" ,c")c}"#);
        assert_eq!(
            normalize("{ a(b: \"\"\"x,  \\\"\"\" y\"\"\") c }"),
            "{a(b:\"\"\"x,  \\\"\"\" y\"\"\")c}"
        );
        assert_eq!(normalize(r#"{ a(b: "") c }"#), r#"{a(b:"")c}"#);
        // Names stay apart.
        assert_eq!(normalize("{ a b\n\tc }"), "{a b c}");
        assert_ne!(normalize("{ a b }"), normalize("{ ab }"));
    }

    #[test]
    fn variables_are_compared_whatever_their_order() {
        let a = serde_json::json!({ "p": "1", "q": { "x": 1, "y": [ { "b": 1, "a": 2 } ] } });
        let b = serde_json::json!({ "q": { "y": [ { "a": 2, "b": 1 } ], "x": 1 }, "p": "1" });
        assert_eq!(canonical(&a), canonical(&b));
    }

    #[test]
    fn only_live_subscriptions_of_one_root_field_are_shared() {
        let share = |payload: Json| Shareable::of(&payload).map(|s| s.root);
        let feed = "subscription($p: ID!, $a: String) { feed: programEvents(programId: $p, after: $a) { event { sequence } } }";
        assert_eq!(
            share(serde_json::json!({ "query": feed, "variables": { "p": "x" } })).as_deref(),
            Some("feed")
        );
        assert!(
            share(serde_json::json!({ "query": feed, "variables": { "p": "x", "a": null } }))
                .is_some()
        );
        // From a cursor: its own replay.
        assert!(
            share(
                serde_json::json!({ "query": feed, "variables": { "p": "x", "a": "Y3Vyc29yOjE" } })
            )
            .is_none()
        );
        let with_default = "subscription($p: ID!, $a: String = \"Y3Vyc29yOjE\") { programEvents(programId: $p, after: $a) { event { sequence } } }";
        assert!(
            share(serde_json::json!({ "query": with_default, "variables": { "p": "x" } }))
                .is_none()
        );
        let literal = "subscription { programEvents(programId: \"x\", after: \"Y3Vyc29yOjE\") { event { sequence } } }";
        assert!(share(serde_json::json!({ "query": literal })).is_none());
        // Not a subscription, two root fields, a root fragment, unreadable.
        for query in [
            "query { viewer { id } }",
            "subscription { a: programEvents(programId: \"x\") { event { sequence } } b: programEvents(programId: \"y\") { event { sequence } } }",
            "subscription { ... on Subscription { programEvents(programId: \"x\") { event { sequence } } } }",
            "subscription {",
        ] {
            assert!(
                share(serde_json::json!({ "query": query })).is_none(),
                "{query}"
            );
        }
        // Named operations: the one named.
        let two = "subscription A { programEvents(programId: \"x\") { event { sequence } } } subscription B { b: programEvents(programId: \"x\") { event { sequence } } }";
        assert_eq!(
            share(serde_json::json!({ "query": two, "operationName": "B" })).as_deref(),
            Some("b")
        );
        assert!(share(serde_json::json!({ "query": two })).is_none());
        // Request extensions (a persisted query, say) run on their own.
        assert!(share(serde_json::json!({ "query": feed, "variables": { "p": "x" }, "extensions": { "persistedQuery": {} } })).is_none());
        assert!(
            share(
                serde_json::json!({ "query": feed, "variables": { "p": "x" }, "extensions": {} })
            )
            .is_some()
        );
    }
}
