//! When a dependency is at risk, and why. Pure: the one definition behind the
//! `atRisk` field, the `atRisk` filter, the board and the metrics.
//!
//! A dependency that is not resolved is at risk when any of:
//! - it is not committed and the dependent story is planned into an iteration;
//! - the provider story is not planned into an iteration strictly before the
//!   needed-by iteration (by default the dependent story's own iteration);
//! - it was declined.

use chrono::NaiveDate;

use crate::error::{AppError, AppResult};

/// Where a dependency is in its negotiation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DependencyState {
    /// The dependent team asked; the provider team has not answered.
    Requested,
    /// The provider team's PO committed to an iteration.
    Committed,
    /// The provider team's PO declined, with a reason.
    Declined,
    /// The provider story is DONE or ACCEPTED.
    Resolved,
}

impl DependencyState {
    const ALL: [DependencyState; 4] = [
        DependencyState::Requested,
        DependencyState::Committed,
        DependencyState::Declined,
        DependencyState::Resolved,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Committed => "COMMITTED",
            Self::Declined => "DECLINED",
            Self::Resolved => "RESOLVED",
        }
    }

    /// Reads the stored form.
    pub fn parse(stored: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| {
                AppError::Internal(format!("unknown dependency state {stored:?}").into())
            })
    }
}

/// Why a dependency is at risk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RiskReason {
    /// Not committed, yet the dependent story is planned into an iteration.
    NotCommitted,
    /// The provider story is not planned, and the dependency is needed by an iteration.
    ProviderUnplanned,
    /// The provider story is planned, but not strictly before the needed-by iteration.
    ProviderLate,
    /// The provider team declined.
    Declined,
}

impl RiskReason {
    const ALL: [RiskReason; 4] = [
        RiskReason::NotCommitted,
        RiskReason::ProviderUnplanned,
        RiskReason::ProviderLate,
        RiskReason::Declined,
    ];

    /// Reads a name back, as `name` writes it.
    pub fn parse(name: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| AppError::Internal(format!("unknown risk reason {name:?}").into()))
    }

    /// The stored form of a list of reasons: names, comma-separated.
    pub fn join(reasons: &[RiskReason]) -> String {
        reasons
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form back.
    pub fn split(stored: &str) -> AppResult<Vec<RiskReason>> {
        stored
            .split(',')
            .filter(|name| !name.is_empty())
            .map(Self::parse)
            .collect()
    }

    /// The GraphQL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::NotCommitted => "NOT_COMMITTED",
            Self::ProviderUnplanned => "PROVIDER_UNPLANNED",
            Self::ProviderLate => "PROVIDER_LATE",
            Self::Declined => "DECLINED",
        }
    }
}

/// What the rules look at. Iterations are compared by their start dates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RiskFacts {
    pub state: DependencyState,
    /// Start of the dependent story's iteration, if planned.
    pub dependent_start: Option<NaiveDate>,
    /// Start of the provider story's iteration, if planned.
    pub provider_start: Option<NaiveDate>,
    /// Start of the explicit needed-by iteration, if any.
    pub needed_by_start: Option<NaiveDate>,
}

/// The reasons a dependency is at risk; empty when it is not.
pub fn assess(f: &RiskFacts) -> Vec<RiskReason> {
    let mut reasons = Vec::new();
    if f.state == DependencyState::Resolved {
        return reasons;
    }
    if f.state != DependencyState::Committed && f.dependent_start.is_some() {
        reasons.push(RiskReason::NotCommitted);
    }
    if let Some(needed) = f.needed_by_start.or(f.dependent_start) {
        match f.provider_start {
            None => reasons.push(RiskReason::ProviderUnplanned),
            Some(provider) if provider >= needed => reasons.push(RiskReason::ProviderLate),
            Some(_) => {}
        }
    }
    if f.state == DependencyState::Declined {
        reasons.push(RiskReason::Declined);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::{DependencyState::*, RiskReason::*, *};

    fn d(day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 1, day)
    }

    fn facts(
        state: DependencyState,
        dependent: Option<NaiveDate>,
        provider: Option<NaiveDate>,
        needed: Option<NaiveDate>,
    ) -> RiskFacts {
        RiskFacts {
            state,
            dependent_start: dependent,
            provider_start: provider,
            needed_by_start: needed,
        }
    }

    #[test]
    fn stored_reasons_read_back_as_written() {
        let declined = RiskReason::Declined;
        for reasons in [
            vec![],
            vec![declined],
            vec![NotCommitted, ProviderLate, declined],
        ] {
            let stored = RiskReason::join(&reasons);
            assert_eq!(RiskReason::split(&stored).unwrap(), reasons);
        }
        assert!(RiskReason::split("LATE").is_err());
    }

    #[test]
    fn a_committed_provider_planned_before_the_need_is_safe() {
        assert_eq!(assess(&facts(Committed, d(19), d(5), None)), vec![]);
        assert_eq!(assess(&facts(Committed, None, d(5), d(19))), vec![]);
        assert_eq!(
            assess(&facts(Committed, None, None, None)),
            vec![],
            "no date, no deadline"
        );
        assert_eq!(
            assess(&facts(Requested, None, None, None)),
            vec![],
            "nothing planned yet"
        );
    }

    #[test]
    fn not_committed_while_the_dependent_is_planned() {
        assert_eq!(
            assess(&facts(Requested, d(19), d(5), None)),
            vec![NotCommitted]
        );
        assert_eq!(
            assess(&facts(Requested, None, d(5), d(19))),
            vec![],
            "dependent unplanned"
        );
    }

    #[test]
    fn the_provider_must_come_strictly_before_the_need() {
        assert_eq!(
            assess(&facts(Committed, d(19), d(19), None)),
            vec![ProviderLate],
            "same iteration"
        );
        assert_eq!(
            assess(&facts(Committed, d(19), d(26), None)),
            vec![ProviderLate]
        );
        assert_eq!(
            assess(&facts(Committed, d(19), None, None)),
            vec![ProviderUnplanned]
        );
        // An explicit needed-by wins over the dependent's own iteration.
        assert_eq!(
            assess(&facts(Committed, d(19), d(12), d(5))),
            vec![ProviderLate]
        );
        assert_eq!(assess(&facts(Committed, d(5), d(12), d(19))), vec![]);
    }

    #[test]
    fn declined_and_everything_together() {
        assert_eq!(
            assess(&facts(DependencyState::Declined, None, None, None)),
            vec![RiskReason::Declined]
        );
        assert_eq!(
            assess(&facts(DependencyState::Declined, d(19), None, None)),
            vec![NotCommitted, ProviderUnplanned, RiskReason::Declined]
        );
        assert_eq!(
            assess(&facts(Resolved, d(19), None, None)),
            vec![],
            "resolved is never at risk"
        );
    }
}
