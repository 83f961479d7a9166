//! Writing and reading stories. Knows nothing of GraphQL.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{feature, increment, iteration, story, team};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait, IntoActiveModel, Statement,
};

use super::{
    lifecycle::{self, StoryState},
    packed,
};
use crate::{
    db::id_list,
    error::{AppError, AppResult},
    ids::{FeatureId, IterationId, Kind, global},
    ranking::{Place, RankedList},
    text,
};

/// The condition on `stories` rows that are blocked: an unresolved
/// dependency on another story, or an open blocking clarification. The one
/// definition behind `Story.blocked` and the `blocked` filters.
pub const BLOCKED_SQL: &str = "(EXISTS (SELECT 1 FROM dependencies bd \
     WHERE bd.dependent_story_id = stories.id AND bd.state <> 'RESOLVED') \
     OR EXISTS (SELECT 1 FROM clarifications bc \
     WHERE bc.story_id = stories.id AND bc.blocking = TRUE AND bc.status = 'OPEN'))";

/// Which of `stories` are blocked (see [`BLOCKED_SQL`]).
pub async fn blocked_among(
    conn: &impl ConnectionTrait,
    stories: &[i64],
) -> Result<Vec<i64>, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    if stories.is_empty() {
        return Ok(Vec::new());
    }
    story::Entity::find()
        .select_only()
        .column(story::Column::Id)
        .filter(story::Column::Id.is_in(stories.to_vec()))
        .filter(sea_orm::sea_query::Expr::cust(BLOCKED_SQL))
        .into_tuple::<i64>()
        .all(conn)
        .await
}

/// The backlog of `team_id` as a ranked list.
fn backlog_list(team_id: i64) -> RankedList {
    RankedList {
        table: "stories",
        scope_column: "team_id",
        scope: team_id,
    }
}

async fn require_feature_of(
    conn: &impl ConnectionTrait,
    program_id: i64,
    feature_id: i64,
) -> AppResult<()> {
    // Another program's feature is answered as a missing one: whether it
    // exists is not this program's business.
    match feature::Entity::find_by_id(feature_id).one(conn).await? {
        Some(f) if f.program_id == program_id => Ok(()),
        _ => Err(AppError::not_found(
            "featureId: no feature of this program has that ID",
        )),
    }
}

async fn require_iteration_of(
    conn: &impl ConnectionTrait,
    program_id: i64,
    iteration_id: i64,
) -> AppResult<()> {
    let found = iteration::Entity::find_by_id(iteration_id)
        .find_also_related(increment::Entity)
        .one(conn)
        .await?;
    match found {
        Some((_, Some(inc))) if inc.program_id == program_id => Ok(()),
        _ => Err(AppError::not_found(
            "iterationId: no iteration of this program has that ID",
        )),
    }
}

fn optional_points(value: Option<i32>) -> AppResult<Option<i32>> {
    value.map(lifecycle::points).transpose()
}

/// A new story's fields.
#[derive(Clone, Debug)]
pub struct NewStory {
    pub feature_id: Option<FeatureId>,
    pub title: String,
    pub description: String,
    pub acceptance_criteria: String,
    pub points: Option<i32>,
    /// Its key in the tool it came from (an import); None when made here.
    pub external_key: Option<String>,
    /// An iteration of the program to plan it into at once; None leaves it
    /// unplanned.
    pub iteration_id: Option<IterationId>,
}

