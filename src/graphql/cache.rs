//! A cache of whole query responses, never stale, that survives writes
//! elsewhere.
//!
//! **Versions.** Every mutation that changes what a query can show records
//! an event, bumping its program's counter row; new programs and users add
//! rows. Before a response is computed, the counters are read in one
//! statement ([`versions`]); they come from the database, so writes of
//! other processes count too.
//!
//! **Scope.** Resolvers say what a response reads ([`ReadScope`]): the root
//! fields `program` and `node` name their program, and anything that reads
//! across programs (a user's teams and programs, the program list, the
//! viewer) reads "everything". An entry is stamped with the counters of its
//! programs only, so a write in program A leaves B's entries valid; an
//! entry of "everything" is stamped with the total. A response computed
//! while a write commits may already contain that write, but it is stamped
//! with the counters read before it, which the write has left behind, so it
//! is never served.
//!
//! **Sharing.** Requests that miss on the same key at the same total share
//! one computation: after a write, a burst of identical dashboards costs
//! one execution, not one each.
//!
//! **Keys** are the viewer and the request normalised (insignificant
//! whitespace, commas and comments dropped from the query; variables in key
//! order). Entries are evicted least recently used first, within a count
//! and a byte budget. Responses that read the clock or have errors are not
//! stored; mutations never are.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
};

use axum::body::Bytes;
use lru::LruCache;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};
use tokio::sync::{OnceCell, watch};

use super::source::{Piece, pieces};

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

/// What a response has read: filled in by resolvers, read once it is done.
#[derive(Clone, Default)]
pub struct ReadScope(Arc<Mutex<Scope>>);

#[derive(Default)]
enum Scope {
    /// Nothing said: counts as everything.
    #[default]
    Unsaid,
    Programs(BTreeSet<i64>),
    Everything,
}

impl ReadScope {
    /// The response reads program `id` (and nothing of other programs
    /// through this field).
    pub fn program(&self, id: i64) {
        let mut scope = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *scope {
            Scope::Unsaid => *scope = Scope::Programs(BTreeSet::from([id])),
            Scope::Programs(ids) => {
                ids.insert(id);
            }
            Scope::Everything => {}
        }
    }

    /// The response reads across programs, or what no program's counter follows.
    pub fn everything(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Scope::Everything;
    }

    /// The programs read, or None for everything.
    fn programs(&self) -> Option<Vec<i64>> {
        match &*self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            Scope::Programs(ids) => Some(ids.iter().copied().collect()),
            Scope::Unsaid | Scope::Everything => None,
        }
    }
}

/// The counters the data is at: per program, and the total of everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    programs: HashMap<i64, i64>,
    /// Committed events of all programs, programs, users.
    pub total: i64,
}

/// Reads the counters, in one statement.
pub async fn versions(conn: &impl ConnectionTrait) -> Result<Versions, DbErr> {
    let sql = "SELECT program_id AS p, last_sequence AS s FROM event_counters \
               UNION ALL SELECT -1 AS p, COUNT(*) AS s FROM users";
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    let mut out = Versions::default();
    for row in rows {
        let program: i64 = row.try_get("", "p")?;
        let sequence: i64 = row.try_get("", "s")?;
        if program >= 0 {
            out.programs.insert(program, sequence);
            out.total += sequence + 1;
        } else {
            out.total += sequence;
        }
    }
    Ok(out)
}

/// Reads of the counters shared by requests that come at once.
///
/// A request may use only a read that started after it came: a write
/// acknowledged before then is in it, so the request is never answered from
/// an entry that write made stale. One read runs at a time; the requests
/// that come while it runs share the next one. Under load that is one read
/// for several requests instead of one each; alone, a request waits for its
/// own read as before. Reads run as tasks of their own, so a request that
/// is dropped leaves none of its sharers waiting.
pub struct VersionReads {
    round: Mutex<Round>,
    /// The latest read: its number, and the counters (`None`: it failed).
    done: watch::Sender<(u64, Option<Arc<Versions>>)>,
}

#[derive(Default)]
struct Round {
    /// The number of the latest read started.
    started: u64,
    running: bool,
    /// Whether a request waits for the read after the running one.
    wanted: bool,
}

