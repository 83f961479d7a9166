//! The per-process event dispatcher and the subscriptions' streams.
//!
//! The dispatcher broadcasts each program's events in sequence order. A
//! local commit hands it the events it wrote, which it broadcasts as they
//! are when they follow the last one it broadcast; otherwise (and when
//! woken on PostgreSQL by NOTIFY from any process, or by a periodic check
//! after a lost connection) it reads the events after the last one it saw
//! from the log. Each subscription keeps the sequence it last delivered: it
//! skips what it has, reads any gap back from the log, and so never misses
//! nor doubles an event. The broadcast buffer is bounded; a subscriber that
//! falls behind it ends with an error that says which cursor to resume from.
//!
//! Another process's events are read from the log only when someone here
//! waits for them: a subscription to their program, or the webhook
//! deliverer following it ([`Wanted`]). Otherwise the dispatcher only notes
//! how far the log has gone. A subscription that starts later reads the
//! log's head after it is counted, so it starts past whatever was skipped.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use entity::event;
use futures_util::Stream;
use sea_orm::DbBackend;
use tokio::sync::{broadcast, mpsc};

use super::log;
use crate::{
    db::{Committed, Store},
    error::AppError,
    page::cursor,
};

/// Events read per query.
const PAGE: u64 = 500;

/// Fans committed events out to this process's subscriptions.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<event::Model>>,
    store: Store,
    wanted: Arc<Mutex<Wanted>>,
}

/// The programs whose events someone in this process waits for.
#[derive(Default)]
struct Wanted {
    /// Live subscriptions, by program.
    streams: HashMap<i64, usize>,
    /// The programs the webhook deliverer's endpoints follow.
    followed: HashSet<i64>,
}

impl Wanted {
    fn get(wanted: &Mutex<Wanted>) -> std::sync::MutexGuard<'_, Wanted> {
        wanted.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wants(&self, program: i64) -> bool {
        self.streams.contains_key(&program) || self.followed.contains(&program)
    }
}

/// A subscription's place in [`Wanted`], given up when it ends.
struct Watching {
    wanted: Arc<Mutex<Wanted>>,
    program: i64,
}

impl Watching {
    fn new(wanted: &Arc<Mutex<Wanted>>, program: i64) -> Self {
        *Wanted::get(wanted).streams.entry(program).or_default() += 1;
        Self {
            wanted: wanted.clone(),
            program,
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let mut wanted = Wanted::get(&self.wanted);
        if let Some(count) = wanted.streams.get_mut(&self.program) {
            *count -= 1;
            if *count == 0 {
                wanted.streams.remove(&self.program);
            }
        }
    }
}

impl EventBus {
    /// Starts the dispatcher; `capacity` bounds the events buffered for the
    /// slowest subscriber.
    /// `poll` is how often the dispatcher checks the counters anyway.
    pub async fn start(
        store: Store,
        capacity: usize,
        poll: Duration,
    ) -> Result<Self, sea_orm::DbErr> {
        let (tx, _) = broadcast::channel(capacity.max(16));
        let (wake_tx, wake_rx) = mpsc::unbounded_channel();
        store.set_waker(wake_tx);
        let last: HashMap<i64, i64> = log::heads(store.conn()).await?.into_iter().collect();
        let wanted = Arc::new(Mutex::new(Wanted::default()));
        let dispatcher = Dispatcher {
            store: store.clone(),
            tx: tx.clone(),
            last,
            poll: poll.max(Duration::from_millis(10)),
            wanted: wanted.clone(),
        };
        tokio::spawn(dispatcher.run(wake_rx));
        Ok(Self { tx, store, wanted })
    }

    /// Every event this process's dispatcher publishes from now on (a wake-up
    /// for whoever reads the log itself, such as the webhook deliverer). Of
    /// other processes' commits, only those of programs someone here waits
    /// for are published: see [`EventBus::follow`].
    pub fn watch(&self) -> broadcast::Receiver<Arc<event::Model>> {
        self.tx.subscribe()
    }

    /// Sets the programs the webhook deliverer follows, whose events other
    /// processes commit are then read and published here too.
    pub fn follow(&self, programs: &HashSet<i64>) {
        let mut wanted = Wanted::get(&self.wanted);
        if wanted.followed != *programs {
            wanted.followed.clone_from(programs);
        }
    }

