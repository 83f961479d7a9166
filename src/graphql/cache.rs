//! A cache of whole query responses, never stale: an entry is served only
//! while the database's data version is the one read before the response
//! was computed.
//!
//! The data version grows with every committed write: every mutation that
//! changes what a query can show records an event, bumping its program's
//! counter row; new programs and users add rows. It is read from the
//! database on each request, so writes of other processes count too. A
//! response computed while a write commits may already contain that write,
//! but it is stored under the version read before it, which the write has
//! left behind, so it is never served. Responses that read the clock (ages,
//! response times) or have errors are not stored; mutations never are.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    Request,
    parser::{
        parse_query,
        types::{DocumentOperations, OperationType},
    },
};
use axum::body::Bytes;
use sea_orm::{ConnectionTrait, DbErr, Statement};

/// Set by resolvers whose answer depends on the time, so the response is not stored.
#[derive(Clone, Default)]
pub struct Uncacheable(pub Arc<AtomicBool>);

impl Uncacheable {
    pub fn mark(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_marked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The data version: committed events of all programs, programs, users.
pub async fn data_version(conn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let sql = "SELECT CAST((SELECT COALESCE(SUM(last_sequence), 0) FROM event_counters) \
               + (SELECT COUNT(*) FROM event_counters) + (SELECT COUNT(*) FROM users) AS BIGINT) AS v";
    let row = conn
        .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    match row {
        Some(row) => row.try_get("", "v"),
        None => Ok(0),
    }
}

/// Whether the request is a query (not a mutation or subscription).
/// A document of several operations needs `operationName` to say which.
pub fn is_query(request: &Request) -> bool {
    let Ok(doc) = parse_query(&request.query) else {
        return false;
    };
    let ty = match (&doc.operations, &request.operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name.as_str()).map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        (DocumentOperations::Multiple(_), None) => None,
    };
    ty == Some(OperationType::Query)
}

struct Entry {
    version: i64,
    viewer: String,
    body: Bytes,
    response: Bytes,
}

/// Cached responses by viewer and request body.
pub struct ResponseCache {
    entries: Mutex<HashMap<(String, Bytes), Entry>>,
    capacity: usize,
}

impl ResponseCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The stored response, if computed at `version`.
    pub fn get(&self, viewer: &str, body: &Bytes, version: i64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&(viewer.to_owned(), body.clone()))
            .filter(|e| e.version == version && e.viewer == viewer && e.body == *body)
            .map(|e| e.response.clone())
    }

    /// Stores a response computed at `version`; when full, makes room by
    /// dropping the entries of older versions, else everything.
    pub fn put(&self, viewer: String, body: Bytes, version: i64, response: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.version >= version);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(
            (viewer.clone(), body.clone()),
            Entry {
                version,
                viewer,
                body,
                response,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_queries_are_cacheable() {
        assert!(is_query(&Request::new("{ viewer { id } }")));
        assert!(is_query(&Request::new("query Named { viewer { id } }")));
        assert!(!is_query(&Request::new("mutation { a }")));
        assert!(!is_query(&Request::new("mutation Named { a }")));
        assert!(!is_query(&Request::new("subscription { a }")));
        let two = "query A { x } mutation B { y }";
        assert!(!is_query(&Request::new(two)));
        assert!(is_query(&Request::new(two).operation_name("A")));
        assert!(!is_query(&Request::new(two).operation_name("B")));
        assert!(!is_query(&Request::new("{ not closed")));
    }
}
