//! Whether an increment's features are ready to be planned, read in a fixed
//! number of statements whatever the size of the program.
//!
//! A feature is ready for planning when it is allocated to at least one
//! team, every team it is allocated to has a story under it that is READY
//! or further along, and no blocking clarification on the feature or on one
//! of its stories is open.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{clarification, feature, feature_allocation, story, team};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, Query, SelectStatement},
};

use crate::{clarification::status::ClarificationStatus, error::AppResult};

/// How far a team has broken a feature down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoryCounts {
    /// The team's stories under the feature.
    pub stories: i64,
    /// Those READY or further along.
    pub ready: i64,
}

/// What a feature's readiness is decided from.
#[derive(Clone, Copy, Debug)]
pub struct Facts<'a> {
    /// The teams it is allocated to.
    pub allocated: &'a [i64],
    /// Per team, its stories under the feature.
    pub counts: &'a HashMap<i64, StoryCounts>,
    /// Open blocking clarifications on the feature or its stories.
    pub open_blocking: usize,
}

impl Facts<'_> {
    /// The allocated teams with no story under the feature yet.
    pub fn not_broken_down(&self) -> Vec<i64> {
        self.allocated
            .iter()
            .copied()
            .filter(|t| self.counts.get(t).is_none_or(|c| c.stories == 0))
            .collect()
    }

    /// See the module's documentation.
    pub fn ready_for_planning(&self) -> bool {
        !self.allocated.is_empty()
            && self.open_blocking == 0
            && self
                .allocated
                .iter()
                .all(|t| self.counts.get(t).is_some_and(|c| c.ready > 0))
    }
}

/// The stored facts of one increment's planning.
pub struct ReadinessData {
    /// Features targeting the increment, in the PM's rank order.
    pub features: Vec<feature::Model>,
    /// Their allocations, oldest first.
    pub allocations: Vec<feature_allocation::Model>,
    /// Per (feature, team), its stories.
    pub counts: HashMap<(i64, i64), StoryCounts>,
    /// Open blocking clarifications on those features or their stories,
    /// oldest first, each with the feature it holds up.
    pub blocking: Vec<(i64, clarification::Model)>,
    /// The program's teams, by name.
    pub teams: Vec<team::Model>,
}

fn features_of(increment_id: i64) -> SelectStatement {
    Query::select()
        .column(feature::Column::Id)
        .from(feature::Entity)
        .and_where(feature::Column::TargetIncrementId.eq(increment_id))
        .to_owned()
}

