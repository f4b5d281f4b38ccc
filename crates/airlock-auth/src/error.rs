//! The crate's one error type for fallible construction: parsing identities
//! and scopes, loading keys, hashing passwords. Token verification has its own
//! [`crate::TokenError`] because callers map it straight to a 401.

/// What went wrong while parsing an identity, a scope, or handling key material.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("invalid tenant id: {0}")]
    InvalidTenant(String),
    #[error("invalid role: {0}")]
    InvalidRole(String),
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    #[error("invalid name: {0}")]
    InvalidName(String),
    #[error("system identities never get credentials or tokens")]
    SystemIdentity,
    #[error("token signing key: {0}")]
    Key(String),
    #[error("token signing key file: {0}")]
    Io(#[from] std::io::Error),
    #[error("password hashing failed: {0}")]
    Hash(String),
}
