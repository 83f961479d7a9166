//! The story lifecycle and the definition of ready. Pure.
//!
//! DRAFT ⇄ READY ⇄ IN_PROGRESS ⇄ DONE → ACCEPTED. The team moves stories
//! with `setStoryState`; only the PO accepts (DONE → ACCEPTED) or rejects
//! (DONE → IN_PROGRESS, with a reason). ACCEPTED is final.

use crate::error::{AppError, AppResult};

/// The story points a story may have.
pub const POINTS: [i32; 10] = [0, 1, 2, 3, 5, 8, 13, 20, 40, 100];

/// Checks story points.
pub fn points(value: i32) -> AppResult<i32> {
    if POINTS.contains(&value) {
        Ok(value)
    } else {
        Err(AppError::bad_input(format!(
            "points must be one of 0, 1, 2, 3, 5, 8, 13, 20, 40, 100 (got {value})"
        )))
    }
}

/// Where a story is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StoryState {
    /// Being written.
    Draft,
    /// Meets the definition of ready: points, acceptance criteria, no open
    /// blocking clarification.
    Ready,
    /// Being built.
    InProgress,
    /// Built; awaiting the Product Owner's acceptance.
    Done,
    /// Accepted by the Product Owner. Final.
    Accepted,
}

impl StoryState {
    const ALL: [StoryState; 5] = [
        StoryState::Draft,
        StoryState::Ready,
        StoryState::InProgress,
        StoryState::Done,
        StoryState::Accepted,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::Ready => "READY",
            Self::InProgress => "IN_PROGRESS",
            Self::Done => "DONE",
            Self::Accepted => "ACCEPTED",
        }
    }

    /// Reads the stored form.
    pub fn parse(stored: &str) -> AppResult<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == stored)
            .ok_or_else(|| AppError::Internal(format!("unknown story state {stored:?}").into()))
    }

    /// Checks a change made with `setStoryState` (not acceptance).
    pub fn check_set(self, to: Self) -> AppResult<()> {
        use StoryState::*;
        if to == Accepted {
            return Err(AppError::bad_input(
                "a story is accepted with acceptStory, by its team's Product Owner",
            ));
        }
        if self == Accepted {
            return Err(AppError::conflict("an accepted story is final"));
        }
        if self == to {
            return Err(AppError::conflict(format!(
                "the story is already {}",
                to.as_str()
            )));
        }
        let allowed = matches!(
            (self, to),
            (Draft, Ready)
                | (Ready, Draft)
                | (Ready, InProgress)
                | (InProgress, Ready)
                | (InProgress, Done)
                | (Done, InProgress)
        );
        if allowed {
            Ok(())
        } else {
            Err(AppError::conflict(format!(
                "a story moves one step at a time: {} cannot go to {}",
                self.as_str(),
                to.as_str()
            )))
        }
    }

    /// Whether the PO may accept or reject from here.
    pub fn check_done(self, action: &str) -> AppResult<()> {
        if self == StoryState::Done {
            Ok(())
        } else {
            Err(AppError::conflict(format!(
                "only a DONE story can be {action}; this one is {}",
                self.as_str()
            )))
        }
    }
}

/// What keeps a story from READY: missing points or acceptance criteria, and
/// open blocking clarifications (their questions). CONFLICT naming them all.
pub fn check_ready(
    points: Option<i32>,
    acceptance_criteria: &str,
    blocking_clarifications: &[String],
) -> AppResult<()> {
    let mut missing = Vec::new();
    if points.is_none() {
        missing.push("story points".to_owned());
    }
    if acceptance_criteria.trim().is_empty() {
        missing.push("acceptance criteria".to_owned());
    }
    for question in blocking_clarifications {
        missing.push(format!(
            "an answer to the blocking clarification {question:?}"
        ));
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(AppError::conflict(format!(
            "the story is not ready: it needs {}",
            missing.join(", ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::StoryState::*;
    use super::*;

    #[test]
    fn the_team_moves_stories_one_step() {
        for (from, to) in [
            (Draft, Ready),
            (Ready, Draft),
            (Ready, InProgress),
            (InProgress, Ready),
            (InProgress, Done),
            (Done, InProgress),
        ] {
            assert!(from.check_set(to).is_ok(), "{from:?} -> {to:?}");
        }
        for (from, to) in [
            (Draft, InProgress),
            (Draft, Done),
            (Ready, Done),
            (Done, Ready),
            (Accepted, Done),
            (Draft, Draft),
        ] {
            assert_eq!(
                from.check_set(to).unwrap_err().code(),
                "CONFLICT",
                "{from:?} -> {to:?}"
            );
        }
        assert_eq!(
            Done.check_set(Accepted).unwrap_err().code(),
            "BAD_USER_INPUT"
        );
    }

    #[test]
    fn definition_of_ready_names_what_is_missing() {
        assert!(check_ready(Some(3), "Given...", &[]).is_ok());
        assert!(check_ready(Some(0), "x", &[]).is_ok());
        let err = check_ready(None, "  ", &["Which API?".to_owned()]).unwrap_err();
        assert_eq!(err.code(), "CONFLICT");
        for part in ["story points", "acceptance criteria", "Which API?"] {
            assert!(err.message().contains(part), "{}", err.message());
        }
    }

    #[test]
    fn points_are_on_the_scale() {
        for p in POINTS {
            assert!(points(p).is_ok());
        }
        for p in [-1, 4, 21, 101] {
            assert!(points(p).is_err());
        }
    }
}