/// Reads the planning facts of increment `increment_id` of `program_id`:
/// five statements at most, run together.
pub async fn load(
    conn: &impl ConnectionTrait,
    program_id: i64,
    increment_id: i64,
) -> AppResult<ReadinessData> {
    let features = feature::Entity::find()
        .filter(feature::Column::ProgramId.eq(program_id))
        .filter(feature::Column::TargetIncrementId.eq(increment_id))
        .order_by_asc(feature::Column::RankKey)
        .all(conn);
    let allocations = feature_allocation::Entity::find()
        .filter(feature_allocation::Column::FeatureId.in_subquery(features_of(increment_id)))
        .order_by_asc(feature_allocation::Column::AllocatedAt)
        .order_by_asc(feature_allocation::Column::FeatureId)
        .order_by_asc(feature_allocation::Column::TeamId)
        .all(conn);
    let counts = story::Entity::find()
        .select_only()
        .column(story::Column::FeatureId)
        .column(story::Column::TeamId)
        .column_as(Expr::cust("CAST(COUNT(*) AS BIGINT)"), "stories")
        .column_as(
            Expr::cust("CAST(SUM(CASE WHEN state = 'DRAFT' THEN 0 ELSE 1 END) AS BIGINT)"),
            "ready",
        )
        .filter(story::Column::FeatureId.in_subquery(features_of(increment_id)))
        .group_by(story::Column::FeatureId)
        .group_by(story::Column::TeamId)
        .into_tuple::<(Option<i64>, i64, i64, Option<i64>)>()
        .all(conn);
    let stories_of_features = Query::select()
        .column(story::Column::Id)
        .from(story::Entity)
        .and_where(story::Column::FeatureId.in_subquery(features_of(increment_id)))
        .to_owned();
    let blocking = clarification::Entity::find()
        .filter(clarification::Column::ProgramId.eq(program_id))
        .filter(clarification::Column::Status.eq(ClarificationStatus::Open.as_str()))
        .filter(clarification::Column::Blocking.eq(true))
        .filter(
            Condition::any()
                .add(clarification::Column::FeatureId.in_subquery(features_of(increment_id)))
                .add(clarification::Column::StoryId.in_subquery(stories_of_features)),
        )
        .order_by_asc(clarification::Column::AskedAt)
        .order_by_asc(clarification::Column::Id)
        .all(conn);
    let teams = team::Entity::find()
        .filter(team::Column::ProgramId.eq(program_id))
        .order_by_asc(team::Column::Name)
        .all(conn);
    let (features, allocations, counts, blocking, teams) =
        futures_util::try_join!(features, allocations, counts, blocking, teams)?;
    // The features of the stories asked about: one more statement, only
    // when there are such questions.
    let asked: Vec<i64> = blocking.iter().filter_map(|c| c.story_id).collect();
    let feature_of_story: HashMap<i64, i64> = if asked.is_empty() {
        HashMap::new()
    } else {
        story::Entity::find()
            .select_only()
            .column(story::Column::Id)
            .column(story::Column::FeatureId)
            .filter(story::Column::Id.is_in(asked))
            .into_tuple::<(i64, Option<i64>)>()
            .all(conn)
            .await?
            .into_iter()
            .filter_map(|(s, f)| Some((s, f?)))
            .collect()
    };
    let blocking = blocking
        .into_iter()
        .filter_map(|c| {
            let feature = c
                .feature_id
                .or_else(|| c.story_id.and_then(|s| feature_of_story.get(&s).copied()))?;
            Some((feature, c))
        })
        .collect();
    let counts = counts
        .into_iter()
        .filter_map(|(feature, team, stories, ready)| {
            Some((
                (feature?, team),
                StoryCounts {
                    stories,
                    ready: ready.unwrap_or(0),
                },
            ))
        })
        .collect();
    Ok(ReadinessData {
        features,
        allocations,
        counts,
        blocking,
        teams,
    })
}

/// A feature allocated to teams that have not broken it down yet.
pub struct Awaiting {
    pub feature: feature::Model,
    /// Those teams, by name.
    pub teams: Vec<team::Model>,
    /// The oldest of their allocations.
    pub since: DateTime<Utc>,
}

/// A feature held up by open blocking clarifications.
pub struct Blocked {
    pub feature: feature::Model,
    /// Oldest first.
    pub clarifications: Vec<clarification::Model>,
}

/// The PM's one answer for an increment.
pub struct Readiness {
    pub features: usize,
    /// Ready for planning, in rank order.
    pub ready: Vec<feature::Model>,
    /// Allocated to no team, in rank order.
    pub unallocated: Vec<feature::Model>,
    /// Oldest allocation first.
    pub not_broken_down: Vec<Awaiting>,
    /// Oldest question first.
    pub blocked: Vec<Blocked>,
    /// Teams with no feature of the increment allocated, by name.
    pub idle_teams: Vec<team::Model>,
}

