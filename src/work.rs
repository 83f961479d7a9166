//! The unit of work: the one path every change takes.
//!
//! A use case (`usecase.rs` in each domain folder) is an `async fn` that
//! takes a [`Work`] and typed input. The work holds the write transaction,
//! the acting viewer, the time of the change, and the events recorded so
//! far, which it writes at commit. [`perform`] begins it, runs the use case, and commits rows and
//! events together; a use case that fails leaves nothing behind. A change
//! that records no event is refused at commit (INTERNAL), so the data
//! version, subscriptions and webhooks can never miss a write; the only
//! writes outside every program's log (users, their tokens, and webhook
//! settings, which no cached answer shows) say so with
//! [`Work::outside_program_log`].
//!
//! A transaction that loses a deadlock or a serialization race on
//! PostgreSQL is run again from the start, a few times, before the error is
//! answered: contention is not a fault of the client.

use chrono::{DateTime, Utc};
use entity::{clarification, dependency, feature, objective, program, story, team, webhook};
use futures_util::future::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, Statement};

use crate::{
    auth::{
        Actor,
        policy::{self, Action},
    },
    clock::Clock,
    db::{Store, WriteTxn},
    error::{AppError, AppResult},
    events::log::{self, NewEvent, Recorded},
    ids::{
        ClarificationId, DependencyId, FeatureId, ObjectiveId, ProgramId, StoryId, TeamId,
        WebhookId,
    },
};

/// A use case under way: what [`perform`]'s closure returns, typically
/// `|w| Box::pin(usecase::create_story(w, team, new.clone()))`. The input is
/// cloned into each attempt, so a retried change starts from the same input.
pub type Change<'w, T> = BoxFuture<'w, AppResult<T>>;

/// How many times a change is tried in all when it loses a race.
const ATTEMPTS: usize = 4;

/// One change in progress.
pub struct Work {
    txn: WriteTxn,
    actor: Actor,
    now: DateTime<Utc>,
    /// Events recorded so far, written at commit.
    recorded: Vec<Recorded>,
    outside_log: bool,
    /// Programs whose write lock this work holds.
    entered: Vec<i64>,
    /// A trial: checked in full, then rolled back instead of committed.
    trial: bool,
    /// Finding nothing to change is an outcome, not a mistake.
    may_change_nothing: bool,
}