/// Creates a story in DRAFT at the bottom of its team's backlog, planned
/// into an iteration when one is given.
pub async fn create(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    team: &team::Model,
    new: NewStory,
) -> AppResult<story::Model> {
    let title = text::name("title", &new.title)?;
    let description = text::long_text("description", &new.description)?;
    let acceptance_criteria = text::long_text("acceptanceCriteria", &new.acceptance_criteria)?;
    let points = optional_points(new.points)?;
    let feature_id = new.feature_id.map(|f| f.0);
    if let Some(feature) = feature_id {
        require_feature_of(conn, team.program_id, feature).await?;
    }
    let iteration_id = new.iteration_id.map(|i| i.0);
    if let Some(iteration) = iteration_id {
        require_iteration_of(conn, team.program_id, iteration).await?;
    }
    // The program's write lock, held since the work's lookup of the team,
    // keeps two new stories from taking the same bottom key.
    let rank_key = backlog_list(team.id).bottom_key(conn).await?;
    Ok(story::ActiveModel {
        team_id: Set(team.id),
        feature_id: Set(feature_id),
        title: Set(title),
        description: Set(description),
        acceptance_criteria: Set(acceptance_criteria),
        points: Set(points),
        state: Set(StoryState::Draft.as_str().to_owned()),
        iteration_id: Set(iteration_id),
        rank_key: Set(rank_key),
        rejection_reason: Set(None),
        ready_at: Set(None),
        accepted_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        external_key: Set(new.external_key),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

/// A change to a story: `None` leaves a field; `Some(None)` clears it.
#[derive(Clone, Debug, Default)]
pub struct StoryChange {
    pub feature_id: Option<Option<FeatureId>>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub acceptance_criteria: Option<String>,
    pub points: Option<Option<i32>>,
    pub iteration_id: Option<Option<IterationId>>,
}

impl StoryChange {
    /// The GraphQL names of the fields this change sets.
    pub fn field_names(&self) -> Vec<&'static str> {
        crate::events::log::set_fields(&[
            ("featureId", self.feature_id.is_some()),
            ("title", self.title.is_some()),
            ("description", self.description.is_some()),
            ("acceptanceCriteria", self.acceptance_criteria.is_some()),
            ("points", self.points.is_some()),
            ("iterationId", self.iteration_id.is_some()),
        ])
    }
}

/// Applies a change. A story past DRAFT keeps its points and acceptance
/// criteria (they are part of its readiness).
pub async fn update(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program_id: i64,
    story: story::Model,
    change: StoryChange,
) -> AppResult<story::Model> {
    let state = StoryState::parse(&story.state)?;
    let mut row = story.into_active_model();
    if let Some(feature) = change.feature_id {
        if let Some(id) = feature {
            require_feature_of(conn, program_id, id.0).await?;
        }
        row.feature_id = Set(feature.map(|f| f.0));
    }
    if let Some(title) = change.title {
        row.title = Set(text::name("title", &title)?);
    }
    if let Some(description) = change.description {
        row.description = Set(text::long_text("description", &description)?);
    }
    if let Some(criteria) = change.acceptance_criteria {
        let criteria = text::long_text("acceptanceCriteria", &criteria)?;
        if criteria.is_empty() && state != StoryState::Draft {
            return Err(AppError::conflict(format!(
                "a {} story keeps its acceptance criteria; move it back to DRAFT first",
                state.as_str()
            )));
        }
        row.acceptance_criteria = Set(criteria);
    }
    if let Some(points) = change.points {
        if points.is_none() && state != StoryState::Draft {
            return Err(AppError::conflict(format!(
                "a {} story keeps its points; move it back to DRAFT first",
                state.as_str()
            )));
        }
        row.points = Set(optional_points(points)?);
    }
    if let Some(iteration) = change.iteration_id {
        if let Some(id) = iteration {
            require_iteration_of(conn, program_id, id.0).await?;
        }
        row.iteration_id = Set(iteration.map(|i| i.0));
    }
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// Moves a story along its lifecycle (not acceptance). READY needs the
/// definition of ready; `blocking` are the questions of its open blocking
/// clarifications.
pub async fn set_state(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    story: story::Model,
    to: StoryState,
    blocking: &[String],
) -> AppResult<story::Model> {
    StoryState::parse(&story.state)?.check_set(to)?;
    if to == StoryState::Ready {
        lifecycle::check_ready(story.points, &story.acceptance_criteria, blocking)?;
    }
    let first_ready = story.ready_at.is_none() && to == StoryState::Ready;
    let mut row = story.into_active_model();
    row.state = Set(to.as_str().to_owned());
    if first_ready {
        row.ready_at = Set(Some(now));
    }
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// The PO accepts a DONE story.
pub async fn accept(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    story: story::Model,
) -> AppResult<story::Model> {
    StoryState::parse(&story.state)?.check_done("accepted")?;
    let mut row = story.into_active_model();
    row.state = Set(StoryState::Accepted.as_str().to_owned());
    row.accepted_at = Set(Some(now));
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// The PO rejects a DONE story back to IN_PROGRESS, with a reason.
pub async fn reject(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    story: story::Model,
    reason: &str,
) -> AppResult<story::Model> {
    let reason = text::required_text("reason", reason)?;
    StoryState::parse(&story.state)?.check_done("rejected")?;
    let mut row = story.into_active_model();
    row.state = Set(StoryState::InProgress.as_str().to_owned());
    row.rejection_reason = Set(Some(reason));
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// Places `story_id` right before or after `anchor_id` in its backlog: one
/// row written, unless the keys need respacing (rare). The caller holds the
/// program's write lock (a unit of work's lookup of the story takes it).
pub async fn rank(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    team_id: i64,
    story_id: i64,
    anchor_id: i64,
    place: Place,
) -> AppResult<story::Model> {
    if story_id == anchor_id {
        return Err(AppError::bad_input(
            "a story cannot be ranked relative to itself",
        ));
    }
    let moved = backlog_list(team_id)
        .move_next_to(conn, now, story_id, anchor_id, place)
        .await?;
    moved.ok_or_else(|| {
        let field = if place == Place::Before {
            "beforeId"
        } else {
            "afterId"
        };
        AppError::bad_input(format!(
            "{field}: {} is not a story of the same team backlog",
            global(Kind::Story, anchor_id)
        ))
    })
}

/// Whose backlogs [`pages`] reads.
#[derive(Clone, Copy, Debug)]
pub enum Backlogs<'a> {
    /// These teams'.
    Teams(&'a [i64]),
    /// Every team's of these programs: read without first reading the teams.
    OfPrograms(&'a [i64]),
}

/// Pages of several team backlogs in rank order (rows `offset+1` to
/// `offset+limit` of each), and, when `count`, each team's filtered total
/// (else 0): two statements, or one. Every team named has an entry; of a
/// program's teams, those with stories on the page. When `light`, the
/// stories are read as cards on PostgreSQL ([`packed::cards`]).
#[allow(clippy::too_many_arguments)]
pub async fn pages(
    conn: &impl ConnectionTrait,
    backlogs: Backlogs<'_>,
    states: Option<&[&'static str]>,
    blocked: Option<bool>,
    offset: u64,
    limit: u64,
    count: bool,
    light: bool,
) -> Result<HashMap<i64, (Vec<story::Model>, u64)>, sea_orm::DbErr> {
    let mut out: HashMap<i64, (Vec<story::Model>, u64)> = HashMap::new();
    // Only fixed strings and integers go into the text: states come from the
    // StoryState enum, teams and programs are ids.
    let team_filter = match backlogs {
        Backlogs::Teams(teams) => {
            if teams.is_empty() {
                return Ok(out);
            }
            out.extend(teams.iter().map(|t| (*t, (Vec::new(), 0))));
            format!("stories.team_id IN ({})", id_list(teams))
        }
        Backlogs::OfPrograms(programs) => {
            if programs.is_empty() {
                return Ok(out);
            }
            let programs = id_list(programs);
            format!("stories.team_id IN (SELECT id FROM teams WHERE program_id IN ({programs}))")
        }
    };
    // The conditions beside the team's.
    let mut also = String::new();
    if let Some(states) = states {
        let list = states
            .iter()
            .map(|s| format!("'{s}'"))
            .collect::<Vec<_>>()
            .join(",");
        also.push_str(&format!(" AND stories.state IN ({list})"));
    }
    match blocked {
        Some(true) => also.push_str(&format!(" AND {BLOCKED_SQL}")),
        Some(false) => also.push_str(&format!(" AND NOT {BLOCKED_SQL}")),
        None => {}
    }
    let filter = format!("{team_filter}{also}");
    let backend = conn.get_database_backend();
    let counts = async {
        if !count {
            return Ok(Vec::new());
        }
        let counts = format!(
            "SELECT stories.team_id AS team_id, COUNT(*) AS n FROM stories WHERE {filter} GROUP BY stories.team_id"
        );
        conn.query_all_raw(Statement::from_string(backend, counts))
            .await
    };
    let rows = async {
        if backend == sea_orm::DatabaseBackend::Postgres {
            // Per team, the index on (team_id, rank_key) gives the page
            // directly. The teams go as one array, so the text is the same
            // for every set of teams and the statement is prepared once.
            // Each team's rows come in rank order, but SQL promises no order
            // without ORDER BY, and sorting them all there cost a third of
            // the read: they are put in order below.
            let (teams, value): (_, sea_orm::Value) = match backlogs {
                Backlogs::Teams(teams) => {
                    ("unnest($1::bigint[]) AS t(team_id)", teams.to_vec().into())
                }
                // One program (as nearly always) is compared as one value.
                // Against an array whose length the plan does not know,
                // PostgreSQL's generic plan expects every team, costs more
                // than a plan for the actual value, and so plans the
                // statement anew on every execution (a third of its time).
                Backlogs::OfPrograms(&[program]) => (
                    "(SELECT id AS team_id FROM teams WHERE program_id = $1) AS t",
                    program.into(),
                ),
                Backlogs::OfPrograms(programs) => (
                    "(SELECT id AS team_id FROM teams WHERE program_id = ANY($1)) AS t",
                    programs.to_vec().into(),
                ),
            };
            let sql = format!(
                "SELECT page.* FROM {teams} CROSS JOIN LATERAL \
                 (SELECT stories.* FROM stories WHERE stories.team_id = t.team_id{also} \
                 ORDER BY stories.rank_key OFFSET {offset} LIMIT {limit}) page"
            );
            let page = Statement::from_sql_and_values(backend, sql, [value]);
            if light {
                return packed::postgres_cards(conn, page).await;
            }
            return packed::postgres_stories(conn, page).await;
        }
        let (from, to) = (offset, offset + limit);
        let sql = format!(
            "SELECT * FROM (SELECT stories.*, ROW_NUMBER() OVER \
             (PARTITION BY stories.team_id ORDER BY stories.rank_key) AS rn \
             FROM stories WHERE {filter}) ranked \
             WHERE rn > {from} AND rn <= {to} ORDER BY team_id, rn"
        );
        let rows = conn
            .query_all_raw(Statement::from_string(backend, sql))
            .await?;
        rows.iter()
            .map(|row| <story::Model as sea_orm::FromQueryResult>::from_query_result(row, ""))
            .collect()
    };
    // The totals and the pages, side by side.
    let (counts, rows) = futures_util::try_join!(counts, rows)?;
    for row in counts {
        let team: i64 = row.try_get("", "team_id")?;
        let n: i64 = row.try_get("", "n")?;
        out.entry(team).or_default().1 = u64::try_from(n).unwrap_or(0);
    }
    for story in rows {
        out.entry(story.team_id).or_default().0.push(story);
    }
    // Rank keys compare as bytes, as the column's "C" collation does.
    for (page, _) in out.values_mut() {
        page.sort_by(|a, b| a.rank_key.cmp(&b.rank_key));
    }
    Ok(out)
}

/// The 1-based place of each story in its team's backlog, in one statement.
pub async fn positions(
    conn: &impl ConnectionTrait,
    ids: &[i64],
) -> Result<HashMap<i64, i64>, sea_orm::DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let list = id_list(ids);
    let sql = format!(
        "SELECT s.id AS id, (SELECT COUNT(*) FROM stories t \
         WHERE t.team_id = s.team_id AND t.rank_key <= s.rank_key) AS position \
         FROM stories s WHERE s.id IN ({list})"
    );
    let rows = conn
        .query_all_raw(Statement::from_string(conn.get_database_backend(), sql))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "id")?, row.try_get("", "position")?)))
        .collect()
}
