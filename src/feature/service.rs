//! Creating, changing, ranking and listing features. Knows nothing of GraphQL.

use chrono::{DateTime, Utc};
use entity::{feature, feature_allocation, program};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::NullOrdering,
};

use super::{
    state::FeatureState,
    wsjf::{self, Wsjf},
};
use crate::{
    error::{AppError, AppResult},
    ids::{IncrementId, Kind, global},
    increment,
    page::Page,
    ranking::{Place, RankedList},
    text,
};

/// The program backlog of `program_id` as a ranked list.
fn backlog_list(program_id: i64) -> RankedList {
    RankedList {
        table: "features",
        scope_column: "program_id",
        scope: program_id,
    }
}

/// A new feature's fields (WSJF inputs unchecked).
#[derive(Clone, Debug)]
pub struct NewFeature {
    pub title: String,
    pub description: String,
    pub business_value: Option<i32>,
    pub time_criticality: Option<i32>,
    pub risk_reduction: Option<i32>,
    pub job_size: Option<i32>,
    pub target_increment_id: Option<IncrementId>,
}

fn check_input(field: &str, value: Option<i32>) -> AppResult<Option<i32>> {
    value.map(|v| wsjf::input(field, v)).transpose()
}

fn score(row: &feature::ActiveModel) -> Option<f64> {
    let get = |v: &sea_orm::ActiveValue<Option<i32>>| match v {
        sea_orm::ActiveValue::Set(x) | sea_orm::ActiveValue::Unchanged(x) => *x,
        sea_orm::ActiveValue::NotSet => None,
    };
    Wsjf::from_parts(
        get(&row.business_value),
        get(&row.time_criticality),
        get(&row.risk_reduction),
        get(&row.job_size),
    )
    .map(|w| w.score())
}

/// Creates a feature in FUNNEL at the bottom of the program backlog.
pub async fn create(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program: &program::Model,
    new: NewFeature,
) -> AppResult<feature::Model> {
    let title = text::name("title", &new.title)?;
    let description = text::long_text("description", &new.description)?;
    let business_value = check_input("businessValue", new.business_value)?;
    let time_criticality = check_input("timeCriticality", new.time_criticality)?;
    let risk_reduction = check_input("riskReduction", new.risk_reduction)?;
    let job_size = check_input("jobSize", new.job_size)?;
    let target = new.target_increment_id.map(|t| t.0);
    if let Some(target) = target {
        increment::service::find_in_program(conn, "targetIncrementId", program.id, target).await?;
    }
    // The program's write lock, held since the work's lookup of the
    // program, keeps two new features from taking the same bottom key.
    let rank_key = backlog_list(program.id).bottom_key(conn).await?;
    let mut row = feature::ActiveModel {
        program_id: Set(program.id),
        title: Set(title),
        description: Set(description),
        state: Set(FeatureState::Funnel.as_str().to_owned()),
        business_value: Set(business_value),
        time_criticality: Set(time_criticality),
        risk_reduction: Set(risk_reduction),
        job_size: Set(job_size),
        wsjf_score: Set(None),
        target_increment_id: Set(target),
        rank_key: Set(rank_key),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    row.wsjf_score = Set(score(&row));
    Ok(row.insert(conn).await?)
}

/// A change to a feature: `None` leaves a field as it is; `Some(None)`
/// clears an optional one.
#[derive(Clone, Debug, Default)]
pub struct FeatureChange {
    pub title: Option<String>,
    pub description: Option<String>,
    pub business_value: Option<Option<i32>>,
    pub time_criticality: Option<Option<i32>>,
    pub risk_reduction: Option<Option<i32>>,
    pub job_size: Option<Option<i32>>,
    pub target_increment_id: Option<Option<IncrementId>>,
}

impl FeatureChange {
    /// The GraphQL names of the fields this change sets.
    pub fn field_names(&self) -> Vec<&'static str> {
        crate::events::log::set_fields(&[
            ("title", self.title.is_some()),
            ("description", self.description.is_some()),
            ("businessValue", self.business_value.is_some()),
            ("timeCriticality", self.time_criticality.is_some()),
            ("riskReduction", self.risk_reduction.is_some()),
            ("jobSize", self.job_size.is_some()),
            ("targetIncrementId", self.target_increment_id.is_some()),
        ])
    }
}

