//! Export writers: hand the log to auditors and SIEMs in formats they read.
//!
//! Both writers stream: one record in, one line (or CSV row) out, so an
//! export of millions of records needs constant memory. JSON Lines carries
//! the record exactly as serde spells [`AuditRecord`] and reads back into it;
//! CSV flattens it into the fixed [`CSV_HEADER`] columns, with `details` as
//! compact JSON and absent optionals as empty cells.

use std::io::{self, Write};
use std::str::FromStr;

use crate::AuditError;
use crate::record::AuditRecord;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// RFC 4180 CSV with a header row.
    Csv,
}

impl ExportFormat {
    /// The name accepted by [`FromStr`].
    pub fn as_str(&self) -> &'static str {
        match self {
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Csv => "csv",
        }
    }
}

impl std::fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = AuditError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "csv" => Ok(ExportFormat::Csv),
            other => Err(AuditError::Parse(format!(
                "unknown export format {other:?} (expected jsonl or csv)"
            ))),
        }
    }
}

/// The CSV header row, in column order.
pub const CSV_HEADER: [&str; 15] = [
    "seq",
    "time",
    "actor_kind",
    "actor_name",
    "tenant",
    "action",
    "target",
    "outcome",
    "reason",
    "request_id",
    "client_addr",
    "user_agent",
    "details",
    "prev_hash",
    "hash",
];