    /// A live stream of one program's events after sequence `after` (or
    /// from now when `None`): first the stored ones, then live ones. Also
    /// the sequence it starts after.
    pub async fn stream(
        &self,
        program_id: i64,
        after: Option<i64>,
    ) -> Result<
        (
            i64,
            impl Stream<Item = Result<Arc<event::Model>, AppError>> + Send + use<>,
        ),
        AppError,
    > {
        // Be counted, then subscribe, before reading the head, so nothing
        // falls in between.
        let watching = Watching::new(&self.wanted, program_id);
        let rx = self.tx.subscribe();
        let head = log::head(self.store.conn(), program_id).await?;
        let start = after.unwrap_or(head).max(0);
        let state = Follow {
            rx,
            store: self.store.clone(),
            program_id,
            last: start,
            from_log: after.is_some_and(|a| a < head),
            pending: Default::default(),
            done: false,
            _watching: watching,
        };
        Ok((start, futures_util::stream::unfold(state, Follow::next)))
    }
}

struct Dispatcher {
    store: Store,
    tx: broadcast::Sender<Arc<event::Model>>,
    last: HashMap<i64, i64>,
    poll: Duration,
    wanted: Arc<Mutex<Wanted>>,
}

impl Dispatcher {
    async fn run(mut self, mut wake: mpsc::UnboundedReceiver<Committed>) {
        let mut tick = tokio::time::interval(self.poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut listener = None;
        if self.store.conn().get_database_backend() == DbBackend::Postgres {
            listener = self.listen().await;
        }
        loop {
            tokio::select! {
                woken = wake.recv() => {
                    let Some(first) = woken else { return };
                    // Commits that came meanwhile are served in the same
                    // turn; a program found behind is read once, at the end.
                    let mut behind: Vec<i64> = Vec::new();
                    let mut next = Some(first);
                    while let Some(committed) = next {
                        let program = committed.program_id;
                        if !behind.contains(&program) && !self.publish(committed) {
                            behind.push(program);
                        }
                        next = wake.try_recv().ok();
                    }
                    for program in behind {
                        self.catch_up(program).await;
                    }
                }
                note = async {
                    match listener.as_mut() {
                        Some(l) => l.try_recv().await,
                        None => std::future::pending().await,
                    }
                } => match note {
                    Ok(Some(n)) => match log::Notice::parse(n.payload()) {
                        Some(notice) if self.knows(&notice) => {}
                        Some(notice) => self.catch_up_to(notice.program, notice.last).await,
                        None => self.catch_up_all().await,
                    },
                    // The connection dropped and reconnects on the next call:
                    // catch up on whatever was committed meanwhile.
                    Ok(None) => self.catch_up_all().await,
                    Err(err) => {
                        tracing::warn!(error = %err, "event listener failed; reconnecting");
                        listener = None;
                    }
                },
                _ = tick.tick() => {
                    if listener.is_none() && self.store.conn().get_database_backend() == DbBackend::Postgres {
                        listener = self.listen().await;
                    }
                    self.catch_up_all().await;
                }
            }
        }
    }

    async fn listen(&self) -> Option<sea_orm::sqlx::postgres::PgListener> {
        let pool = self.store.conn().get_postgres_connection_pool();
        let connect = async {
            let mut l = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
            l.listen(self.store.channel()).await?;
            Ok::<_, sea_orm::sqlx::Error>(l)
        };
        match connect.await {
            Ok(l) => Some(l),
            Err(err) => {
                tracing::warn!(error = %err, "cannot LISTEN for events yet; will retry");
                None
            }
        }
    }

    /// Whether a notice tells nothing new: it is of this process's own
    /// commit, which the commit hands over in-process, or of events already
    /// broadcast.
    fn knows(&self, notice: &log::Notice<'_>) -> bool {
        notice.origin == Some(self.store.origin())
            || notice
                .last
                .is_some_and(|last| self.last.get(&notice.program).is_some_and(|s| *s >= last))
    }

    /// Broadcasts the events a commit handed over, when they follow the last
    /// one broadcast; false when they do not (another process's events, or
    /// a commit that carried none), so the log must be read.
    fn publish(&mut self, committed: Committed) -> bool {
        let program = committed.program_id;
        let last = self.last.get(&program).copied().unwrap_or(0);
        let Some(fresh) = committed.events.and_then(|events| following(last, events)) else {
            return false;
        };
        for e in fresh {
            self.last.insert(program, e.sequence);
            // No receiver is fine: nobody is listening right now.
            let _ = self.tx.send(Arc::new(e));
        }
        true
    }

    async fn catch_up_all(&mut self) {
        match log::heads(self.store.conn()).await {
            Ok(heads) => {
                for (program, head) in heads {
                    if head > self.last.get(&program).copied().unwrap_or(0) {
                        self.catch_up_to(program, Some(head)).await;
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot read event counters"),
        }
    }

    /// Publishes a program's events up to `head` (or all there are) when
    /// someone here waits for them; otherwise notes that the log is there.
    async fn catch_up_to(&mut self, program: i64, head: Option<i64>) {
        if let Some(head) = head
            && !Wanted::get(&self.wanted).wants(program)
        {
            let last = self.last.entry(program).or_default();
            *last = (*last).max(head);
            return;
        }
        self.catch_up(program).await;
    }

    async fn catch_up(&mut self, program: i64) {
        loop {
            let after = self.last.get(&program).copied().unwrap_or(0);
            let rows = match log::read(self.store.conn(), program, after, None, &[], PAGE).await {
                Ok(rows) => rows,
                Err(err) => {
                    tracing::warn!(error = %err, program, "cannot read events");
                    return;
                }
            };
            let full = rows.len() as u64 == PAGE;
            for row in rows {
                self.last.insert(program, row.sequence);
                // No receiver is fine: nobody is listening right now.
                let _ = self.tx.send(Arc::new(row));
            }
            if !full {
                return;
            }
        }
    }
}

/// Of a commit's events (in sequence order), those after `last`, when they
/// follow it with no gap; `None` when some event in between is missing.
fn following(last: i64, events: Vec<event::Model>) -> Option<Vec<event::Model>> {
    let fresh: Vec<event::Model> = events.into_iter().filter(|e| e.sequence > last).collect();
    let contiguous = fresh
        .iter()
        .zip(last + 1..)
        .all(|(e, expected)| e.sequence == expected);
    contiguous.then_some(fresh)
}

/// One subscription's position in its program's log.
struct Follow {
    rx: broadcast::Receiver<Arc<event::Model>>,
    store: Store,
    program_id: i64,
    /// The last sequence delivered (or queued).
    last: i64,
    /// Whether stored events must be read first (a resume, or a gap).
    from_log: bool,
    pending: std::collections::VecDeque<Arc<event::Model>>,
    done: bool,
    _watching: Watching,
}

impl Follow {
    async fn next(mut self) -> Option<(Result<Arc<event::Model>, AppError>, Self)> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some((Ok(e), self));
            }
            if self.done {
                return None;
            }
            if self.from_log {
                // Boxed: an idle subscription keeps its state, and a read's
                // (large) future only exists while it runs.
                let read = Box::pin(log::read(
                    self.store.conn(),
                    self.program_id,
                    self.last,
                    None,
                    &[],
                    PAGE,
                ));
                match read.await {
                    Ok(rows) => {
                        self.from_log = rows.len() as u64 == PAGE;
                        for row in rows {
                            self.last = row.sequence;
                            self.pending.push_back(Arc::new(row));
                        }
                        continue;
                    }
                    Err(err) => return Some((Err(err.into()), self.end())),
                }
            }
            match self.rx.recv().await {
                Ok(e) if e.program_id != self.program_id || e.sequence <= self.last => {}
                Ok(e) if e.sequence == self.last + 1 => {
                    self.last = e.sequence;
                    self.pending.push_back(e);
                }
                // A gap (events published out of order): read it back from the log.
                Ok(_) => self.from_log = true,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let cursor = cursor(self.last);
                    let message = format!(
                        "this subscription fell behind and was ended; subscribe again with after: \"{cursor}\" to resume"
                    );
                    return Some((Err(AppError::Lagged { message, cursor }), self.end()));
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    fn end(mut self) -> Self {
        self.done = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(sequences: &[i64]) -> Vec<event::Model> {
        sequences
            .iter()
            .map(|&sequence| event::Model {
                id: sequence * 10,
                program_id: 1,
                sequence,
                kind: "STORY_UPDATED".into(),
                subject_type: "Story".into(),
                subject_id: 1,
                team_ids: ",".into(),
                actor_id: None,
                at: chrono::Utc::now(),
                payload: "{}".into(),
            })
            .collect()
    }

    fn sequences(found: Option<Vec<event::Model>>) -> Option<Vec<i64>> {
        found.map(|events| events.iter().map(|e| e.sequence).collect())
    }

    #[test]
    fn a_notice_names_the_program_and_when_sent_the_last_sequence_and_origin() {
        let notice = |program, last, origin| {
            Some(log::Notice {
                program,
                last,
                origin,
            })
        };
        assert_eq!(
            log::Notice::parse("7:42:0a1b"),
            notice(7, Some(42), Some("0a1b"))
        );
        // A process that sends the program alone.
        assert_eq!(log::Notice::parse("7"), notice(7, None, None));
        for unreadable in ["x:42:a", "7:x:a", "7:42", "7:42:", "7:", ""] {
            assert_eq!(log::Notice::parse(unreadable), None, "{unreadable}");
        }
    }

    #[test]
    fn a_commit_is_broadcast_as_carried_only_when_it_follows_the_last() {
        assert_eq!(sequences(following(4, events(&[5, 6]))), Some(vec![5, 6]));
        assert_eq!(sequences(following(0, events(&[1]))), Some(vec![1]));
        // Already broadcast (read from the log before the hand-over came).
        assert_eq!(sequences(following(6, events(&[5, 6]))), Some(vec![]));
        assert_eq!(sequences(following(5, events(&[5, 6]))), Some(vec![6]));
        // Another process committed 5: read the log instead.
        assert_eq!(sequences(following(4, events(&[6, 7]))), None);
        assert_eq!(sequences(following(4, events(&[5, 7]))), None);
    }
}
