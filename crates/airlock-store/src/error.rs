//! The one error type storage backends return.

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The addressed object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The operation conflicts with the current state (e.g. a concurrent change).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend failed; the message says which operation on what.
    #[error("{operation} failed: {message}")]
    Backend {
        /// What was being done, e.g. "write upload 1234".
        operation: String,
        /// The backend's own message.
        message: String,
    },
}

impl StoreError {
    /// Wraps a backend error with the operation that failed.
    pub fn backend(operation: impl Into<String>, error: impl std::fmt::Display) -> StoreError {
        StoreError::Backend {
            operation: operation.into(),
            message: error.to_string(),
        }
    }
}
