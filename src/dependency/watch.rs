//! Risk changes across a change: which dependencies became at risk, and
//! which stopped being, recorded as events in the same unit of work, with
//! the new risk stored in the rows.

use std::collections::HashMap;

use entity::dependency;

use super::service::{self, Assessed, Filter};
use crate::{
    error::AppResult,
    events::{kind::EventKind, log::NewEvent},
    ids::Kind,
    work::Work,
};

/// The risk of the dependencies touching some stories, noted before a
/// change, to record DEPENDENCY_AT_RISK and DEPENDENCY_NO_LONGER_AT_RISK
/// after it.
pub struct RiskWatch {
    program_id: i64,
    stories: Vec<i64>,
    before: HashMap<i64, bool>,
    /// The change adds and removes no dependency (see
    /// [`RiskWatch::before_story_change`]).
    fixed: bool,
}

impl RiskWatch {
    /// Notes the risk of the dependencies touching `stories` now.
    pub async fn before(work: &Work, program_id: i64, stories: Vec<i64>) -> AppResult<Self> {
        let before = snapshot(work, program_id, &stories)
            .await?
            .into_iter()
            .map(|a| (a.row.id, a.at_risk()))
            .collect();
        Ok(Self {
            program_id,
            stories,
            before,
            fixed: false,
        })
    }

    /// [`RiskWatch::before`] a change to the stories themselves (their
    /// fields, plan or state), which adds and removes no dependency: when
    /// none touches them now, none will after, and `after` reads nothing.
    pub async fn before_story_change(
        work: &Work,
        program_id: i64,
        stories: Vec<i64>,
    ) -> AppResult<Self> {
        let mut watch = Self::before(work, program_id, stories).await?;
        watch.fixed = true;
        Ok(watch)
    }

    /// Whether no dependency touches the stories of a story change, before
    /// it or after.
    pub fn touches_none(&self) -> bool {
        self.fixed && self.before.is_empty()
    }

    /// Stores the risk of the dependencies touching the stories, records an
    /// event for every one whose risk changed (a new one counts as "not at
    /// risk" before), and answers them as they are now.
    pub async fn after(self, work: &mut Work) -> AppResult<Vec<Assessed>> {
        if self.touches_none() {
            return Ok(Vec::new());
        }
        let now = snapshot(work, self.program_id, &self.stories).await?;
        let mut out = Vec::with_capacity(now.len());
        for mut a in now {
            service::store_risk(work.conn(), &mut a).await?;
            out.push(a.clone());
            let was = self.before.get(&a.row.id).copied().unwrap_or(false);
            if was == a.at_risk() {
                continue;
            }
            let kind = if a.at_risk() {
                EventKind::DependencyAtRisk
            } else {
                EventKind::DependencyNoLongerAtRisk
            };
            let reasons: Vec<&str> = a.reasons.iter().map(|r| r.name()).collect();
            let event = NewEvent::new(kind, (Kind::Dependency, a.row.id))
                .teams([a.dependent_team, a.provider_team])
                .payload(serde_json::json!({ "riskReasons": reasons }));
            work.record(self.program_id, event).await?;
        }
        Ok(out)
    }

    /// [`RiskWatch::after`], answering `dep` with its stored risk.
    pub async fn after_for(
        self,
        work: &mut Work,
        dep: dependency::Model,
    ) -> AppResult<dependency::Model> {
        let now = self.after(work).await?;
        Ok(now
            .into_iter()
            .find(|a| a.row.id == dep.id)
            .map_or(dep, |a| a.row))
    }
}

async fn snapshot(work: &Work, program_id: i64, stories: &[i64]) -> AppResult<Vec<Assessed>> {
    let filter = Filter {
        program: Some(program_id),
        touching: Some(stories.to_vec()),
        ..Default::default()
    };
    Ok(service::assessed(work.conn(), &filter).await?)
}
