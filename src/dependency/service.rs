//! Requesting, committing, declining, removing and resolving dependencies,
//! and reading them with the facts the at-risk rules need. Knows nothing of
//! GraphQL.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use entity::{dependency, feature, increment, iteration, story};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter,
    QueryOrder, Statement,
    sea_query::{Alias, Asterisk, Expr, ExprTrait, JoinType, Query, SelectStatement},
};

use super::{
    cycle::{NeedsGraph, closing_path},
    risk::{DependencyState, RiskFacts, RiskReason, assess},
};
use crate::{
    backlog::lifecycle::StoryState,
    error::{AppError, AppResult},
    program::service::lock,
    text,
};

/// A dependency with what the at-risk rules and the filters need.
#[derive(Clone, Debug)]
pub struct Assessed {
    pub row: dependency::Model,
    pub dependent_team: i64,
    pub provider_team: i64,
    pub dependent_iteration: Option<i64>,
    pub provider_iteration: Option<i64>,
    pub facts: RiskFacts,
    pub reasons: Vec<RiskReason>,
}

impl Assessed {
    pub fn at_risk(&self) -> bool {
        !self.reasons.is_empty()
    }

    pub fn cross_team(&self) -> bool {
        self.dependent_team != self.provider_team
    }

    /// Whether the row's stored risk is not the rules' answer.
    fn stored_risk_differs(&self) -> bool {
        self.row.at_risk != self.at_risk()
            || self.row.risk_reasons != RiskReason::join(&self.reasons)
    }
}

/// Stores the rules' answer in the row when it differs from what is
/// stored. Every change that can move a dependency's risk assesses it
/// afterwards (`RiskWatch::after`), so the stored risk stays the rules'.
pub async fn store_risk(
    conn: &impl ConnectionTrait,
    a: &mut Assessed,
) -> Result<(), sea_orm::DbErr> {
    if !a.stored_risk_differs() {
        return Ok(());
    }
    let reasons = RiskReason::join(&a.reasons);
    dependency::Entity::update_many()
        .col_expr(dependency::Column::AtRisk, Expr::value(a.at_risk()))
        .col_expr(
            dependency::Column::RiskReasons,
            Expr::value(reasons.clone()),
        )
        .filter(dependency::Column::Id.eq(a.row.id))
        .exec(conn)
        .await?;
    a.row.at_risk = a.at_risk();
    a.row.risk_reasons = reasons;
    Ok(())
}

/// Brings every dependency's stored risk in line with the rules, holding
/// every program's write lock: at start, after the migration that added the
/// columns (or after an upgrade that changed the rules). Returns how many
/// rows changed.
pub async fn store_all_risks(store: &crate::db::Store) -> AppResult<usize> {
    let txn = store.begin_write().await?;
    let programs = entity::program::Entity::find()
        .order_by_asc(entity::program::Column::Id)
        .all(&*txn)
        .await?;
    for program in &programs {
        lock(&*txn, program.id).await?;
    }
    let mut changed = 0;
    for mut a in assessed(&*txn, &Filter::default()).await? {
        if a.stored_risk_differs() {
            store_risk(&*txn, &mut a).await?;
            changed += 1;
        }
    }
    txn.commit().await?;
    Ok(changed)
}

/// The filters of a read.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub program: Option<i64>,
    pub ids: Option<Vec<i64>>,
    pub states: Option<Vec<DependencyState>>,
    /// Matches either side.
    pub team: Option<i64>,
    /// Dependencies whose dependent or provider is one of these stories.
    pub touching: Option<Vec<i64>>,
    /// Dependencies whose dependent or provider story is on the board of
    /// this increment: planned into one of its iterations (given), or
    /// unplanned under a feature targeting it. Read without listing the
    /// stories, however many the board has.
    pub on_board: Option<(i64, Vec<i64>)>,
}

