//! The append-only, hash-chained audit log: its pure part.
//!
//! This crate owns the audit vocabulary ([`AuditEvent`], [`AuditRecord`]),
//! the canonical hashing that chains records together ([`seal`],
//! [`record_hash`]), chain verification ([`verify`], [`ChainVerifier`]),
//! the export writers ([`ExportWriter`]: JSON Lines and CSV) and an RFC 5424
//! syslog forwarder ([`syslog`]). It does no storage: a database adapter
//! allocates the next `seq`, reads the previous record's `hash` and calls
//! [`seal`] inside the same transaction that inserts the record, so the chain
//! can never fork.
//!
//! # Design decisions
//!
//! - **Append-only by construction.** A record's hash covers its previous
//!   record's hash, so changing, removing or reordering any stored record is
//!   detected by [`verify`] at the first record that no longer fits.
//! - **Sequence numbers are 1-based and gapless**, so a deleted record shows
//!   up as a [`ChainProblem::SequenceGap`]. Someone with write access to the
//!   database could still re-seal every later record; comparing the last
//!   hash with a copy kept off the machine (the [`syslog`] forwarder sends
//!   each record's hash) catches that.
//! - **Time is stored and hashed in UTC with millisecond precision**:
//!   databases and JSON round-trip milliseconds exactly, nanoseconds not.
//! - **Pure and synchronous** except for [`syslog`], whose forwarder is the
//!   only piece that touches the network and never blocks its caller.
//!
//! # Canonical hashing (the on-disk contract)
//!
//! ```text
//! hash = lowercase_hex( SHA-256( prev_hash || "\n" || canonical_json ) )
//! ```
//!
//! `prev_hash` is the previous record's hash as lowercase hex (the ASCII
//! bytes), or [`GENESIS_HASH`] (64 zeros) for seq 1. `canonical_json` is the
//! compact JSON serialization (no whitespace, serde_json string escaping) of
//! one object with exactly these keys, in this order:
//!
//! | key           | value                                                      |
//! |---------------|------------------------------------------------------------|
//! | `seq`         | number                                                     |
//! | `time`        | string, RFC 3339 in UTC with exactly 3 fractional digits, e.g. `2026-11-27T12:00:00.123Z` |
//! | `actor_kind`  | `"user"`, `"robot"`, `"system"` or `"anonymous"`           |
//! | `actor_name`  | string                                                     |
//! | `tenant`      | string or `null`                                           |
//! | `action`      | string                                                     |
//! | `target`      | string                                                     |
//! | `outcome`     | `"success"`, `"failure"` or `"denied"`                     |
//! | `reason`      | string or `null`                                           |
//! | `request_id`  | string or `null`                                           |
//! | `client_addr` | string or `null`                                           |
//! | `user_agent`  | string or `null`                                           |
//! | `details`     | the stored JSON value, with every object's keys sorted (byte order), recursively |
//!
//! For example (seq 1, no details):
//!
//! ```text
//! {"seq":1,"time":"2026-11-27T12:00:00.123Z","actor_kind":"system","actor_name":"cli","tenant":null,"action":"gc.run","target":"-","outcome":"success","reason":null,"request_id":null,"client_addr":null,"user_agent":null,"details":null}
//! ```
//!
//! The stored `hash` itself is not part of the input. A pinned golden hash in
//! the tests guards this format: changing it would make every existing chain
//! fail verification.
//!
//! # Example
//!
//! ```
//! use airlock_audit::{Actor, AuditEvent, GENESIS_HASH, Outcome, seal, verify};
//!
//! let now = time::OffsetDateTime::now_utc();
//! let first = seal(1, now, AuditEvent::new(Actor::user("alice"), "auth.login", "user:alice"), GENESIS_HASH);
//! let second = seal(
//!     2,
//!     now,
//!     AuditEvent::new(Actor::anonymous(), "auth.login", "user:bob").outcome(Outcome::Denied),
//!     &first.hash,
//! );
//! let summary = verify([first, second.clone()]).unwrap();
//! assert_eq!(summary.last_seq, 2);
//! assert_eq!(summary.last_hash, second.hash);
//! ```

mod chain;
mod export;
mod hash;
mod record;
pub mod syslog;

pub use chain::{ChainBreak, ChainProblem, ChainSummary, ChainVerifier, verify};
pub use export::{CSV_HEADER, ExportFormat, ExportWriter};
pub use hash::{GENESIS_HASH, canonical_time, record_hash, seal};
pub use record::{Actor, ActorKind, AuditEvent, AuditRecord, Outcome, RequestContext};
pub use syslog::{SyslogForwarder, SyslogTarget, SyslogTransport, format_rfc5424};

/// Errors from parsing the audit vocabulary's textual forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// A name (actor kind, outcome, export format, syslog target) was not recognised;
    /// the message names the input and the valid forms.
    #[error("{0}")]
    Parse(String),
}
