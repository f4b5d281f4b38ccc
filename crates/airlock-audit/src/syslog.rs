//! Forwards sealed records to a remote syslog collector (RFC 5424), so that
//! a copy of the audit trail lives outside the registry's own database.
//!
//! Forwarding is best effort by design: the database chain is the source of
//! truth and [`crate::verify`] is the integrity check. The forwarder must
//! never slow down or fail the request that produced the record, so
//! [`SyslogForwarder::send`] only enqueues into a bounded channel and a
//! background task does the network work; when the queue is full or the
//! collector stays unreachable, records are dropped and counted.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::AuditError;
use crate::hash::canonical_time;
use crate::record::{AuditRecord, Outcome};

/// Capacity of the queue between [`SyslogForwarder::send`] and the network task.
pub const QUEUE_CAPACITY: usize = 10_000;

/// Syslog facility `authpriv` (security/authorization messages).
const FACILITY_AUTHPRIV: u8 = 10;
/// Severity `notice`: normal but significant (successful actions).
const SEVERITY_NOTICE: u8 = 5;
/// Severity `warning`: failed and denied actions.
const SEVERITY_WARNING: u8 = 4;
/// Private enterprise number used in the structured-data id.
const SD_ID: &str = "airlock@32473";

/// First reconnect delay for TCP.
const BACKOFF_START: Duration = Duration::from_millis(100);
/// Longest reconnect delay for TCP.
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// How records travel to the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyslogTransport {
    /// One datagram per record (RFC 5426).
    Udp,
    /// Octet-counted frames over one connection (RFC 6587).
    Tcp,
}

/// Where records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    /// How records travel.
    pub transport: SyslogTransport,
    /// `host:port` of the collector.
    pub address: String,
}

impl FromStr for SyslogTarget {
    type Err = AuditError;

    /// Parses `udp://host:514` or `tcp://host:601`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |why: &str| {
            AuditError::Parse(format!(
                "invalid syslog target {s:?}: {why} (expected udp://host:port or tcp://host:port)"
            ))
        };
        let (scheme, address) = s
            .split_once("://")
            .ok_or_else(|| invalid("missing scheme"))?;
        let transport = match scheme {
            "udp" => SyslogTransport::Udp,
            "tcp" => SyslogTransport::Tcp,
            _ => return Err(invalid("unknown scheme")),
        };
        let (host, port) = address
            .rsplit_once(':')
            .ok_or_else(|| invalid("missing port"))?;
        if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
            return Err(invalid("invalid host"));
        }
        match port.parse::<u16>() {
            Ok(port) if port != 0 => {}
            _ => return Err(invalid("invalid port")),
        }
        Ok(SyslogTarget {
            transport,
            address: address.to_owned(),
        })
    }
}

impl std::fmt::Display for SyslogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.transport {
            SyslogTransport::Udp => "udp",
            SyslogTransport::Tcp => "tcp",
        };
        write!(f, "{scheme}://{}", self.address)
    }
}

/// Formats one record as an RFC 5424 line (without framing or newline):
///
/// `<PRI>1 TIMESTAMP HOSTNAME airlock - AUDIT [airlock@32473 seq="..." hash="..." outcome="..."] MSG`
///
/// Facility is authpriv; severity is notice for success and warning for
/// failure or denial. MSG is the record's JSON line (as in the JSON Lines
/// export). An empty or invalid `hostname` is replaced by `-`.
pub fn format_rfc5424(record: &AuditRecord, hostname: &str) -> String {
    let severity = match record.event.outcome {
        Outcome::Success => SEVERITY_NOTICE,
        Outcome::Failure | Outcome::Denied => SEVERITY_WARNING,
    };
    let pri = u16::from(FACILITY_AUTHPRIV) * 8 + u16::from(severity);
    let message = serde_json::to_string(record).expect("an audit record always serializes");
    format!(
        "<{pri}>1 {time} {host} airlock - AUDIT [{SD_ID} seq=\"{seq}\" hash=\"{hash}\" outcome=\"{outcome}\"] {message}",
        time = canonical_time(record.time),
        host = header_hostname(hostname),
        seq = record.seq,
        hash = escape_param_value(&record.hash),
        outcome = record.event.outcome.as_str(),
    )
}

/// The machine's hostname for the HOSTNAME field: `/proc/sys/kernel/hostname`,
/// then the `HOSTNAME` environment variable, else `-`.
pub fn local_hostname() -> String {
    let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned());
    let from_env = || {
        std::env::var("HOSTNAME")
            .ok()
            .map(|name| name.trim().to_owned())
    };
    from_proc
        .filter(|name| !name.is_empty())
        .or_else(|| from_env().filter(|name| !name.is_empty()))
        .map(|name| header_hostname(&name))
        .unwrap_or_else(|| "-".to_owned())
}

