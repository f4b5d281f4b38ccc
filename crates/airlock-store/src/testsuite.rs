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
    AuditFilter, AuditStore, BlobStore, ByteStream, IdentityStore, MetadataStore, NewManifest,
    PutManifestError, RobotRecord, StoreError, UploadSession,
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
}
