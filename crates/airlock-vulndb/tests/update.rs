//! `db update` against a local HTTP server that serves zips: a download, a
//! not-modified answer, an interrupted body and a corrupt zip. After each
//! failure the old database must be intact and readable.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use airlock_matcher::AdvisorySource;
use airlock_vulndb::{UpdateOptions, VulnDb, update};
use common::{pypi_record, zip_of};

/// What the server answers to one request.
struct Reply {
    status: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Send only this many body bytes, then close (Content-Length stays full).
    cut_at: Option<usize>,
}

impl Reply {
    fn ok(body: Vec<u8>, etag: &str) -> Reply {
        Reply {
            status: "200 OK",
            headers: vec![
                ("ETag", etag.to_owned()),
                ("Last-Modified", "Wed, 21 Oct 2026 07:28:00 GMT".to_owned()),
            ],
            body,
            cut_at: None,
        }
    }
}

/// A one-thread HTTP/1.1 server answering `replies` in order, one per
/// connection, recording each request head.
struct Server {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let thread = std::thread::spawn(move || {
            for reply in replies {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                seen.lock().unwrap().push(head);
                let mut stream = stream;
                let mut response = format!(
                    "HTTP/1.1 {}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (name, value) in &reply.headers {
                    response.push_str(&format!("{name}: {value}\r\n"));
                }
                response.push_str("\r\n");
                let body = &reply.body[..reply.cut_at.unwrap_or(reply.body.len())];
                let _ = stream.write_all(response.as_bytes());
                let _ = stream.write_all(body);
                let _ = stream.flush();
                // Dropping the stream closes the connection, mid-body if cut.
            }
        });
        Server {
            url,
            requests,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    fn options(&self) -> UpdateOptions {
        UpdateOptions {
            mirror: self.url.clone(),
            ecosystems: vec!["PyPI".to_owned()],
            progress: false,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take()
            && !std::thread::panicking()
        {
            thread.join().unwrap();
        }
    }
}

fn pypi_zip() -> Vec<u8> {
    zip_of(&[
        pypi_record("PYSEC-1", "django", "2.2.1"),
        pypi_record("PYSEC-2", "requests", "2.20.0"),
    ])
}

fn assert_intact(db: &Path, before: &[u8]) {
    assert_eq!(std::fs::read(db).unwrap(), before, "database file changed");
    let database = VulnDb::open(db).unwrap();
    assert_eq!(database.status().unwrap()[0].records, 2);
    assert_eq!(database.advisories("PyPI", "django").unwrap().len(), 1);
    let leftovers: Vec<_> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "osv.db")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Downloads once with 200, returning the database path and its bytes.
fn first_download(dir: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let db = dir.join("vulndb/osv.db");
    let server = Server::start(vec![Reply::ok(pypi_zip(), "\"v1\"")]);
    let report = update(&db, &server.options()).unwrap();
    assert_eq!(report.sources[0].records, 2);
    assert!(!report.sources[0].not_modified);
    let request = &server.requests()[0];
    assert!(
        request.starts_with("GET /PyPI/all.zip HTTP/1.1"),
        "{request}"
    );
    assert!(
        !request.to_ascii_lowercase().contains("if-none-match"),
        "{request}"
    );
    let status = VulnDb::open(&db).unwrap().status().unwrap();
    assert_eq!(status[0].etag.as_deref(), Some("\"v1\""));
    (db.clone(), std::fs::read(&db).unwrap())
}

#[test]
fn not_modified_sends_validators_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (db, before) = first_download(dir.path());
    let server = Server::start(vec![Reply {
        status: "304 Not Modified",
        headers: vec![],
        body: vec![],
        cut_at: None,
    }]);
    // No ecosystem named: the ones already in the database are refreshed.
    let options = UpdateOptions {
        ecosystems: vec![],
        ..server.options()
    };
    let report = update(&db, &options).unwrap();
    assert_eq!(report.sources.len(), 1);
    assert!(report.sources[0].not_modified);
    let request = server.requests()[0].to_ascii_lowercase();
    assert!(request.contains("if-none-match: \"v1\""), "{request}");
    assert!(
        request.contains("if-modified-since: wed, 21 oct 2026 07:28:00 gmt"),
        "{request}"
    );
    assert_intact(&db, &before);
}

#[test]
fn interrupted_download_fails_and_keeps_the_old_database() {
    let dir = tempfile::tempdir().unwrap();
    let (db, before) = first_download(dir.path());
    let mut reply = Reply::ok(zip_of(&[pypi_record("PYSEC-9", "flask", "1.0")]), "\"v2\"");
    reply.cut_at = Some(reply.body.len() / 2);
    let server = Server::start(vec![reply]);
    let error = update(&db, &server.options()).unwrap_err();
    assert!(error.to_string().contains("download of"), "{error}");
    drop(server);
    assert_intact(&db, &before);
}

#[test]
fn corrupt_zip_fails_and_keeps_the_old_database() {
    let dir = tempfile::tempdir().unwrap();
    let (db, before) = first_download(dir.path());
    let server = Server::start(vec![Reply::ok(
        b"PK\x03\x04 this is not a zip".to_vec(),
        "\"v3\"",
    )]);
    let error = update(&db, &server.options()).unwrap_err();
    assert!(error.to_string().contains("corrupt zip"), "{error}");
    drop(server);
    assert_intact(&db, &before);
}

#[test]
fn server_errors_fail_and_keep_the_old_database() {
    let dir = tempfile::tempdir().unwrap();
    let (db, before) = first_download(dir.path());
    let server = Server::start(vec![Reply {
        status: "404 Not Found",
        headers: vec![],
        body: b"no such ecosystem".to_vec(),
        cut_at: None,
    }]);
    let error = update(&db, &server.options()).unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
    drop(server);
    assert_intact(&db, &before);
}

#[test]
fn a_changed_dump_replaces_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = first_download(dir.path());
    let server = Server::start(vec![Reply::ok(
        zip_of(&[pypi_record("PYSEC-9", "flask", "1.0")]),
        "\"v2\"",
    )]);
    let report = update(&db, &server.options()).unwrap();
    assert_eq!(report.sources[0].records, 1);
    let database = VulnDb::open(&db).unwrap();
    assert_eq!(
        database.status().unwrap()[0].etag.as_deref(),
        Some("\"v2\"")
    );
    assert!(database.advisories("PyPI", "django").unwrap().is_empty());
    assert_eq!(database.advisories("PyPI", "flask").unwrap().len(), 1);
}
