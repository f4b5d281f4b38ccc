//! Chain verification: proves that no record was changed, removed or
//! reordered since it was sealed.
//!
//! Each record is checked against the one before it, in this order: its
//! sequence number must be the next one (a gap means a record is missing or
//! out of order), its `prev_hash` must equal the previous record's `hash`
//! (a mismatch means an earlier record was removed or re-sealed), and its
//! stored `hash` must match the hash recomputed from its content. The first
//! failing check is reported; nothing after it is examined.

use crate::hash::{GENESIS_HASH, record_hash};
use crate::record::AuditRecord;

/// Result of a chain verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    /// How many records were verified.
    pub records: u64,
    /// The seq of the last verified record (0 for an empty log).
    pub last_seq: u64,
    /// The hash of the last verified record ([`GENESIS_HASH`] for an empty log).
    pub last_hash: String,
}

/// The first record that breaks the chain, and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at record {seq}: {problem}")]
pub struct ChainBreak {
    /// The seq of the offending record, as stored in it.
    pub seq: u64,
    /// What is wrong with it.
    pub problem: ChainProblem,
}

/// How a record breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The record's content was changed after it was sealed.
    HashMismatch {
        /// The hash stored in the record.
        stored: String,
        /// The hash recomputed from the record's content.
        computed: String,
    },
    /// A record before it was removed or changed.
    PrevHashMismatch {
        /// The prev_hash stored in the record.
        stored: String,
        /// The hash of the previous verified record.
        expected: String,
    },
    /// A record is missing (or the records are out of order).
    SequenceGap {
        /// The seq that should have come next.
        expected: u64,
    },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::HashMismatch { stored, computed } => write!(
                f,
                "content does not match its hash (stored {}, computed {})",
                short(stored),
                short(computed)
            ),
            ChainProblem::PrevHashMismatch { stored, expected } => write!(
                f,
                "previous-record hash does not match, so an earlier record was removed or changed \
                 (stored {}, expected {})",
                short(stored),
                short(expected)
            ),
            ChainProblem::SequenceGap { expected } => write!(
                f,
                "expected record {expected} here, so a record is missing or out of order"
            ),
        }
    }
}

/// The first 12 characters of a hash and an ellipsis: enough to tell hashes apart.
fn short(hash: &str) -> String {
    match hash.char_indices().nth(12) {
        Some((end, _)) => format!("{}…", &hash[..end]),
        None => hash.to_owned(),
    }
}

/// Verifies records in seq order; the first must be seq 1 with
/// [`GENESIS_HASH`] (else `SequenceGap` / `PrevHashMismatch`).
///
/// Empty input is valid (records 0, last_seq 0, last_hash [`GENESIS_HASH`]).
pub fn verify<I: IntoIterator<Item = AuditRecord>>(records: I) -> Result<ChainSummary, ChainBreak> {
    let mut verifier = ChainVerifier::new();
    for record in records {
        verifier.push(&record)?;
    }
    Ok(verifier.finish())
}

/// Incremental form of [`verify`], used when streaming from a database.
///
/// After a failed [`push`](ChainVerifier::push) the verifier keeps the state
/// of the last good record, so [`finish`](ChainVerifier::finish) reports how
/// far the chain is intact.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    records: u64,
    last_seq: u64,
    last_hash: String,
}

impl ChainVerifier {
    /// A verifier expecting seq 1 with [`GENESIS_HASH`].
    pub fn new() -> ChainVerifier {
        ChainVerifier {
            records: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_owned(),
        }
    }