fn facts_query(filter: &Filter) -> SelectStatement {
    let d = Alias::new("d");
    let (ds, ps) = (Alias::new("ds"), Alias::new("ps"));
    let (di, pi, ni) = (Alias::new("di"), Alias::new("pi"), Alias::new("ni"));
    let mut q = Query::select();
    q.column((d.clone(), Asterisk))
        .expr_as(Expr::col((ds.clone(), "team_id")), "dependent_team")
        .expr_as(Expr::col((ps.clone(), "team_id")), "provider_team")
        .expr_as(
            Expr::col((ds.clone(), "iteration_id")),
            "dependent_iteration",
        )
        .expr_as(
            Expr::col((ps.clone(), "iteration_id")),
            "provider_iteration",
        )
        .expr_as(Expr::col((di.clone(), "start_date")), "dependent_start")
        .expr_as(Expr::col((pi.clone(), "start_date")), "provider_start")
        .expr_as(Expr::col((ni.clone(), "start_date")), "needed_start")
        .from_as("dependencies", d.clone())
        .join_as(
            JoinType::InnerJoin,
            "stories",
            ds.clone(),
            Expr::col((ds.clone(), "id")).equals((d.clone(), "dependent_story_id")),
        )
        .join_as(
            JoinType::InnerJoin,
            "stories",
            ps.clone(),
            Expr::col((ps.clone(), "id")).equals((d.clone(), "provider_story_id")),
        )
        .join_as(
            JoinType::LeftJoin,
            "iterations",
            di.clone(),
            Expr::col((di.clone(), "id")).equals((ds.clone(), "iteration_id")),
        )
        .join_as(
            JoinType::LeftJoin,
            "iterations",
            pi.clone(),
            Expr::col((pi.clone(), "id")).equals((ps.clone(), "iteration_id")),
        )
        .join_as(
            JoinType::LeftJoin,
            "iterations",
            ni.clone(),
            Expr::col((ni.clone(), "id")).equals((d.clone(), "needed_by_iteration_id")),
        )
        .order_by((d.clone(), "id"), sea_orm::Order::Asc);
    if let Some(program) = filter.program {
        q.and_where(Expr::col((d.clone(), "program_id")).eq(program));
    }
    if let Some(ids) = &filter.ids {
        q.and_where(Expr::col((d.clone(), "id")).is_in(ids.clone()));
    }
    if let Some(states) = &filter.states {
        q.and_where(Expr::col((d.clone(), "state")).is_in(states.iter().map(|s| s.as_str())));
    }
    if let Some(team) = filter.team {
        q.and_where(
            Expr::col((ds.clone(), "team_id"))
                .eq(team)
                .or(Expr::col((ps.clone(), "team_id")).eq(team)),
        );
    }
    if let Some(stories) = &filter.touching {
        q.and_where(
            Expr::col((d.clone(), "dependent_story_id"))
                .is_in(stories.clone())
                .or(Expr::col((d.clone(), "provider_story_id")).is_in(stories.clone())),
        );
    }
    if let Some((increment, iterations)) = &filter.on_board {
        let on_board = |side: &Alias| {
            let targeted = Query::select()
                .column(feature::Column::Id)
                .from(feature::Entity)
                .and_where(feature::Column::TargetIncrementId.eq(*increment))
                .to_owned();
            Expr::col((side.clone(), "iteration_id"))
                .is_in(iterations.clone())
                .or(Expr::col((side.clone(), "iteration_id"))
                    .is_null()
                    .and(Expr::col((side.clone(), "feature_id")).in_subquery(targeted)))
        };
        q.and_where(on_board(&ds).or(on_board(&ps)));
    }
    q.to_owned()
}

/// The filters of `Program.dependencies`.
#[derive(Clone, Debug)]
pub struct ListFilter {
    pub program: i64,
    pub states: Option<Vec<DependencyState>>,
    /// Matches either side.
    pub team: Option<i64>,
    /// On the stored risk.
    pub at_risk: Option<bool>,
}