/// Applies a change to a feature and recomputes its WSJF score.
pub async fn update(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    feature: feature::Model,
    change: FeatureChange,
) -> AppResult<feature::Model> {
    let program_id = feature.program_id;
    let mut row = feature.into_active_model();
    if let Some(title) = change.title {
        row.title = Set(text::name("title", &title)?);
    }
    if let Some(description) = change.description {
        row.description = Set(text::long_text("description", &description)?);
    }
    if let Some(v) = change.business_value {
        row.business_value = Set(check_input("businessValue", v)?);
    }
    if let Some(v) = change.time_criticality {
        row.time_criticality = Set(check_input("timeCriticality", v)?);
    }
    if let Some(v) = change.risk_reduction {
        row.risk_reduction = Set(check_input("riskReduction", v)?);
    }
    if let Some(v) = change.job_size {
        row.job_size = Set(check_input("jobSize", v)?);
    }
    if let Some(target) = change.target_increment_id {
        if let Some(id) = target {
            increment::service::find_in_program(conn, "targetIncrementId", program_id, id.0)
                .await?;
        }
        row.target_increment_id = Set(target.map(|t| t.0));
    }
    row.wsjf_score = Set(score(&row));
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// Moves a feature one step along its lifecycle.
pub async fn set_state(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    feature: feature::Model,
    to: FeatureState,
) -> AppResult<feature::Model> {
    FeatureState::parse(&feature.state)?.check_transition(to)?;
    let mut row = feature.into_active_model();
    row.state = Set(to.as_str().to_owned());
    row.updated_at = Set(now);
    Ok(row.update(conn).await?)
}

/// Places `feature_id` right before or after `anchor_id` in the program
/// backlog: one row written, unless the keys need respacing (rare). The
/// caller holds the program's write lock (a unit of work's lookup of the
/// feature takes it).
pub async fn rank(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    program_id: i64,
    feature_id: i64,
    anchor_id: i64,
    place: Place,
) -> AppResult<feature::Model> {
    if feature_id == anchor_id {
        return Err(AppError::bad_input(
            "a feature cannot be ranked relative to itself",
        ));
    }
    let moved = backlog_list(program_id)
        .move_next_to(conn, now, feature_id, anchor_id, place)
        .await?;
    moved.ok_or_else(|| {
        let field = if place == Place::Before {
            "beforeId"
        } else {
            "afterId"
        };
        AppError::bad_input(format!(
            "{field}: {} is not a feature of this program backlog",
            global(Kind::Feature, anchor_id)
        ))
    })
}

/// How the program backlog is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BacklogOrder {
    /// Highest WSJF score first; ties, and features without a complete
    /// estimate (last), in the PM's rank.
    Wsjf,
    /// The Product Manager's own order (`rankFeature`).
    Rank,
}

/// One page of the program backlog, and how many features match in all.
/// The page's `after` is a position (offset) in this order.
pub async fn backlog(
    conn: &impl ConnectionTrait,
    program_id: i64,
    order: BacklogOrder,
    states: Option<&[FeatureState]>,
    page: &Page,
) -> AppResult<(Vec<feature::Model>, u64)> {
    let mut query = feature::Entity::find().filter(feature::Column::ProgramId.eq(program_id));
    if let Some(states) = states {
        query = query.filter(feature::Column::State.is_in(states.iter().map(|s| s.as_str())));
    }
    let total = query.clone().count(conn).await?;
    if order == BacklogOrder::Wsjf {
        query =
            query.order_by_with_nulls(feature::Column::WsjfScore, Order::Desc, NullOrdering::Last);
    }
    let offset = u64::try_from(page.after.unwrap_or(0)).unwrap_or(0);
    let rows = query
        .order_by_asc(feature::Column::RankKey)
        .offset(offset)
        .limit(page.fetch())
        .all(conn)
        .await?;
    Ok((rows, total))
}

/// Every feature of a program in rank order (for the roadmap).
pub async fn all_in_rank_order(
    conn: &impl ConnectionTrait,
    program_id: i64,
) -> AppResult<Vec<feature::Model>> {
    Ok(feature::Entity::find()
        .filter(feature::Column::ProgramId.eq(program_id))
        .order_by_asc(feature::Column::RankKey)
        .all(conn)
        .await?)
}

/// The allocation of a feature to a team, if any.
pub async fn allocation(
    conn: &impl ConnectionTrait,
    feature_id: i64,
    team_id: i64,
) -> AppResult<Option<feature_allocation::Model>> {
    Ok(
        feature_allocation::Entity::find_by_id((feature_id, team_id))
            .one(conn)
            .await?,
    )
}

/// Allocates a feature to a team.
pub async fn allocate(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    feature_id: i64,
    team_id: i64,
    note: &str,
    by: Option<i64>,
) -> AppResult<feature_allocation::Model> {
    let note = text::long_text("note", note)?;
    feature_allocation::ActiveModel {
        feature_id: Set(feature_id),
        team_id: Set(team_id),
        note: Set(note),
        allocated_at: Set(now),
        allocated_by_id: Set(by),
    }
    .insert(conn)
    .await
    .map_err(|e| AppError::unique_violation(e, "the feature is already allocated to that team"))
}