/// RFC 5424 HOSTNAME: 1 to 255 printable US-ASCII characters, else `-`.
fn header_hostname(hostname: &str) -> String {
    let valid = !hostname.is_empty()
        && hostname.len() <= 255
        && hostname.bytes().all(|b| (33..=126).contains(&b));
    if valid {
        hostname.to_owned()
    } else {
        "-".to_owned()
    }
}

/// Escapes `"`, `\` and `]` in an SD-PARAM value (RFC 5424 §6.3.3).
fn escape_param_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A background forwarder; cloning shares the queue and the counters.
#[derive(Debug, Clone)]
pub struct SyslogForwarder {
    queue: mpsc::Sender<AuditRecord>,
    dropped: Arc<AtomicU64>,
}

impl SyslogForwarder {
    /// Starts the network task for `target`; must be called inside a tokio runtime.
    ///
    /// The task ends when every clone of the forwarder has been dropped and
    /// the queue is drained.
    pub fn spawn(target: SyslogTarget) -> SyslogForwarder {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let hostname = local_hostname();
        let counter = Arc::clone(&dropped);
        match target.transport {
            SyslogTransport::Udp => {
                tokio::spawn(run_udp(target.address, hostname, receiver, counter));
            }
            SyslogTransport::Tcp => {
                tokio::spawn(run_tcp(target.address, hostname, receiver, counter));
            }
        }
        SyslogForwarder { queue, dropped }
    }

    /// Queues a copy of `record` for forwarding; never blocks.
    ///
    /// When the queue is full (or the task has ended) the record is dropped
    /// and counted.
    pub fn send(&self, record: &AuditRecord) {
        if self.queue.try_send(record.clone()).is_err() {
            count_drop(&self.dropped, "syslog queue is full");
        }
    }