/// A page of a program's dependencies in id order, after the id `after`,
/// at most `limit`, and how many match in all: two statements on indexes.
pub async fn list(
    conn: &impl ConnectionTrait,
    filter: &ListFilter,
    after: Option<i64>,
    limit: u64,
) -> Result<(Vec<dependency::Model>, u64), sea_orm::DbErr> {
    use sea_orm::{PaginatorTrait, QuerySelect};
    let mut q = dependency::Entity::find().filter(dependency::Column::ProgramId.eq(filter.program));
    if let Some(states) = &filter.states {
        q = q.filter(dependency::Column::State.is_in(states.iter().map(|s| s.as_str())));
    }
    if let Some(at_risk) = filter.at_risk {
        q = q.filter(dependency::Column::AtRisk.eq(at_risk));
    }
    if let Some(team) = filter.team {
        let of_team = Query::select()
            .column(story::Column::Id)
            .from(story::Entity)
            .and_where(story::Column::TeamId.eq(team))
            .to_owned();
        q = q.filter(
            dependency::Column::DependentStoryId
                .in_subquery(of_team.clone())
                .or(dependency::Column::ProviderStoryId.in_subquery(of_team)),
        );
    }
    let total = q.clone().count(conn).await?;
    if let Some(after) = after {
        q = q.filter(dependency::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(dependency::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// Reads dependencies with their risk, in id order.
pub async fn assessed(
    conn: &impl ConnectionTrait,
    filter: &Filter,
) -> Result<Vec<Assessed>, sea_orm::DbErr> {
    match conn.get_database_backend() {
        sea_orm::DbBackend::Sqlite => assessed_packed(conn, filter).await,
        _ => assessed_by_position(conn, filter).await,
    }
}

/// The columns of a dependency's facts, in the order [`assessed_packed`]
/// and [`assessed_by_position`] read them: its row, then its ends.
const ROW_COLUMNS: &str = "id, program_id, dependent_story_id, provider_story_id, \
     state, resolved_from, needed_by_iteration_id, decline_reason, requested_by_id, \
     at_risk, risk_reasons, created_at, updated_at";
const END_COLUMNS: &str = "dependent_team, provider_team, dependent_iteration, \
     provider_iteration, dependent_start, provider_start, needed_start";

/// A dependency from the first columns of a PostgreSQL row, in the order
/// of [`ROW_COLUMNS`].
pub(crate) fn pg_row(
    r: &sea_orm::sqlx::postgres::PgRow,
) -> Result<dependency::Model, sea_orm::sqlx::Error> {
    use sea_orm::sqlx::Row as _;
    Ok(dependency::Model {
        id: r.try_get_unchecked(0)?,
        program_id: r.try_get_unchecked(1)?,
        dependent_story_id: r.try_get_unchecked(2)?,
        provider_story_id: r.try_get_unchecked(3)?,
        state: r.try_get_unchecked(4)?,
        resolved_from: r.try_get_unchecked(5)?,
        needed_by_iteration_id: r.try_get_unchecked(6)?,
        decline_reason: r.try_get_unchecked(7)?,
        requested_by_id: r.try_get_unchecked(8)?,
        at_risk: r.try_get_unchecked(9)?,
        risk_reasons: r.try_get_unchecked(10)?,
        created_at: crate::db::pg_time(r, 11)?,
        updated_at: crate::db::pg_time(r, 12)?,
    })
}

/// `columns` (a list such as [`ROW_COLUMNS`]) of the table named `alias`:
/// `a.x, a.y`.
fn qualified(alias: &str, columns: &str) -> String {
    columns
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The dependencies of `stories` (as the dependent), oldest first, each with
/// its provider story, on PostgreSQL: one statement, where the dependencies
/// and then the providers through them read the dependencies twice. Each
/// provider is looked up by its key (`OFFSET 0` keeps the subquery apart):
/// before statistics, a join hashed the whole stories table (1.3 ms where
/// the lookups take 0.4). When `light`, the providers are read as cards
/// (see [`crate::backlog::packed::cards`]): a dashboard shows a provider's
/// title and team, not its texts and times.
pub(crate) async fn with_providers_pg(
    conn: &impl ConnectionTrait,
    stories: Vec<i64>,
    light: bool,
) -> Result<Vec<(dependency::Model, story::Model)>, sea_orm::DbErr> {
    use crate::backlog::packed::{CARD_COLUMNS, COLUMNS, pg_card_at, pg_model_at};
    let story_columns = qualified("s", if light { CARD_COLUMNS } else { COLUMNS });
    let row_columns = qualified("d", ROW_COLUMNS);
    let inner = Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!(
            "SELECT {row_columns}, {story_columns} FROM dependencies d \
             CROSS JOIN LATERAL (SELECT * FROM stories WHERE stories.id = d.provider_story_id \
             OFFSET 0) s WHERE d.dependent_story_id = ANY($1) ORDER BY d.id"
        ),
        [stories.into()],
    );
    let columns = ROW_COLUMNS.split(", ").count();
    crate::db::postgres_rows(conn, inner, "*", |r| {
        let provider = if light {
            pg_card_at(r, columns)?
        } else {
            pg_model_at(r, columns)?
        };
        Ok((pg_row(r)?, provider))
    })
    .await
}

/// [`assessed`] on PostgreSQL: each row decoded by position (see
/// [`crate::db::postgres_rows`]); a board reads thousands.
async fn assessed_by_position(
    conn: &impl ConnectionTrait,
    filter: &Filter,
) -> Result<Vec<Assessed>, sea_orm::DbErr> {
    use sea_orm::sqlx::Row as _;
    let inner = conn.get_database_backend().build(&facts_query(filter));
    let columns = format!("{ROW_COLUMNS}, {END_COLUMNS}");
    let read = crate::db::postgres_rows(conn, inner, &columns, |r| {
        let row = pg_row(r)?;
        let ends = Ends {
            dependent_team: r.try_get_unchecked(13)?,
            provider_team: r.try_get_unchecked(14)?,
            dependent_iteration: r.try_get_unchecked(15)?,
            provider_iteration: r.try_get_unchecked(16)?,
            dependent_start: r.try_get_unchecked(17)?,
            provider_start: r.try_get_unchecked(18)?,
            needed_by_start: r.try_get_unchecked(19)?,
        };
        Ok((row, ends))
    })
    .await?;
    let mut assessed = read
        .into_iter()
        .map(|(row, ends)| ends.assess(row))
        .collect::<Result<Vec<_>, _>>()?;
    assessed.sort_by_key(|a| a.row.id);
    Ok(assessed)
}

/// What a dependency's facts read adds to its row.
struct Ends {
    dependent_team: i64,
    provider_team: i64,
    dependent_iteration: Option<i64>,
    provider_iteration: Option<i64>,
    dependent_start: Option<NaiveDate>,
    provider_start: Option<NaiveDate>,
    needed_by_start: Option<NaiveDate>,
}

impl Ends {
    fn assess(self, row: dependency::Model) -> Result<Assessed, sea_orm::DbErr> {
        let state = DependencyState::parse(&row.state).map_err(|_| {
            sea_orm::DbErr::Custom(format!("unknown dependency state {:?}", row.state))
        })?;
        let facts = RiskFacts {
            state,
            dependent_start: self.dependent_start,
            provider_start: self.provider_start,
            needed_by_start: self.needed_by_start,
        };
        Ok(Assessed {
            dependent_team: self.dependent_team,
            provider_team: self.provider_team,
            dependent_iteration: self.dependent_iteration,
            provider_iteration: self.provider_iteration,
            reasons: assess(&facts),
            facts,
            row,
        })
    }
}

/// One dependency as `assessed_packed` reads it: its row, then its ends.
type PackedRow = (
    (
        i64,
        i64,
        i64,
        i64,
        String,
        Option<String>,
        Option<i64>,
        Option<String>,
        Option<i64>,
        i64,
        String,
        String,
        String,
    ),
    (
        i64,
        i64,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<String>,
    ),
);

/// [`assessed`] on SQLite: the rows packed into one JSON value (see
/// [`crate::db::sqlite_packed_rows`]); a board reads thousands.
async fn assessed_packed(
    conn: &impl ConnectionTrait,
    filter: &Filter,
) -> Result<Vec<Assessed>, sea_orm::DbErr> {
    use crate::db::{packed_time as time, sqlite_packed_rows};
    let columns = format!("json_array({ROW_COLUMNS}), json_array({END_COLUMNS})");
    let inner = sea_orm::DbBackend::Sqlite.build(&facts_query(filter));
    let rows: Vec<PackedRow> = sqlite_packed_rows(conn, inner, &columns).await?;
    let date = |text: Option<String>| {
        text.map(|t| {
            NaiveDate::parse_from_str(&t, "%Y-%m-%d")
                .map_err(|_| sea_orm::DbErr::Custom(format!("a packed date is unreadable: {t:?}")))
        })
        .transpose()
    };
    let mut assessed = rows
        .into_iter()
        .map(|(d, e)| {
            let row = dependency::Model {
                id: d.0,
                program_id: d.1,
                dependent_story_id: d.2,
                provider_story_id: d.3,
                state: d.4,
                resolved_from: d.5,
                needed_by_iteration_id: d.6,
                decline_reason: d.7,
                requested_by_id: d.8,
                at_risk: d.9 != 0,
                risk_reasons: d.10,
                created_at: time(&d.11)?,
                updated_at: time(&d.12)?,
            };
            let ends = Ends {
                dependent_team: e.0,
                provider_team: e.1,
                dependent_iteration: e.2,
                provider_iteration: e.3,
                dependent_start: date(e.4)?,
                provider_start: date(e.5)?,
                needed_by_start: date(e.6)?,
            };
            ends.assess(row)
        })
        .collect::<Result<Vec<_>, _>>()?;
    assessed.sort_by_key(|a| a.row.id);
    Ok(assessed)
}

/// Reads "needs" edges from storage, one level at a time.
struct StoredGraph<'a, C>(&'a C);

impl<C: ConnectionTrait> NeedsGraph for StoredGraph<'_, C> {
    async fn needs(&mut self, from: &[i64]) -> AppResult<Vec<(i64, i64)>> {
        let rows = dependency::Entity::find()
            .filter(dependency::Column::DependentStoryId.is_in(from.to_vec()))
            .all(self.0)
            .await?;
        Ok(rows
            .into_iter()
            .map(|d| (d.dependent_story_id, d.provider_story_id))
            .collect())
    }
}

async fn titles(conn: &impl ConnectionTrait, ids: &[i64]) -> AppResult<HashMap<i64, String>> {
    Ok(story::Entity::find()
        .filter(story::Column::Id.is_in(ids.to_vec()))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.id, s.title))
        .collect())
}

