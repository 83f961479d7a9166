//! Global IDs at the edge: decoded once into typed IDs (`crate::ids`), and
//! encoded into the API's `ID` scalar.

use async_graphql::ID;

pub use crate::ids::Kind;
use crate::{
    error::{AppError, AppResult},
    ids::{self, TypedId},
};

/// The global ID of row `id` of `kind`.
pub fn encode(kind: Kind, id: i64) -> ID {
    ID(ids::global(kind, id))
}

/// The global ID of a typed ID.
pub fn of<T: TypedId>(id: T) -> ID {
    encode(T::KIND, id.raw())
}

/// Reads any global ID; BAD_USER_INPUT when it is not one of ours.
pub fn decode(id: &str) -> AppResult<(Kind, i64)> {
    ids::parse_global(id).ok_or_else(|| AppError::bad_input(format!("{id:?} is not a valid ID")))
}

/// Reads a global ID that must be of `kind`, for the input field `field`.
pub fn decode_as(kind: Kind, field: &str, id: &ID) -> AppResult<i64> {
    match ids::parse_global(id) {
        Some((k, n)) if k == kind => Ok(n),
        Some((k, _)) => Err(AppError::bad_input(format!(
            "{field}: expected the ID of a {}, got the ID of a {}",
            kind.name(),
            k.name()
        ))),
        None => Err(AppError::bad_input(format!(
            "{field}: {:?} is not a valid {} ID",
            id.as_str(),
            kind.name()
        ))),
    }
}

/// Reads the typed ID in input field `field`.
pub fn typed<T: TypedId>(field: &str, id: &ID) -> AppResult<T> {
    decode_as(T::KIND, field, id).map(T::from_raw)
}

/// Reads an optional typed ID in input field `field`.
pub fn typed_opt<T: TypedId>(field: &str, id: Option<&ID>) -> AppResult<Option<T>> {
    id.map(|id| typed(field, id)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StoryId;

    #[test]
    fn ids_round_trip() {
        for kind in Kind::ALL {
            let id = encode(kind, 42);
            assert_eq!(decode(&id).unwrap(), (kind, 42));
            assert_eq!(decode_as(kind, "id", &id).unwrap(), 42);
        }
        assert_eq!(
            typed::<StoryId>("storyId", &of(StoryId(3))).unwrap(),
            StoryId(3)
        );
    }

    #[test]
    fn mistyped_ids_are_refused() {
        let team = encode(Kind::Team, 1);
        let err = decode_as(Kind::User, "userId", &team).unwrap_err();
        assert_eq!(err.code(), "BAD_USER_INPUT");
        assert!(typed::<StoryId>("storyId", &team).is_err());
    }
}
