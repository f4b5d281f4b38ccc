//! The canonical hashing that chains records together: the on-disk contract.
//!
//! The hash input is fixed by this module alone (see the crate docs for the
//! exact format), so that a record written today verifies with any later
//! version of airlock. The golden-hash test pins it: if it fails, the format
//! changed and every stored chain would stop verifying.

use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{OffsetDateTime, UtcOffset, format_description::FormatItem, macros::format_description};

use crate::record::{AuditEvent, AuditRecord};

/// prev_hash of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// RFC 3339 in UTC with exactly three fractional digits.
const CANONICAL_TIME: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// Computes the hash and returns the sealed record.
///
/// `time` is converted to UTC and truncated to whole milliseconds first, so
/// that the stored time and the hashed time are the same value.
pub fn seal(seq: u64, time: OffsetDateTime, event: AuditEvent, prev_hash: &str) -> AuditRecord {
    let mut record = AuditRecord {
        seq,
        time: truncate_to_millis(time),
        event,
        prev_hash: prev_hash.to_owned(),
        hash: String::new(),
    };
    record.hash = record_hash(&record);
    record
}

/// Recomputes the hash of a record from its fields (used by seal and verify).
///
/// The stored `hash` field is ignored; `prev_hash` is part of the input.
pub fn record_hash(record: &AuditRecord) -> String {
    let mut hasher = Sha256::new();
    hasher.update(record.prev_hash.as_bytes());
    hasher.update(b"\n");
    hasher.update(canonical_json(record).as_bytes());
    hex::encode(hasher.finalize())
}

/// Formats a time the way the hash input (and syslog) spell it:
/// `2026-11-27T12:00:00.123Z`. Sub-millisecond digits are cut, not rounded.
pub fn canonical_time(time: OffsetDateTime) -> String {
    time.to_offset(UtcOffset::UTC)
        .format(CANONICAL_TIME)
        // Only years outside 0..=9999 fail to format; fall back to RFC 3339
        // so hashing stays total (such a time can never come from a clock).
        .or_else(|_| time.format(&time::format_description::well_known::Rfc3339))
        .unwrap_or_else(|_| time.unix_timestamp_nanos().to_string())
}

/// The time `seal` stores: UTC, whole milliseconds.
fn truncate_to_millis(time: OffsetDateTime) -> OffsetDateTime {
    let utc = time.to_offset(UtcOffset::UTC);
    let millis_in_nanos = utc.nanosecond() / 1_000_000 * 1_000_000;
    utc.replace_nanosecond(millis_in_nanos)
        .expect("a whole number of milliseconds is a valid nanosecond value")
}

/// The hash input's JSON object; field order is the contract.
#[derive(Serialize)]
struct CanonicalRecord<'a> {
    seq: u64,
    time: String,
    actor_kind: &'static str,
    actor_name: &'a str,
    tenant: Option<&'a str>,
    action: &'a str,
    target: &'a str,
    outcome: &'static str,
    reason: Option<&'a str>,
    request_id: Option<&'a str>,
    client_addr: Option<&'a str>,
    user_agent: Option<&'a str>,
    details: serde_json::Value,
}

/// The compact JSON the hash covers.
pub(crate) fn canonical_json(record: &AuditRecord) -> String {
    let event = &record.event;
    let canonical = CanonicalRecord {
        seq: record.seq,
        time: canonical_time(record.time),
        actor_kind: event.actor.kind.as_str(),
        actor_name: &event.actor.name,
        tenant: event.tenant.as_deref(),
        action: &event.action,
        target: &event.target,
        outcome: event.outcome.as_str(),
        reason: event.reason.as_deref(),
        request_id: event.request.request_id.as_deref(),
        client_addr: event.request.client_addr.as_deref(),
        user_agent: event.request.user_agent.as_deref(),
        details: sorted_keys(&event.details),
    };
    serde_json::to_string(&canonical)
        .expect("serializing plain strings and JSON values cannot fail")
}