impl Default for VersionReads {
    fn default() -> Self {
        Self {
            round: Mutex::new(Round::default()),
            done: watch::Sender::new((0, None)),
        }
    }
}

impl VersionReads {
    /// The counters, read after this call began.
    pub async fn read(self: &Arc<Self>, conn: &DatabaseConnection) -> Result<Arc<Versions>, DbErr> {
        let conn = conn.clone();
        self.read_by(move || {
            let conn = conn.clone();
            async move { versions(&conn).await }
        })
        .await
    }

    /// As [`VersionReads::read`], with `reader` reading the counters.
    async fn read_by<F, R>(self: &Arc<Self>, reader: F) -> Result<Arc<Versions>, DbErr>
    where
        F: Fn() -> R + Send + 'static,
        R: Future<Output = Result<Versions, DbErr>> + Send + 'static,
    {
        let mut done = self.done.subscribe();
        let mine = {
            let mut round = self.round.lock().unwrap_or_else(PoisonError::into_inner);
            if round.running {
                round.wanted = true;
                round.started + 1
            } else {
                round.running = true;
                round.started += 1;
                tokio::spawn(self.clone().run(reader, round.started));
                round.started
            }
        };
        let read = done
            .wait_for(|(number, _)| *number >= mine)
            .await
            .map_err(|_| DbErr::Custom("the data versions reader stopped".into()))?;
        read.1
            .clone()
            .ok_or_else(|| DbErr::Custom("the data versions could not be read".into()))
    }

    /// Reads the counters as read `number`, then as many more as requests
    /// wait for.
    async fn run<F, R>(self: Arc<Self>, reader: F, mut number: u64)
    where
        F: Fn() -> R + Send + 'static,
        R: Future<Output = Result<Versions, DbErr>> + Send + 'static,
    {
        loop {
            let read = match reader().await {
                Ok(at) => Some(Arc::new(at)),
                Err(err) => {
                    tracing::warn!(error = %err, "cannot read the data versions");
                    None
                }
            };
            self.done.send_replace((number, read));
            let mut round = self.round.lock().unwrap_or_else(PoisonError::into_inner);
            if !round.wanted {
                round.running = false;
                return;
            }
            round.wanted = false;
            round.started += 1;
            number = round.started;
        }
    }
}

/// What an entry was computed at, for the scope it read.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stamp {
    Total(i64),
    /// Each program with its counter (-1: the program did not exist).
    Programs(Vec<(i64, i64)>),
}

impl Stamp {
    fn new(scope: Option<Vec<i64>>, at: &Versions) -> Self {
        match scope {
            None => Self::Total(at.total),
            Some(ids) => Self::Programs(
                ids.into_iter()
                    .map(|id| (id, at.programs.get(&id).copied().unwrap_or(-1)))
                    .collect(),
            ),
        }
    }

    fn holds(&self, now: &Versions) -> bool {
        match self {
            Self::Total(total) => *total == now.total,
            Self::Programs(ids) => ids
                .iter()
                .all(|(id, seq)| now.programs.get(id).copied().unwrap_or(-1) == *seq),
        }
    }
}

/// A cache key: who asked, and the request in normal form.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    viewer: String,
    request: Bytes,
}

impl Key {
    /// The key of a request by `viewer`.
    pub fn new(viewer: String, request: &async_graphql::Request) -> Self {
        let variables = serde_json::to_value(&request.variables).unwrap_or_default();
        // serde_json's map is ordered by key: variables in any order match.
        let normal = serde_json::json!([
            normalize_query(&request.query),
            request.operation_name,
            variables
        ]);
        Self {
            viewer,
            request: Bytes::from(serde_json::to_vec(&normal).unwrap_or_default()),
        }
    }

    fn footprint(&self) -> usize {
        self.viewer.len() + self.request.len()
    }
}

