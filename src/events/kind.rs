//! What happened: the kinds of events.

use crate::error::{AppError, AppResult};

macro_rules! event_kinds {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)*) => {
        /// What an event records.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $($(#[doc = $doc])* $variant,)*
        }

        impl EventKind {
            /// Every kind.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The stored form.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(EventKind::$variant => $text,)*
                }
            }
        }
    };
}

/// Hands the list of event kinds (description, variant, stored form) to the
/// macro `$then`: the domain enum below and the API's mirror are both made
/// from this one list.
macro_rules! event_kind_list {
    ($then:ident) => {
        $then! {
            /// A program was created.
            ProgramCreated => "PROGRAM_CREATED",
            /// A program's name, vision or PM changed.
            ProgramUpdated => "PROGRAM_UPDATED",
            /// A team was created.
            TeamCreated => "TEAM_CREATED",
            /// A team's name or PO changed.
            TeamUpdated => "TEAM_UPDATED",
            /// A user joined a team.
            TeamMemberAdded => "TEAM_MEMBER_ADDED",
            /// A user left a team.
            TeamMemberRemoved => "TEAM_MEMBER_REMOVED",
            /// A Program Increment was planned.
            IncrementCreated => "INCREMENT_CREATED",
            /// A feature joined the program backlog.
            FeatureCreated => "FEATURE_CREATED",
            /// A feature's fields changed.
            FeatureUpdated => "FEATURE_UPDATED",
            /// The PM moved a feature in the program backlog.
            FeatureRanked => "FEATURE_RANKED",
            /// A feature moved along its lifecycle.
            FeatureStateChanged => "FEATURE_STATE_CHANGED",
            /// The PM allocated a feature to a team (or a story under it did).
            FeatureAllocated => "FEATURE_ALLOCATED",
            /// A feature was taken back from a team.
            FeatureDeallocated => "FEATURE_DEALLOCATED",
            /// A team's capacity in an iteration was set or removed.
            CapacitySet => "CAPACITY_SET",
            /// A team's PO or member voted their confidence in the team's plan.
            ConfidenceVoted => "CONFIDENCE_VOTED",
            /// A team set a PI objective.
            ObjectiveSet => "OBJECTIVE_SET",
            /// The PM scored a PI objective.
            ObjectiveScored => "OBJECTIVE_SCORED",
            /// A story joined a team backlog.
            StoryCreated => "STORY_CREATED",
            /// A story's fields changed (including its iteration).
            StoryUpdated => "STORY_UPDATED",
            /// The PO moved a story in the team backlog.
            StoryRanked => "STORY_RANKED",
            /// A story moved along its lifecycle (including acceptance and rejection).
            StoryStateChanged => "STORY_STATE_CHANGED",
            /// A team asked another for a story.
            DependencyRequested => "DEPENDENCY_REQUESTED",
            /// The provider team committed to an iteration.
            DependencyCommitted => "DEPENDENCY_COMMITTED",
            /// The provider team declined.
            DependencyDeclined => "DEPENDENCY_DECLINED",
            /// The provider story is done.
            DependencyResolved => "DEPENDENCY_RESOLVED",
            /// The provider story went back to work.
            DependencyReopened => "DEPENDENCY_REOPENED",
            /// A dependency was removed.
            DependencyRemoved => "DEPENDENCY_REMOVED",
            /// A dependency became at risk.
            DependencyAtRisk => "DEPENDENCY_AT_RISK",
            /// A dependency is no longer at risk.
            DependencyNoLongerAtRisk => "DEPENDENCY_NO_LONGER_AT_RISK",
            /// Someone asked a question.
            ClarificationAsked => "CLARIFICATION_ASKED",
            /// The assignee answered.
            ClarificationAnswered => "CLARIFICATION_ANSWERED",
            /// A clarification was resolved.
            ClarificationResolved => "CLARIFICATION_RESOLVED",
            /// The asker reopened a clarification.
            ClarificationReopened => "CLARIFICATION_REOPENED",
            /// A clarification moved to a new assignee.
            ClarificationReassigned => "CLARIFICATION_REASSIGNED",
            /// Something began to wait for a person's decision.
            WaitStarted => "WAIT_STARTED",
            /// A wait ended: the decision was made, or it no longer applies.
            WaitEnded => "WAIT_ENDED",
            /// A wait passed to another person (a new PO, PM or assignee).
            WaitMoved => "WAIT_MOVED",
            /// A webhook endpoint was disabled: it answered 410 Gone, or failed for three days.
            WebhookDisabled => "WEBHOOK_DISABLED",
        }
    };
}
pub(crate) use event_kind_list;

event_kind_list!(event_kinds);

impl EventKind {
    /// Reads the stored form.
    pub fn parse(stored: &str) -> AppResult<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == stored)
            .ok_or_else(|| AppError::Internal(format!("unknown event kind {stored:?}").into()))
    }

    /// Events about dependencies.
    pub fn is_dependency(self) -> bool {
        self.as_str().starts_with("DEPENDENCY_")
    }

    /// Events about clarifications.
    pub fn is_clarification(self) -> bool {
        self.as_str().starts_with("CLARIFICATION_")
    }

    /// Events about stories (backlog updates).
    pub fn is_story(self) -> bool {
        self.as_str().starts_with("STORY_")
    }

    /// A wait entering or leaving someone's queue.
    pub fn is_wait(self) -> bool {
        self.as_str().starts_with("WAIT_")
    }

    /// A feature handed to a team or taken back: news for its backlog.
    pub fn is_allocation(self) -> bool {
        matches!(self, Self::FeatureAllocated | Self::FeatureDeallocated)
    }
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn stored_forms_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()).unwrap(), *k);
            assert!(seen.insert(k.as_str()));
        }
        assert!(EventKind::DependencyAtRisk.is_dependency());
        assert!(EventKind::StoryRanked.is_story());
        assert!(!EventKind::FeatureRanked.is_story());
    }
}
