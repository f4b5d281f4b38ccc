//! Why an identity operation failed; the HTTP layer maps each to a status.

use airlock_store::StoreError;

/// An identity operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The credentials are wrong (deliberately vague for the client).
    #[error("invalid username or password")]
    BadCredentials,
    /// Too many failed logins; try again later.
    #[error("too many failed logins; retry in {retry_after_secs} s")]
    Throttled {
        /// Seconds until a retry may succeed.
        retry_after_secs: u64,
    },
    /// The operator may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The input is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The object exists or is in use.
    #[error("{0}")]
    Conflict(String),
    /// Storage or hashing failed.
    #[error("identity storage failed: {0}")]
    Internal(String),
}

impl From<StoreError> for AccountsError {
    fn from(error: StoreError) -> AccountsError {
        match error {
            StoreError::NotFound(what) => AccountsError::NotFound(what),
            StoreError::Conflict(what) => AccountsError::Conflict(what),
            other => AccountsError::Internal(other.to_string()),
        }
    }
}