/// A query without what GraphQL ignores: comments, commas, and whitespace
/// beyond one space between tokens. Strings are kept as written.
pub fn normalize_query(query: &str) -> String {
    let punctuator = |c: char| "{}()[]:=!$@|&.".contains(c);
    let mut out = String::with_capacity(query.len());
    let mut pending_space = false;
    for piece in pieces(query) {
        let starts_with_punctuator = match piece {
            Piece::Char(c) if !(c.is_whitespace() || c == ',' || c == '\u{feff}') => punctuator(c),
            Piece::Str(_) => false,
            Piece::Comment | Piece::Char(_) => {
                pending_space = true;
                continue;
            }
        };
        // One space between two tokens that would otherwise run together.
        if pending_space && !starts_with_punctuator && !out.is_empty() && !out.ends_with(punctuator)
        {
            out.push(' ');
        }
        pending_space = false;
        match piece {
            Piece::Char(c) => out.push(c),
            Piece::Str(s) => out.push_str(s),
            Piece::Comment => {}
        }
    }
    out
}

struct Entry {
    stamp: Stamp,
    response: Bytes,
}

/// The memory an entry holds: its key twice (the map and the recency
/// list share one copy, the hash table holds another), the response, and
/// the slots.
fn footprint(key: &Key, response: &Bytes) -> usize {
    2 * key.footprint() + response.len() + 200
}

/// One computation that requests missing on the same key share.
type Flight = Arc<OnceCell<Option<Bytes>>>;

/// Cached responses by key, least recently used evicted first, bounded in
/// entries and bytes; and the computations under way.
pub struct ResponseCache {
    state: Mutex<Cached>,
    flights: Mutex<HashMap<(Key, i64), Flight>>,
    capacity: usize,
    max_bytes: usize,
}

struct Cached {
    entries: LruCache<Key, Entry>,
    /// What the entries hold, as [`footprint`] counts it.
    bytes: usize,
}

impl ResponseCache {
    /// At most `capacity` entries (0 turns the cache off) and `max_bytes`.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            state: Mutex::new(Cached {
                entries: LruCache::unbounded(),
                bytes: 0,
            }),
            flights: Mutex::new(HashMap::new()),
            capacity,
            max_bytes,
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0 && self.max_bytes > 0
    }

    /// The stored response, if what it read has not changed since.
    pub fn get(&self, key: &Key, now: &Versions) -> Option<Bytes> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = state.entries.get(key)?;
        if entry.stamp.holds(now) {
            return Some(entry.response.clone());
        }
        // Outdated for good: counters only grow.
        if let Some(old) = state.entries.pop(key) {
            state.bytes -= footprint(key, &old.response);
        }
        None
    }

    /// Stores a response computed at `at` that read `scope`. A response
    /// larger than an eighth of the byte budget is not stored; room is made
    /// by evicting the least recently used entries.
    pub fn put(&self, key: Key, scope: &ReadScope, at: &Versions, response: Bytes) {
        let size = footprint(&key, &response);
        if !self.enabled() || size > self.max_bytes / 8 {
            return;
        }
        let stamp = Stamp::new(scope.programs(), at);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = state.entries.pop(&key) {
            state.bytes -= footprint(&key, &old.response);
        }
        while state.entries.len() >= self.capacity || state.bytes + size > self.max_bytes {
            match state.entries.pop_lru() {
                Some((k, old)) => state.bytes -= footprint(&k, &old.response),
                None => break,
            }
        }
        state.bytes += size;
        state.entries.put(key, Entry { stamp, response });
    }

    /// Answers from the computation of `key` at `total` that another request
    /// has under way, or runs `compute` as that computation. `compute`
    /// answers the response to share, or None when it is not to be shared
    /// (nor stored); requests that waited for a None compute their own.
    /// Returns None when this request ran `compute` (its caller has the
    /// response), else the shared response, or None to compute alone.
    pub async fn share<F>(&self, key: &Key, total: i64, compute: F) -> Shared
    where
        F: std::future::Future<Output = Option<Bytes>>,
    {
        let flight_key = (key.clone(), total);
        let flight = self
            .flights
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(flight_key.clone())
            .or_default()
            .clone();
        let mut ran = false;
        let shared = flight
            .get_or_init(|| {
                ran = true;
                compute
            })
            .await
            .clone();
        let mut flights = self.flights.lock().unwrap_or_else(PoisonError::into_inner);
        if flights
            .get(&flight_key)
            .is_some_and(|f| Arc::ptr_eq(f, &flight))
        {
            flights.remove(&flight_key);
        }
        match (ran, shared) {
            (true, _) => Shared::Computed,
            (false, Some(bytes)) => Shared::Answer(bytes),
            (false, None) => Shared::Alone,
        }
    }

    /// Entries and bytes held now.
    pub fn usage(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        (state.entries.len(), state.bytes)
    }
}

