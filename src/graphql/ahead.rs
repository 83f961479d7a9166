//! Rows a resolver read for the fields under it, kept for one request.
//!
//! A dashboard asks a program for its teams, for a backlog page of each
//! team, and for what the page's stories relate to. Field by field, that is
//! five waves of reads, each waiting for the last: the program, its teams,
//! the pages, then the stories' relations. `Query.program` sees the whole
//! selection at once, so it reads the teams and the pages beside the
//! program, then the stories' relations (two waves), and leaves them here.
//! `Program.teams` and `Team.backlog` take what matches their own key
//! exactly, and read anything else as before: a query the read ahead did not
//! foresee is answered the same way, only without the head start.
//!
//! The HTTP handler gives each operation its own [`Ahead`]; without one (a
//! websocket operation) nothing is read ahead.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, InputType, Lookahead};
use entity::{story, team};

use super::{
    loaders::{BacklogPage, TeamsByProgram},
    locked,
    preload::{Preloaded, Teams, Wants},
};
use crate::{
    backlog::{
        graphql::{StoryState, backlog_key},
        service::{Backlogs, pages},
    },
    db::Spawned,
    error::{AppError, AppResult},
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
    let (page, key) =
        backlog_key(limits, 0, states, blocked, first, after.as_deref(), count).ok()?;
    Some((key, page, Wants::of(&backlog.field("edges").field("node"))))
}

/// Program `program` as `visible` finds it for the actor; when the
/// selection asks for its teams, their backlog pages and what the pages'
/// stories relate to are read meanwhile and kept for this request. Nothing
/// is kept for a program the actor cannot see.
pub async fn program<T>(
    ctx: &Context<'_>,
    program: i64,
    visible: impl Future<Output = AppResult<Option<T>>>,
) -> AppResult<Option<T>> {
    let teams_asked = ctx.look_ahead().field("teams");
    let Some(kept) = ahead(ctx).filter(|_| teams_asked.exists()) else {
        return visible.await;
    };
    let loader = super::loader(ctx)?.loader();
    let asked = asked_page(ctx, &teams_asked);
    // The program, its teams and their pages, at once.
    let teams = Spawned::new({
        let loader = loader.clone();
        async move {
            let mut teams =
                async_graphql::dataloader::Loader::load(&loader, &[TeamsByProgram(program)])
                    .await?;
            Ok(teams.remove(&TeamsByProgram(program)).unwrap_or_default())
        }
    });
    let read = asked.as_ref().map(|(key, ..)| {
        let db = loader.conn().clone();
        let key = key.clone();
        Spawned::new(async move {
            pages(
                &db,
                Backlogs::OfProgram(program),
                key.states.as_deref(),
                key.blocked,
                key.offset,
                key.limit,
                key.count,
            )
            .await
        })
    });
    let teams = async { Ok::<_, AppError>(teams.read().await?) };
    let read = async {
        match read {
            Some(read) => Ok::<_, AppError>(Some(read.read().await?)),
            None => Ok(None),
        }
    };
    let (found, teams, mut read) = futures_util::try_join!(visible, teams, read)?;
    if found.is_none() {
        return Ok(found);
    }
    if let (Some((shape, page, wants)), Some(read)) = (asked, read.as_mut()) {
        // Then what the shown stories relate to, in one more wave. Both
        // ends of a dependency are of one program, so the teams just read
        // are every team a provider can be of.
        let shown: Vec<&story::Model> = read
            .values()
            .flat_map(|(rows, _)| rows.iter().take(page.shown()))
            .collect();
        let pre = if wants.any() && !shown.is_empty() {
            let stories = shown.iter().map(|s| s.id).collect();
            let features = shown.iter().filter_map(|s| s.feature_id).collect();
            let known = Teams::Known(teams.clone());
            Some(Arc::new(
                loader.preload(stories, features, known, wants).await?,
            ))
        } else {
            None
        };
        let mut store = locked(&kept.0);
        for team in &teams {
            let (rows, total) = read.remove(&team.id).unwrap_or_default();
            let key = BacklogPage {
                team: team.id,
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
