//! s3s-fs with `TCP_NODELAY`, for bench/scale.sh.
//!
//! s3s-fs 0.14.1's binary leaves Nagle's algorithm on. A `GET` answer is
//! written as headers, then body; Nagle holds the body until the client
//! acknowledges the headers, and the client delays that acknowledgement
//! (40 ms on Linux), so about half of all `GET`s take 40 ms instead of
//! 1 ms. Production S3 servers (AWS, MinIO, Ceph) set `TCP_NODELAY`. This is
//! the same server as `s3s-fs --host H --port P --access-key A --secret-key
//! S ROOT`, with that one difference.

use std::path::PathBuf;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s_fs::FileSystem;
use tokio::net::TcpListener;

struct Options {
    host: String,
    port: u16,
    access_key: String,
    secret_key: String,
    root: PathBuf,
}

fn options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let (mut host, mut port, mut access_key, mut secret_key, mut root) =
        (None, None, None, None, None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--host" => host = Some(value()?),
            "--port" => port = Some(value()?.parse().map_err(|e| format!("--port: {e}"))?),
            "--access-key" => access_key = Some(value()?),
            "--secret-key" => secret_key = Some(value()?),
            other if !other.starts_with("--") => root = Some(PathBuf::from(other)),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Options {
        host: host.unwrap_or_else(|| "127.0.0.1".into()),
        port: port.ok_or("--port is required")?,
        access_key: access_key.ok_or("--access-key is required")?,
        secret_key: secret_key.ok_or("--secret-key is required")?,
        root: root.ok_or("the root directory is required")?,
    })
}

#[tokio::main]
async fn main() {
    let options = options().unwrap_or_else(|e| {
        eprintln!("s3s-fs-nodelay: {e}");
        std::process::exit(2);
    });
    let fs = FileSystem::new(&options.root).expect("open the root directory");
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(
        options.access_key,
        options.secret_key,
    ));
    let service = builder.build();
    let listener = TcpListener::bind((options.host.as_str(), options.port))
        .await
        .expect("bind the port");
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            continue;
        };
        // The one difference from s3s-fs's own binary.
        let _ = socket.set_nodelay(true);
        let connection = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
}
