//! The behaviour every storage backend must show.
//!
//! Each adapter crate calls these functions from its own tests with a fresh
//! store, so a new backend (PostgreSQL, S3) proves itself against the same
//! contract as the embedded ones.

use airlock_audit::{Actor, AuditEvent, Outcome};
use airlock_auth::{GlobalRole, TenantId, TenantRole};
use airlock_oci::{Digest, Reference, RepoName, Tag};
use bytes::Bytes;
use futures::{StreamExt, stream};
use time::{Duration, OffsetDateTime};

use crate::{
    AuditCursor, AuditFilter, AuditSearch, AuditStore, BlobStore, ByteStream, ExceptionRecord,
    GateStore, IdentityStore, ImageState, JobKind, JobOutcome, Lane, MetadataStore, NewJob,
    NewManifest, OutboxEvent, PolicyRef, PushedImage, PutManifestError, RobotRecord, StoreError,
    Transition, UploadSession,
};

fn bytes_stream(chunks: &[&[u8]]) -> ByteStream {
    let owned: Vec<Result<Bytes, std::io::Error>> = chunks
        .iter()
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(stream::iter(owned))
}

async fn collect(mut s: ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.expect("stream chunk"));
    }
    out
}

fn event() -> AuditEvent {
    AuditEvent::new(Actor::system("testsuite"), "manifest.push", "testsuite")
}

fn repo(name: &str) -> RepoName {
    name.parse().expect("valid repository name")
}

fn digest_of(bytes: &[u8]) -> Digest {
    Digest::sha256_of(bytes)
}

/// Runs the whole blob-store suite against an empty store.
pub async fn blob_store(store: &dyn BlobStore) {
    let content = b"hello, airlock blob";
    let digest = digest_of(content);
    assert_eq!(
        store.stat(&digest).await.unwrap(),
        None,
        "empty store has no blob"
    );
    assert!(matches!(
        store.read(&digest, None).await,
        Err(StoreError::NotFound(_))
    ));

    store.upload_create("u-1").await.unwrap();
    assert_eq!(store.upload_size("u-1").await.unwrap(), Some(0));
    assert_eq!(
        store
            .upload_append("u-1", bytes_stream(&[b"hello, "]))
            .await
            .unwrap(),
        7
    );
    assert_eq!(
        store
            .upload_append("u-1", bytes_stream(&[b"airlock", b" blob"]))
            .await
            .unwrap(),
        content.len() as u64
    );
    assert_eq!(
        collect(store.upload_read("u-1").await.unwrap()).await,
        content
    );
    assert_eq!(
        store.stat(&digest).await.unwrap(),
        None,
        "staged content is not visible"
    );
    assert_eq!(store.upload_list().await.unwrap().len(), 1);

    assert_eq!(
        store.upload_commit("u-1", &digest).await.unwrap(),
        content.len() as u64
    );
    assert_eq!(
        store.upload_size("u-1").await.unwrap(),
        None,
        "commit consumes the upload"
    );
    assert_eq!(
        store.stat(&digest).await.unwrap(),
        Some(content.len() as u64)
    );
    assert_eq!(
        collect(store.read(&digest, None).await.unwrap()).await,
        content
    );
    assert_eq!(
        collect(store.read(&digest, Some((7, 13))).await.unwrap()).await,
        b"airlock"
    );

    // Committing the same content again keeps one copy.
    store.upload_create("u-2").await.unwrap();
    store
        .upload_append("u-2", bytes_stream(&[content]))
        .await
        .unwrap();
    store.upload_commit("u-2", &digest).await.unwrap();
    let listed = store.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest, digest);
    assert_eq!(listed[0].size, content.len() as u64);

    // Cancelled uploads vanish.
    store.upload_create("u-3").await.unwrap();
    store
        .upload_append("u-3", bytes_stream(&[b"partial"]))
        .await
        .unwrap();
    store.upload_delete("u-3").await.unwrap();
    assert_eq!(store.upload_size("u-3").await.unwrap(), None);
    store.upload_delete("u-3").await.unwrap();
    assert!(matches!(
        store.upload_append("u-3", bytes_stream(&[b"x"])).await,
        Err(StoreError::NotFound(_))
    ));

    store.delete(&digest).await.unwrap();
    assert_eq!(store.stat(&digest).await.unwrap(), None);
    store.delete(&digest).await.unwrap();

    // An empty blob is a blob.
    store.upload_create("u-4").await.unwrap();
    let empty = digest_of(b"");
    assert_eq!(store.upload_commit("u-4", &empty).await.unwrap(), 0);
    assert_eq!(store.stat(&empty).await.unwrap(), Some(0));

    // A small blob stored whole: visible at once, stored again harmlessly,
    // and no staged upload is left behind.
    let whole: &[u8] = b"a small blob stored whole";
    let whole_digest = digest_of(whole);
    for _ in 0..2 {
        assert_eq!(
            store
                .put(&whole_digest, Bytes::from_static(whole))
                .await
                .unwrap(),
            whole.len() as u64
        );
    }
    assert_eq!(
        store.stat(&whole_digest).await.unwrap(),
        Some(whole.len() as u64)
    );
    assert_eq!(
        collect(store.read(&whole_digest, None).await.unwrap()).await,
        whole
    );
    assert!(
        store.upload_list().await.unwrap().is_empty(),
        "put leaves no staged upload"
    );
}

