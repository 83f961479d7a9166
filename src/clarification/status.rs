//! The clarification lifecycle: OPEN → ANSWERED → RESOLVED, and ANSWERED or
//! RESOLVED can be reopened. Pure.

use crate::error::{AppError, AppResult};

/// Where a clarification stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClarificationStatus {
    /// Asked, waiting for an answer.
    Open,
    /// Answered; the asker has not accepted the answer yet.
    Answered,
    /// The asker (or the assignee) closed it.
    Resolved,
}

impl ClarificationStatus {
    const ALL: [ClarificationStatus; 3] = [Self::Open, Self::Answered, Self::Resolved];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Answered => "ANSWERED",
            Self::Resolved => "RESOLVED",
        }
    }

    /// Reads the stored form.
    pub fn parse(stored: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| {
                AppError::Internal(format!("unknown clarification status {stored:?}").into())
            })
    }

    /// An answer is possible unless resolved.
    pub fn check_answer(self) -> AppResult<()> {
        match self {
            Self::Resolved => Err(AppError::conflict(
                "the clarification is resolved; reopen it to answer again",
            )),
            _ => Ok(()),
        }
    }

    /// Resolving is possible unless already resolved.
    pub fn check_resolve(self) -> AppResult<()> {
        match self {
            Self::Resolved => Err(AppError::conflict("the clarification is already resolved")),
            _ => Ok(()),
        }
    }

    /// Reopening is possible from ANSWERED or RESOLVED.
    pub fn check_reopen(self) -> AppResult<()> {
        match self {
            Self::Open => Err(AppError::conflict("the clarification is already open")),
            _ => Ok(()),
        }
    }
}

/// What a message of a clarification is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// The question that opened it.
    Question,
    /// An answer by the assignee.
    Answer,
    /// Why the asker reopened it.
    Reopen,
}

impl MessageKind {
    const ALL: [MessageKind; 3] = [Self::Question, Self::Answer, Self::Reopen];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Question => "QUESTION",
            Self::Answer => "ANSWER",
            Self::Reopen => "REOPEN",
        }
    }

    pub fn parse(stored: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| AppError::Internal(format!("unknown message kind {stored:?}").into()))
    }
}

#[cfg(test)]
mod tests {
    use super::ClarificationStatus::*;

    #[test]
    fn lifecycle() {
        assert!(Open.check_answer().is_ok() && Answered.check_answer().is_ok());
        assert!(Resolved.check_answer().is_err());
        assert!(Open.check_resolve().is_ok() && Resolved.check_resolve().is_err());
        assert!(Answered.check_reopen().is_ok() && Resolved.check_reopen().is_ok());
        assert_eq!(Open.check_reopen().unwrap_err().code(), "CONFLICT");
    }
}
