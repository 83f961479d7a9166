//! Risk changes across a change: which dependencies became at risk, and
//! which stopped being, recorded as events in the same unit of work.

use std::collections::HashMap;

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
        })
    }

    /// Records an event for every dependency whose risk changed (a new one
    /// counts as "not at risk" before).
    pub async fn after(self, work: &mut Work) -> AppResult<()> {
        for a in snapshot(work, self.program_id, &self.stories).await? {
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
        Ok(())
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