/// What [`ResponseCache::share`] did.
pub enum Shared {
    /// This request computed; its response is where `compute` left it.
    Computed,
    /// Another request computed this shareable response.
    Answer(Bytes),
    /// Another request computed, but its response is not to be shared.
    Alone,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use super::*;

    /// Requests that come while a read runs share the next read, never the
    /// running one (a write acknowledged before they came may be missing
    /// from it); a request alone gets a read of its own; a failed read fails
    /// each of its sharers.
    #[tokio::test]
    async fn requests_share_the_read_that_starts_after_they_come() {
        let reads = Arc::new(VersionReads::default());
        let started = Arc::new(AtomicU64::new(0));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let fail = Arc::new(AtomicBool::new(false));
        let reader = {
            let (started, gate, fail) = (started.clone(), gate.clone(), fail.clone());
            move || {
                let (started, gate, fail) = (started.clone(), gate.clone(), fail.clone());
                async move {
                    let number = started.fetch_add(1, Ordering::SeqCst) + 1;
                    gate.acquire().await.expect("the gate stays open").forget();
                    if fail.load(Ordering::SeqCst) {
                        return Err(DbErr::Custom("down".into()));
                    }
                    Ok(Versions {
                        programs: HashMap::new(),
                        total: i64::try_from(number).unwrap_or(-1),
                    })
                }
            }
        };
        let ask = |reads: &Arc<VersionReads>| {
            let (reads, reader) = (reads.clone(), reader.clone());
            tokio::spawn(async move { reads.read_by(reader).await.map(|at| at.total) })
        };
        let first = ask(&reads);
        while started.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        // Two requests come while read 1 runs.
        let (second, third) = (ask(&reads), ask(&reads));
        while reads.done.receiver_count() < 3 {
            tokio::task::yield_now().await;
        }
        gate.add_permits(1);
        assert_eq!(first.await.unwrap().unwrap(), 1);
        gate.add_permits(1);
        assert_eq!(second.await.unwrap().unwrap(), 2);
        assert_eq!(third.await.unwrap().unwrap(), 2);
        assert_eq!(started.load(Ordering::SeqCst), 2, "one read for both");
        // Alone: a read of its own.
        gate.add_permits(1);
        assert_eq!(ask(&reads).await.unwrap().unwrap(), 3);
        // A failed read fails its sharers; the next read is tried afresh.
        fail.store(true, Ordering::SeqCst);
        let (fourth, fifth) = (ask(&reads), ask(&reads));
        gate.add_permits(2);
        assert!(fourth.await.unwrap().is_err());
        assert!(fifth.await.unwrap().is_err());
        fail.store(false, Ordering::SeqCst);
        gate.add_permits(1);
        let after = ask(&reads).await.unwrap().unwrap();
        assert_eq!(
            after,
            i64::try_from(started.load(Ordering::SeqCst)).unwrap()
        );
    }