/// Writes records one at a time (streaming; never buffers all records).
pub struct ExportWriter<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> ExportWriter<W> {
    /// Starts an export; CSV writes the header row here.
    pub fn new(format: ExportFormat, out: W) -> io::Result<ExportWriter<W>> {
        let inner = match format {
            ExportFormat::Jsonl => Inner::Jsonl(out),
            ExportFormat::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .terminator(csv::Terminator::CRLF)
                    .from_writer(out);
                writer.write_record(CSV_HEADER)?;
                Inner::Csv(Box::new(writer))
            }
        };
        Ok(ExportWriter { inner })
    }

    /// Writes one record.
    pub fn write(&mut self, record: &AuditRecord) -> io::Result<()> {
        match &mut self.inner {
            Inner::Jsonl(out) => {
                serde_json::to_writer(&mut *out, record)?;
                out.write_all(b"\n")
            }
            Inner::Csv(writer) => {
                let event = &record.event;
                let optional = |value: &Option<String>| value.clone().unwrap_or_default();
                writer.write_record([
                    record.seq.to_string(),
                    crate::hash::canonical_time(record.time),
                    event.actor.kind.as_str().to_owned(),
                    event.actor.name.clone(),
                    optional(&event.tenant),
                    event.action.clone(),
                    event.target.clone(),
                    event.outcome.as_str().to_owned(),
                    optional(&event.reason),
                    optional(&event.request.request_id),
                    optional(&event.request.client_addr),
                    optional(&event.request.user_agent),
                    serde_json::to_string(&event.details)?,
                    record.prev_hash.clone(),
                    record.hash.clone(),
                ])?;
                Ok(())
            }
        }
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            Inner::Jsonl(mut out) => {
                out.flush()?;
                Ok(out)
            }
            Inner::Csv(writer) => writer.into_inner().map_err(|e| e.into_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::hash::{GENESIS_HASH, seal};
    use crate::record::{Actor, AuditEvent, Outcome, RequestContext};

    fn records() -> Vec<AuditRecord> {
        let first = seal(
            1,
            datetime!(2026-11-27 12:00:00.123 UTC),
            AuditEvent::new(Actor::user("alice"), "auth.login", "user:alice")
                .outcome(Outcome::Denied)
                .reason("bad password, \"twice\"\nthen locked")
                .request(RequestContext {
                    request_id: Some("req-1".into()),
                    client_addr: Some("10.0.0.1".into()),
                    user_agent: Some("docker/27, \"linux\"".into()),
                })
                .details(json!({"z": 1, "a": "x,y"})),
            GENESIS_HASH,
        );
        let second = seal(
            2,
            datetime!(2026-11-27 12:00:01 UTC),
            AuditEvent::new(Actor::system("cli"), "gc.run", "-"),
            &first.hash,
        );
        vec![first, second]
    }

    fn export(format: ExportFormat, records: &[AuditRecord]) -> String {
        let mut writer = ExportWriter::new(format, Vec::new()).unwrap();
        for record in records {
            writer.write(record).unwrap();
        }
        String::from_utf8(writer.finish().unwrap()).unwrap()
    }

    #[test]
    fn format_names_parse() {
        let cases = [
            ("jsonl", Some(ExportFormat::Jsonl)),
            ("csv", Some(ExportFormat::Csv)),
            ("JSONL", None),
            ("json", None),
            ("", None),
        ];
        for (input, expected) in cases {
            match expected {
                Some(format) => {
                    assert_eq!(input.parse::<ExportFormat>().unwrap(), format);
                    assert_eq!(format.as_str(), input);
                }
                None => {
                    let message = input.parse::<ExportFormat>().unwrap_err().to_string();
                    assert!(message.contains("jsonl or csv"), "{input:?}: {message}");
                }
            }
        }
    }

    #[test]
    fn jsonl_lines_deserialize_back_to_the_same_records() {
        let records = records();
        let output = export(ExportFormat::Jsonl, &records);
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines.len(), records.len());
        assert!(output.ends_with('\n'));
        for (line, record) in lines.iter().zip(&records) {
            let parsed: AuditRecord = serde_json::from_str(line).unwrap();
            assert_eq!(&parsed, record);
        }
        crate::verify(
            lines
                .iter()
                .map(|line| serde_json::from_str::<AuditRecord>(line).unwrap()),
        )
        .unwrap();
    }

    #[test]
    fn jsonl_line_shape_is_stable() {
        let output = export(ExportFormat::Jsonl, &records()[1..]);
        let record = &records()[1];
        assert_eq!(
            output,
            format!(
                concat!(
                    r#"{{"seq":2,"time":"2026-11-27T12:00:01Z","actor":{{"kind":"system","name":"cli"}},"#,
                    r#""tenant":null,"action":"gc.run","target":"-","outcome":"success","reason":null,"#,
                    r#""request":{{"request_id":null,"client_addr":null,"user_agent":null}},"details":null,"#,
                    r#""prev_hash":"{}","hash":"{}"}}"#,
                    "\n"
                ),
                record.prev_hash, record.hash
            )
        );
    }

    #[test]
    fn csv_has_header_and_round_trips_awkward_fields() {
        let records = records();
        let output = export(ExportFormat::Csv, &records);
        let mut reader = csv::Reader::from_reader(output.as_bytes());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            CSV_HEADER
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);

        let first = &rows[0];
        let cell = |row: &csv::StringRecord, name: &str| {
            let index = CSV_HEADER.iter().position(|h| *h == name).unwrap();
            row.get(index).unwrap().to_owned()
        };
        let cases = [
            ("seq", "1"),
            ("time", "2026-11-27T12:00:00.123Z"),
            ("actor_kind", "user"),
            ("actor_name", "alice"),
            ("tenant", ""),
            ("outcome", "denied"),
            ("reason", "bad password, \"twice\"\nthen locked"),
            ("user_agent", "docker/27, \"linux\""),
            ("details", r#"{"z":1,"a":"x,y"}"#),
            ("prev_hash", GENESIS_HASH),
        ];
        for (column, expected) in cases {
            assert_eq!(cell(first, column), expected, "{column}");
        }
        assert_eq!(cell(first, "hash"), records[0].hash);
        assert_eq!(cell(&rows[1], "details"), "null");
        assert_eq!(cell(&rows[1], "time"), "2026-11-27T12:00:01.000Z");
    }

    #[test]
    fn csv_header_is_written_even_without_records() {
        assert_eq!(
            export(ExportFormat::Csv, &[]),
            format!("{}\r\n", CSV_HEADER.join(","))
        );
        assert_eq!(export(ExportFormat::Jsonl, &[]), "");
    }
}
