//! What a client sees of an [`AppError`]: its message and `extensions.code`;
//! an internal cause is logged here and never sent.

use async_graphql::ErrorExtensions;

use crate::error::AppError;

impl From<AppError> for async_graphql::Error {
    fn from(err: AppError) -> Self {
        if let AppError::Internal(cause) = &err {
            tracing::error!(error = %cause, "internal error");
        }
        async_graphql::Error::new(err.message()).extend_with(|_, ext| {
            ext.set("code", err.code());
            if let AppError::Lagged { cursor, .. } = &err {
                ext.set("resumeAfter", cursor.as_str());
            }
        })
    }
}