/// Checks that `iteration_id` belongs to the program.
pub async fn require_iteration(
    conn: &impl ConnectionTrait,
    field: &str,
    program_id: i64,
    iteration_id: i64,
) -> AppResult<iteration::Model> {
    let found = iteration::Entity::find_by_id(iteration_id)
        .find_also_related(increment::Entity)
        .one(conn)
        .await?;
    match found {
        Some((it, Some(inc))) if inc.program_id == program_id => Ok(it),
        _ => Err(AppError::not_found(format!(
            "{field}: no iteration of this program has that ID"
        ))),
    }
}

fn is_finished(state: &str) -> bool {
    state == StoryState::Done.as_str() || state == StoryState::Accepted.as_str()
}

/// A new request: `dependent` needs `provider`. Both stories must be of
/// `program_id`; the pair must be new and must not close a cycle.
pub async fn request(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program_id: i64,
    requested_by: Option<i64>,
    dependent: &story::Model,
    provider: &story::Model,
    needed_by: Option<i64>,
) -> AppResult<dependency::Model> {
    if dependent.id == provider.id {
        return Err(AppError::bad_input("a story cannot depend on itself"));
    }
    if let Some(it) = needed_by {
        require_iteration(conn, "neededByIterationId", program_id, it).await?;
    }
    lock(conn, program_id).await?;
    let existing = dependency::Entity::find()
        .filter(dependency::Column::DependentStoryId.eq(dependent.id))
        .filter(dependency::Column::ProviderStoryId.eq(provider.id))
        .one(conn)
        .await?;
    if existing.is_some() {
        return Err(AppError::conflict(format!(
            "{:?} already depends on {:?}",
            dependent.title, provider.title
        )));
    }
    if let Some(path) = closing_path(&mut StoredGraph(conn), dependent.id, provider.id).await? {
        let names = titles(conn, &path).await?;
        let mut cycle = vec![dependent.title.clone()];
        cycle.extend(
            path.iter()
                .map(|id| names.get(id).cloned().unwrap_or_default()),
        );
        return Err(AppError::conflict(format!(
            "this dependency would close a cycle: {}",
            cycle.join(" → ")
        )));
    }
    let (state, resolved_from) = if is_finished(&provider.state) {
        (
            DependencyState::Resolved,
            Some(DependencyState::Requested.as_str().to_owned()),
        )
    } else {
        (DependencyState::Requested, None)
    };
    dependency::ActiveModel {
        program_id: Set(program_id),
        dependent_story_id: Set(dependent.id),
        provider_story_id: Set(provider.id),
        state: Set(state.as_str().to_owned()),
        resolved_from: Set(resolved_from),
        needed_by_iteration_id: Set(needed_by),
        decline_reason: Set(None),
        requested_by_id: Set(requested_by),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| AppError::unique_violation(e, "this dependency already exists"))
}

