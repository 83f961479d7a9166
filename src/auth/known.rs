//! Whom each token presented lately turned out to be, so that a query can
//! start before its token is looked up again.
//!
//! A query's first reads waited for the token's round trip: 0.3-0.7 ms of a
//! 5 ms dashboard at c=1 on a 2-core machine. With a token seen lately the
//! handler runs the query as that viewer beside the lookup, and sends the
//! answer only when the lookup finds the same viewer (same user row, or the
//! same board or administrator). When it does not (a token revoked or
//! expired, a user changed), the answer is dropped and the request handled
//! again as the lookup found it. So nothing is ever answered on an old
//! viewer's authority; a query costs at most one run more, once per change.
//! Mutations never start early.

use std::{num::NonZeroUsize, sync::Mutex};

use lru::LruCache;

use super::Viewer;
use crate::graphql::locked;

/// Viewers by token hash ([`super::token::hash`]), the least recently presented
/// forgotten first.
pub struct KnownViewers(Mutex<LruCache<String, Viewer>>);

impl KnownViewers {
    /// Tokens remembered: each entry holds a user row.
    pub const MOST: usize = 4096;

    pub fn new() -> Self {
        let most = NonZeroUsize::new(Self::MOST).unwrap_or(NonZeroUsize::MIN);
        Self(Mutex::new(LruCache::new(most)))
    }

    /// Whom the token hashed as `hashed` ([`super::token::hash`]) was when last
    /// looked up.
    pub fn get(&self, hashed: &str) -> Option<Viewer> {
        locked(&self.0).get(hashed).cloned()
    }

    /// Remembers what a lookup of the token hashed as `hashed` found; a
    /// token that is not valid (any more) is forgotten.
    pub fn learn(&self, hashed: &str, viewer: &Viewer) {
        let mut known = locked(&self.0);
        match viewer {
            Viewer::User(_) | Viewer::Board { .. } | Viewer::BuiltinAdmin => {
                known.put(hashed.to_owned(), viewer.clone());
            }
            Viewer::Anonymous | Viewer::InvalidToken => {
                known.pop(hashed);
            }
        }
    }
}

impl Default for KnownViewers {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_and_forgets() {
        let known = KnownViewers::new();
        assert_eq!(known.get("pf_a"), None);
        known.learn("pf_a", &Viewer::Board { program_id: 3 });
        assert_eq!(known.get("pf_a"), Some(Viewer::Board { program_id: 3 }));
        assert_eq!(known.get("pf_b"), None);
        known.learn("pf_a", &Viewer::InvalidToken);
        assert_eq!(known.get("pf_a"), None);
    }
}
