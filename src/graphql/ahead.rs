//! Rows a resolver read for the fields under it, kept for one request.
//!
//! A dashboard asks a program for its teams, for a backlog page of each
//! team, and for what the page's stories relate to. Field by field, that is
//! five waves of reads, each waiting for the last: the program, its teams,
//! the pages, then the stories' relations. `Query.program` sees the whole
//! selection at once, so it reads the teams and the pages beside the
//! program, then the stories' relations (two waves), and leaves them here.
//! It reads through the shared loader like the fields would: the reads of
//! concurrent requests go together (read apart, 32 concurrent dashboards
//! answered half as many per second).
//! `Program.teams` and `Team.backlog` take what matches their own key
//! exactly, and read anything else as before: a query the read ahead did not
//! foresee is answered the same way, only without the head start. The
//! program's fields wait for the read ahead, so it is done only when the
//! program is asked nothing else that reads (its teams, and its own
//! columns).
//!
//! The stories' relations wait for the pages only to learn which stories
//! they are. A dashboard asks the same again and again, and its pages
//! change far less often than they are read: so [`Guesses`] remembers, per
//! program and page shape, which stories and features the last pages held,
//! and the relations of those are read beside the pages. When the pages
//! hold exactly those, that read is kept (it started with the pages, so it
//! is no older than they are); else it is dropped and the relations are
//! read as before, after the pages. At c=1 the two waves took 0.75 and 1.3
//! ms one after the other.
//!
//! The HTTP handler gives each operation its own [`Ahead`]; without one (a
//! websocket operation) nothing is read ahead.

use std::{collections::HashMap, num::NonZeroUsize, sync::Arc};

use async_graphql::{Context, InputType, Lookahead};
use entity::{story, team};

use super::{
    loaders::{BacklogPage, ProgramPages, TeamsByProgram},
    locked,
    preload::{PagePreload, Preloaded, Wants},
};
use crate::{
    backlog::{
        graphql::{StoryState, backlog_key},
        packed::cards_suffice,
    },
    error::AppResult,
    metrics::Metrics,
    page::Page,
};

/// What this request's resolvers read ahead.
#[derive(Default)]
pub struct Ahead(std::sync::Mutex<Kept>);

#[derive(Default)]
struct Kept {
    /// A program's teams, by program.
    teams: HashMap<i64, Vec<team::Model>>,
    /// Backlog pages, by their exact key.
    pages: HashMap<BacklogPage, PageAhead>,
}

/// A backlog page read ahead, with what its stories relate to.
pub struct PageAhead {
    /// The rows read for the page (one more than it shows, when there are).
    pub rows: Vec<story::Model>,
    /// The filtered total, when the key asked for it (else 0).
    pub total: u64,
    /// What was read of the stories' relations (None when nothing was).
    pub pre: Option<Arc<Preloaded>>,
    /// What `pre` was read for.
    pub wants: Wants,
}

impl Ahead {
    /// The teams of `program`, when read ahead.
    pub fn teams(&self, program: i64) -> Option<Vec<team::Model>> {
        locked(&self.0).teams.get(&program).cloned()
    }

    /// The page of `key`, when read ahead; it is handed out once.
    pub fn take_page(&self, key: &BacklogPage) -> Option<PageAhead> {
        locked(&self.0).pages.remove(key)
    }
}

/// What the pages of each program's dashboards last held, so that the next
/// dashboard of the same shape reads their relations beside its pages (see
/// the module's documentation). Shared by the requests of a process; the
/// least recently used shapes are forgotten beyond [`Guesses::MOST`].
pub struct Guesses {
    last: std::sync::Mutex<lru::LruCache<Shape, PagePreload>>,
    metrics: Arc<Metrics>,
}

/// A program's dashboard: the page it asks of every team (team 0), and
/// what it asks of the pages' stories.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    program: i64,
    page: BacklogPage,
    wants: Wants,
}

impl Guesses {
    /// Shapes remembered: each guess holds a few hundred ids.
    pub const MOST: usize = 1024;

    /// Remembers up to [`Guesses::MOST`] shapes, counting the outcomes in
    /// `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        let most = NonZeroUsize::new(Self::MOST).unwrap_or(NonZeroUsize::MIN);
        Self {
            last: std::sync::Mutex::new(lru::LruCache::new(most)),
            metrics,
        }
    }

    fn get(&self, shape: &Shape) -> Option<PagePreload> {
        locked(&self.last).get(shape).cloned()
    }

    /// Whether `guess`, read for `shape` when its request came, is what the
    /// pages `held`: counted when there was a guess, and `held` remembered
    /// as the next guess when it differs.
    fn settle(&self, shape: Shape, guess: Option<&PagePreload>, held: &PagePreload) -> bool {
        let right = guess == Some(held);
        if guess.is_some() {
            self.metrics.record_guess(right);
        }
        if !right {
            locked(&self.last).put(shape, held.clone());
        }
        right
    }
}

/// This request's read-ahead store, if it has one.
pub fn ahead<'a>(ctx: &Context<'a>) -> Option<&'a Ahead> {
    ctx.data_opt::<Ahead>()
}

