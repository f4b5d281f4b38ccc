//! The S3 stores against a real S3-compatible server (s3s-fs, started by
//! the testkit): the shared blob-store suite, uploads continued by another
//! replica, multipart paths, racing appends, reports, presigned reads and
//! configuration errors.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use airlock_oci::Digest;
use airlock_store::{BlobStore, ByteStream, ReportStore, StoreError};
use airlock_store_s3::{MAX_PARTS_IN_FLIGHT, PART_SIZE, S3BlobStore, S3Options, S3ReportStore};
use airlock_testkit::S3Server;
use bytes::Bytes;
use futures::StreamExt;

use common::{MIB, closed_port, collect, pattern, stream_of};

fn options(server: &S3Server, prefix: &str) -> S3Options {
    let test = server.options(prefix);
    S3Options {
        endpoint: Some(test.endpoint),
        region: test.region,
        bucket: test.bucket,
        prefix: test.prefix,
        path_style: true,
        allow_http: true,
        presign_ttl: None,
        access_key: Some(test.access_key),
        secret_key: Some(test.secret_key),
        max_retries: 0,
    }
}

async fn store(server: &S3Server, prefix: &str) -> S3BlobStore {
    S3BlobStore::open(&options(server, prefix))
        .await
        .expect("open the S3 blob store")
}

/// `total` bytes of a repeating pattern, yielded lazily in pieces of
/// `piece` bytes; `produced` counts what the stream has handed out.
fn lazy_stream(total: usize, piece: usize, produced: Arc<AtomicUsize>) -> ByteStream {
    let pieces = total.div_ceil(piece);
    Box::pin(futures::stream::iter(0..pieces).map(move |index| {
        let start = index * piece;
        let len = piece.min(total - start);
        produced.fetch_add(len, Ordering::SeqCst);
        Ok(Bytes::from(pattern(start, len)))
    }))
}

#[tokio::test]
async fn passes_the_blob_store_suite() {
    let server = S3Server::start();
    airlock_store::testsuite::blob_store(&store(&server, "suite").await).await;
}

#[tokio::test]
async fn passes_the_blob_store_suite_at_the_bucket_root() {
    let server = S3Server::start();
    airlock_store::testsuite::blob_store(&store(&server, "").await).await;
}