    /// Checks the next record against the last verified one.
    pub fn push(&mut self, record: &AuditRecord) -> Result<(), ChainBreak> {
        let expected_seq = self.last_seq + 1;
        let broken = |problem| ChainBreak {
            seq: record.seq,
            problem,
        };
        if record.seq != expected_seq {
            return Err(broken(ChainProblem::SequenceGap {
                expected: expected_seq,
            }));
        }
        if record.prev_hash != self.last_hash {
            return Err(broken(ChainProblem::PrevHashMismatch {
                stored: record.prev_hash.clone(),
                expected: self.last_hash.clone(),
            }));
        }
        let computed = record_hash(record);
        if record.hash != computed {
            return Err(broken(ChainProblem::HashMismatch {
                stored: record.hash.clone(),
                computed,
            }));
        }
        self.records += 1;
        self.last_seq = record.seq;
        self.last_hash = computed;
        Ok(())
    }

    /// The summary of every record pushed successfully.
    pub fn finish(self) -> ChainSummary {
        ChainSummary {
            records: self.records,
            last_seq: self.last_seq,
            last_hash: self.last_hash,
        }
    }
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::new()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::hash::seal;
    use crate::record::{Actor, ActorKind, AuditEvent, Outcome};

    /// A valid chain of `n` records, one second apart.
    fn chain(n: u64) -> Vec<AuditRecord> {
        let start = datetime!(2026-11-27 12:00:00 UTC);
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let event = AuditEvent::new(
                    Actor::user(format!("user{seq}")),
                    "manifest.push",
                    format!("t/app:{seq}"),
                )
                .tenant("t")
                .details(json!({"n": seq}));
                let record = seal(
                    seq,
                    start + time::Duration::seconds(seq as i64),
                    event,
                    &prev,
                );
                prev = record.hash.clone();
                record
            })
            .collect()
    }

    #[test]
    fn empty_input_is_a_valid_chain() {
        assert_eq!(
            verify(Vec::new()).unwrap(),
            ChainSummary {
                records: 0,
                last_seq: 0,
                last_hash: GENESIS_HASH.to_owned(),
            }
        );
    }

    #[test]
    fn intact_chain_verifies() {
        let records = chain(5);
        let last_hash = records[4].hash.clone();
        assert_eq!(
            verify(records).unwrap(),
            ChainSummary {
                records: 5,
                last_seq: 5,
                last_hash,
            }
        );
    }

    #[test]
    fn tampering_with_any_field_is_a_hash_mismatch_at_that_record() {
        type Edit = fn(&mut AuditRecord);
        let edits: Vec<(&str, Edit)> = vec![
            ("time", |r| r.time += time::Duration::milliseconds(1)),
            ("actor_kind", |r| r.event.actor.kind = ActorKind::System),
            ("actor_name", |r| r.event.actor.name = "mallory".into()),
            ("tenant", |r| r.event.tenant = Some("other".into())),
            ("action", |r| r.event.action = "manifest.delete".into()),
            ("target", |r| r.event.target = "t/app:evil".into()),
            ("outcome", |r| r.event.outcome = Outcome::Failure),
            ("reason", |r| r.event.reason = Some("because".into())),
            ("request_id", |r| {
                r.event.request.request_id = Some("x".into())
            }),
            ("client_addr", |r| {
                r.event.request.client_addr = Some("1.2.3.4".into())
            }),
            ("user_agent", |r| {
                r.event.request.user_agent = Some("curl".into())
            }),
            ("details", |r| r.event.details = json!({"n": 99})),
            ("hash", |r| r.hash = "f".repeat(64)),
        ];
        for (field, edit) in edits {
            let mut records = chain(5);
            edit(&mut records[2]);
            let broken = verify(records).unwrap_err();
            assert_eq!(broken.seq, 3, "{field}");
            assert!(
                matches!(broken.problem, ChainProblem::HashMismatch { .. }),
                "{field}: {broken}"
            );
        }
    }

    #[test]
    fn structural_damage_is_reported_at_the_first_bad_record() {
        type Damage = fn(&mut Vec<AuditRecord>);
        let cases: Vec<(&str, Damage, u64, ChainProblem)> = vec![
            (
                "middle record deleted",
                |r| {
                    r.remove(2);
                },
                4,
                ChainProblem::SequenceGap { expected: 3 },
            ),
            (
                "first record deleted",
                |r| {
                    r.remove(0);
                },
                2,
                ChainProblem::SequenceGap { expected: 1 },
            ),
            (
                "two records swapped",
                |r| r.swap(1, 2),
                3,
                ChainProblem::SequenceGap { expected: 2 },
            ),
            (
                "record duplicated",
                |r| {
                    let copy = r[1].clone();
                    r.insert(2, copy);
                },
                2,
                ChainProblem::SequenceGap { expected: 3 },
            ),
        ];
        for (name, damage, seq, problem) in cases {
            let mut records = chain(5);
            damage(&mut records);
            assert_eq!(
                verify(records).unwrap_err(),
                ChainBreak { seq, problem },
                "{name}"
            );
        }
    }

    #[test]
    fn swapped_prev_hash_is_a_prev_hash_mismatch() {
        let mut records = chain(5);
        let expected = records[2].hash.clone();
        records[3].prev_hash = records[1].hash.clone();
        assert_eq!(
            verify(records.clone()).unwrap_err(),
            ChainBreak {
                seq: 4,
                problem: ChainProblem::PrevHashMismatch {
                    stored: records[1].hash.clone(),
                    expected,
                },
            }
        );
    }

    #[test]
    fn first_record_must_start_from_genesis() {
        let mut records = chain(2);
        records[0] = seal(
            1,
            records[0].time,
            records[0].event.clone(),
            &"a".repeat(64),
        );
        assert_eq!(
            verify(records).unwrap_err(),
            ChainBreak {
                seq: 1,
                problem: ChainProblem::PrevHashMismatch {
                    stored: "a".repeat(64),
                    expected: GENESIS_HASH.to_owned(),
                },
            }
        );
    }

    #[test]
    fn resealed_record_breaks_the_next_link() {
        let mut records = chain(5);
        let edited = records[1].event.clone().outcome(Outcome::Denied);
        records[1] = seal(2, records[1].time, edited, &records[0].hash.clone());
        let broken = verify(records).unwrap_err();
        assert_eq!(broken.seq, 3);
        assert!(matches!(
            broken.problem,
            ChainProblem::PrevHashMismatch { .. }
        ));
    }

    #[test]
    fn verifier_reports_progress_up_to_the_break() {
        let mut records = chain(4);
        records[2].event.target.push('!');
        let mut verifier = ChainVerifier::default();
        let results: Vec<bool> = records.iter().map(|r| verifier.push(r).is_ok()).collect();
        assert_eq!(results, [true, true, false, false]);
        let summary = verifier.finish();
        assert_eq!(summary.records, 2);
        assert_eq!(summary.last_seq, 2);
        assert_eq!(summary.last_hash, records[1].hash);
    }

    #[test]
    fn messages_are_lowercase_and_name_the_record() {
        let cases = [
            (
                ChainBreak {
                    seq: 3,
                    problem: ChainProblem::HashMismatch {
                        stored: "ab12".repeat(16),
                        computed: "cd34".repeat(16),
                    },
                },
                "audit chain broken at record 3: content does not match its hash \
                 (stored ab12ab12ab12…, computed cd34cd34cd34…)",
            ),
            (
                ChainBreak {
                    seq: 4,
                    problem: ChainProblem::SequenceGap { expected: 3 },
                },
                "audit chain broken at record 4: expected record 3 here, so a record is missing or out of order",
            ),
            (
                ChainBreak {
                    seq: 1,
                    problem: ChainProblem::PrevHashMismatch {
                        stored: "short".into(),
                        expected: GENESIS_HASH.into(),
                    },
                },
                "audit chain broken at record 1: previous-record hash does not match, so an earlier \
                 record was removed or changed (stored short, expected 000000000000…)",
            ),
        ];
        for (broken, message) in cases {
            assert_eq!(broken.to_string(), message);
        }
    }
}
