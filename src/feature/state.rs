//! The feature lifecycle: FUNNEL → ANALYZING → BACKLOG → IMPLEMENTING → DONE,
//! one step at a time, forward or back. Pure.

use crate::error::{AppError, AppResult};

/// Where a feature is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FeatureState {
    /// A new idea, not yet analysed.
    Funnel,
    /// Being analysed and estimated.
    Analyzing,
    /// Ready to be planned.
    Backlog,
    /// Teams are building it.
    Implementing,
    /// Accepted by the Product Manager.
    Done,
}

impl FeatureState {
    const ORDER: [FeatureState; 5] = [
        FeatureState::Funnel,
        FeatureState::Analyzing,
        FeatureState::Backlog,
        FeatureState::Implementing,
        FeatureState::Done,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Funnel => "FUNNEL",
            Self::Analyzing => "ANALYZING",
            Self::Backlog => "BACKLOG",
            Self::Implementing => "IMPLEMENTING",
            Self::Done => "DONE",
        }
    }

    /// Reads the stored form.
    pub fn parse(stored: &str) -> AppResult<Self> {
        Self::ORDER
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| AppError::Internal(format!("unknown feature state {stored:?}").into()))
    }

    fn index(self) -> usize {
        Self::ORDER.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// Checks a state change: one step forward or back; CONFLICT otherwise.
    pub fn check_transition(self, to: Self) -> AppResult<()> {
        if self == to {
            return Err(AppError::conflict(format!(
                "the feature is already {}",
                to.as_str()
            )));
        }
        if self.index().abs_diff(to.index()) == 1 {
            Ok(())
        } else {
            Err(AppError::conflict(format!(
                "a feature moves one step at a time: {} cannot go to {}",
                self.as_str(),
                to.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FeatureState::*;

    #[test]
    fn one_step_forward_or_back() {
        assert!(Funnel.check_transition(Analyzing).is_ok());
        assert!(Implementing.check_transition(Done).is_ok());
        assert!(Done.check_transition(Implementing).is_ok());
        assert!(Backlog.check_transition(Analyzing).is_ok());
        for (from, to) in [
            (Funnel, Backlog),
            (Funnel, Done),
            (Done, Funnel),
            (Backlog, Backlog),
        ] {
            assert_eq!(from.check_transition(to).unwrap_err().code(), "CONFLICT");
        }
    }

    #[test]
    fn stored_form_round_trips() {
        for s in super::FeatureState::ORDER {
            assert_eq!(super::FeatureState::parse(s.as_str()).unwrap(), s);
        }
        assert!(super::FeatureState::parse("NOPE").is_err());
    }
}
