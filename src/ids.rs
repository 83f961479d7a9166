//! Typed IDs of stored rows, and their global form.
//!
//! Clients see opaque global IDs, `base64url("Kind:number")`; they are
//! decoded once at the edge (`crate::graphql::id`) into a typed ID, so a
//! use case cannot take a team's number for a story's. Error messages name
//! objects by their global ID, which is why the encoding lives here and not
//! in the GraphQL layer.

use std::fmt;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// The kinds of object a global ID names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Program,
    Team,
    Increment,
    Iteration,
    Feature,
    Objective,
    Story,
    Dependency,
    Clarification,
    Event,
    Token,
    Webhook,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::User,
        Kind::Program,
        Kind::Team,
        Kind::Increment,
        Kind::Iteration,
        Kind::Feature,
        Kind::Objective,
        Kind::Story,
        Kind::Dependency,
        Kind::Clarification,
        Kind::Event,
        Kind::Token,
        Kind::Webhook,
    ];

    /// The kind with this type name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The API's type name, which is also the global ID's prefix.
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Program => "Program",
            Kind::Team => "Team",
            Kind::Increment => "Increment",
            Kind::Iteration => "Iteration",
            Kind::Feature => "Feature",
            Kind::Objective => "Objective",
            Kind::Story => "Story",
            Kind::Dependency => "Dependency",
            Kind::Clarification => "Clarification",
            Kind::Event => "Event",
            Kind::Token => "Token",
            Kind::Webhook => "Webhook",
        }
    }
}

/// The global ID of row `id` of `kind`.
pub fn global(kind: Kind, id: i64) -> String {
    Global::new(kind, id).as_str().to_owned()
}

/// A global ID built on the stack: a dashboard writes hundreds, and
/// formatting each through two heap strings cost 7% of its answer.
pub struct Global {
    text: [u8; Global::MAX],
    len: usize,
}

impl Global {
    /// The longest prefix ("Clarification"), a colon and an i64 with its
    /// sign are 34 bytes, 46 in base64.
    const MAX: usize = 48;

    pub fn new(kind: Kind, id: i64) -> Self {
        let mut raw = [0u8; 36];
        let name = kind.name().as_bytes();
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(id).as_bytes();
        let len = name.len() + 1 + digits.len();
        raw[..name.len()].copy_from_slice(name);
        raw[name.len()] = b':';
        raw[name.len() + 1..len].copy_from_slice(digits);
        let mut text = [0u8; Self::MAX];
        // Cannot fail: 36 bytes need at most 48 in base64.
        let len = URL_SAFE_NO_PAD
            .encode_slice(&raw[..len], &mut text)
            .unwrap_or(0);
        Self { text, len }
    }

    pub fn as_str(&self) -> &str {
        // base64 is ASCII.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The ID's ASCII bytes, for writers that need no `str` (and so no
    /// check that they are UTF-8; an answer writes hundreds).
    pub fn as_bytes(&self) -> &[u8] {
        &self.text[..self.len]
    }
}

/// Reads a global ID: its kind and row number, if it is one of ours.
pub fn parse_global(id: &str) -> Option<(Kind, i64)> {
    let bytes = URL_SAFE_NO_PAD.decode(id).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (prefix, number) = text.split_once(':')?;
    let kind = Kind::from_name(prefix)?;
    let number: i64 = number.parse().ok()?;
    (number > 0 && Global::new(kind, number).as_str() == id).then_some((kind, number))
}

/// A row ID that knows its kind.
pub trait TypedId: Copy {
    const KIND: Kind;
    fn from_raw(id: i64) -> Self;
    fn raw(self) -> i64;
}

macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident => $kind:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub i64);

        impl TypedId for $name {
            const KIND: Kind = Kind::$kind;
            fn from_raw(id: i64) -> Self {
                Self(id)
            }
            fn raw(self) -> i64 {
                self.0
            }
        }

        /// Shows the global ID, as clients know it.
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(Global::new(Kind::$kind, self.0).as_str())
            }
        }
    )*};
}

typed_ids! {
    /// A user.
    UserId => User;
    /// A program.
    ProgramId => Program;
    /// A team.
    TeamId => Team;
    /// A Program Increment.
    IncrementId => Increment;
    /// An iteration of an increment.
    IterationId => Iteration;
    /// A feature.
    FeatureId => Feature;
    /// A PI objective.
    ObjectiveId => Objective;
    /// A story.
    StoryId => Story;
    /// A dependency between stories.
    DependencyId => Dependency;
    /// A clarification.
    ClarificationId => Clarification;
    /// A bearer token (never its secret).
    TokenId => Token;
    /// An outbound webhook endpoint.
    WebhookId => Webhook;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_ids_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(parse_global(&global(kind, 42)), Some((kind, 42)));
            for n in [0, 1, 42, i64::MAX, i64::MIN] {
                let spelled = URL_SAFE_NO_PAD.encode(format!("{}:{n}", kind.name()));
                assert_eq!(global(kind, n), spelled);
            }
        }
        assert_eq!(StoryId(7).to_string(), global(Kind::Story, 7));
    }

    #[test]
    fn malformed_global_ids_are_refused() {
        for bad in [
            "",
            "x",
            "VXNlcjo",
            "!!",
            &URL_SAFE_NO_PAD.encode("Nope:1"),
            &URL_SAFE_NO_PAD.encode("User:-1"),
            &URL_SAFE_NO_PAD.encode("User:01"),
        ] {
            assert!(parse_global(bad).is_none(), "{bad} accepted");
        }
    }
}