/// Decides the readiness of every feature of `data`.
pub fn assess(mut data: ReadinessData) -> Readiness {
    let mut blocking: HashMap<i64, Vec<clarification::Model>> = HashMap::new();
    for (feature, c) in std::mem::take(&mut data.blocking) {
        blocking.entry(feature).or_default().push(c);
    }
    let mut allocated: HashMap<i64, Vec<&feature_allocation::Model>> = HashMap::new();
    for a in &data.allocations {
        allocated.entry(a.feature_id).or_default().push(a);
    }
    let mut counts: HashMap<i64, HashMap<i64, StoryCounts>> = HashMap::new();
    for ((feature, team), c) in &data.counts {
        counts.entry(*feature).or_default().insert(*team, *c);
    }
    let team_of: HashMap<i64, &team::Model> = data.teams.iter().map(|t| (t.id, t)).collect();
    let busy: HashSet<i64> = data.allocations.iter().map(|a| a.team_id).collect();
    let none = HashMap::new();
    let mut out = Readiness {
        features: data.features.len(),
        ready: Vec::new(),
        unallocated: Vec::new(),
        not_broken_down: Vec::new(),
        blocked: Vec::new(),
        idle_teams: data
            .teams
            .iter()
            .filter(|t| !busy.contains(&t.id))
            .cloned()
            .collect(),
    };
    for feature in &data.features {
        let rows = allocated.get(&feature.id).map_or(&[][..], Vec::as_slice);
        let teams: Vec<i64> = rows.iter().map(|a| a.team_id).collect();
        let questions = blocking.remove(&feature.id).unwrap_or_default();
        let facts = Facts {
            allocated: &teams,
            counts: counts.get(&feature.id).unwrap_or(&none),
            open_blocking: questions.len(),
        };
        if teams.is_empty() {
            out.unallocated.push(feature.clone());
        }
        if facts.ready_for_planning() {
            out.ready.push(feature.clone());
        }
        let waiting = facts.not_broken_down();
        if !waiting.is_empty() {
            let since = rows
                .iter()
                .filter(|a| waiting.contains(&a.team_id))
                .map(|a| a.allocated_at)
                .min()
                .unwrap_or(feature.created_at);
            let mut teams: Vec<team::Model> = waiting
                .iter()
                .filter_map(|t| team_of.get(t).map(|t| (*t).clone()))
                .collect();
            teams.sort_by(|a, b| a.name.cmp(&b.name));
            out.not_broken_down.push(Awaiting {
                feature: feature.clone(),
                teams,
                since,
            });
        }
        if !questions.is_empty() {
            out.blocked.push(Blocked {
                feature: feature.clone(),
                clarifications: questions,
            });
        }
    }
    out.not_broken_down
        .sort_by(|a, b| a.since.cmp(&b.since).then(a.feature.id.cmp(&b.feature.id)));
    out.blocked.sort_by(|a, b| {
        let first = |x: &Blocked| x.clarifications.first().map(|c| (c.asked_at, c.id));
        first(a).cmp(&first(b))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_needs_allocation_a_ready_story_per_team_and_no_open_blocker() {
        let mut counts = HashMap::new();
        let none: &[i64] = &[];
        let facts = Facts {
            allocated: none,
            counts: &counts,
            open_blocking: 0,
        };
        assert!(!facts.ready_for_planning(), "nothing allocated");
        counts.insert(
            1,
            StoryCounts {
                stories: 2,
                ready: 1,
            },
        );
        counts.insert(
            2,
            StoryCounts {
                stories: 1,
                ready: 0,
            },
        );
        let both = [1, 2];
        let facts = Facts {
            allocated: &both,
            counts: &counts,
            open_blocking: 0,
        };
        assert!(!facts.ready_for_planning(), "team 2 has only drafts");
        assert!(facts.not_broken_down().is_empty());
        let three = [1, 3];
        let facts = Facts {
            allocated: &three,
            counts: &counts,
            open_blocking: 0,
        };
        assert_eq!(facts.not_broken_down(), vec![3]);
        let one = [1];
        let mut facts = Facts {
            allocated: &one,
            counts: &counts,
            open_blocking: 0,
        };
        assert!(facts.ready_for_planning());
        facts.open_blocking = 1;
        assert!(!facts.ready_for_planning(), "an open blocking question");
    }
}