/// The one backlog page the selection `teams` asks of every team: the key
/// of its page (team 0), the page, and what it asks of the stories. None
/// when it asks none, asks several (aliases), or its arguments do not
/// parse (the resolver then reports them).
fn asked_page(ctx: &Context<'_>, teams: &Lookahead<'_>) -> Option<(BacklogPage, Page, Wants)> {
    let fields = teams.field("backlog").selection_fields();
    let [field] = fields.as_slice() else {
        return None;
    };
    let arguments = field.arguments().ok()?;
    let argument = |name: &str| {
        arguments
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .map(|(_, v)| v.clone())
    };
    let states = Option::<Vec<StoryState>>::parse(argument("states")).ok()?;
    let blocked = Option::<bool>::parse(argument("blocked")).ok()?;
    let first = Option::<i32>::parse(argument("first")).ok()?;
    let after = Option::<String>::parse(argument("after")).ok()?;
    let backlog = Lookahead::from(*field);
    let count = backlog.field("totalCount").exists();
    let limits = super::page_limits(ctx).ok()?;
    let (page, mut key) =
        backlog_key(limits, 0, states, blocked, first, after.as_deref(), count).ok()?;
    let (node, nodes) = (backlog.field("edges").field("node"), backlog.field("nodes"));
    // A page whose stories are asked nothing that cards leave out is read
    // as cards (a dashboard's: a third fewer bytes, and no times).
    key.light = cards_suffice(&[&node, &nodes]);
    Some((key, page, Wants::of(&node)))
}

/// The fields of a program that read nothing beyond its row, and `teams`.
const OWN_FIELDS: [&str; 6] = ["__typename", "id", "name", "vision", "createdAt", "teams"];

/// Program `program` as `visible` finds it for the actor; when the
/// selection asks for its teams, their backlog pages and what the pages'
/// stories relate to are read meanwhile and kept for this request. Nothing
/// is kept for a program the actor cannot see. The reads go through the
/// shared loader, so concurrent requests' reads still go together.
pub async fn program<T>(
    ctx: &Context<'_>,
    program: i64,
    visible: impl Future<Output = AppResult<Option<T>>>,
) -> AppResult<Option<T>> {
    let teams_asked = ctx.look_ahead().field("teams");
    // The program's fields wait for the read ahead: only when the others
    // read nothing of their own (a program's dependencies, say, would then
    // start late; the rich dashboard of tests/queries answered 15% slower).
    let alone = ctx
        .field()
        .selection_set()
        .all(|field| OWN_FIELDS.contains(&field.name()));
    let Some(kept) = ahead(ctx).filter(|_| alone && teams_asked.exists()) else {
        return visible.await;
    };
    let asked = asked_page(ctx, &teams_asked);
    let guesses = ctx.data_opt::<Guesses>();
    let dashboard = asked.as_ref().map(|(page, _, wants)| Shape {
        program,
        page: page.clone(),
        wants: *wants,
    });
    let guess = guesses.zip(dashboard.as_ref()).and_then(|(g, s)| g.get(s));
    // The program, its teams and their pages, at once; and the relations
    // of the stories its pages last held. Those read the program's teams
    // when they want the providers' teams: then the teams are taken from
    // there, one statement fewer.
    let teams_guessed = guess.as_ref().is_some_and(|g| g.wants.team);
    let teams = async {
        if teams_guessed {
            return Ok(None);
        }
        super::load_one(ctx, TeamsByProgram(program)).await
    };
    let pages = async {
        match &asked {
            Some((shape, ..)) => {
                let shape = shape.clone();
                super::load_one(ctx, ProgramPages { program, shape }).await
            }
            None => Ok(None),
        }
    };
    let early = async {
        let Some(guess) = guess.clone() else {
            return Ok(None);
        };
        // A read that fails is made again below, if still needed.
        Ok(super::load_one(ctx, guess).await.ok().flatten())
    };
    let (found, teams, pages, early) = futures_util::try_join!(visible, teams, pages, early)?;
    if found.is_none() {
        return Ok(found);
    }
    let guessed_teams = || {
        early
            .as_ref()
            .and_then(|pre| pre.program_teams.get(&program).cloned())
    };
    let teams = match teams.or_else(guessed_teams) {
        Some(teams) => teams,
        // Not read: the guessed read failed.
        None if teams_guessed => super::load_one(ctx, TeamsByProgram(program))
            .await?
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if let (Some((shape, page, wants)), Some(pages)) = (asked, pages) {
        // The pages are this request's alone unless a concurrent request
        // of another program was read with them: only then are they copied.
        let mut pages = Arc::try_unwrap(pages).unwrap_or_else(|shared| (*shared).clone());
        let read: Vec<(i64, (Vec<story::Model>, u64))> = teams
            .iter()
            .map(|t| (t.id, pages.remove(&t.id).unwrap_or_default()))
            .collect();
        // Then what the shown stories relate to: read already when they are
        // the ones guessed, else in one more wave.
        let shown: Vec<&story::Model> = read
            .iter()
            .flat_map(|(_, (rows, _))| rows.iter().take(page.shown()))
            .collect();
        let pre = match PagePreload::of(&shown, vec![program], wants) {
            None => None,
            Some(held) => {
                let right = guesses
                    .zip(dashboard)
                    .is_some_and(|(g, shape)| g.settle(shape, guess.as_ref(), &held));
                match early {
                    Some(pre) if right => Some(pre),
                    _ => super::load_one(ctx, held).await?,
                }
            }
        };
        let mut store = locked(&kept.0);
        for (team, (rows, total)) in read {
            // Under the key `Team.backlog` looks for: it reads whole rows.
            let key = BacklogPage {
                team,
                light: false,
                ..shape.clone()
            };
            let page = PageAhead {
                rows,
                total,
                pre: pre.clone(),
                wants,
            };
            store.pages.insert(key, page);
        }
    }
    locked(&kept.0).teams.insert(program, teams);
    Ok(found)
}
