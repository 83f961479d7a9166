//! The one error type of the server, and what a client sees of it.
//!
//! Use cases (`*/usecase.rs`), services (`*/service.rs`) and the policy
//! return [`AppError`]; GraphQL resolvers return `async_graphql::Result` and
//! convert with `?` (the conversion lives in `crate::graphql::errors`), which
//! sets `extensions.code`. Database and other internal causes are logged here and
//! never sent: the client reads only "internal error".
//!
//! [`AppError`] deliberately does not implement `Display`, so that no code path
//! can turn it into a GraphQL error through async-graphql's blanket
//! `From<Display>` conversion and lose its code.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// An error a request can end with. The variant is the `extensions.code`.
#[derive(Debug)]
pub enum AppError {
    /// No valid token was presented.
    Unauthenticated(String),
    /// The viewer may see the object but not do this to it.
    Forbidden(String),
    /// The object does not exist, or the viewer may not see it.
    NotFound(String),
    /// A value that is never valid (malformed ID, empty name, bad page size).
    BadUserInput(String),
    /// Valid input that clashes with the current state (duplicate, wrong state).
    Conflict(String),
    /// A subscription fell further behind than its buffer holds and was
    /// ended; the client resumes after `cursor` (code CONFLICT, with the
    /// cursor also in `extensions.resumeAfter`).
    Lagged { message: String, cursor: String },
    /// A fault of the server; the cause is logged, not sent.
    Internal(Box<dyn std::error::Error + Send + Sync>),
}

impl AppError {
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::Forbidden(msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::NotFound(msg.into())
    }
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Self::BadUserInput(msg.into())
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::Conflict(msg.into())
    }

    /// The value of `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated(_) => "UNAUTHENTICATED",
            Self::Forbidden(_) => "FORBIDDEN",
            Self::NotFound(_) => "NOT_FOUND",
            Self::BadUserInput(_) => "BAD_USER_INPUT",
            Self::Conflict(_) | Self::Lagged { .. } => "CONFLICT",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message the client reads.
    pub fn message(&self) -> &str {
        match self {
            Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::NotFound(m)
            | Self::BadUserInput(m)
            | Self::Conflict(m)
            | Self::Lagged { message: m, .. } => m,
            Self::Internal(_) => "internal error",
        }
    }

    /// Whether this is PostgreSQL reporting a deadlock (40P01) or a
    /// serialization failure (40001): the transaction may simply run again.
    pub fn is_contention(&self) -> bool {
        let Self::Internal(cause) = self else {
            return false;
        };
        let Some(
            DbErr::Exec(RuntimeErr::SqlxError(err))
            | DbErr::Query(RuntimeErr::SqlxError(err))
            | DbErr::Conn(RuntimeErr::SqlxError(err)),
        ) = cause.downcast_ref::<DbErr>()
        else {
            return false;
        };
        err.as_database_error()
            .and_then(|db| db.code())
            .is_some_and(|code| code == "40P01" || code == "40001")
    }

    /// Maps a unique-constraint violation to CONFLICT with `msg`; any other
    /// database error stays internal.
    pub fn unique_violation(err: DbErr, msg: impl Into<String>) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict(msg.into()),
            _ => Self::from(err),
        }
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        Self::Internal(Box::new(err))
    }
}

/// The result type of services.
pub type AppResult<T> = Result<T, AppError>;
