//! Pages of a list ordered by a numeric key: `first` checked against the
//! page-size settings, and opaque cursors. The GraphQL connection types
//! built from a page live in `crate::graphql::pagination`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::{AppError, AppResult};

/// Page-size settings, kept in the schema data.
#[derive(Clone, Copy, Debug)]
pub struct PageLimits {
    pub default: u32,
    pub max: u32,
}

/// A checked page request over a list ordered by a numeric key.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    /// How many items to return.
    pub limit: u64,
    /// Return items strictly after this key.
    pub after: Option<i64>,
}

impl Page {
    /// Checks `first` and `after`; BAD_USER_INPUT when out of range or malformed.
    pub fn new(limits: PageLimits, first: Option<i32>, after: Option<&str>) -> AppResult<Self> {
        let limit = match first {
            None => limits.default,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| *n <= limits.max)
                .ok_or_else(|| {
                    AppError::bad_input(format!(
                        "first must be between 0 and {} (got {n})",
                        limits.max
                    ))
                })?,
        };
        let after = after.map(decode_cursor).transpose()?;
        Ok(Self {
            limit: u64::from(limit),
            after,
        })
    }

    /// Rows to fetch: one more than the page, to learn whether more follow.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }

    /// How many of the fetched rows the page shows.
    pub fn shown(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }
}

/// An item's opaque cursor, kept as its key and written out only when a
/// client asks for it: a dashboard asks none of its 240 edges', and each
/// took a `format!` and a base64 encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub i64);

impl async_graphql::connection::CursorType for Cursor {
    type Error = String;

    fn decode_cursor(text: &str) -> Result<Self, Self::Error> {
        decode_cursor(text)
            .map(Self)
            .map_err(|err| err.message().to_owned())
    }

    fn encode_cursor(&self) -> String {
        cursor(self.0)
    }
}

/// The opaque cursor of the item with key `key`.
pub fn cursor(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("cursor:{key}"))
}

fn decode_cursor(cursor: &str) -> AppResult<i64> {
    let malformed = || AppError::bad_input(format!("after: {cursor:?} is not a valid cursor"));
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    text.strip_prefix("cursor:")
        .and_then(|n| n.parse().ok())
        .filter(|n: &i64| *n >= 0)
        .ok_or_else(malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: PageLimits = PageLimits {
        default: 50,
        max: 100,
    };

    #[test]
    fn page_sizes_are_checked() {
        assert_eq!(Page::new(LIMITS, None, None).unwrap().limit, 50);
        assert_eq!(Page::new(LIMITS, Some(0), None).unwrap().limit, 0);
        assert_eq!(Page::new(LIMITS, Some(100), None).unwrap().limit, 100);
        assert!(Page::new(LIMITS, Some(101), None).is_err());
        assert!(Page::new(LIMITS, Some(-1), None).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let page = Page::new(LIMITS, None, Some(&cursor(17))).unwrap();
        assert_eq!(page.after, Some(17));
        assert!(Page::new(LIMITS, None, Some("nope")).is_err());
        assert!(Page::new(LIMITS, None, Some(&URL_SAFE_NO_PAD.encode("cursor:x"))).is_err());
        // A cursor before the start would page from the top again forever.
        assert!(Page::new(LIMITS, None, Some(&URL_SAFE_NO_PAD.encode("cursor:-5"))).is_err());
    }

    #[test]
    fn a_cursor_is_written_only_as_its_text() {
        use async_graphql::connection::CursorType;
        assert_eq!(Cursor(17).encode_cursor(), cursor(17));
        assert_eq!(Cursor::decode_cursor(&cursor(17)), Ok(Cursor(17)));
        assert!(Cursor::decode_cursor("nope").is_err());
    }
}