    fn bytes(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    fn key(n: usize) -> Key {
        Key {
            viewer: "u".into(),
            request: Bytes::from(format!("q{n}")),
        }
    }

    fn at(programs: &[(i64, i64)]) -> Versions {
        Versions {
            programs: programs.iter().copied().collect(),
            total: programs.iter().map(|(_, s)| s + 1).sum(),
        }
    }

    fn scope(programs: &[i64]) -> ReadScope {
        let scope = ReadScope::default();
        for p in programs {
            scope.program(*p);
        }
        scope
    }

    #[test]
    fn the_cache_stays_within_its_bytes_evicting_the_least_recently_used() {
        let cache = ResponseCache::new(1000, 80_000);
        let v = at(&[(1, 5)]);
        // Too large for an eighth of the budget: not stored.
        cache.put(key(0), &scope(&[1]), &v, bytes(10_000));
        assert_eq!(cache.usage().0, 0);
        cache.put(key(1), &scope(&[1]), &v, bytes(5_000));
        for i in 2..100 {
            // Key 1 stays in use, so it stays.
            assert!(cache.get(&key(1), &v).is_some(), "after {i}");
            cache.put(key(i), &scope(&[1]), &v, bytes(5_000));
            assert!(cache.usage().1 <= 80_000, "{:?}", cache.usage());
        }
        let (entries, _) = cache.usage();
        assert!(entries > 1 && entries < 100);
        assert!(cache.get(&key(99), &v).is_some());
        assert!(
            cache.get(&key(2), &v).is_none(),
            "the oldest unused went first"
        );
    }

    #[test]
    fn a_write_in_one_program_keeps_the_entries_of_another() {
        let cache = ResponseCache::new(10, 1 << 20);
        let before = at(&[(1, 5), (2, 7)]);
        cache.put(key(1), &scope(&[1]), &before, bytes(10));
        cache.put(key(2), &scope(&[2]), &before, bytes(10));
        let everything = ReadScope::default();
        everything.everything();
        cache.put(key(3), &everything, &before, bytes(10));
        // Nothing said counts as everything.
        cache.put(key(4), &ReadScope::default(), &before, bytes(10));
        let after = at(&[(1, 6), (2, 7)]);
        assert!(cache.get(&key(1), &after).is_none());
        assert!(cache.get(&key(2), &after).is_some());
        assert!(cache.get(&key(3), &after).is_none());
        assert!(cache.get(&key(4), &after).is_none());
        // A program created later invalidates what read it as missing.
        cache.put(key(5), &scope(&[3]), &after, bytes(10));
        assert!(cache.get(&key(5), &at(&[(1, 6), (2, 7), (3, 0)])).is_none());
    }

    #[test]
    fn requests_differing_in_layout_or_variable_order_share_a_key() {
        let request = |query: &str, vars: serde_json::Value| {
            async_graphql::Request::new(query).variables(async_graphql::Variables::from_json(vars))
        };
        let a = Key::new(
            "u".into(),
            &request(
                "query Q($a: ID!, $b: Int) {\n  program(id: $a) { name, teams { id } }\n}",
                serde_json::json!({"a": "x", "b": 1}),
            ),
        );
        let b = Key::new(
            "u".into(),
            &request(
                "query Q($a:ID! $b:Int){program(id:$a){name teams{id}}} # the dashboard",
                serde_json::json!({"b": 1, "a": "x"}),
            ),
        );
        assert_eq!(a, b);
        // Strings are values: their spaces count.
        assert_ne!(
            normalize_query(r#"{ a(t: "x  y") }"#),
            normalize_query(r#"{ a(t: "x y") }"#)
        );
        assert_eq!(normalize_query("{ a b  c }"), "{a b c}");
        assert_eq!(
            normalize_query(r##"{ a(t: "q\"#x") b }"##),
            r##"{a(t:"q\"#x")b}"##
        );
        assert_ne!(
            a,
            Key::new("v".into(), &request("{ x }", serde_json::json!({})))
        );
    }

    #[tokio::test]
    async fn requests_missing_together_share_one_computation() {
        let cache = Arc::new(ResponseCache::new(10, 1 << 20));
        let (release, wait) = tokio::sync::oneshot::channel::<()>();
        let leader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .share(&key(1), 7, async move {
                        wait.await.ok();
                        Some(bytes(3))
                    })
                    .await
            })
        };
        // Let the leader start its computation.
        while cache.flights.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let follower = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .share(&key(1), 7, async { panic!("the follower computes") })
                    .await
            })
        };
        // Until the follower waits on the same flight (the map, the leader
        // and the follower hold it).
        while cache
            .flights
            .lock()
            .unwrap()
            .values()
            .next()
            .map_or(0, Arc::strong_count)
            < 3
        {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        assert!(matches!(leader.await.unwrap(), Shared::Computed));
        assert!(matches!(follower.await.unwrap(), Shared::Answer(b) if b == bytes(3)));
        assert!(cache.flights.lock().unwrap().is_empty());
        // At another total, nothing is shared.
        let alone = cache.share(&key(1), 8, async { None }).await;
        assert!(matches!(alone, Shared::Computed));
    }
}