#[tokio::test]
async fn an_upload_continues_on_another_replica() {
    let server = S3Server::start();
    let replica_a = store(&server, "shared").await;
    let replica_b = store(&server, "shared").await;
    replica_a.upload_create("u-cross").await.unwrap();
    assert_eq!(
        replica_a
            .upload_append("u-cross", stream_of(b"first chunk, "))
            .await
            .unwrap(),
        13
    );
    assert_eq!(replica_b.upload_size("u-cross").await.unwrap(), Some(13));
    assert_eq!(
        replica_b
            .upload_append("u-cross", stream_of(b"second chunk"))
            .await
            .unwrap(),
        25
    );
    let content = b"first chunk, second chunk";
    assert_eq!(
        collect(replica_a.upload_read("u-cross").await.unwrap()).await,
        content
    );
    let digest = Digest::sha256_of(content);
    assert_eq!(
        replica_b.upload_commit("u-cross", &digest).await.unwrap(),
        25
    );
    assert_eq!(
        collect(replica_a.read(&digest, None).await.unwrap()).await,
        content
    );
    assert_eq!(replica_a.upload_size("u-cross").await.unwrap(), None);
    assert!(replica_a.upload_list().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_twelve_mib_upload_in_three_appends_commits_through_multipart() {
    let server = S3Server::start();
    let store = store(&server, "big").await;
    store.upload_create("u-big").await.unwrap();
    let mut expected = Vec::new();
    for index in 0..3 {
        let chunk = pattern(index * 4 * MIB, 4 * MIB);
        expected.extend_from_slice(&chunk);
        let size = store
            .upload_append("u-big", stream_of(&chunk))
            .await
            .unwrap();
        assert_eq!(size, ((index + 1) * 4 * MIB) as u64);
    }
    let digest = Digest::sha256_of(&expected);
    assert_eq!(
        store.upload_commit("u-big", &digest).await.unwrap(),
        (12 * MIB) as u64
    );
    assert_eq!(store.stat(&digest).await.unwrap(), Some((12 * MIB) as u64));
    let read = collect(store.read(&digest, None).await.unwrap()).await;
    assert!(
        read == expected,
        "the committed blob has the uploaded bytes"
    );
    let range = collect(
        store
            .read(&digest, Some((5 * MIB as u64, 5 * MIB as u64 + 9)))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(range, expected[5 * MIB..5 * MIB + 10]);
}

#[tokio::test]
async fn one_byte_and_empty_blobs_round_trip() {
    let server = S3Server::start();
    let store = store(&server, "tiny").await;
    store.upload_create("u-one").await.unwrap();
    store.upload_append("u-one", stream_of(b"x")).await.unwrap();
    let one = Digest::sha256_of(b"x");
    assert_eq!(store.upload_commit("u-one", &one).await.unwrap(), 1);
    assert_eq!(collect(store.read(&one, None).await.unwrap()).await, b"x");
    assert_eq!(
        collect(store.read(&one, Some((0, 0))).await.unwrap()).await,
        b"x"
    );

    store.upload_create("u-empty").await.unwrap();
    // An empty append writes no chunk object and keeps the size.
    assert_eq!(
        store
            .upload_append("u-empty", stream_of(b""))
            .await
            .unwrap(),
        0
    );
    let empty = Digest::sha256_of(b"");
    assert_eq!(store.upload_commit("u-empty", &empty).await.unwrap(), 0);
    assert_eq!(store.stat(&empty).await.unwrap(), Some(0));
    assert!(
        collect(store.read(&empty, None).await.unwrap())
            .await
            .is_empty()
    );
}

/// Two replicas that both saw the same size append at the same offset: the
/// second one's create-only write fails with `Conflict` and its data never
/// becomes part of the upload, on both the single-PUT and the multipart path.
///
/// The two appends run one after the other, not concurrently: s3s-fs 0.14.1
/// checks `If-None-Match: *` and then writes (src/s3.rs `put_object`), so two
/// truly concurrent PUTs can both pass its check (an earlier concurrent
/// version of this test caught exactly that). AWS S3, MinIO and R2 evaluate
/// the condition atomically, which is what the store relies on.
#[tokio::test]
async fn an_append_at_a_taken_offset_conflicts() {
    let server = S3Server::start();
    let replica_a = store(&server, "race").await;
    let replica_b = store(&server, "race").await;
    replica_a.upload_create("u-race").await.unwrap();

    // Both replicas saw size 0; A's append lands first.
    let offset_b_saw = replica_b.upload_size("u-race").await.unwrap().unwrap();
    assert_eq!(offset_b_saw, 0);
    assert_eq!(
        replica_a
            .upload_append_at("u-race", 0, stream_of(b"from a"))
            .await
            .unwrap(),
        6
    );
    let late = replica_b
        .upload_append_at("u-race", offset_b_saw, stream_of(b"from b!"))
        .await;
    assert!(
        matches!(late, Err(StoreError::Conflict(_))),
        "the late writer gets a conflict: {late:?}"
    );
    assert_eq!(
        collect(replica_b.upload_read("u-race").await.unwrap()).await,
        b"from a"
    );

    // The same through the multipart path (an append over one part).
    let big = pattern(0, PART_SIZE + MIB);
    replica_a
        .upload_append_at("u-race", 6, stream_of(&big))
        .await
        .unwrap();
    let late = replica_b
        .upload_append_at("u-race", 6, stream_of(&big))
        .await;
    assert!(
        matches!(late, Err(StoreError::Conflict(_))),
        "a multipart append at a taken offset conflicts: {late:?}"
    );
    assert_eq!(
        replica_b.upload_size("u-race").await.unwrap(),
        Some(6 + big.len() as u64)
    );
    // The loser's temporary multipart object is gone too.
    let leftovers: Vec<_> = std::fs::read_dir(
        server
            .root()
            .join(server.bucket())
            .join("race/uploads/u-race"),
    )
    .unwrap()
    .filter_map(Result::ok)
    .map(|entry| entry.file_name().to_string_lossy().into_owned())
    .filter(|name| name == "tmp")
    .flat_map(|_| {
        std::fs::read_dir(
            server
                .root()
                .join(server.bucket())
                .join("race/uploads/u-race/tmp"),
        )
        .unwrap()
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .collect::<Vec<_>>()
    })
    .collect();
    assert!(
        leftovers.is_empty(),
        "temporary objects left: {leftovers:?}"
    );
}

/// Bytes of multipart parts s3s-fs has received so far (it keeps them as
/// `.upload_id-<id>.part-<n>` files in its root until completion).
fn multipart_bytes_on_server(server: &S3Server) -> u64 {
    std::fs::read_dir(server.root())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with(".upload_id-")
        })
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.len())
        .sum()
}

