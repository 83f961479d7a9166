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

struct Entry {
    version: i64,
    viewer: String,
    body: Bytes,
    response: Bytes,
}

/// Cached responses by viewer and request body, bounded in entries and bytes.
pub struct ResponseCache {
    state: Mutex<Cached>,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Default)]
struct Cached {
    entries: HashMap<(String, Bytes), Entry>,
    /// What the entries hold, as [`footprint`] counts it.
    bytes: usize,
}

/// The memory an entry holds: the viewer twice (key and entry), the request
/// body once (key and entry share it), the response, and the map's slot.
fn footprint(viewer: &str, body: &Bytes, response: &Bytes) -> usize {
    2 * viewer.len() + body.len() + response.len() + 160
}

impl Cached {
    fn recount(&mut self) {
        self.bytes = self
            .entries
            .values()
            .map(|e| footprint(&e.viewer, &e.body, &e.response))
            .sum();
    }
}

impl ResponseCache {
    /// At most `capacity` entries (0 turns the cache off) and `max_bytes`.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            state: Mutex::new(Cached::default()),
            capacity,
            max_bytes,
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0 && self.max_bytes > 0
    }

    /// The stored response, if computed at `version`.
    pub fn get(&self, viewer: &str, body: &Bytes, version: i64) -> Option<Bytes> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state
            .entries
            .get(&(viewer.to_owned(), body.clone()))
            .filter(|e| e.version == version && e.viewer == viewer && e.body == *body)
            .map(|e| e.response.clone())
    }

    /// Stores a response computed at `version`. A response larger than an
    /// eighth of the byte budget is not stored. When full, makes room by
    /// dropping the entries of older versions, else everything.
    pub fn put(&self, viewer: String, body: Bytes, version: i64, response: Bytes) {
        let size = footprint(&viewer, &body, &response);
        if size > self.max_bytes / 8 {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = state.entries.remove(&(viewer.clone(), body.clone())) {
            state.bytes -= footprint(&old.viewer, &old.body, &old.response);
        }
        let full = |c: &Cached| c.entries.len() >= self.capacity || c.bytes + size > self.max_bytes;
        if full(&state) {
            state.entries.retain(|_, e| e.version >= version);
            state.recount();
            if full(&state) {
                state.entries.clear();
                state.bytes = 0;
            }
        }
        state.bytes += size;
        state.entries.insert(
            (viewer.clone(), body.clone()),
            Entry {
                version,
                viewer,
                body,
                response,
            },
        );
    }

    /// Entries and bytes held now.
    pub fn usage(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.entries.len(), state.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let cache = ResponseCache::new(1000, 80_000);
        // Too large for an eighth of the budget: not stored.
        cache.put("u".into(), bytes(10), 1, bytes(10_000));
        assert_eq!(cache.usage().0, 0);
        // Many small ones: the total never passes the budget.
        for i in 0..100 {
            cache.put("u".into(), Bytes::from(format!("q{i}")), 1, bytes(5_000));
            assert!(cache.usage().1 <= 80_000, "{:?}", cache.usage());
        }
        let (entries, _) = cache.usage();
        assert!(entries > 0 && entries < 100);
        // The newest entry is there, at its version only.
        let newest = Bytes::from("q99");
        assert!(cache.get("u", &newest, 1).is_some());
        assert!(cache.get("u", &newest, 2).is_none());
    }

    #[test]
    fn a_newer_version_makes_room_by_dropping_older_ones() {
        let cache = ResponseCache::new(3, 1 << 20);
        for i in 0..3 {
            cache.put("u".into(), Bytes::from(format!("q{i}")), 1, bytes(10));
        }
        cache.put("u".into(), Bytes::from("new"), 2, bytes(10));
        assert_eq!(cache.usage().0, 1);
        // Replacing an entry counts its bytes once.
        let before = cache.usage().1;
        cache.put("u".into(), Bytes::from("new"), 2, bytes(10));
        assert_eq!(cache.usage(), (1, before));
    }
}