fn manifest(
    content: &str,
    blobs: Vec<Digest>,
    children: Vec<Digest>,
    subject: Option<Digest>,
) -> NewManifest {
    NewManifest {
        digest: digest_of(content.as_bytes()),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        content: content.as_bytes().to_vec(),
        subject,
        artifact_type: Some("application/vnd.example".into()),
        annotations: Some(r#"{"k":"v"}"#.into()),
        blobs,
        children,
    }
}

async fn commit(store: &dyn MetadataStore, repository: &RepoName, digest: &Digest, size: u64) {
    let published = store
        .commit_blob(repository, digest, Box::pin(async move { Ok(size) }))
        .await
        .unwrap();
    assert_eq!(published, size);
}

/// Runs the whole metadata-store suite against an empty store.
pub async fn metadata_store(store: &dyn MetadataStore) {
    store.ping().await.unwrap();
    let a = repo("unscanned/team-a/app");
    let b = repo("unscanned/team-b/app");
    let layer = digest_of(b"layer");
    let config = digest_of(b"config");

    // Blob links are per repository.
    assert!(!store.repository_exists(&a).await.unwrap());
    commit(store, &a, &layer, 5).await;
    commit(store, &a, &config, 6).await;
    assert!(store.repository_exists(&a).await.unwrap());
    assert_eq!(
        store.blob(&a, &layer).await.unwrap().map(|b| b.size),
        Some(5)
    );
    assert_eq!(
        store.blob(&b, &layer).await.unwrap(),
        None,
        "not visible in another repository"
    );
    store.link_blob(&b, &layer, 5).await.unwrap();
    assert!(store.blob(&b, &layer).await.unwrap().is_some(), "mounted");
    assert!(store.unlink_blob(&b, &layer).await.unwrap());
    assert!(!store.unlink_blob(&b, &layer).await.unwrap());

    // A failing publish links nothing.
    let failed = store
        .commit_blob(
            &b,
            &config,
            Box::pin(async { Err(StoreError::Conflict("disk full".into())) }),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(store.blob(&b, &config).await.unwrap(), None);

    // Manifests need their blobs in the same repository.
    let image = manifest("image-1", vec![config.clone(), layer.clone()], vec![], None);
    match store.put_manifest(&b, &image, None, &event()).await {
        Err(PutManifestError::BlobUnknown(d)) => assert!(d == config || d == layer),
        other => panic!("expected BlobUnknown, got {other:?}"),
    }
    let v1: Tag = "v1".parse().unwrap();
    store
        .put_manifest(&a, &image, Some(&v1), &event())
        .await
        .unwrap();
    let by_tag = store
        .manifest(&a, &Reference::Tag(v1.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_tag.content, b"image-1");
    assert_eq!(by_tag.digest, image.digest);
    let by_digest = store
        .manifest(&a, &Reference::Digest(image.digest.clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_digest, by_tag);
    assert_eq!(
        store
            .manifest(&b, &Reference::Digest(image.digest.clone()))
            .await
            .unwrap(),
        None
    );

    // Indexes need their children in the same repository.
    let missing_child = digest_of(b"nope");
    let index = manifest("index-1", vec![], vec![missing_child.clone()], None);
    assert!(matches!(store.put_manifest(&a, &index, None, &event())
        .await, Err(PutManifestError::ManifestUnknown(d)) if d == missing_child));
    let index = manifest("index-2", vec![], vec![image.digest.clone()], None);
    store
        .put_manifest(&a, &index, Some(&"multi".parse().unwrap()), &event())
        .await
        .unwrap();

    // Re-pushing the same manifest is idempotent; moving a tag re-points it.
    store
        .put_manifest(&a, &image, Some(&v1), &event())
        .await
        .unwrap();
    let image2 = manifest("image-2", vec![config.clone()], vec![], None);
    store
        .put_manifest(&a, &image2, Some(&v1), &event())
        .await
        .unwrap();
    assert_eq!(
        store
            .manifest(&a, &Reference::Tag(v1.clone()))
            .await
            .unwrap()
            .unwrap()
            .digest,
        image2.digest
    );

    // Tags list, sorted, with pagination.
    for t in ["b", "a", "c"] {
        store
            .put_manifest(&a, &image, Some(&t.parse().unwrap()), &event())
            .await
            .unwrap();
    }
    assert_eq!(
        store.tags(&a, None, None).await.unwrap().unwrap(),
        ["a", "b", "c", "multi", "v1"]
    );
    assert_eq!(
        store.tags(&a, None, Some(2)).await.unwrap().unwrap(),
        ["a", "b"]
    );
    assert_eq!(
        store.tags(&a, Some("b"), Some(2)).await.unwrap().unwrap(),
        ["c", "multi"]
    );
    assert_eq!(
        store.tags(&repo("nothing/here"), None, None).await.unwrap(),
        None
    );

    // Catalog.
    assert_eq!(
        store.repositories(None, None).await.unwrap(),
        [a.as_str(), b.as_str()]
    );
    assert_eq!(
        store.repositories(None, Some(1)).await.unwrap(),
        [a.as_str()]
    );
    assert_eq!(
        store.repositories(Some(a.as_str()), Some(5)).await.unwrap(),
        [b.as_str()]
    );

    // Referrers.
    let sig = manifest(
        "signature",
        vec![config.clone()],
        vec![],
        Some(image.digest.clone()),
    );
    store.put_manifest(&a, &sig, None, &event()).await.unwrap();
    let referrers = store.referrers(&a, &image.digest).await.unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, sig.digest);
    assert_eq!(referrers[0].size, b"signature".len() as u64);
    assert_eq!(
        referrers[0].artifact_type.as_deref(),
        Some("application/vnd.example")
    );
    assert_eq!(referrers[0].annotations.as_deref(), Some(r#"{"k":"v"}"#));
    assert!(store.referrers(&b, &image.digest).await.unwrap().is_empty());

    // Deleting a manifest removes its tags; deleting a tag leaves the manifest.
    assert!(
        store
            .delete_tag(&a, &"c".parse().unwrap(), &event())
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_tag(&a, &"c".parse().unwrap(), &event())
            .await
            .unwrap()
    );
    assert!(
        store
            .manifest(&a, &Reference::Digest(image.digest.clone()))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .delete_manifest(&a, &image.digest, &event())
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_manifest(&a, &image.digest, &event())
            .await
            .unwrap()
    );
    assert_eq!(
        store.tags(&a, None, None).await.unwrap().unwrap(),
        ["multi", "v1"]
    );
    assert_eq!(
        store
            .manifest(&a, &Reference::Tag("a".parse().unwrap()))
            .await
            .unwrap(),
        None
    );

    // Upload sessions.
    let now = OffsetDateTime::now_utc();
    let session = UploadSession {
        id: "s-1".into(),
        repository: a.clone(),
        created_at: now - Duration::hours(3),
        updated_at: now - Duration::hours(3),
    };
    store.create_upload(&session).await.unwrap();
    let found = store.upload("s-1").await.unwrap().unwrap();
    assert_eq!(found.repository, a);
    assert_eq!(
        store
            .idle_uploads(now - Duration::hours(1))
            .await
            .unwrap()
            .len(),
        1
    );
    store.touch_upload("s-1").await.unwrap();
    assert!(
        store
            .idle_uploads(now - Duration::hours(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.delete_upload("s-1").await.unwrap());
    assert_eq!(store.upload("s-1").await.unwrap(), None);

    // Garbage collection: `image` is in no repository now, so it is an
    // orphan; once it goes, `layer` is referenced by nothing.
    let candidates = store.unreferenced_blobs().await.unwrap();
    assert!(
        candidates.iter().any(|c| c.digest == layer),
        "a blob held only by an orphan is unreferenced"
    );
    let orphans = store.delete_orphan_manifests(true).await.unwrap();
    assert!(orphans >= 1);
    assert_eq!(
        store.delete_orphan_manifests(false).await.unwrap(),
        orphans,
        "a dry run counts what a real run removes"
    );
    assert_eq!(store.delete_orphan_manifests(true).await.unwrap(), 0);
    let candidates = store.unreferenced_blobs().await.unwrap();
    assert!(
        candidates.iter().any(|c| c.digest == layer),
        "layer is unreferenced"
    );
    assert!(
        !candidates.iter().any(|c| c.digest == config),
        "config is still referenced"
    );
    // A recent link protects the blob.
    let removed = store
        .sweep_blob(&layer, now - Duration::hours(1), Box::pin(async { Ok(()) }))
        .await
        .unwrap();
    assert!(!removed, "recently linked blobs are kept");
    let removed = store
        .sweep_blob(&layer, now + Duration::hours(1), Box::pin(async { Ok(()) }))
        .await
        .unwrap();
    assert!(removed);
    assert_eq!(store.blob(&a, &layer).await.unwrap(), None);
    assert!(!store.blob_in_use(&layer).await.unwrap());
    // A referenced blob is never swept.
    let removed = store
        .sweep_blob(
            &config,
            now + Duration::hours(1),
            Box::pin(async { Ok(()) }),
        )
        .await
        .unwrap();
    assert!(!removed);
    assert!(store.blob_in_use(&config).await.unwrap());
}

fn tenant(id: &str) -> TenantId {
    id.parse().unwrap()
}

fn change(action: &str, target: &str) -> AuditEvent {
    AuditEvent::new(Actor::user("root"), action, target)
}

async fn all_records(store: &dyn AuditStore) -> Vec<airlock_audit::AuditRecord> {
    store
        .audit_records(&AuditFilter::default(), 0, usize::MAX)
        .await
        .unwrap()
}

/// Tenants, users, grants and robots, each change with its audit record.
pub async fn identity_store<S: IdentityStore + AuditStore>(store: &S) {
    let acme = tenant("acme");
    let before = all_records(store).await.len();
    store
        .create_tenant(&acme, &change("tenant.create", "acme"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_tenant(&acme, &change("tenant.create", "acme"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .create_tenant(&tenant("beta"), &change("tenant.create", "beta"))
        .await
        .unwrap();
    let ids: Vec<String> = store
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id.to_string())
        .collect();
    assert_eq!(ids, ["acme", "beta"]);
    assert!(store.tenant_exists(&acme).await.unwrap());
    assert!(!store.tenant_exists(&tenant("gamma")).await.unwrap());
    // a refused change leaves no audit record behind
    assert_eq!(all_records(store).await.len(), before + 2);

    store
        .create_user("alice", "$argon2id$x", &change("user.create", "alice"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_user("alice", "h", &change("user.create", "alice"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .set_tenant_role(
            "alice",
            &acme,
            Some(TenantRole::Developer),
            &change("user.grant", "alice"),
        )
        .await
        .unwrap();
    store
        .set_tenant_role(
            "alice",
            &acme,
            Some(TenantRole::Security),
            &change("user.grant", "alice"),
        )
        .await
        .unwrap();
    store
        .set_global_role(
            "alice",
            GlobalRole::Auditor,
            true,
            &change("user.grant", "alice"),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .set_tenant_role(
                "alice",
                &tenant("nope"),
                Some(TenantRole::Reader),
                &change("user.grant", "alice")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .set_tenant_role(
                "bob",
                &acme,
                Some(TenantRole::Reader),
                &change("user.grant", "bob")
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    let alice = store.user("alice").await.unwrap().unwrap();
    assert_eq!(alice.roles.tenant_role(&acme), Some(TenantRole::Security));
    assert!(alice.roles.is_auditor());
    assert!(!alice.disabled);
    store
        .set_user_disabled("alice", true, &change("user.disable", "alice"))
        .await
        .unwrap();
    store
        .set_password("alice", "$argon2id$y", &change("user.passwd", "alice"))
        .await
        .unwrap();
    let alice = store.user("alice").await.unwrap().unwrap();
    assert!(alice.disabled);
    assert_eq!(alice.password_hash, "$argon2id$y");
    assert!(store.user("bob").await.unwrap().is_none());
    assert_eq!(store.user_count().await.unwrap(), 1);
    store
        .set_tenant_role("alice", &acme, None, &change("user.revoke", "alice"))
        .await
        .unwrap();
    assert_eq!(
        store
            .user("alice")
            .await
            .unwrap()
            .unwrap()
            .roles
            .tenant_role(&acme),
        None
    );

    let now = OffsetDateTime::now_utc();
    let robot = RobotRecord {
        name: "robot$acme+ci".into(),
        tenant: acme.clone(),
        role: TenantRole::Developer,
        prefix: "0123abcd".into(),
        token_hash: "ff".repeat(32),
        created_by: "alice".into(),
        created_at: now,
        expires_at: Some(now + Duration::days(90)),
        revoked_at: None,
    };
    store
        .create_robot(&robot, &change("robot.create", &robot.name))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_robot(&robot, &change("robot.create", &robot.name))
            .await,
        Err(StoreError::Conflict(_))
    ));
    let found = store.robot_by_prefix("0123abcd").await.unwrap().unwrap();
    assert_eq!(found.name, robot.name);
    assert_eq!(found.role, TenantRole::Developer);
    assert!(found.is_active(now));
    assert_eq!(store.robots(Some(&acme)).await.unwrap().len(), 1);
    assert!(
        store
            .robots(Some(&tenant("beta")))
            .await
            .unwrap()
            .is_empty()
    );
    store
        .revoke_robot(&robot.name, now, &change("robot.revoke", &robot.name))
        .await
        .unwrap();
    assert!(matches!(
        store
            .revoke_robot(&robot.name, now, &change("robot.revoke", &robot.name))
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(
        !store
            .robot_by_prefix("0123abcd")
            .await
            .unwrap()
            .unwrap()
            .is_active(now)
    );

    store
        .delete_tenant(&tenant("beta"), &change("tenant.delete", "beta"))
        .await
        .unwrap();
    assert!(matches!(
        store
            .delete_tenant(&tenant("beta"), &change("tenant.delete", "beta"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    // 2 tenants, user, 3 grants, disable, passwd, revoke grant, robot, revoke robot, delete
    let records = all_records(store).await;
    assert_eq!(records.len(), before + 12);
    airlock_audit::verify(records).expect("chain verifies");
}

/// The audit log: ordering, filters, cursors, and manifest changes that are
/// recorded in their own transaction.
pub async fn audit_store<S: MetadataStore + AuditStore>(store: &S) {
    let start = all_records(store).await.len() as u64;
    let events: Vec<AuditEvent> = (0..5)
        .map(|i| {
            AuditEvent::new(
                Actor::user("u"),
                if i % 2 == 0 {
                    "auth.login"
                } else {
                    "manifest.pull"
                },
                format!("t{i}"),
            )
            .tenant(if i < 3 { "acme" } else { "beta" })
        })
        .collect();
    let sealed = store.append_audit(&events).await.unwrap();
    assert_eq!(sealed.len(), 5);
    assert_eq!(sealed[0].seq, start + 1);
    assert!(
        sealed
            .windows(2)
            .all(|w| w[1].prev_hash == w[0].hash && w[1].seq == w[0].seq + 1)
    );

    let only = |filter: AuditFilter| async move {
        store
            .audit_records(&filter, start, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.event.target)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        only(AuditFilter {
            tenant: Some("beta".into()),
            ..Default::default()
        })
        .await,
        ["t3", "t4"]
    );
    assert_eq!(
        only(AuditFilter {
            action: Some("auth".into()),
            ..Default::default()
        })
        .await,
        ["t0", "t2", "t4"]
    );
    assert_eq!(
        only(AuditFilter {
            action: Some("auth.log".into()),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    let future = OffsetDateTime::now_utc() + Duration::hours(1);
    assert!(
        only(AuditFilter {
            since: Some(future),
            ..Default::default()
        })
        .await
        .is_empty()
    );
    assert_eq!(
        only(AuditFilter {
            until: Some(future),
            ..Default::default()
        })
        .await
        .len(),
        5
    );
    let page = store
        .audit_records(&AuditFilter::default(), start, 2)
        .await
        .unwrap();
    assert_eq!(
        page.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [start + 1, start + 2]
    );

    assert_eq!(store.audit_cursor("syslog").await.unwrap(), 0);
    store.set_audit_cursor("syslog", 3).await.unwrap();
    assert_eq!(store.audit_cursor("syslog").await.unwrap(), 3);

    // a manifest put that fails writes nothing; one that succeeds writes its record
    let a = repo("audit/a");
    let config = br#"{"architecture":"amd64"}"#;
    let image = manifest("{\"audited\":1}", vec![digest_of(config)], vec![], None);
    let before = all_records(store).await.len();
    let push =
        AuditEvent::new(Actor::user("u"), "manifest.push", "audit/a").outcome(Outcome::Success);
    assert!(store.put_manifest(&a, &image, None, &push).await.is_err());
    assert_eq!(all_records(store).await.len(), before);
    commit(store, &a, &digest_of(config), config.len() as u64).await;
    store.put_manifest(&a, &image, None, &push).await.unwrap();
    let records = all_records(store).await;
    assert_eq!(records.len(), before + 1);
    assert_eq!(records.last().unwrap().event.action, "manifest.push");
    let delete = AuditEvent::new(Actor::user("u"), "manifest.delete", "audit/a");
    assert!(
        store
            .delete_manifest(&a, &image.digest, &delete)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_manifest(&a, &image.digest, &delete)
            .await
            .unwrap()
    );
    assert_eq!(all_records(store).await.len(), before + 2);
    airlock_audit::verify(all_records(store).await).expect("chain verifies");

    // Searches by actor and outcome, both ways round.
    let start = all_records(store).await.len() as u64;
    let events = [
        AuditEvent::new(Actor::user("mallory"), "access.denied", "s0")
            .outcome(Outcome::Denied)
            .tenant("acme"),
        AuditEvent::new(Actor::user("alice"), "user.create", "s1"),
        AuditEvent::new(Actor::user("mallory"), "auth.login", "s2").outcome(Outcome::Failure),
        AuditEvent::new(Actor::robot("mallory"), "manifest.pull", "s3"),
    ];
    store.append_audit(&events).await.unwrap();
    let found = |search: AuditSearch, cursor: AuditCursor, limit: usize| async move {
        store
            .search_audit(&search, cursor, limit)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.seq > start)
            .map(|r| r.event.target)
            .collect::<Vec<_>>()
    };
    let by_mallory = AuditSearch {
        actor: Some("mallory".into()),
        ..AuditSearch::default()
    };
    assert_eq!(
        found(by_mallory.clone(), AuditCursor::Before(u64::MAX), 100).await,
        ["s3", "s2", "s0"]
    );
    assert_eq!(
        found(by_mallory.clone(), AuditCursor::After(start), 100).await,
        ["s0", "s2", "s3"]
    );
    assert_eq!(
        found(by_mallory.clone(), AuditCursor::Before(start + 4), 1).await,
        ["s2"]
    );
    assert_eq!(
        found(
            AuditSearch {
                outcome: Some(Outcome::Denied),
                filter: AuditFilter {
                    tenant: Some("acme".into()),
                    ..AuditFilter::default()
                },
                ..AuditSearch::default()
            },
            AuditCursor::Before(u64::MAX),
            100
        )
        .await,
        ["s0"]
    );
    assert_eq!(
        found(
            AuditSearch {
                actor: Some("mallory".into()),
                outcome: Some(Outcome::Success),
                ..AuditSearch::default()
            },
            AuditCursor::After(start),
            100
        )
        .await,
        ["s3"]
    );
}

fn gate_audit(action: &str, target: &str) -> AuditEvent {
    AuditEvent::new(Actor::system("gate"), action, target).tenant("acme")
}

fn gate_outbox(event_type: &str, subject: &str) -> OutboxEvent {
    OutboxEvent::new(
        event_type,
        Some("acme".into()),
        subject,
        serde_json::json!({ "type": event_type }),
    )
}

async fn undelivered<S: GateStore>(store: &S) -> Vec<String> {
    store
        .outbox(usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

fn pushed(tenant_id: &str, repository: &RepoName, digest: &Digest) -> PushedImage {
    PushedImage {
        tenant: tenant(tenant_id),
        repository: repository.clone(),
        digest: digest.clone(),
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        pushed_by: Some("alice".into()),
    }
}

fn new_job(tenant_id: &str, image_id: i64, lane: Lane, run_after: OffsetDateTime) -> NewJob {
    NewJob {
        kind: if lane == Lane::Push {
            JobKind::Scan
        } else {
            JobKind::Reevaluate
        },
        lane,
        tenant: tenant(tenant_id),
        image_id,
        run_after,
        max_attempts: 3,
    }
}

/// Records an image for job tests (no manifest needed).
async fn job_image<S: GateStore>(store: &S, tenant_id: &str, name: &str) -> i64 {
    let repository = repo(&format!("unscanned/{tenant_id}/jobs"));
    let (image, _) = store
        .record_push(
            &pushed(tenant_id, &repository, &digest_of(name.as_bytes())),
            &[],
            &[],
        )
        .await
        .unwrap();
    image.id
}

const LEASE: std::time::Duration = std::time::Duration::from_secs(60);

/// The gate's state: images and their transitions, promotion, the job
/// queue's leases, priorities and fairness, policies, exceptions and the
/// outbox. Every change writes its audit records and outbox events in the
/// same transaction, and a refused change writes nothing.
pub async fn gate_store<S: MetadataStore + GateStore + AuditStore>(store: &S) {
    let acme = tenant("acme");
    let now = OffsetDateTime::now_utc();
    let source = repo("unscanned/acme/app");
    let target = repo("scanned/acme/app");
    let mut published: Vec<String> = Vec::new();

    // Content: an index of two platform images, a signature of the index,
    // and an unrelated image in the same repository.
    let layer = digest_of(b"gate-layer");
    let config = digest_of(b"gate-config");
    let signature_blob = digest_of(b"gate-signature-blob");
    commit(store, &source, &layer, 10).await;
    commit(store, &source, &config, 11).await;
    commit(store, &source, &signature_blob, 12).await;
    let amd64 = manifest(
        "gate-amd64",
        vec![config.clone(), layer.clone()],
        vec![],
        None,
    );
    let arm64 = manifest("gate-arm64", vec![config.clone()], vec![], None);
    let index = manifest(
        "gate-index",
        vec![],
        vec![amd64.digest.clone(), arm64.digest.clone()],
        None,
    );
    let signature = manifest(
        "gate-signature",
        vec![signature_blob.clone()],
        vec![],
        Some(index.digest.clone()),
    );
    let unrelated = manifest("gate-unrelated", vec![layer.clone()], vec![], None);
    for (m, tag) in [
        (&amd64, None),
        (&arm64, None),
        (&index, Some("v1")),
        (&index, Some("latest")),
        (&signature, None),
        (&unrelated, Some("other")),
    ] {
        let tag: Option<Tag> = tag.map(|t| t.parse().unwrap());
        store
            .put_manifest(&source, m, tag.as_ref(), &event())
            .await
            .unwrap();
    }
    let elsewhere = repo("library/gate");
    commit(store, &elsewhere, &config, 11).await;
    let outside = manifest("gate-outside", vec![config.clone()], vec![], None);
    store
        .put_manifest(&elsewhere, &outside, None, &event())
        .await
        .unwrap();

    // Every manifest in `unscanned/` is unrecorded except referrers (they
    // follow their subject); nothing outside `unscanned/` is.
    let unrecorded = store.unrecorded_pushes(100).await.unwrap();
    let mut digests: Vec<Digest> = unrecorded.iter().map(|p| p.digest.clone()).collect();
    digests.sort();
    let mut expected = vec![
        amd64.digest.clone(),
        arm64.digest.clone(),
        index.digest.clone(),
        unrelated.digest.clone(),
    ];
    expected.sort();
    assert_eq!(digests, expected);
    assert!(
        unrecorded
            .iter()
            .all(|p| p.tenant == acme && p.repository == source)
    );
    assert_eq!(store.unrecorded_pushes(2).await.unwrap().len(), 2);
    assert!(store.is_index_child(&source, &amd64.digest).await.unwrap());
    assert!(!store.is_index_child(&source, &index.digest).await.unwrap());
    assert!(
        !store
            .is_index_child(&source, &unrelated.digest)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_index_child(&elsewhere, &amd64.digest)
            .await
            .unwrap()
    );

    // record_push is idempotent: the second call returns the same image
    // and writes no audit record or event.
    let audit_before = all_records(store).await.len();
    let outbox_before = undelivered(store).await.len();
    let push = PushedImage {
        media_type: "application/vnd.oci.image.index.v1+json".into(),
        ..pushed("acme", &source, &index.digest)
    };
    let pushed_event = gate_outbox("airlock.image.pushed", "unscanned/acme/app");
    let (image, created) = store
        .record_push(
            &push,
            &[gate_audit("image.push", "unscanned/acme/app")],
            std::slice::from_ref(&pushed_event),
        )
        .await
        .unwrap();
    published.push(pushed_event.id);
    assert!(created);
    assert_eq!(image.state, ImageState::Received);
    assert_eq!(image.digest, index.digest);
    assert_eq!(image.media_type, push.media_type);
    assert_eq!((image.attempts, image.verdict.clone()), (0, None));
    let (again, created) = store
        .record_push(
            &push,
            &[gate_audit("image.push", "unscanned/acme/app")],
            &[gate_outbox("airlock.image.pushed", "unscanned/acme/app")],
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, image);
    assert_eq!(all_records(store).await.len(), audit_before + 1);
    assert_eq!(undelivered(store).await.len(), outbox_before + 1);
    assert_eq!(store.image(image.id).await.unwrap(), Some(image.clone()));
    assert_eq!(store.image(image.id + 1000).await.unwrap(), None);
    assert_eq!(
        store.images_by_digest(&acme, &index.digest).await.unwrap(),
        std::slice::from_ref(&image)
    );
    assert!(
        store
            .images_by_digest(&tenant("beta"), &index.digest)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .unrecorded_pushes(100)
            .await
            .unwrap()
            .iter()
            .any(|p| p.digest == index.digest),
        "a recorded push is no longer unrecorded"
    );

    // A transition from the wrong state is refused and writes nothing.
    let audit_before = all_records(store).await.len();
    let outbox_before = undelivered(store).await;
    let stale = Transition {
        audit: vec![gate_audit("image.scan", "x")],
        outbox: vec![gate_outbox("airlock.scan.started", "x")],
        enqueue: Some(new_job("acme", image.id, Lane::Push, now)),
        ..Transition::new(image.id, ImageState::Queued, ImageState::Scanning)
    };
    assert!(matches!(
        store.transition(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(all_records(store).await.len(), audit_before);
    assert_eq!(undelivered(store).await, outbox_before);
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    assert_eq!(store.history(image.id).await.unwrap().len(), 1);
    assert_eq!(
        store.image(image.id).await.unwrap().unwrap().state,
        ImageState::Received
    );

    // Queue it: the transition enqueues the scan job.
    let queued_event = gate_outbox("airlock.scan.queued", "unscanned/acme/app");
    let queued = store
        .transition(&Transition {
            detail: serde_json::json!({ "step": "queued" }),
            audit: vec![gate_audit("image.queue", "unscanned/acme/app")],
            outbox: vec![queued_event.clone()],
            enqueue: Some(new_job("acme", image.id, Lane::Push, now)),
            ..Transition::new(image.id, ImageState::Received, ImageState::Queued)
        })
        .await
        .unwrap();
    published.push(queued_event.id);
    assert_eq!(queued.state, ImageState::Queued);
    assert_eq!(all_records(store).await.len(), audit_before + 1);
    assert_eq!(store.pending_jobs().await.unwrap(), 1);

    // Lease it; a second worker finds nothing while the lease is held.
    let job = store.lease_job("w1", LEASE, now).await.unwrap().unwrap();
    assert_eq!(
        (
            job.image_id,
            job.kind,
            job.lane,
            job.attempts,
            job.max_attempts
        ),
        (image.id, JobKind::Scan, Lane::Push, 1, 3)
    );
    assert_eq!(job.worker, "w1");
    assert_eq!(store.lease_job("w2", LEASE, now).await.unwrap(), None);
    store
        .heartbeat(job.id, "w1", now + Duration::seconds(90))
        .await
        .unwrap();
    assert!(matches!(
        store
            .heartbeat(job.id, "w2", now + Duration::seconds(90))
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .transition(&Transition::new(
            image.id,
            ImageState::Queued,
            ImageState::Scanning,
        ))
        .await
        .unwrap();

    // The lease runs out; w2 takes the job over and w1 has lost it.
    let later = now + Duration::seconds(120);
    assert_eq!(
        store
            .lease_job("w2", LEASE, now + Duration::seconds(60))
            .await
            .unwrap(),
        None,
        "the heartbeat extended the lease"
    );
    let taken = store.lease_job("w2", LEASE, later).await.unwrap().unwrap();
    assert_eq!(
        (taken.id, taken.attempts, taken.worker.as_str()),
        (job.id, 2, "w2")
    );
    let policy = PolicyRef {
        tenant: Some("acme".into()),
        version: 2,
    };
    let passed = Transition {
        verdict: Some(serde_json::json!({ "pass": true })),
        policy: Some(policy.clone()),
        attempts: Some(1),
        audit: vec![gate_audit("image.pass", "unscanned/acme/app")],
        finish: Some((job.id, "w1".into(), JobOutcome::Done)),
        ..Transition::new(image.id, ImageState::Scanning, ImageState::Passed)
    };
    let audit_before = all_records(store).await.len();
    assert!(matches!(
        store.transition(&passed).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .heartbeat(job.id, "w1", later + Duration::seconds(60))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .finish_job(job.id, "w1", &JobOutcome::Done, &[], &[])
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(all_records(store).await.len(), audit_before);
    assert_eq!(
        store.image(image.id).await.unwrap().unwrap().state,
        ImageState::Scanning
    );
    let passed = store
        .transition(&Transition {
            finish: Some((job.id, "w2".into(), JobOutcome::Done)),
            ..passed
        })
        .await
        .unwrap();
    assert_eq!(passed.state, ImageState::Passed);
    assert_eq!(passed.verdict, Some(serde_json::json!({ "pass": true })));
    assert_eq!(passed.policy, Some(policy));
    assert_eq!(passed.attempts, 1);
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    assert!(matches!(
        store
            .finish_job(job.id, "w2", &JobOutcome::Done, &[], &[])
            .await,
        Err(StoreError::Conflict(_))
    ));

    // A promotion from the wrong state copies nothing.
    assert!(matches!(
        store
            .promote(
                &target,
                &Transition::new(image.id, ImageState::Scanning, ImageState::Promoted)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .manifest(&target, &Reference::Digest(index.digest.clone()))
            .await
            .unwrap(),
        None
    );
    assert!(!store.repository_exists(&target).await.unwrap());

    // Promotion copies the index, its children, the signature, their blob
    // links and the index's tags, and nothing else.
    let promoted_event = gate_outbox("airlock.image.promoted", "scanned/acme/app");
    let promoted = store
        .promote(
            &target,
            &Transition {
                audit: vec![gate_audit("image.promote", "scanned/acme/app")],
                outbox: vec![promoted_event.clone()],
                ..Transition::new(image.id, ImageState::Passed, ImageState::Promoted)
            },
        )
        .await
        .unwrap();
    published.push(promoted_event.id);
    assert_eq!(promoted.state, ImageState::Promoted);
    for m in [&index, &amd64, &arm64, &signature] {
        let copied = store
            .manifest(&target, &Reference::Digest(m.digest.clone()))
            .await
            .unwrap()
            .expect("promoted manifest");
        assert_eq!(copied.content, m.content);
    }
    assert_eq!(
        store
            .manifest(&target, &Reference::Digest(unrelated.digest.clone()))
            .await
            .unwrap(),
        None
    );
    for (blob, size) in [(&layer, 10), (&config, 11), (&signature_blob, 12)] {
        assert_eq!(
            store.blob(&target, blob).await.unwrap().map(|b| b.size),
            Some(size)
        );
    }
    assert_eq!(
        store.tags(&target, None, None).await.unwrap().unwrap(),
        ["latest", "v1"]
    );
    let referrers = store.referrers(&target, &index.digest).await.unwrap();
    assert_eq!(referrers.len(), 1);
    assert_eq!(referrers[0].digest, signature.digest);
    assert!(
        store
            .manifest(&source, &Reference::Digest(index.digest.clone()))
            .await
            .unwrap()
            .is_some(),
        "the source keeps its copy"
    );

    // History, oldest first.
    let history = store.history(image.id).await.unwrap();
    let steps: Vec<(Option<ImageState>, ImageState)> =
        history.iter().map(|h| (h.from, h.to)).collect();
    assert_eq!(
        steps,
        [
            (None, ImageState::Received),
            (Some(ImageState::Received), ImageState::Queued),
            (Some(ImageState::Queued), ImageState::Scanning),
            (Some(ImageState::Scanning), ImageState::Passed),
            (Some(ImageState::Passed), ImageState::Promoted),
        ]
    );
    assert_eq!(history[1].detail, serde_json::json!({ "step": "queued" }));
    assert!(history.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(
        store
            .images(Some(&acme), Some(ImageState::Promoted), 10)
            .await
            .unwrap(),
        std::slice::from_ref(&promoted)
    );
    assert!(
        store
            .images(Some(&tenant("beta")), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // The push lane goes before the background lane.
    let t0 = now + Duration::hours(1);
    let background_image = job_image(store, "acme", "background").await;
    let push_image = job_image(store, "acme", "push").await;
    let background = store
        .enqueue(&new_job("acme", background_image, Lane::Background, now))
        .await
        .unwrap();
    let push_job = store
        .enqueue(&new_job("acme", push_image, Lane::Push, now))
        .await
        .unwrap();
    assert_eq!(store.pending_jobs().await.unwrap(), 2);
    let first = store.lease_job("w1", LEASE, t0).await.unwrap().unwrap();
    let second = store.lease_job("w2", LEASE, t0).await.unwrap().unwrap();
    assert_eq!((first.id, first.lane), (push_job, Lane::Push));
    assert_eq!((second.id, second.kind), (background, JobKind::Reevaluate));
    for j in [&first, &second] {
        store
            .finish_job(j.id, &j.worker, &JobOutcome::Done, &[], &[])
            .await
            .unwrap();
    }
    assert_eq!(store.pending_jobs().await.unwrap(), 0);

    // Fairness: a tenant with one job is not starved by a tenant that
    // queued five before it.
    for i in 0..5 {
        let id = job_image(store, "fair-a", &format!("fair-a-{i}")).await;
        store
            .enqueue(&new_job("fair-a", id, Lane::Push, now))
            .await
            .unwrap();
    }
    let id = job_image(store, "fair-b", "fair-b-0").await;
    store
        .enqueue(&new_job("fair-b", id, Lane::Push, now))
        .await
        .unwrap();
    let mut served = Vec::new();
    for i in 0..6 {
        let at = t0 + Duration::seconds(10 + i);
        let j = store.lease_job("w1", LEASE, at).await.unwrap().unwrap();
        served.push(j.tenant.to_string());
        store
            .finish_job(j.id, "w1", &JobOutcome::Done, &[], &[])
            .await
            .unwrap();
    }
    let position = served.iter().position(|t| t == "fair-b").unwrap();
    assert!(position <= 1, "fair-b served at {position}: {served:?}");
    assert_eq!(store.lease_job("w1", LEASE, t0).await.unwrap(), None);

    // Fewest jobs leased now beats served longest ago: `busy` holds a
    // lease and was served before `idle`, yet `idle` goes first.
    let ta = t0 + Duration::seconds(30);
    for i in 0..2 {
        let id = job_image(store, "busy", &format!("busy-{i}")).await;
        store
            .enqueue(&new_job("busy", id, Lane::Push, now))
            .await
            .unwrap();
    }
    let held = store.lease_job("w1", LEASE, ta).await.unwrap().unwrap();
    assert_eq!(held.tenant.as_str(), "busy");
    let id = job_image(store, "idle", "idle-0").await;
    store
        .enqueue(&new_job("idle", id, Lane::Push, now))
        .await
        .unwrap();
    let tb = ta + Duration::seconds(1);
    let j = store.lease_job("w2", LEASE, tb).await.unwrap().unwrap();
    assert_eq!(j.tenant.as_str(), "idle");
    store
        .finish_job(j.id, "w2", &JobOutcome::Done, &[], &[])
        .await
        .unwrap();
    let id = job_image(store, "idle", "idle-1").await;
    store
        .enqueue(&new_job("idle", id, Lane::Push, now))
        .await
        .unwrap();
    let tc = tb + Duration::seconds(1);
    let j = store.lease_job("w2", LEASE, tc).await.unwrap().unwrap();
    assert_eq!(
        j.tenant.as_str(),
        "idle",
        "the tenant without a lease goes first"
    );
    store
        .finish_job(j.id, "w2", &JobOutcome::Done, &[], &[])
        .await
        .unwrap();
    let j = store.lease_job("w2", LEASE, tc).await.unwrap().unwrap();
    assert_eq!(j.tenant.as_str(), "busy");
    for j in [&held, &j] {
        store
            .finish_job(j.id, &j.worker, &JobOutcome::Done, &[], &[])
            .await
            .unwrap();
    }
    assert_eq!(store.pending_jobs().await.unwrap(), 0);

    // A retried job waits for its time.
    let t1 = t0 + Duration::minutes(5);
    let retry_image = job_image(store, "acme", "retry").await;
    let retry = store
        .enqueue(&new_job("acme", retry_image, Lane::Push, now))
        .await
        .unwrap();
    let j = store.lease_job("w1", LEASE, t1).await.unwrap().unwrap();
    assert_eq!(j.id, retry);
    store
        .finish_job(
            retry,
            "w1",
            &JobOutcome::Retry {
                run_after: t1 + Duration::hours(1),
                error: "registry unreachable".into(),
            },
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store.pending_jobs().await.unwrap(), 1);
    assert_eq!(
        store
            .lease_job("w1", LEASE, t1 + Duration::minutes(30))
            .await
            .unwrap(),
        None
    );
    let j = store
        .lease_job("w2", LEASE, t1 + Duration::hours(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((j.id, j.attempts, j.worker.as_str()), (retry, 2, "w2"));
    store
        .finish_job(
            retry,
            "w2",
            &JobOutcome::Dead {
                error: "gave up".into(),
            },
            &[gate_audit("job.dead", "retry")],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(store.pending_jobs().await.unwrap(), 0);
    assert_eq!(
        store
            .lease_job("w1", LEASE, t1 + Duration::days(1))
            .await
            .unwrap(),
        None
    );

    // Inventories.
    assert_eq!(store.inventory(&index.digest).await.unwrap(), None);
    let reports = serde_json::json!([{ "packages": ["openssl"] }]);
    store.put_inventory(&index.digest, &reports).await.unwrap();
    assert_eq!(store.inventory(&index.digest).await.unwrap(), Some(reports));
    let newer = serde_json::json!([{ "packages": [] }]);
    store.put_inventory(&index.digest, &newer).await.unwrap();
    assert_eq!(store.inventory(&index.digest).await.unwrap(), Some(newer));

    // Policies are versioned per tenant, and separately for the global one.
    assert_eq!(store.policy(Some(&acme)).await.unwrap(), None);
    let audit_before = all_records(store).await.len();
    for (scope, document, expected) in [
        (Some(&acme), "rules: 1", 1),
        (Some(&acme), "rules: 2", 2),
        (None, "rules: global", 1),
    ] {
        let e = OutboxEvent::new(
            "airlock.policy.updated",
            None,
            "policy",
            serde_json::Value::Null,
        );
        let version = store
            .put_policy(
                scope,
                document,
                "alice",
                &gate_audit("policy.set", "policy"),
                std::slice::from_ref(&e),
            )
            .await
            .unwrap();
        published.push(e.id);
        assert_eq!(version, expected);
    }
    assert_eq!(all_records(store).await.len(), audit_before + 3);
    let current = store.policy(Some(&acme)).await.unwrap().unwrap();
    assert_eq!(
        (
            current.tenant,
            current.version,
            current.document.as_str(),
            current.author.as_str()
        ),
        (Some(acme.clone()), 2, "rules: 2", "alice")
    );
    let global = store.policy(None).await.unwrap().unwrap();
    assert_eq!((global.tenant, global.version), (None, 1));
    assert_eq!(store.policy(Some(&tenant("beta"))).await.unwrap(), None);
    let history: Vec<(i64, String)> = store
        .policy_versions(Some(&acme))
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.version, p.document))
        .collect();
    assert_eq!(
        history,
        [(2, "rules: 2".to_owned()), (1, "rules: 1".to_owned())]
    );
    assert_eq!(store.policy_versions(None).await.unwrap().len(), 1);
    assert!(
        store
            .policy_versions(Some(&tenant("beta")))
            .await
            .unwrap()
            .is_empty()
    );

    // Exceptions: numbered by the store, approved once, revoked once.
    let request = ExceptionRecord {
        id: String::new(),
        tenant: acme.clone(),
        vulnerability: "CVE-2024-0001".into(),
        package: Some("openssl".into()),
        repository: None,
        digest: None,
        reason: "not reachable".into(),
        requested_by: "dev".into(),
        approved_by: None,
        approved_at: None,
        expires_at: now + Duration::days(30),
        revoked_at: None,
        created_at: now,
    };
    let first = store
        .create_exception(&request, &gate_audit("exception.request", "x"), &[])
        .await
        .unwrap();
    let second = store
        .create_exception(
            &ExceptionRecord {
                vulnerability: "CVE-2024-0002".into(),
                ..request.clone()
            },
            &gate_audit("exception.request", "y"),
            &[],
        )
        .await
        .unwrap();
    assert!(first.id.starts_with("EXC-"), "{}", first.id);
    assert_ne!(first.id, second.id);
    assert_eq!(
        (first.vulnerability.as_str(), first.package.as_deref()),
        ("CVE-2024-0001", Some("openssl"))
    );
    assert_eq!(
        store.exception(&first.id).await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.exception("EXC-999999").await.unwrap(), None);
    let approved = store
        .approve_exception(
            &first.id,
            "sec",
            now,
            &gate_audit("exception.approve", "x"),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(approved.approved_by.as_deref(), Some("sec"));
    assert!(approved.approved_at.is_some());
    assert!(matches!(
        store
            .approve_exception(
                &first.id,
                "sec2",
                now,
                &gate_audit("exception.approve", "x"),
                &[]
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .revoke_exception(&second.id, now, &gate_audit("exception.revoke", "y"), &[])
        .await
        .unwrap();
    assert!(matches!(
        store
            .approve_exception(
                &second.id,
                "sec",
                now,
                &gate_audit("exception.approve", "y"),
                &[]
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .revoke_exception(&second.id, now, &gate_audit("exception.revoke", "y"), &[])
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .revoke_exception("EXC-999999", now, &gate_audit("exception.revoke", "z"), &[])
            .await,
        Err(StoreError::NotFound(_))
    ));
    let listed: Vec<String> = store
        .exceptions(&acme)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(listed, [second.id.clone(), first.id.clone()]);
    assert!(store.exceptions(&tenant("beta")).await.unwrap().is_empty());

    // The outbox: undelivered events in the order they were written.
    let pending = undelivered(store).await;
    let ours: Vec<String> = pending
        .iter()
        .filter(|id| published.contains(id))
        .cloned()
        .collect();
    assert_eq!(ours, published);
    let page = store.outbox(2).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        pending[..2]
    );
    assert_eq!(page[0].event_type, "airlock.image.pushed");
    assert_eq!(
        page[0].data,
        serde_json::json!({ "type": "airlock.image.pushed" })
    );
    store
        .mark_delivered(&pending[..2], OffsetDateTime::now_utc())
        .await
        .unwrap();
    assert_eq!(undelivered(store).await, pending[2..]);

    airlock_audit::verify(all_records(store).await).expect("chain verifies");
}

fn webhook_subscription(
    id: &str,
    tenant_id: Option<&str>,
    events: &[&str],
    created_at: OffsetDateTime,
) -> crate::Subscription {
    crate::Subscription {
        id: id.to_owned(),
        tenant: tenant_id.map(tenant),
        url: format!("https://hooks.example.com/{id}"),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
        description: format!("subscription {id}"),
        created_by: "root".into(),
        created_at,
    }
}

fn webhook_event(event_type: &str, tenant_id: Option<&str>, subject: &str) -> OutboxEvent {
    OutboxEvent::new(
        event_type,
        tenant_id.map(str::to_owned),
        subject,
        serde_json::json!({ "subject": subject }),
    )
}

/// Writes `events` to the outbox the way the gate does: with a change.
async fn emit<S: GateStore>(store: &S, events: &[OutboxEvent]) {
    let repository = repo("unscanned/acme/webhooks");
    let digest = digest_of(events[0].id.as_bytes());
    store
        .record_push(&pushed("acme", &repository, &digest), &[], events)
        .await
        .unwrap();
}

/// Event ids of a subscription's deliveries, oldest first.
async fn delivered_events<S: crate::WebhookStore>(store: &S, subscription: &str) -> Vec<String> {
    let mut deliveries = store.deliveries(subscription, usize::MAX).await.unwrap();
    deliveries.reverse();
    deliveries.into_iter().map(|d| d.event.id).collect()
}

async fn sorted_due<S: crate::WebhookStore>(store: &S, now: OffsetDateTime) -> Vec<String> {
    let mut due = store.due_subscriptions(now).await.unwrap();
    due.sort();
    due
}

fn attempt(
    delivery: i64,
    number: u32,
    at: OffsetDateTime,
    status: Option<u16>,
    error: Option<&str>,
) -> crate::Attempt {
    crate::Attempt {
        delivery,
        number,
        at,
        status,
        latency_ms: 10 * u64::from(number),
        error: error.map(str::to_owned),
    }
}

/// Webhook subscriptions and deliveries: fan-out by tenant and event type,
/// in-order delivery per subscription with head-of-line hold, attempts and
/// their outcomes, soft deletion, redelivery and test events, each change
/// with its audit record.
pub async fn webhook_store<S: crate::WebhookStore + GateStore + AuditStore>(store: &S) {
    use crate::{AttemptOutcome, DeliveryState};

    // Whole seconds, so times survive any backend's precision.
    let now =
        OffsetDateTime::from_unix_timestamp(OffsetDateTime::now_utc().unix_timestamp()).unwrap();
    let later = now + Duration::minutes(1);
    let audit_before = all_records(store).await.len();

    // Subscriptions: two of acme (one filtered by type), one global, one
    // of another tenant.
    let acme_all = webhook_subscription("acme-all", Some("acme"), &[], now - Duration::seconds(4));
    let acme_pushed = webhook_subscription(
        "acme-pushed",
        Some("acme"),
        &["airlock.image.pushed"],
        now - Duration::seconds(3),
    );
    let global = webhook_subscription("global", None, &[], now - Duration::seconds(2));
    let other = webhook_subscription("other", Some("other"), &[], now - Duration::seconds(1));
    for subscription in [&acme_all, &acme_pushed, &global, &other] {
        store
            .create_subscription(subscription, &change("webhook.create", &subscription.id))
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .create_subscription(&acme_all, &change("webhook.create", "acme-all"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.subscription("acme-all").await.unwrap(),
        Some(acme_all.clone())
    );
    assert_eq!(store.subscription("nope").await.unwrap(), None);
    assert_eq!(
        store.subscriptions(Some(&tenant("acme"))).await.unwrap(),
        vec![acme_all.clone(), acme_pushed.clone()]
    );
    assert_eq!(
        store.subscriptions(None).await.unwrap(),
        vec![
            acme_all.clone(),
            acme_pushed.clone(),
            global.clone(),
            other.clone()
        ]
    );

    // Fan-out: tenant, global and event-type filters, oldest event first,
    // `limit` events at a time, each event only once.
    let pushed_event = webhook_event("airlock.image.pushed", Some("acme"), "acme/app@1");
    let scanned_event = webhook_event("airlock.scan.completed", Some("acme"), "acme/app@1");
    let other_event = webhook_event("airlock.image.pushed", Some("other"), "other/app@1");
    let tenantless_event = webhook_event("airlock.vulndb.updated", None, "vulndb");
    emit(store, &[pushed_event.clone(), scanned_event.clone()]).await;
    emit(store, &[other_event.clone(), tenantless_event.clone()]).await;
    assert_eq!(undelivered(store).await.len(), 4);
    assert_eq!(
        store.due_subscriptions(later).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.fan_out(2, now).await.unwrap(), 2);
    assert_eq!(
        undelivered(store).await,
        vec![other_event.id.clone(), tenantless_event.id.clone()]
    );
    assert_eq!(store.fan_out(100, now).await.unwrap(), 2);
    assert_eq!(store.fan_out(100, now).await.unwrap(), 0);
    assert!(undelivered(store).await.is_empty());
    assert_eq!(
        delivered_events(store, "acme-all").await,
        vec![pushed_event.id.clone(), scanned_event.id.clone()]
    );
    assert_eq!(
        delivered_events(store, "acme-pushed").await,
        vec![pushed_event.id.clone()]
    );
    assert_eq!(
        delivered_events(store, "global").await,
        vec![
            pushed_event.id.clone(),
            scanned_event.id.clone(),
            other_event.id.clone(),
            tenantless_event.id.clone()
        ]
    );
    assert_eq!(
        delivered_events(store, "other").await,
        vec![other_event.id.clone()]
    );
    let newest = store.deliveries("global", 1).await.unwrap();
    assert_eq!(newest.len(), 1);
    assert_eq!(newest[0].event.id, tenantless_event.id);
    assert_eq!(newest[0].event.tenant, None);
    assert_eq!(newest[0].event.event_type, "airlock.vulndb.updated");
    assert_eq!(newest[0].event.subject, "vulndb");
    assert_eq!(
        newest[0].event.data,
        serde_json::json!({ "subject": "vulndb" })
    );
    assert_eq!(newest[0].state, DeliveryState::Pending);
    assert_eq!(newest[0].attempts, 0);
    assert_eq!(newest[0].created_at, now);
    assert_eq!(newest[0].next_attempt_at, now);
    assert_eq!(newest[0].last_status, None);
    assert_eq!(newest[0].finished_at, None);

    // Due at `now`, not before.
    assert_eq!(
        sorted_due(store, now).await,
        vec!["acme-all", "acme-pushed", "global", "other"]
    );
    assert!(
        store
            .due_subscriptions(now - Duration::seconds(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .next_delivery("acme-all", now - Duration::seconds(1))
            .await
            .unwrap(),
        None
    );

    // In order; a failed attempt scheduled for later holds back the rest of
    // its subscription, not another subscription.
    let first = store.next_delivery("acme-all", now).await.unwrap().unwrap();
    assert_eq!(first.subscription, "acme-all");
    assert_eq!(first.event.id, pushed_event.id);
    let failed = attempt(first.id, 1, now, Some(500), Some("receiver answered 500"));
    store
        .record_attempt(&failed, AttemptOutcome::Retry(later))
        .await
        .unwrap();
    assert_eq!(store.next_delivery("acme-all", now).await.unwrap(), None);
    assert_eq!(
        sorted_due(store, now).await,
        vec!["acme-pushed", "global", "other"]
    );
    let global_first = store.next_delivery("global", now).await.unwrap().unwrap();
    assert_eq!(global_first.event.id, pushed_event.id);
    let retried = store
        .next_delivery("acme-all", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retried.id, first.id);
    assert_eq!(retried.state, DeliveryState::Pending);
    assert_eq!(retried.attempts, 1);
    assert_eq!(retried.next_attempt_at, later);
    assert_eq!(retried.last_status, Some(500));
    assert_eq!(retried.last_error.as_deref(), Some("receiver answered 500"));
    assert!(
        sorted_due(store, later)
            .await
            .contains(&"acme-all".to_owned())
    );

    // Delivered: the next one comes up; the attempt log keeps both.
    let succeeded = attempt(first.id, 2, later, Some(204), None);
    store
        .record_attempt(&succeeded, AttemptOutcome::Delivered)
        .await
        .unwrap();
    assert_eq!(
        store.attempts(first.id).await.unwrap(),
        vec![failed.clone(), succeeded.clone()]
    );
    assert!(matches!(
        store
            .record_attempt(&succeeded, AttemptOutcome::Delivered)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let done = store.deliveries("acme-all", usize::MAX).await.unwrap();
    let done = done.iter().find(|d| d.id == first.id).unwrap();
    assert_eq!(done.state, DeliveryState::Delivered);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.last_status, Some(204));
    assert_eq!(done.last_error, None);
    assert!(done.finished_at.is_some());
    let second = store.next_delivery("acme-all", now).await.unwrap().unwrap();
    assert_eq!(second.event.id, scanned_event.id);

    // Dead: nothing left for the subscription.
    let gave_up = attempt(second.id, 1, now, None, Some("timed out"));
    store
        .record_attempt(&gave_up, AttemptOutcome::Dead)
        .await
        .unwrap();
    assert_eq!(store.next_delivery("acme-all", later).await.unwrap(), None);
    assert!(
        !sorted_due(store, later)
            .await
            .contains(&"acme-all".to_owned())
    );
    let dead = &store.deliveries("acme-all", 1).await.unwrap()[0];
    assert_eq!(dead.id, second.id);
    assert_eq!(dead.state, DeliveryState::Dead);
    assert_eq!(dead.last_status, None);
    assert_eq!(dead.last_error.as_deref(), Some("timed out"));
    assert!(dead.finished_at.is_some());
    assert_eq!(store.attempts(second.id).await.unwrap(), vec![gave_up]);
    assert!(store.attempts(-1).await.unwrap().is_empty());
    assert!(matches!(
        store
            .record_attempt(&attempt(-1, 1, now, None, None), AttemptOutcome::Dead)
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Delete: hidden, its pending deliveries dead, its log still readable,
    // no new deliveries.
    store
        .delete_subscription("global", &change("webhook.delete", "global"))
        .await
        .unwrap();
    assert_eq!(store.subscription("global").await.unwrap(), None);
    assert_eq!(
        store.subscriptions(None).await.unwrap(),
        vec![acme_all.clone(), acme_pushed.clone(), other.clone()]
    );
    let global_log = store.deliveries("global", usize::MAX).await.unwrap();
    assert_eq!(global_log.len(), 4);
    for delivery in &global_log {
        assert_eq!(delivery.state, DeliveryState::Dead);
        assert_eq!(delivery.last_error.as_deref(), Some("subscription deleted"));
        assert!(delivery.finished_at.is_some());
    }
    assert_eq!(store.next_delivery("global", later).await.unwrap(), None);
    assert!(
        !sorted_due(store, later)
            .await
            .contains(&"global".to_owned())
    );
    assert!(matches!(
        store
            .delete_subscription("global", &change("webhook.delete", "global"))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let after_delete = webhook_event("airlock.vulndb.updated", None, "vulndb-2");
    emit(store, std::slice::from_ref(&after_delete)).await;
    assert_eq!(store.fan_out(100, now).await.unwrap(), 1);
    assert_eq!(
        store.deliveries("global", usize::MAX).await.unwrap().len(),
        4
    );

    // Redeliver: a new pending delivery per live subscription that had it.
    let again = store
        .redeliver(
            &pushed_event.id,
            later,
            &change("webhook.redeliver", &pushed_event.id),
        )
        .await
        .unwrap();
    let mut again_subscriptions: Vec<&str> =
        again.iter().map(|d| d.subscription.as_str()).collect();
    again_subscriptions.sort_unstable();
    assert_eq!(again_subscriptions, vec!["acme-all", "acme-pushed"]);
    for delivery in &again {
        assert_eq!(delivery.event.id, pushed_event.id);
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(delivery.attempts, 0);
        assert_eq!(delivery.next_attempt_at, later);
        assert!(delivery.id > second.id);
    }
    let redelivered = store
        .next_delivery("acme-all", later)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(redelivered.event.id, pushed_event.id);
    assert!(store.attempts(redelivered.id).await.unwrap().is_empty());
    assert_eq!(store.next_delivery("acme-all", now).await.unwrap(), None);
    assert!(matches!(
        store
            .redeliver("no-such-event", later, &change("webhook.redeliver", "x"))
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Test event: stored as already fanned out, queued for one
    // subscription only.
    let test_event = webhook_event("airlock.webhook.test", Some("other"), "webhook/other");
    let queued = store
        .enqueue_test("other", &test_event, &change("webhook.test", "other"))
        .await
        .unwrap();
    assert_eq!(queued.subscription, "other");
    assert_eq!(queued.state, DeliveryState::Pending);
    assert_eq!(queued.event.id, test_event.id);
    assert_eq!(queued.event.event_type, "airlock.webhook.test");
    assert_eq!(queued.event.subject, "webhook/other");
    assert_eq!(queued.event.data, test_event.data);
    assert!(undelivered(store).await.is_empty());
    assert_eq!(store.fan_out(100, now).await.unwrap(), 0);
    assert_eq!(
        delivered_events(store, "other").await,
        vec![other_event.id.clone(), test_event.id.clone()]
    );
    assert_eq!(
        delivered_events(store, "acme-all").await,
        vec![
            pushed_event.id.clone(),
            scanned_event.id.clone(),
            pushed_event.id.clone()
        ]
    );
    for missing in ["global", "nope"] {
        let event = webhook_event("airlock.webhook.test", None, missing);
        assert!(matches!(
            store
                .enqueue_test(missing, &event, &change("webhook.test", missing))
                .await,
            Err(StoreError::NotFound(_))
        ));
    }

    // Every change wrote its audit record, refused ones none.
    let records = all_records(store).await;
    let actions: Vec<(String, String)> = records[audit_before..]
        .iter()
        .map(|r| (r.event.action.clone(), r.event.target.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("webhook.create", "acme-all"),
        ("webhook.create", "acme-pushed"),
        ("webhook.create", "global"),
        ("webhook.create", "other"),
        ("webhook.delete", "global"),
        ("webhook.redeliver", pushed_event.id.as_str()),
        ("webhook.test", "other"),
    ]
    .iter()
    .map(|(a, t)| ((*a).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(actions, expected);
    airlock_audit::verify(records).expect("chain verifies");
}

fn finding_row(
    id: &str,
    aliases: &[&str],
    package: &str,
    severity: u8,
    fixed: &[&str],
) -> crate::FindingRow {
    crate::FindingRow {
        vulnerability: id.into(),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        ecosystem: "Debian:12".into(),
        package: package.into(),
        version: "1.0".into(),
        fixed_versions: fixed.iter().map(|f| (*f).to_owned()).collect(),
        severity,
        cvss: Some(7.5),
        summary: Some(format!("{id} in {package}")),
        platform: None,
    }
}

/// Records a pushed image and decides it with `findings` and a verdict
/// whose effective counts are `counts` (critical, high, medium, low, unknown).
async fn decided_image<S: GateStore>(
    store: &S,
    tenant_id: &str,
    name: &str,
    findings: Vec<crate::FindingRow>,
    counts: [u64; 5],
) -> i64 {
    let repository = repo(&format!("unscanned/{tenant_id}/{name}"));
    let (image, _) = store
        .record_push(
            &pushed(tenant_id, &repository, &digest_of(name.as_bytes())),
            &[],
            &[],
        )
        .await
        .unwrap();
    let [critical, high, medium, low, unknown] = counts;
    store
        .transition(&Transition {
            verdict: Some(serde_json::json!({
                "passed": true,
                "counts": { "critical": critical, "high": high, "medium": medium,
                            "low": low, "unknown": unknown },
            })),
            findings: Some(findings),
            ..Transition::new(image.id, ImageState::Received, ImageState::Passed)
        })
        .await
        .unwrap();
    image.id
}

/// The dashboard's queries: images filtered by tenant, state, repository,
/// severity, vulnerability (id or alias), package and push time, sorted and
/// paged with a total; findings joined with their image; streams that
/// yield what the pages do; and a decision that replaces an image's rows.
pub async fn search_store<S: GateStore + crate::SearchStore>(store: &S) {
    use crate::{FindingQuery, ImageQuery, ImageSort, ImageSortKey};

    let all = |query: ImageQuery| ImageQuery {
        limit: usize::MAX,
        ..query
    };
    let ids = |page: &(Vec<crate::ImageSummary>, u64)| -> Vec<i64> {
        page.0.iter().map(|i| i.id).collect()
    };

    let app = decided_image(
        store,
        "acme",
        "app",
        vec![
            finding_row("GHSA-1", &["CVE-1"], "openssl", 3, &["1.1"]),
            finding_row("CVE-2", &[], "zlib", 1, &[]),
        ],
        [0, 1, 0, 1, 0],
    )
    .await;
    // Its only finding is excepted: rows stay, counts are the verdict's.
    let web = decided_image(
        store,
        "acme",
        "web",
        vec![finding_row("CVE-3", &[], "libc", 4, &["2.0"])],
        [0, 0, 0, 0, 0],
    )
    .await;
    let api = decided_image(
        store,
        "globex",
        "api",
        vec![finding_row("GHSA-9", &["CVE-1"], "openssl", 4, &["1.1"])],
        [1, 0, 0, 0, 0],
    )
    .await;
    let (idle, _) = store
        .record_push(
            &pushed("acme", &repo("unscanned/acme/idle"), &digest_of(b"idle")),
            &[],
            &[],
        )
        .await
        .unwrap();
    let idle = idle.id;

    // No filter: newest push first, with the total.
    let everything = store
        .search_images(&all(ImageQuery::default()))
        .await
        .unwrap();
    assert_eq!(ids(&everything), vec![idle, api, web, app]);
    assert_eq!(everything.1, 4);
    let summary = everything.0.iter().find(|i| i.id == app).unwrap();
    assert_eq!(summary.tenant, tenant("acme"));
    assert_eq!(summary.repository, repo("unscanned/acme/app"));
    assert_eq!(summary.state, ImageState::Passed);
    assert_eq!(summary.pushed_by.as_deref(), Some("alice"));
    assert_eq!(summary.counts.high, 1);
    assert_eq!(summary.counts.low, 1);
    assert_eq!(summary.max_severity, Some(3));
    assert!(summary.scanned_at.is_some());
    let never_decided = everything.0.iter().find(|i| i.id == idle).unwrap();
    assert_eq!(never_decided.scanned_at, None);
    assert_eq!(never_decided.max_severity, None);
    let excepted = everything.0.iter().find(|i| i.id == web).unwrap();
    assert_eq!(excepted.max_severity, None);
    assert!(excepted.scanned_at.is_some());

    // Paging keeps the total.
    let page = store
        .search_images(&ImageQuery {
            offset: 1,
            limit: 2,
            ..ImageQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((ids(&page), page.1), (vec![api, web], 4));

    // Tenants: a list narrows, an empty list sees nothing.
    let acme = Some(vec![tenant("acme")]);
    let mine = store
        .search_images(&all(ImageQuery {
            tenants: acme.clone(),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!((ids(&mine), mine.1), (vec![idle, web, app], 3));
    let none = store
        .search_images(&all(ImageQuery {
            tenants: Some(Vec::new()),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!((ids(&none), none.1), (vec![], 0));

    // A CVE finds the GHSA records aliased to it, in every visible tenant.
    let cve = |tenants: Option<Vec<TenantId>>, id: &str| ImageQuery {
        tenants,
        vulnerability: Some(id.into()),
        ..all(ImageQuery::default())
    };
    assert_eq!(
        ids(&store.search_images(&cve(None, "CVE-1")).await.unwrap()),
        vec![api, app]
    );
    assert_eq!(
        ids(&store
            .search_images(&cve(acme.clone(), "CVE-1"))
            .await
            .unwrap()),
        vec![app]
    );
    assert_eq!(
        ids(&store.search_images(&cve(None, "GHSA-9")).await.unwrap()),
        vec![api]
    );
    assert_eq!(
        ids(&store.search_images(&cve(None, "cve-1")).await.unwrap()),
        Vec::<i64>::new(),
        "ids match exactly"
    );

    // Package, severity, state, repository and push time.
    let by_package = store
        .search_images(&all(ImageQuery {
            package: Some("openssl".into()),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(ids(&by_package), vec![api, app]);
    let severe = store
        .search_images(&all(ImageQuery {
            min_severity: Some(3),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(
        ids(&severe),
        vec![api, app],
        "the excepted critical does not count"
    );
    let passed = store
        .search_images(&all(ImageQuery {
            state: Some(ImageState::Received),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(ids(&passed), vec![idle]);
    let named = store
        .search_images(&all(ImageQuery {
            repository_contains: Some("acme/we".into()),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(ids(&named), vec![web]);
    let future = OffsetDateTime::now_utc() + Duration::hours(1);
    let later = store
        .search_images(&all(ImageQuery {
            pushed_after: Some(future),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(later.1, 0);
    let earlier = store
        .search_images(&all(ImageQuery {
            pushed_before: Some(future),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(earlier.1, 4);

    // Sorting.
    let sorted = |key, descending| {
        all(ImageQuery {
            sort: ImageSort { key, descending },
            ..ImageQuery::default()
        })
    };
    assert_eq!(
        ids(&store
            .search_images(&sorted(ImageSortKey::Severity, true))
            .await
            .unwrap()),
        vec![api, app, idle, web]
    );
    assert_eq!(
        ids(&store
            .search_images(&sorted(ImageSortKey::Repository, false))
            .await
            .unwrap()),
        vec![app, idle, web, api]
    );
    assert_eq!(
        ids(&store
            .search_images(&sorted(ImageSortKey::Pushed, false))
            .await
            .unwrap()),
        vec![app, web, api, idle]
    );

    // Findings, joined with their image: newest image first, most severe first.
    let findings = |query: FindingQuery| FindingQuery {
        limit: usize::MAX,
        ..query
    };
    let (hits, total) = store
        .search_findings(&findings(FindingQuery {
            vulnerability: Some("CVE-1".into()),
            ..FindingQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(total, 2);
    let found: Vec<(i64, &str, &str)> = hits
        .iter()
        .map(|h| {
            (
                h.image_id,
                h.tenant.as_str(),
                h.finding.vulnerability.as_str(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![(api, "globex", "GHSA-9"), (app, "acme", "GHSA-1")]
    );
    assert_eq!(hits[1].repository, repo("unscanned/acme/app"));
    assert_eq!(
        hits[1].finding,
        finding_row("GHSA-1", &["CVE-1"], "openssl", 3, &["1.1"])
    );
    let (own, total) = store
        .search_findings(&findings(FindingQuery {
            tenants: acme.clone(),
            vulnerability: Some("CVE-1".into()),
            ..FindingQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!((own.len(), total), (1, 1));
    let (of_app, _) = store
        .search_findings(&findings(FindingQuery {
            image_id: Some(app),
            ..FindingQuery::default()
        }))
        .await
        .unwrap();
    let names: Vec<&str> = of_app
        .iter()
        .map(|h| h.finding.vulnerability.as_str())
        .collect();
    assert_eq!(names, vec!["GHSA-1", "CVE-2"]);
    let (fixable, total) = store
        .search_findings(&findings(FindingQuery {
            image_id: Some(app),
            fixable_only: true,
            ..FindingQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!((fixable.len(), total), (1, 1));
    let (critical, _) = store
        .search_findings(&findings(FindingQuery {
            min_severity: Some(4),
            package: Some("libc".into()),
            ..FindingQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].image_id, web);
    let (paged, total) = store
        .search_findings(&FindingQuery {
            offset: 1,
            limit: 1,
            ..FindingQuery::default()
        })
        .await
        .unwrap();
    assert_eq!((paged.len(), total), (1, 4));

    // Streams yield exactly what the pages do, and honour the limit.
    let streamed: Vec<crate::ImageSummary> = store
        .stream_images(&all(ImageQuery::default()))
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(streamed, everything.0);
    let first_two: Vec<_> = store
        .stream_images(&ImageQuery {
            limit: 2,
            ..ImageQuery::default()
        })
        .collect()
        .await;
    assert_eq!(first_two.len(), 2);
    let streamed_hits: Vec<crate::FindingHit> = store
        .stream_findings(&findings(FindingQuery {
            vulnerability: Some("CVE-1".into()),
            ..FindingQuery::default()
        }))
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(streamed_hits, hits);

    // A transition without findings leaves the rows; a re-evaluation with
    // findings replaces them and the counts.
    store
        .transition(&Transition::new(
            app,
            ImageState::Passed,
            ImageState::Promoted,
        ))
        .await
        .unwrap();
    assert_eq!(
        ids(&store.search_images(&cve(None, "CVE-1")).await.unwrap()),
        vec![api, app]
    );
    store
        .transition(&Transition {
            verdict: Some(serde_json::json!({ "counts": { "low": 1 } })),
            findings: Some(vec![finding_row("CVE-2", &[], "zlib", 1, &[])]),
            ..Transition::new(app, ImageState::Promoted, ImageState::Promoted)
        })
        .await
        .unwrap();
    assert_eq!(
        ids(&store.search_images(&cve(None, "CVE-1")).await.unwrap()),
        vec![api]
    );
    let (reevaluated, _) = store
        .search_images(&all(ImageQuery {
            state: Some(ImageState::Promoted),
            ..ImageQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!(reevaluated.len(), 1);
    assert_eq!(reevaluated[0].max_severity, Some(1));
    assert_eq!(reevaluated[0].counts.high, 0);
    let (rows, total) = store
        .search_findings(&findings(FindingQuery {
            image_id: Some(app),
            ..FindingQuery::default()
        }))
        .await
        .unwrap();
    assert_eq!((rows.len(), total), (1, 1));
}

/// Named leases: one holder at a time, renewable by its holder, taken over
/// only after expiry, released at once.
pub async fn lease_store<S: crate::LeaseStore>(store: &S) {
    use std::time::Duration as StdDuration;
    let now = OffsetDateTime::now_utc();
    let ttl = StdDuration::from_secs(30);
    assert_eq!(store.lease_holder("gc").await.unwrap(), None);
    assert!(store.acquire_lease("gc", "a", ttl, now).await.unwrap());
    assert!(
        !store.acquire_lease("gc", "b", ttl, now).await.unwrap(),
        "a live lease is not taken over"
    );
    assert!(
        store
            .acquire_lease("gc", "a", ttl, now + Duration::seconds(10))
            .await
            .unwrap(),
        "the holder renews its lease"
    );
    let (holder, until) = store.lease_holder("gc").await.unwrap().unwrap();
    assert_eq!(holder, "a");
    assert!(
        until >= now + Duration::seconds(39),
        "renewal moved the expiry"
    );
    assert!(
        !store
            .acquire_lease("gc", "b", ttl, now + Duration::seconds(30))
            .await
            .unwrap(),
        "still live after the renewal"
    );
    assert!(
        store
            .acquire_lease("gc", "b", ttl, now + Duration::seconds(41))
            .await
            .unwrap(),
        "an expired lease is taken over"
    );
    assert!(
        !store
            .acquire_lease("gc", "a", ttl, now + Duration::seconds(42))
            .await
            .unwrap(),
        "the old holder lost it"
    );
    assert!(
        store.acquire_lease("other", "a", ttl, now).await.unwrap(),
        "leases are independent by name"
    );
    store.release_lease("gc", "a").await.unwrap();
    assert_eq!(
        store.lease_holder("gc").await.unwrap().map(|(h, _)| h),
        Some("b".to_owned()),
        "releasing someone else's lease does nothing"
    );
    store.release_lease("gc", "b").await.unwrap();
    assert_eq!(store.lease_holder("gc").await.unwrap(), None);
    assert!(
        store.acquire_lease("gc", "c", ttl, now).await.unwrap(),
        "a released lease is free at once"
    );

    // Concurrent contenders: exactly one wins.
    let contenders = futures::future::join_all((0..8).map(|i| async move {
        store
            .acquire_lease("race", &format!("h{i}"), ttl, now)
            .await
            .unwrap()
    }))
    .await;
    assert_eq!(contenders.iter().filter(|won| **won).count(), 1);
}
