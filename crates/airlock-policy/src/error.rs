//! The one error type of this crate: a policy document that could not be
//! parsed. Evaluation has no error type because it cannot fail.

/// Why a policy document was rejected.
///
/// Every message names the key it is about; when the YAML parser knows the
/// position, the line (and, past the first column, the column) is given so the
/// security team can fix the document without guessing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The document has a problem at a known position.
    #[error("{}", located(*line, *column, message))]
    Invalid {
        /// One-based line.
        line: usize,
        /// One-based column.
        column: usize,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The document has a problem whose position the parser could not tell.
    #[error("{message}")]
    Unlocated {
        /// What is wrong.
        message: String,
    },
}

impl PolicyError {
    /// The line the problem is on, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyError::Invalid { line, .. } => Some(*line),
            PolicyError::Unlocated { .. } => None,
        }
    }

    /// Converts a YAML error, moving its position from the end of the message
    /// to the front, where a reader looks first.
    pub(crate) fn from_yaml(error: &serde_yaml_ng::Error) -> PolicyError {
        let text = error.to_string();
        match error.location() {
            Some(location) => {
                let suffix = format!(" at line {} column {}", location.line(), location.column());
                let message = text
                    .strip_suffix(&suffix)
                    .map(str::to_owned)
                    .unwrap_or(text);
                PolicyError::Invalid {
                    line: location.line(),
                    column: location.column(),
                    message,
                }
            }
            None => PolicyError::Unlocated { message: text },
        }
    }
}

fn located(line: usize, column: usize, message: &str) -> String {
    if column <= 1 {
        format!("line {line}: {message}")
    } else {
        format!("line {line}, column {column}: {message}")
    }
}
