//! Multi-platform images: the index is the gated unit. Its platform
//! manifests, pushed by digest first, are covered by it rather than scanned
//! and promoted on their own; one vulnerable platform rejects the whole
//! index.

use airlock_oci::{Digest, Reference, media_type};
use airlock_store::ImageState;
use serde_json::json;

use crate::fakes::{CLEAN_PACKAGE, VULNERABLE_PACKAGE};
use crate::{Pushed, Stack, count, image_digest, repo, report, tag};

const APP: &str = "unscanned/acme/multi";
const SCANNED: &str = "scanned/acme/multi";

struct MultiArch {
    index: Digest,
    children: Vec<Pushed>,
}

/// Pushes two platform images by digest, then an index of them as `:1.0`,
/// with the runner answering one report per platform for the index.
async fn push_multi_arch(stack: &Stack, seed: &str, arm_packages: &[&str]) -> MultiArch {
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        children.push(stack.push_image(APP, None, &format!("{seed}-{arch}")).await);
    }
    let content = json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": children.iter().zip(["amd64", "arm64"]).map(|(child, arch)| json!({
            "mediaType": media_type::OCI_MANIFEST,
            "digest": child.digest.to_string(),
            "size": child.content.len(),
            "platform": { "os": "linux", "architecture": arch },
        })).collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes();
    let index = Digest::sha256_of(&content);
    stack.runner.reports(
        &index,
        vec![
            report(&[CLEAN_PACKAGE], Some("linux/amd64")),
            report(arm_packages, Some("linux/arm64")),
        ],
    );
    stack
        .put_manifest(&repo(APP), Some("1.0"), media_type::OCI_INDEX, content)
        .await;
    MultiArch { index, children }
}

#[tokio::test]
async fn one_vulnerable_platform_rejects_the_whole_index() {
    let stack = Stack::new().await;
    let pushed = push_multi_arch(&stack, "vulnerable", &[VULNERABLE_PACKAGE]).await;
    stack.settle().await;

    let index = stack.image(APP, &pushed.index).await;
    assert_eq!(index.state, ImageState::Rejected);
    assert_eq!(index.reason.as_deref(), Some("policy"));
    let failures = &index.verdict.as_ref().unwrap()["failures"];
    assert_eq!(
        failures[0]["findings"][0]["platform"], "linux/arm64",
        "{failures}"
    );
    assert_eq!(stack.runner.calls(&pushed.index), 1);
    let request = stack.runner.requests().pop().expect("one scan request");
    assert_eq!(request.digest, pushed.index);
    assert_eq!(
        request.manifests.len(),
        3,
        "the index and both platform manifests are handed to the scan"
    );
    assert_eq!(stack.resolve(SCANNED, &tag("1.0")).await, None);
    assert_eq!(
        stack
            .resolve(SCANNED, &Reference::Digest(pushed.index.clone()))
            .await,
        None
    );
    for child in &pushed.children {
        let image = stack.image(APP, &child.digest).await;
        assert_eq!(image.state, ImageState::Covered, "not promoted on its own");
        assert_eq!(
            stack.runner.calls(&child.digest),
            0,
            "not scanned on its own"
        );
        assert_eq!(
            stack
                .resolve(SCANNED, &Reference::Digest(child.digest.clone()))
                .await,
            None
        );
        for blob in &child.blobs {
            assert!(
                stack
                    .registry
                    .blob_size(&repo(SCANNED), blob)
                    .await
                    .is_err(),
                "a blob of a rejected index is in scanned/"
            );
        }
        let types = stack.event_types(&child.digest).await;
        assert_eq!(count(&types, "airlock.image.promoted"), 0, "{types:?}");
    }
}

#[tokio::test]
async fn a_clean_index_is_promoted_with_its_platform_manifests() {
    let stack = Stack::new().await;
    let pushed = push_multi_arch(&stack, "clean", &[CLEAN_PACKAGE]).await;
    stack.settle().await;

    let index = stack.image(APP, &pushed.index).await;
    assert_eq!(index.state, ImageState::Promoted);
    assert_eq!(
        stack.resolve(SCANNED, &tag("1.0")).await,
        Some(pushed.index.clone())
    );
    for child in &pushed.children {
        assert_eq!(
            stack
                .resolve(SCANNED, &Reference::Digest(child.digest.clone()))
                .await,
            Some(child.digest.clone())
        );
        for blob in &child.blobs {
            stack
                .registry
                .blob_size(&repo(SCANNED), blob)
                .await
                .expect("the platform's blobs are in scanned/");
        }
        assert_eq!(
            stack.image(APP, &child.digest).await.state,
            ImageState::Covered
        );
    }
    assert_eq!(stack.runner.total_calls(), 1, "one scan for the index");
    assert_eq!(image_digest("clean-amd64"), pushed.children[0].digest);
}
