//! The kinds of waits.

use crate::error::{AppError, AppResult};

/// What a wait is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaitKind {
    /// A question waits for its assignee's answer.
    Answer,
    /// An answer waits for its asker to resolve (or reopen) the question.
    Resolution,
    /// A DONE story waits for its PO to accept or reject it.
    Acceptance,
    /// A requested dependency waits for the provider PO to commit or decline.
    Decision,
    /// A feature allocated to a team waits for the team's first story under it.
    Breakdown,
}

impl WaitKind {
    pub const ALL: [WaitKind; 5] = [
        WaitKind::Answer,
        WaitKind::Resolution,
        WaitKind::Acceptance,
        WaitKind::Decision,
        WaitKind::Breakdown,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::Answer => "ANSWER",
            WaitKind::Resolution => "RESOLUTION",
            WaitKind::Acceptance => "ACCEPTANCE",
            WaitKind::Decision => "DECISION",
            WaitKind::Breakdown => "BREAKDOWN",
        }
    }

    /// Reads the stored form.
    pub fn parse(stored: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == stored)
            .ok_or_else(|| AppError::Internal(format!("unknown wait kind {stored:?}").into()))
    }

    /// What ends the wait, for the one it waits on.
    pub fn action(self) -> &'static str {
        match self {
            WaitKind::Answer => "answer the question (answerClarification)",
            WaitKind::Resolution => {
                "accept the answer (resolveClarification) or ask again (reopenClarification)"
            }
            WaitKind::Acceptance => "accept or reject the story (acceptStory, rejectStory)",
            WaitKind::Decision => {
                "commit to the dependency or decline it (commitDependency, declineDependency)"
            }
            WaitKind::Breakdown => "write the team's first story under the feature (createStory)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::WaitKind;

    #[test]
    fn stored_forms_round_trip() {
        for k in WaitKind::ALL {
            assert_eq!(WaitKind::parse(k.as_str()).unwrap(), k);
        }
        assert!(WaitKind::parse("NAP").is_err());
    }
}
