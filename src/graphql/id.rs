//! Opaque global IDs: `base64url("Kind:number")`, so clients never build or
//! parse them and `node(id:)` knows which table to read.

use async_graphql::ID;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{AppError, AppResult};

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
}

impl Kind {
    const ALL: [Kind; 11] = [
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
    ];

    /// The kind with this GraphQL type name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The GraphQL type name, which is also the ID's prefix.
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
        }
    }
}

/// The global ID of row `id` of `kind`.
pub fn encode(kind: Kind, id: i64) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Reads any global ID; BAD_USER_INPUT when it is not one of ours.
pub fn decode(id: &str) -> AppResult<(Kind, i64)> {
    let malformed = || AppError::bad_input(format!("{id:?} is not a valid ID"));
    let bytes = URL_SAFE_NO_PAD.decode(id).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (prefix, number) = text.split_once(':').ok_or_else(malformed)?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.name() == prefix)
        .ok_or_else(malformed)?;
    let number: i64 = number.parse().map_err(|_| malformed())?;
    if number <= 0 || encode(kind, number).0 != id {
        return Err(malformed());
    }
    Ok((kind, number))
}

/// Reads a global ID that must be of `kind`, for the input field `field`.
pub fn decode_as(kind: Kind, field: &str, id: &ID) -> AppResult<i64> {
    match decode(id) {
        Ok((k, n)) if k == kind => Ok(n),
        Ok((k, _)) => Err(AppError::bad_input(format!(
            "{field}: expected the ID of a {}, got the ID of a {}",
            kind.name(),
            k.name()
        ))),
        Err(_) => Err(AppError::bad_input(format!(
            "{field}: {:?} is not a valid {} ID",
            id.as_str(),
            kind.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for kind in Kind::ALL {
            let id = encode(kind, 42);
            assert_eq!(decode(&id).unwrap(), (kind, 42));
            assert_eq!(decode_as(kind, "id", &id).unwrap(), 42);
        }
    }

    #[test]
    fn malformed_and_mistyped_ids_are_refused() {
        for bad in [
            "",
            "x",
            "VXNlcjo",
            "!!",
            &URL_SAFE_NO_PAD.encode("Nope:1"),
            &URL_SAFE_NO_PAD.encode("User:-1"),
            &URL_SAFE_NO_PAD.encode("User:01"),
        ] {
            assert!(decode(bad).is_err(), "{bad} accepted");
        }
        let team = encode(Kind::Team, 1);
        let err = decode_as(Kind::User, "userId", &team).unwrap_err();
        assert_eq!(err.code(), "BAD_USER_INPUT");
    }
}