    /// How many records were dropped so far: queue overflow plus records the
    /// network task gave up on.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Counts one dropped record, warning on the first and every 1000th after.
fn count_drop(dropped: &AtomicU64, why: &str) {
    let total = dropped.fetch_add(1, Ordering::Relaxed) + 1;
    if total % 1000 == 1 {
        tracing::warn!(dropped = total, "dropping audit records for syslog: {why}");
    }
}

async fn run_udp(
    address: String,
    hostname: String,
    mut receiver: mpsc::Receiver<AuditRecord>,
    dropped: Arc<AtomicU64>,
) {
    let mut socket: Option<UdpSocket> = None;
    while let Some(record) = receiver.recv().await {
        let line = format_rfc5424(&record, &hostname);
        if socket.is_none() {
            match connect_udp(&address).await {
                Ok(connected) => socket = Some(connected),
                Err(error) => {
                    tracing::warn!(%address, %error, seq = record.seq, "cannot reach syslog collector over udp");
                    count_drop(&dropped, "syslog collector unreachable");
                    continue;
                }
            }
        }
        if let Some(connected) = &socket
            && let Err(error) = connected.send(line.as_bytes()).await
        {
            tracing::warn!(%address, %error, seq = record.seq, "sending audit record to syslog over udp failed");
            count_drop(&dropped, "syslog send failed");
            socket = None;
        }
    }
}

async fn connect_udp(address: &str) -> std::io::Result<UdpSocket> {
    let remote = tokio::net::lookup_host(address)
        .await?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{address} resolves to no address")))?;
    let local = if remote.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(remote).await?;
    Ok(socket)
}

async fn run_tcp(
    address: String,
    hostname: String,
    mut receiver: mpsc::Receiver<AuditRecord>,
    dropped: Arc<AtomicU64>,
) {
    let mut stream: Option<TcpStream> = None;
    let mut backoff = BACKOFF_START;
    while let Some(record) = receiver.recv().await {
        let line = format_rfc5424(&record, &hostname);
        let frame = format!("{} {line}", line.len());
        let mut attempts = 0;
        loop {
            attempts += 1;
            let connected = match &mut stream {
                Some(connected) => connected,
                None => stream.insert(connect_tcp(&address, &mut backoff).await),
            };
            match connected.write_all(frame.as_bytes()).await {
                Ok(()) => {
                    backoff = BACKOFF_START;
                    break;
                }
                Err(error) => {
                    stream = None;
                    if attempts >= 2 {
                        tracing::warn!(%address, %error, seq = record.seq, "dropping audit record after syslog retry failed");
                        count_drop(&dropped, "syslog send failed twice");
                        break;
                    }
                    tracing::warn!(%address, %error, seq = record.seq, "syslog connection lost, reconnecting");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }
    if let Some(mut connected) = stream {
        let _ = connected.shutdown().await;
    }
}

/// Connects, retrying with doubling delays until it succeeds.
async fn connect_tcp(address: &str, backoff: &mut Duration) -> TcpStream {
    loop {
        match TcpStream::connect(address).await {
            Ok(stream) => return stream,
            Err(error) => {
                tracing::warn!(%address, %error, retry_in = ?*backoff, "cannot connect to syslog collector over tcp");
                tokio::time::sleep(*backoff).await;
                *backoff = (*backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::hash::{GENESIS_HASH, seal};
    use crate::record::{Actor, AuditEvent};

    fn record(outcome: Outcome) -> AuditRecord {
        seal(
            42,
            datetime!(2026-11-27 12:00:00.123 UTC),
            AuditEvent::new(Actor::user("alice"), "auth.login", "user:alice").outcome(outcome),
            GENESIS_HASH,
        )
    }

    #[test]
    fn priority_follows_the_outcome() {
        let cases = [
            (Outcome::Success, "<85>1 "),
            (Outcome::Failure, "<84>1 "),
            (Outcome::Denied, "<84>1 "),
        ];
        for (outcome, prefix) in cases {
            let line = format_rfc5424(&record(outcome), "reg1");
            assert!(line.starts_with(prefix), "{outcome}: {line}");
        }
    }

    #[test]
    fn line_has_the_rfc5424_header_and_the_json_record() {
        let record = record(Outcome::Denied);
        let line = format_rfc5424(&record, "reg1.example.com");
        let json = serde_json::to_string(&record).unwrap();
        assert_eq!(
            line,
            format!(
                "<84>1 2026-11-27T12:00:00.123Z reg1.example.com airlock - AUDIT \
                 [airlock@32473 seq=\"42\" hash=\"{}\" outcome=\"denied\"] {json}",
                record.hash
            )
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn param_values_are_escaped() {
        let cases = [
            ("plain", "plain"),
            (r#"a"b"#, r#"a\"b"#),
            (r"a\b", r"a\\b"),
            ("a]b", r"a\]b"),
            (r#"]"\"#, r#"\]\"\\"#),
            ("[x=y]", r"[x=y\]"),
        ];
        for (input, expected) in cases {
            assert_eq!(escape_param_value(input), expected, "{input}");
        }
        let mut tampered = record(Outcome::Success);
        tampered.hash = r#"x"]\"#.into();
        let line = format_rfc5424(&tampered, "h");
        assert!(line.contains(r#" hash="x\"\]\\" "#), "{line}");
    }

    #[test]
    fn invalid_hostnames_become_a_dash() {
        let cases = [
            ("reg1", "reg1"),
            ("", "-"),
            ("two words", "-"),
            ("tab\there", "-"),
            ("höst", "-"),
        ];
        for (input, expected) in cases {
            assert_eq!(header_hostname(input), expected, "{input:?}");
        }
        let long = "a".repeat(256);
        assert_eq!(header_hostname(&long), "-");
        assert!(!local_hostname().is_empty());
    }

    #[test]
    fn targets_parse() {
        let cases = [
            (
                "udp://localhost:514",
                Some((SyslogTransport::Udp, "localhost:514")),
            ),
            (
                "tcp://10.0.0.1:601",
                Some((SyslogTransport::Tcp, "10.0.0.1:601")),
            ),
            ("tcp://[::1]:601", Some((SyslogTransport::Tcp, "[::1]:601"))),
            ("localhost:514", None),
            ("tls://host:6514", None),
            ("udp://host", None),
            ("udp://:514", None),
            ("udp://host:0", None),
            ("udp://host:99999", None),
            ("udp://host:abc", None),
            ("udp://host/x:514", None),
        ];
        for (input, expected) in cases {
            match expected {
                Some((transport, address)) => {
                    let target: SyslogTarget = input.parse().unwrap();
                    assert_eq!(
                        target,
                        SyslogTarget {
                            transport,
                            address: address.to_owned()
                        }
                    );
                    assert_eq!(target.to_string(), input);
                }
                None => {
                    let message = input.parse::<SyslogTarget>().unwrap_err().to_string();
                    assert!(
                        message.contains("expected udp://host:port or tcp://host:port"),
                        "{input}: {message}"
                    );
                }
            }
        }
    }
}