fn require_open(dep: &dependency::Model, action: &str) -> AppResult<DependencyState> {
    let state = DependencyState::parse(&dep.state)?;
    if state == DependencyState::Resolved {
        return Err(AppError::conflict(format!(
            "a RESOLVED dependency cannot be {action}: its provider story is done"
        )));
    }
    Ok(state)
}

/// The provider's PO commits: plans the provider story into `iteration_id`.
pub async fn commit(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    dep: dependency::Model,
    provider: story::Model,
    iteration_id: i64,
) -> AppResult<dependency::Model> {
    require_open(&dep, "committed")?;
    require_iteration(conn, "iterationId", dep.program_id, iteration_id).await?;
    let mut story = provider.into_active_model();
    story.iteration_id = Set(Some(iteration_id));
    story.updated_at = Set(now);
    story.update(conn).await?;
    let mut row = dep.into_active_model();
    row.state = Set(DependencyState::Committed.as_str().to_owned());
    row.decline_reason = Set(None);
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// The provider's PO declines, with a reason.
pub async fn decline(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    dep: dependency::Model,
    reason: &str,
) -> AppResult<dependency::Model> {
    let reason = text::required_text("reason", reason)?;
    if require_open(&dep, "declined")? == DependencyState::Declined {
        return Err(AppError::conflict("the dependency is already declined"));
    }
    let mut row = dep.into_active_model();
    row.state = Set(DependencyState::Declined.as_str().to_owned());
    row.decline_reason = Set(Some(reason));
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// Removes a dependency.
pub async fn remove(conn: &impl ConnectionTrait, dep: dependency::Model) -> AppResult<()> {
    dep.delete(conn).await?;
    Ok(())
}

/// Follows a provider story's state: DONE or ACCEPTED resolves its
/// dependencies; back to work restores the state they had. Returns the
/// dependencies that changed.
pub async fn follow_provider(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    provider: &story::Model,
) -> AppResult<Vec<dependency::Model>> {
    let deps = dependency::Entity::find()
        .filter(dependency::Column::ProviderStoryId.eq(provider.id))
        .order_by_asc(dependency::Column::Id)
        .all(conn)
        .await?;
    let finished = is_finished(&provider.state);
    let mut changed = Vec::new();
    for dep in deps {
        let resolved = dep.state == DependencyState::Resolved.as_str();
        let mut row = dep.clone().into_active_model();
        if finished && !resolved {
            row.resolved_from = Set(Some(dep.state.clone()));
            row.state = Set(DependencyState::Resolved.as_str().to_owned());
        } else if !finished && resolved {
            let back = dep
                .resolved_from
                .clone()
                .unwrap_or_else(|| DependencyState::Committed.as_str().to_owned());
            row.state = Set(back);
            row.resolved_from = Set(None);
        } else {
            continue;
        }
        row.updated_at = Set(now);
        changed.push(row.update(conn).await?);
    }
    Ok(changed)
}

/// The dependency `id`, if any.
pub async fn find(conn: &impl ConnectionTrait, id: i64) -> AppResult<Option<dependency::Model>> {
    Ok(dependency::Entity::find_by_id(id).one(conn).await?)
}