/// Ends an allocation.
pub async fn deallocate(
    conn: &impl ConnectionTrait,
    feature_id: i64,
    team_id: i64,
) -> AppResult<()> {
    feature_allocation::Entity::delete_by_id((feature_id, team_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// The allocations of several features, oldest first.
pub async fn allocations_of(
    conn: &impl ConnectionTrait,
    features: &[i64],
) -> Result<Vec<feature_allocation::Model>, sea_orm::DbErr> {
    feature_allocation::Entity::find()
        .filter(feature_allocation::Column::FeatureId.is_in(features.to_vec()))
        .order_by_asc(feature_allocation::Column::AllocatedAt)
        .order_by_asc(feature_allocation::Column::TeamId)
        .all(conn)
        .await
}

/// A team's intake: the features allocated to it with no story of the team
/// under them yet, oldest allocation first; only those targeting
/// `increment` when given.
pub async fn intake(
    conn: &impl ConnectionTrait,
    team_id: i64,
    increment: Option<i64>,
) -> AppResult<Vec<feature::Model>> {
    let broken_down = sea_orm::sea_query::Query::select()
        .column(entity::story::Column::FeatureId)
        .from(entity::story::Entity)
        .and_where(entity::story::Column::TeamId.eq(team_id))
        .and_where(entity::story::Column::FeatureId.is_not_null())
        .to_owned();
    let allocated = feature_allocation::Entity::find()
        .filter(feature_allocation::Column::TeamId.eq(team_id))
        .filter(feature_allocation::Column::FeatureId.not_in_subquery(broken_down))
        .order_by_asc(feature_allocation::Column::AllocatedAt)
        .order_by_asc(feature_allocation::Column::FeatureId)
        .all(conn)
        .await?;
    let ids: Vec<i64> = allocated.iter().map(|a| a.feature_id).collect();
    let mut query = feature::Entity::find().filter(feature::Column::Id.is_in(ids.clone()));
    if let Some(increment) = increment {
        query = query.filter(feature::Column::TargetIncrementId.eq(increment));
    }
    let features = query.all(conn).await?;
    Ok(ids
        .iter()
        .filter_map(|id| features.iter().find(|f| f.id == *id).cloned())
        .collect())
}

/// The team's stories under a feature that are not DONE or ACCEPTED.
pub async fn unfinished_stories(
    conn: &impl ConnectionTrait,
    feature_id: i64,
    team_id: i64,
) -> AppResult<Vec<entity::story::Model>> {
    use entity::story;
    Ok(story::Entity::find()
        .filter(story::Column::FeatureId.eq(feature_id))
        .filter(story::Column::TeamId.eq(team_id))
        .filter(story::Column::State.is_not_in(["DONE", "ACCEPTED"]))
        .order_by_asc(story::Column::RankKey)
        .all(conn)
        .await?)
}

/// Takes stories out of their feature (they stay in their backlog).
pub async fn unlink_stories(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    ids: &[i64],
) -> AppResult<()> {
    use entity::story;
    story::Entity::update_many()
        .col_expr(
            story::Column::FeatureId,
            sea_orm::sea_query::Expr::value(Option::<i64>::None),
        )
        .col_expr(
            story::Column::UpdatedAt,
            sea_orm::sea_query::Expr::value(now),
        )
        .filter(story::Column::Id.is_in(ids.to_vec()))
        .exec(conn)
        .await?;
    Ok(())
}

/// The feature `id`, if any.
pub async fn find(conn: &impl ConnectionTrait, id: i64) -> AppResult<Option<feature::Model>> {
    Ok(feature::Entity::find_by_id(id).one(conn).await?)
}

/// Features decoded by position on PostgreSQL ([`crate::db::rows`]), as a
/// dashboard's stories' features are read.
impl crate::db::ByPosition for feature::Entity {
    const COLUMNS: &'static str = "id, program_id, title, description, state, business_value, \
         time_criticality, risk_reduction, job_size, wsjf_score, target_increment_id, rank_key, \
         created_at, updated_at, external_key";

    fn decode(
        row: &sea_orm::sqlx::postgres::PgRow,
    ) -> Result<feature::Model, sea_orm::sqlx::Error> {
        use sea_orm::sqlx::Row as _;
        Ok(feature::Model {
            id: row.try_get_unchecked(0)?,
            program_id: row.try_get_unchecked(1)?,
            title: row.try_get_unchecked(2)?,
            description: row.try_get_unchecked(3)?,
            state: row.try_get_unchecked(4)?,
            business_value: row.try_get_unchecked(5)?,
            time_criticality: row.try_get_unchecked(6)?,
            risk_reduction: row.try_get_unchecked(7)?,
            job_size: row.try_get_unchecked(8)?,
            wsjf_score: row.try_get_unchecked(9)?,
            target_increment_id: row.try_get_unchecked(10)?,
            rank_key: row.try_get_unchecked(11)?,
            created_at: crate::db::pg_time(row, 12)?,
            updated_at: crate::db::pg_time(row, 13)?,
            external_key: row.try_get_unchecked(14)?,
        })
    }
}