/// Bounded memory: while a 64 MiB append is still being produced (1 MiB
/// pieces, lazily), most of what was produced has already reached the
/// server as multipart parts, so the store holds at most a few parts.
#[tokio::test]
async fn a_64_mib_append_streams_without_buffering_it_all() {
    let server = Arc::new(S3Server::start());
    let store = store(&server, "stream").await;
    store.upload_create("u-stream").await.unwrap();
    let total = 64 * MIB;
    let produced = Arc::new(AtomicUsize::new(0));
    let checked = Arc::new(AtomicUsize::new(0));
    let watcher = server.clone();
    let watch = checked.clone();
    let counted = produced.clone();
    let data: ByteStream = Box::pin(lazy_stream(total, MIB, produced.clone()).inspect(move |_| {
        let so_far = counted.load(Ordering::SeqCst);
        if so_far == 48 * MIB {
            let landed = multipart_bytes_on_server(&watcher);
            // At most the part being filled plus the parts in flight plus
            // one piece are in the store's hands.
            let allowance = ((MAX_PARTS_IN_FLIGHT + 1) * PART_SIZE + 2 * MIB) as u64;
            assert!(
                landed + allowance >= so_far as u64,
                "only {landed} of {so_far} produced bytes reached the server"
            );
            watch.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let size = store.upload_append("u-stream", data).await.unwrap();
    assert_eq!(size, total as u64);
    assert_eq!(produced.load(Ordering::SeqCst), total);
    assert_eq!(
        checked.load(Ordering::SeqCst),
        1,
        "the check ran mid-stream"
    );

    // Reading it back streams piece by piece with the right bytes.
    let mut read = store.upload_read("u-stream").await.unwrap();
    let mut offset = 0;
    while let Some(piece) = read.next().await {
        let piece = piece.unwrap();
        assert!(
            piece.len() <= 16 * MIB,
            "pieces are bounded: {}",
            piece.len()
        );
        assert!(piece == pattern(offset, piece.len()), "bytes at {offset}");
        offset += piece.len();
    }
    assert_eq!(offset, total);
}

#[tokio::test]
async fn reports_round_trip_and_keys_cannot_escape() {
    let server = S3Server::start();
    let reports = S3ReportStore::open(&options(&server, "objects"))
        .await
        .unwrap();
    let key = "reports/acme/app/sha256:abc/0190/report.json";
    reports.put(key, Bytes::from_static(b"{}")).await.unwrap();
    assert_eq!(
        reports.get(key).await.unwrap().unwrap(),
        Bytes::from_static(b"{}")
    );
    reports
        .put(key, Bytes::from_static(b"{\"v\":2}"))
        .await
        .unwrap();
    assert_eq!(
        reports.get(key).await.unwrap().unwrap(),
        Bytes::from_static(b"{\"v\":2}")
    );
    assert!(
        server
            .root()
            .join(server.bucket())
            .join("objects")
            .join(key)
            .is_file(),
        "the report is stored under the prefix"
    );
    assert_eq!(reports.get("reports/none").await.unwrap(), None);
    for hostile in ["../escape", "reports/../../x", "/abs", "a//b"] {
        assert!(
            reports
                .put(hostile, Bytes::from_static(b"x"))
                .await
                .is_err(),
            "{hostile} must be refused"
        );
    }
}

#[tokio::test]
async fn a_presigned_url_serves_the_blob() {
    let server = S3Server::start();
    let mut presigning = options(&server, "presign");
    presigning.presign_ttl = Some(Duration::from_secs(300));
    let store = S3BlobStore::open(&presigning).await.unwrap();
    let content = b"presigned content";
    let digest = Digest::sha256_of(content);
    store.upload_create("u-p").await.unwrap();
    store
        .upload_append("u-p", stream_of(content))
        .await
        .unwrap();
    store.upload_commit("u-p", &digest).await.unwrap();

    let url = store.presigned_read(&digest).await.unwrap().expect("a URL");
    assert!(url.starts_with(&server.endpoint()), "{url}");
    let response = reqwest::get(&url).await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    assert_eq!(response.bytes().await.unwrap().as_ref(), content);

    let plain = S3BlobStore::open(&options(&server, "presign"))
        .await
        .unwrap();
    assert_eq!(plain.presigned_read(&digest).await.unwrap(), None);
}

#[tokio::test]
async fn a_missing_bucket_is_named_in_the_error() {
    let server = S3Server::start();
    let mut wrong = options(&server, "x");
    wrong.bucket = "no-such-bucket".into();
    let error = S3BlobStore::open(&wrong).await.unwrap_err().to_string();
    assert!(error.contains("no-such-bucket"), "{error}");
    assert!(error.contains(&server.endpoint()), "{error}");
}

#[tokio::test]
async fn an_unreachable_endpoint_is_named_in_the_error() {
    let port = closed_port();
    let mut unreachable = S3Options::new("some-bucket");
    unreachable.endpoint = Some(format!("http://127.0.0.1:{port}"));
    unreachable.path_style = true;
    unreachable.allow_http = true;
    unreachable.access_key = Some("k".into());
    unreachable.secret_key = Some("s".into());
    unreachable.max_retries = 0;
    let error = S3ReportStore::open(&unreachable)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("127.0.0.1:{port}")), "{error}");
    assert!(error.contains("some-bucket"), "{error}");
}