/// The lookups a change starts with: the program's write lock, then the
/// policy's visibility check. The first lookup of a work takes the lock of
/// the program its row names, found in the same statement (`$locate`, SQL
/// for the program id of the row with id `$1`), so the row is read once and
/// already under the lock. Should the row's program turn out to be another
/// (a later lookup of the work, or a row that moved meanwhile), that
/// program's lock is taken and the row read again, fresh.
macro_rules! lookups {
    ($($(#[$doc:meta])* $name:ident($id:ty) -> $out:ty, $program:expr, $locate:literal;)*) => {
        impl Work {
            $(
                $(#[$doc])*
                pub async fn $name(&mut self, id: $id) -> AppResult<$out> {
                    if self.entered.is_empty() {
                        let lock = concat!(
                            "SELECT program_id FROM event_counters WHERE program_id = ",
                            $locate,
                            " FOR UPDATE"
                        );
                        self.enter_where(lock, id.0).await?;
                    }
                    let found = policy::$name(self.conn(), self.actor, id).await?;
                    let program: fn(&$out) -> i64 = $program;
                    if self.enter(program(&found)).await? {
                        return policy::$name(self.conn(), self.actor, id).await;
                    }
                    Ok(found)
                }
            )*
        }
    };
}

lookups! {
    /// The program, visible to the actor, locked for writing.
    program(ProgramId) -> program::Model, |p| p.id, "$1";
    /// The team and its program, visible to the actor, locked for writing.
    team(TeamId) -> (team::Model, program::Model), |(_, p)| p.id,
        "(SELECT program_id FROM teams WHERE id = $1)";
    /// The story, its team and program, visible to the actor, locked for writing.
    story(StoryId) -> (story::Model, team::Model, program::Model), |(_, _, p)| p.id,
        "(SELECT t.program_id FROM stories s JOIN teams t ON t.id = s.team_id WHERE s.id = $1)";
    /// The feature and its program, visible to the actor, locked for writing.
    feature(FeatureId) -> (feature::Model, program::Model), |(_, p)| p.id,
        "(SELECT program_id FROM features WHERE id = $1)";
    /// The dependency and its program, visible to the actor, locked for writing.
    dependency(DependencyId) -> (dependency::Model, program::Model), |(_, p)| p.id,
        "(SELECT program_id FROM dependencies WHERE id = $1)";
    /// The clarification and its program, visible to the actor, locked for writing.
    clarification(ClarificationId) -> (clarification::Model, program::Model), |(_, p)| p.id,
        "(SELECT program_id FROM clarifications WHERE id = $1)";
    /// The objective, its team and program, visible to the actor, locked for writing.
    objective(ObjectiveId) -> (objective::Model, team::Model, program::Model), |(_, _, p)| p.id,
        "(SELECT t.program_id FROM objectives o JOIN teams t ON t.id = o.team_id WHERE o.id = $1)";
    /// The webhook and its program, shown to the actor, locked for writing.
    webhook(WebhookId) -> (webhook::Model, program::Model), |(_, p)| p.id,
        "(SELECT program_id FROM webhooks WHERE id = $1)";
}

impl Work {
    /// The transaction the change reads and writes through.
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Who makes the change.
    pub fn actor(&self) -> Actor {
        self.actor
    }

    /// When the change happens: one time for all its rows and events.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Ok when the actor may do `action`; FORBIDDEN otherwise (the one
    /// policy, `crate::auth::policy`).
    pub async fn require(&self, action: Action<'_>) -> AppResult<()> {
        policy::require(self.conn(), self.actor, action).await
    }

    /// Takes the program's write lock (its event counter row) before
    /// anything else is locked, so the writers of one program queue in one
    /// order and never deadlock. Once per work; returns whether it was taken
    /// now (PostgreSQL only: on SQLite a write transaction already excludes
    /// every other writer).
    async fn enter(&mut self, program_id: i64) -> AppResult<bool> {
        if self.entered.contains(&program_id) {
            return Ok(false);
        }
        self.entered.push(program_id);
        if self.conn().get_database_backend() != DbBackend::Postgres {
            return Ok(false);
        }
        self.conn()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT last_sequence FROM event_counters WHERE program_id = $1 FOR UPDATE",
                [program_id.into()],
            ))
            .await?;
        Ok(true)
    }

    /// Takes the write lock of the program whose counter row `lock` selects
    /// for `id` (see `lookups!`), if there is such a row (PostgreSQL only, as
    /// [`Work::enter`]). The lock is taken before the actor's right to see
    /// the row is checked: a refused change holds it only until it rolls
    /// back.
    async fn enter_where(&mut self, lock: &'static str, id: i64) -> AppResult<()> {
        if self.conn().get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let locked = self
            .conn()
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                lock,
                [id.into()],
            ))
            .await?;
        if let Some(row) = locked {
            self.entered.push(row.try_get("", "program_id")?);
        }
        Ok(())
    }

    /// Appends an event to the program's log, by the acting viewer at the
    /// time of the change. The events of a unit are written together when
    /// it commits (one sequence step and one INSERT per program), in the
    /// order recorded; nothing in a unit reads its own events back.
    pub async fn record(&mut self, program_id: i64, event: NewEvent) -> AppResult<()> {
        self.recorded.push(Recorded {
            program_id,
            actor: self.actor.user_id(),
            at: self.now,
            event,
        });
        Ok(())
    }

    /// From now on, the changes of this unit are by `actor`, and the policy
    /// judges them as such. For loaders that replay a history in one unit
    /// of work (the demo); a request's work never changes hands.
    pub fn act_as(&mut self, actor: Actor) {
        self.actor = actor;
    }

    /// From now on, the changes of this unit happen at `at` (a loader
    /// replaying a history, as [`Work::act_as`]).
    pub fn set_time(&mut self, at: DateTime<Utc>) {
        self.now = at;
    }

    /// Declares a change that belongs to no program's log (a user account or
    /// a token): it may commit without an event.
    pub fn outside_program_log(&mut self) {
        self.outside_log = true;
    }

    /// Makes this unit of work a trial (a dry run): every change in it is
    /// made and checked as usual, and all of it is rolled back at the end.
    pub fn trial(&mut self) {
        self.trial = true;
    }

    /// Declares a unit that compares before it changes (an import run
    /// again): when it records no event it found nothing to change, and it
    /// ends by rolling back instead of failing.
    pub fn may_change_nothing(&mut self) {
        self.may_change_nothing = true;
    }

    /// Runs one change as a part that may fail alone: on failure its rows
    /// and events are undone (a savepoint) and the rest of the work goes
    /// on; the outer result is the part's own. A lost race (PostgreSQL
    /// deadlock or serialization failure) still fails the whole work, so
    /// [`perform`] runs it again.
    pub async fn part<T>(
        &mut self,
        change: impl for<'w> FnOnce(&'w mut Work) -> Change<'w, T>,
    ) -> AppResult<AppResult<T>> {
        let backend = self.conn().get_database_backend();
        let savepoint = |sql: &str| Statement::from_string(backend, sql.to_owned());
        self.conn()
            .execute_raw(savepoint("SAVEPOINT work_part"))
            .await?;
        let (recorded, entered) = (self.recorded.len(), self.entered.len());
        match change(self).await {
            Ok(value) => {
                self.conn()
                    .execute_raw(savepoint("RELEASE SAVEPOINT work_part"))
                    .await?;
                Ok(Ok(value))
            }
            Err(err) if err.is_contention() => Err(err),
            Err(err) => {
                self.conn()
                    .execute_raw(savepoint("ROLLBACK TO SAVEPOINT work_part"))
                    .await?;
                self.conn()
                    .execute_raw(savepoint("RELEASE SAVEPOINT work_part"))
                    .await?;
                self.recorded.truncate(recorded);
                // Locks taken inside the part are released with it.
                self.entered.truncate(entered);
                Ok(Err(err))
            }
        }
    }

    async fn commit(self) -> AppResult<()> {
        if self.trial || (self.recorded.is_empty() && self.may_change_nothing) {
            // Dropping the transaction rolls it back.
            return Ok(());
        }
        if self.recorded.is_empty() && !self.outside_log {
            return Err(AppError::Internal(
                "a change tried to commit without recording an event".into(),
            ));
        }
        log::record(&self.txn, self.recorded).await?;
        self.txn.commit().await
    }
}

/// Runs `change` as one unit of work by `actor`, and commits it. The change
/// runs again (up to four times in all) when PostgreSQL reports a deadlock
/// or a serialization failure, so it must only act through the work.
pub async fn perform<T>(
    store: &Store,
    clock: &dyn Clock,
    actor: Actor,
    change: impl for<'w> Fn(&'w mut Work) -> Change<'w, T>,
) -> AppResult<T> {
    let mut attempt = 1;
    loop {
        let outcome = attempt_once(store, clock, actor, &change).await;
        match outcome {
            Err(err) if attempt < ATTEMPTS && err.is_contention() => {
                tracing::debug!(attempt, "write lost a race; running it again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn attempt_once<T>(
    store: &Store,
    clock: &dyn Clock,
    actor: Actor,
    change: &impl for<'w> Fn(&'w mut Work) -> Change<'w, T>,
) -> AppResult<T> {
    let mut work = Work {
        txn: store.begin_write().await?,
        actor,
        now: clock.now(),
        recorded: Vec::new(),
        outside_log: false,
        entered: Vec::new(),
        trial: false,
        may_change_nothing: false,
    };
    let value = change(&mut work).await?;
    work.commit().await?;
    Ok(value)
}