/// A copy of `value` with every object's keys sorted, recursively.
///
/// The workspace enables serde_json's `preserve_order`, so without this the
/// hash would depend on the order in which a caller inserted keys.
fn sorted_keys(value: &serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<(&String, &serde_json::Value)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            serde_json::Value::Object(
                entries
                    .into_iter()
                    .map(|(key, value)| (key.clone(), sorted_keys(value)))
                    .collect(),
            )
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.iter().map(sorted_keys).collect())
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::record::{Actor, Outcome, RequestContext};

    fn full_event() -> AuditEvent {
        AuditEvent::new(
            Actor::user("alice"),
            "manifest.push",
            "unscanned/t/app@sha256:abc",
        )
        .tenant("t")
        .outcome(Outcome::Success)
        .reason("ok")
        .request(RequestContext {
            request_id: Some("req-1".into()),
            client_addr: Some("10.0.0.1:5000".into()),
            user_agent: Some("docker/27.0".into()),
        })
        .details(json!({"tag": "v1", "size": 1234}))
    }

    #[test]
    fn golden_hash_is_pinned() {
        let record = seal(
            1,
            datetime!(2026-11-27 12:00:00.123456789 UTC),
            full_event(),
            GENESIS_HASH,
        );
        assert_eq!(
            canonical_json(&record),
            concat!(
                r#"{"seq":1,"time":"2026-11-27T12:00:00.123Z","actor_kind":"user","actor_name":"alice","#,
                r#""tenant":"t","action":"manifest.push","target":"unscanned/t/app@sha256:abc","#,
                r#""outcome":"success","reason":"ok","request_id":"req-1","client_addr":"10.0.0.1:5000","#,
                r#""user_agent":"docker/27.0","details":{"size":1234,"tag":"v1"}}"#
            )
        );
        // Independently computed: sha256(GENESIS_HASH + "\n" + the JSON above).
        assert_eq!(
            record.hash,
            "16d55925957fd59e3dfdb3d6300e2463d0e3e1dc720620f1f3a08cd43074f6b4"
        );
    }

    #[test]
    fn minimal_event_spells_absent_optionals_as_null() {
        let record = seal(
            7,
            datetime!(2026-01-02 03:04:05 UTC),
            AuditEvent::new(Actor::system("cli"), "gc.run", "-"),
            GENESIS_HASH,
        );
        assert_eq!(
            canonical_json(&record),
            concat!(
                r#"{"seq":7,"time":"2026-01-02T03:04:05.000Z","actor_kind":"system","actor_name":"cli","#,
                r#""tenant":null,"action":"gc.run","target":"-","outcome":"success","reason":null,"#,
                r#""request_id":null,"client_addr":null,"user_agent":null,"details":null}"#
            )
        );
    }

    #[test]
    fn seal_truncates_time_to_utc_milliseconds() {
        let cases = [
            (
                datetime!(2026-11-27 12:00:00.123999999 UTC),
                datetime!(2026-11-27 12:00:00.123 UTC),
            ),
            (
                datetime!(2026-11-27 14:00:00.5 +02:00),
                datetime!(2026-11-27 12:00:00.5 UTC),
            ),
            (
                datetime!(2026-11-27 12:00:00 UTC),
                datetime!(2026-11-27 12:00:00 UTC),
            ),
        ];
        for (input, expected) in cases {
            let record = seal(1, input, full_event(), GENESIS_HASH);
            assert_eq!(record.time, expected);
            assert_eq!(record.time.offset(), UtcOffset::UTC);
            assert_eq!(record_hash(&record), record.hash);
        }
    }

    #[test]
    fn details_key_order_does_not_change_the_hash() {
        let time = datetime!(2026-11-27 12:00:00 UTC);
        let a = seal(
            1,
            time,
            full_event().details(json!({"a": 1, "b": {"x": [1, {"q": 1, "p": 2}], "c": 2}})),
            GENESIS_HASH,
        );
        let b = seal(
            1,
            time,
            full_event().details(json!({"b": {"c": 2, "x": [1, {"p": 2, "q": 1}]}, "a": 1})),
            GENESIS_HASH,
        );
        assert_eq!(a.hash, b.hash);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = seal(
            3,
            datetime!(2026-11-27 12:00:00.123 UTC),
            full_event(),
            GENESIS_HASH,
        );
        type Edit = fn(&mut AuditRecord);
        let edits: Vec<(&str, Edit)> = vec![
            ("seq", |r| r.seq += 1),
            ("time", |r| r.time += time::Duration::milliseconds(1)),
            ("actor_kind", |r| {
                r.event.actor.kind = crate::ActorKind::Robot
            }),
            ("actor_name", |r| r.event.actor.name.push('x')),
            ("tenant", |r| r.event.tenant = None),
            ("action", |r| r.event.action = "manifest.delete".into()),
            ("target", |r| r.event.target.push('x')),
            ("outcome", |r| r.event.outcome = Outcome::Denied),
            ("reason", |r| r.event.reason = Some(String::new())),
            ("request_id", |r| r.event.request.request_id = None),
            ("client_addr", |r| r.event.request.client_addr = None),
            ("user_agent", |r| r.event.request.user_agent = None),
            ("details", |r| {
                r.event.details = json!({"tag": "v2", "size": 1234})
            }),
            ("details null", |r| {
                r.event.details = serde_json::Value::Null
            }),
            ("prev_hash", |r| r.prev_hash = "1".repeat(64)),
        ];
        for (field, edit) in edits {
            let mut record = base.clone();
            edit(&mut record);
            assert_ne!(record_hash(&record), base.hash, "{field}");
        }
    }
}
