//! End-to-end tests of the syslog forwarder against real sockets on
//! 127.0.0.1: what a collector receives is what `format_rfc5424` promises.

use std::time::Duration;

use airlock_audit::{
    Actor, AuditEvent, AuditRecord, GENESIS_HASH, Outcome, SyslogForwarder, SyslogTarget,
    SyslogTransport, format_rfc5424, seal,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};

const WAIT: Duration = Duration::from_secs(10);

fn records(n: u64) -> Vec<AuditRecord> {
    let start = time::macros::datetime!(2026-11-27 12:00:00 UTC);
    let outcomes = [Outcome::Success, Outcome::Denied, Outcome::Failure];
    let mut prev = GENESIS_HASH.to_owned();
    (1..=n)
        .map(|seq| {
            let event =
                AuditEvent::new(Actor::robot("ci"), "manifest.push", format!("t/app:{seq}"))
                    .outcome(outcomes[(seq as usize - 1) % outcomes.len()])
                    .reason("has \"quotes\", ] and \\ and\nnewline")
                    .details(serde_json::json!({"seq": seq}));
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

/// Splits a received line into its header (up to MSG) and the record it carries.
fn parse_line(line: &str) -> (String, AuditRecord) {
    let json_start = line.find("] {").expect("structured data then JSON") + 2;
    let record: AuditRecord = serde_json::from_str(&line[json_start..]).unwrap();
    (line[..json_start].to_owned(), record)
}

fn assert_received(lines: &[String], sent: &[AuditRecord]) {
    assert_eq!(lines.len(), sent.len());
    for (line, record) in lines.iter().zip(sent) {
        let (header, parsed) = parse_line(line);
        assert_eq!(&parsed, record);
        let expected_pri = if record.event.outcome == Outcome::Success {
            "<85>1 "
        } else {
            "<84>1 "
        };
        assert!(header.starts_with(expected_pri), "{header}");
        assert!(
            header.contains(&format!("seq=\"{}\" hash=\"{}\"", record.seq, record.hash)),
            "{header}"
        );
        // Everything after the hostname is exactly what format_rfc5424 produces.
        let hostname = line.split(' ').nth(2).unwrap();
        assert_eq!(line, &format_rfc5424(record, hostname));
    }
    airlock_audit::verify(lines.iter().map(|line| parse_line(line).1)).unwrap();
}

#[tokio::test]
async fn udp_sends_one_datagram_per_record() {
    let collector = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target: SyslogTarget = format!("udp://{}", collector.local_addr().unwrap())
        .parse()
        .unwrap();
    assert_eq!(target.transport, SyslogTransport::Udp);
    let forwarder = SyslogForwarder::spawn(target);
    let sent = records(3);
    for record in &sent {
        forwarder.send(record);
    }

    let mut lines = Vec::new();
    let mut buffer = vec![0u8; 65_536];
    for _ in 0..sent.len() {
        let len = tokio::time::timeout(WAIT, collector.recv(&mut buffer))
            .await
            .expect("datagram within the timeout")
            .unwrap();
        lines.push(String::from_utf8(buffer[..len].to_vec()).unwrap());
    }
    assert_received(&lines, &sent);
    assert_eq!(forwarder.dropped(), 0);
}

/// Reads one RFC 6587 octet-counted frame: `<len> <msg>`.
async fn read_frame<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> String {
    let mut length = Vec::new();
    reader.read_until(b' ', &mut length).await.unwrap();
    let length: usize = std::str::from_utf8(&length[..length.len() - 1])
        .unwrap()
        .parse()
        .unwrap();
    let mut message = vec![0u8; length];
    reader.read_exact(&mut message).await.unwrap();
    String::from_utf8(message).unwrap()
}

#[tokio::test]
async fn tcp_sends_octet_counted_frames() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target: SyslogTarget = format!("tcp://{}", listener.local_addr().unwrap())
        .parse()
        .unwrap();
    assert_eq!(target.transport, SyslogTransport::Tcp);
    let forwarder = SyslogForwarder::spawn(target);
    let sent = records(5);
    for record in &sent {
        forwarder.clone().send(record);
    }

    let (stream, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("connection within the timeout")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    for _ in 0..sent.len() {
        lines.push(
            tokio::time::timeout(WAIT, read_frame(&mut reader))
                .await
                .expect("frame within the timeout"),
        );
    }
    assert_received(&lines, &sent);

    // Closing the forwarder ends the task, which closes the connection.
    drop(forwarder);
    let mut rest = Vec::new();
    tokio::time::timeout(WAIT, reader.read_to_end(&mut rest))
        .await
        .expect("connection closed within the timeout")
        .unwrap();
    assert!(rest.is_empty());
}

#[tokio::test]
async fn tcp_reconnects_when_the_collector_comes_up_later() {
    // Reserve a port, then release it so the first connection attempts fail.
    let address = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap()
    };
    let forwarder = SyslogForwarder::spawn(SyslogTarget {
        transport: SyslogTransport::Tcp,
        address: address.to_string(),
    });
    let sent = records(2);
    for record in &sent {
        forwarder.send(record);
    }
    tokio::time::sleep(Duration::from_millis(250)).await;

    let listener = TcpListener::bind(address).await.unwrap();
    let (stream, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("reconnection within the timeout")
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut lines = Vec::new();
    for _ in 0..sent.len() {
        lines.push(
            tokio::time::timeout(WAIT, read_frame(&mut reader))
                .await
                .expect("frame within the timeout"),
        );
    }
    assert_received(&lines, &sent);
    assert_eq!(forwarder.dropped(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn full_queue_drops_and_counts_without_blocking() {
    // Nothing listens on this port and, on a current-thread runtime, the
    // forwarder task cannot run while this test sends without yielding, so
    // everything beyond the queue's capacity is dropped.
    let forwarder = SyslogForwarder::spawn(SyslogTarget {
        transport: SyslogTransport::Udp,
        address: "127.0.0.1:9".to_owned(),
    });
    let record = &records(1)[0];
    let extra = 1_500;
    for _ in 0..airlock_audit::syslog::QUEUE_CAPACITY + extra {
        forwarder.send(record);
    }
    assert_eq!(forwarder.dropped(), extra as u64);
}
