//! What every decided scan leaves behind (DESIGN §6): the five report files
//! in the object store, and, on promotion, the SBOM and the scan report
//! attached to the image as OCI referrers.
//!
//! Reports are written *before* the decision commits and recorded in the
//! same transaction as the decision, so a decision never points at reports
//! that are not there; a crash in between leaves unreferenced files only.

use std::sync::Arc;

use airlock_audit::{Actor, AuditEvent};
use airlock_auth::{TenantId, ZonedRepo};
use airlock_oci::{Digest, Reference, RepoName, media_type};
use airlock_report::ReportContext;
use airlock_report::image::{
    IMAGE_REPORT_SCHEMA_VERSION, ImageReport, REPORT_FILES, ReportImage, ReportPolicy,
    ReportReason, ReportVerdict, render_all, report_file,
};
use airlock_scan_model::ScanReport;
use airlock_store::{
    BlobStore, Database, ImageRecord, NewManifest, PutManifestError, ScanReportRecord, StoreError,
};
use bytes::Bytes;
use serde_json::json;
use time::OffsetDateTime;

use crate::Gate;
use crate::GateError;
use crate::service::Evaluation;

/// Where reports go and how links to them are built.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    /// The object store for report files.
    pub store: Arc<dyn airlock_store::ReportStore>,
    /// The blob store, for the referrer artifacts attached on promotion.
    pub blobs: Arc<dyn BlobStore>,
    /// The externally reachable base URL (`https://registry.example`),
    /// for absolute links in events.
    pub external_url: String,
}

/// The artifact type of the scan-report referrer.
pub const SCAN_REPORT_ARTIFACT_TYPE: &str = "application/vnd.airlock.scan-report.v1+json";
/// The artifact type of the SBOM referrer.
pub const SBOM_ARTIFACT_TYPE: &str = "application/vnd.cyclonedx+json";
/// The OCI empty descriptor's content, used as the artifacts' config.
const EMPTY_CONFIG: &[u8] = b"{}";

/// The object-store prefix of one scan's reports, ending in `/`:
/// `reports/<tenant>/<name>/<digest>/<scan-id>/`, where `<name>` is the
/// repository inside the tenant.
pub fn report_prefix(
    tenant: &TenantId,
    repository: &RepoName,
    digest: &Digest,
    scan_id: &str,
) -> String {
    let name = ZonedRepo::parse(repository.as_str())
        .map(|zoned| zoned.name)
        .unwrap_or_else(|_| repository.to_string());
    format!("reports/{tenant}/{name}/{digest}/{scan_id}/")
}

/// Absolute links to a scan's report files, by file name.
pub fn report_links(
    external_url: &str,
    tenant: &TenantId,
    digest: &Digest,
    scan_id: &str,
) -> serde_json::Value {
    let base = external_url.trim_end_matches('/');
    let links: serde_json::Map<String, serde_json::Value> = REPORT_FILES
        .iter()
        .map(|file| {
            (
                file.name.to_owned(),
                json!(format!(
                    "{base}/api/v1/tenants/{tenant}/images/{digest}/reports/{}?scan={scan_id}",
                    file.name
                )),
            )
        })
        .collect();
    serde_json::Value::Object(links)
}

/// Stores `content` as a blob visible in `repository`.
async fn put_blob(
    db: &dyn Database,
    blobs: &Arc<dyn BlobStore>,
    repository: &RepoName,
    content: Bytes,
) -> Result<(Digest, u64), StoreError> {
    let digest = Digest::sha256_of(&content);
    let size = content.len() as u64;
    if db.blob(repository, &digest).await?.is_some() {
        return Ok((digest, size));
    }
    let publish = {
        let blobs = blobs.clone();
        let digest = digest.clone();
        Box::pin(async move { blobs.put(&digest, content).await })
    };
    db.commit_blob(repository, &digest, publish).await?;
    Ok((digest, size))
}

/// One file of a scan to attach to its image as a referrer.
pub(crate) struct Attachment {
    /// The artifact type (and the layer's media type).
    pub artifact_type: &'static str,
    /// The report file name, as the layer title.
    pub name: &'static str,
    /// Its bytes.
    pub content: Bytes,
}

/// The image a set of attachments refers to.
pub(crate) struct Subject<'a> {
    /// The repository to store the referrers in (the image's own).
    pub repository: &'a RepoName,
    /// The image manifest's digest, media type and size.
    pub digest: &'a Digest,
    /// Its media type.
    pub media_type: &'a str,
    /// Its size in bytes.
    pub size: u64,
}

/// Stores each attachment as an OCI artifact manifest whose `subject` is
/// the image, so the referrers API lists it. Idempotent: the same report
/// bytes make the same manifests.
pub(crate) async fn attach(
    db: &dyn Database,
    blobs: &Arc<dyn BlobStore>,
    subject: &Subject<'_>,
    scan_id: &str,
    attachments: Vec<Attachment>,
    actor: Actor,
) -> Result<Vec<Digest>, StoreError> {
    // The blobs first, concurrently (each is a round trip to the object
    // store); then the manifests that name them, in order.
    let config = put_blob(
        db,
        blobs,
        subject.repository,
        Bytes::from_static(EMPTY_CONFIG),
    );
    let layers = futures::future::try_join_all(
        attachments
            .iter()
            .map(|a| put_blob(db, blobs, subject.repository, a.content.clone())),
    );
    let ((config, config_size), layers) = futures::future::try_join(config, layers).await?;
    let mut digests = Vec::new();
    for (attachment, (layer, layer_size)) in attachments.into_iter().zip(layers) {
        let annotations = json!({
            "io.airlock.scan-id": scan_id,
            "org.opencontainers.image.title": attachment.name,
        });
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "artifactType": attachment.artifact_type,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": config.to_string(),
                "size": config_size,
                "data": "e30=",
            },
            "layers": [{
                "mediaType": attachment.artifact_type,
                "digest": layer.to_string(),
                "size": layer_size,
                "annotations": { "org.opencontainers.image.title": attachment.name },
            }],
            "subject": {
                "mediaType": subject.media_type,
                "digest": subject.digest.to_string(),
                "size": subject.size,
            },
            "annotations": annotations,
        });
        let content = serde_json::to_vec(&manifest)
            .map_err(|e| StoreError::backend("serialise a referrer manifest", e))?;
        let digest = Digest::sha256_of(&content);
        let new = NewManifest {
            digest: digest.clone(),
            media_type: media_type::OCI_MANIFEST.to_owned(),
            content,
            subject: Some(subject.digest.clone()),
            artifact_type: Some(attachment.artifact_type.to_owned()),
            annotations: Some(annotations.to_string()),
            blobs: vec![config.clone(), layer],
            children: Vec::new(),
        };
        let audit = AuditEvent::new(
            actor.clone(),
            "manifest.push",
            format!("{}@{digest}", subject.repository),
        )
        .details(json!({ "artifact_type": attachment.artifact_type, "subject": subject.digest.to_string() }));
        db.put_manifest(subject.repository, &new, None, &audit)
            .await
            .map_err(|e| match e {
                PutManifestError::Store(e) => e,
                other => StoreError::Conflict(other.to_string()),
            })?;
        digests.push(digest);
    }
    Ok(digests)
}

/// The files attached on promotion, read back from the object store.
pub(crate) async fn attachments(
    store: &dyn airlock_store::ReportStore,
    prefix: &str,
) -> Result<Vec<Attachment>, StoreError> {
    let reads = [
        (SBOM_ARTIFACT_TYPE, "sbom.cdx.json"),
        (SCAN_REPORT_ARTIFACT_TYPE, "report.json"),
    ]
    .map(|(artifact_type, name)| async move {
        debug_assert!(report_file(name).is_some());
        let content = store
            .get(&format!("{prefix}{name}"))
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("report {prefix}{name}")))?;
        Ok::<_, StoreError>(Attachment {
            artifact_type,
            name,
            content,
        })
    });
    futures::future::try_join_all(reads).await
}

/// The most severe findings across platforms, each (id, package, version)
/// once, as events and the dashboard show them.
pub(crate) fn top_findings(reports: &[ScanReport], limit: usize) -> serde_json::Value {
    let mut findings: Vec<&airlock_scan_model::Finding> =
        reports.iter().flat_map(|r| r.findings.iter()).collect();
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.name.cmp(&b.package.name))
    });
    findings.dedup_by(|a, b| {
        a.id == b.id && a.package.name == b.package.name && a.package.version == b.package.version
    });
    let top: Vec<serde_json::Value> = findings
        .into_iter()
        .take(limit)
        .map(|f| {
            json!({
                "id": f.id,
                "package": f.package.name,
                "ecosystem": f.package.ecosystem,
                "installed_version": f.package.version,
                "fixed_versions": f.fixed_versions,
                "severity": f.severity,
            })
        })
        .collect();
    json!(top)
}

/// Every finding of the matched reports, one row per platform, for the
/// dashboard's queries (written with the decision or re-evaluation).
pub(crate) fn finding_rows(reports: &[ScanReport]) -> Vec<airlock_store::FindingRow> {
    use airlock_scan_model::Severity;
    let mut rows = Vec::new();
    for report in reports {
        let platform = report
            .inventory
            .artifact
            .platform
            .as_ref()
            .map(|p| match &p.variant {
                Some(variant) => format!("{}/{}/{variant}", p.os, p.architecture),
                None => format!("{}/{}", p.os, p.architecture),
            });
        for finding in &report.findings {
            rows.push(airlock_store::FindingRow {
                vulnerability: finding.id.clone(),
                aliases: finding.aliases.clone(),
                ecosystem: finding.package.ecosystem.clone(),
                package: finding.package.name.clone(),
                version: finding.package.version.clone(),
                fixed_versions: finding.fixed_versions.clone(),
                severity: match finding.severity {
                    Severity::Unknown => 0,
                    Severity::Low => 1,
                    Severity::Medium => 2,
                    Severity::High => 3,
                    Severity::Critical => 4,
                },
                cvss: finding.cvss_score,
                summary: finding.summary.clone(),
                platform: platform.clone(),
            });
        }
    }
    rows
}

/// The event data of a decision, from the stored verdict: the verdict and
/// counts, the deciding rules, the top findings and the report links.
pub(crate) fn decision_data(
    verdict: Option<&serde_json::Value>,
    tags: &[String],
) -> serde_json::Value {
    let field = |name: &str| {
        verdict
            .and_then(|v| v.get(name))
            .cloned()
            .unwrap_or(serde_json::Value::Null)
    };
    let reasons: Vec<serde_json::Value> = verdict
        .and_then(|v| v.get("failures"))
        .and_then(serde_json::Value::as_array)
        .map(|failures| {
            failures
                .iter()
                .map(|f| json!({ "rule": f.get("rule"), "message": f.get("message") }))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "tags": tags,
        "verdict": {
            "passed": field("passed").as_bool().unwrap_or(false),
            "counts": field("counts"),
            "reasons": reasons,
        },
        "policy": field("policy"),
        "top_findings": field("top_findings"),
        "scan_id": field("scan_id"),
        "reports": field("reports"),
    })
}

impl Gate {
    /// Renders and stores the five report files of a decided scan; `None`
    /// when the gate has no report output configured.
    pub(crate) async fn write_reports(
        &self,
        image: &ImageRecord,
        evaluation: &Evaluation,
    ) -> Result<Option<ScanReportRecord>, GateError> {
        let Some(output) = &self.reports else {
            return Ok(None);
        };
        let scan_id = uuid::Uuid::now_v7();
        let now = OffsetDateTime::now_utc();
        let verdict = &evaluation.verdict;
        let report = ImageReport {
            schema_version: IMAGE_REPORT_SCHEMA_VERSION,
            scan_id: scan_id.to_string(),
            image: ReportImage {
                tenant: image.tenant.to_string(),
                repository: image.repository.to_string(),
                digest: image.digest.to_string(),
                media_type: image.media_type.clone(),
                tags: self.tags_of(image).await?,
                pusher: image.pushed_by.clone(),
                pushed_at: Some(image.created_at),
            },
            scanned_at: now,
            verdict: ReportVerdict {
                passed: evaluation.passed,
                reasons: verdict
                    .get("failures")
                    .and_then(serde_json::Value::as_array)
                    .map(|failures| failures.iter().map(reason).collect())
                    .unwrap_or_default(),
                counts: verdict
                    .get("counts")
                    .and_then(|c| serde_json::from_value(c.clone()).ok())
                    .unwrap_or_default(),
                excepted: verdict
                    .get("excepted")
                    .and_then(serde_json::Value::as_array)
                    .map(|items| items.iter().map(excepted).collect())
                    .unwrap_or_default(),
            },
            policy: ReportPolicy {
                tenant: evaluation.policy.tenant.clone(),
                version: evaluation.policy.version,
            },
            vulnerability_data_age_seconds: evaluation.data_age.map(|d| d.as_secs()),
            platforms: evaluation.reports.clone(),
        };
        let context = ReportContext {
            document_id: scan_id,
            ..ReportContext::fixed(now, scan_id)
        };
        let files = tokio::task::spawn_blocking(move || render_all(&report, &context))
            .await
            .map_err(|e| StoreError::backend("render reports", e))?
            .map_err(|e| StoreError::backend("render reports", e))?;
        let prefix = report_prefix(
            &image.tenant,
            &image.repository,
            &image.digest,
            &scan_id.to_string(),
        );
        // The five files are independent objects: write them concurrently.
        let store = output.store.as_ref();
        futures::future::try_join_all(files.into_iter().map(|(file, text)| {
            let key = format!("{prefix}{}", file.name);
            async move { store.put(&key, Bytes::from(text)).await }
        }))
        .await?;
        Ok(Some(ScanReportRecord {
            scan_id: scan_id.to_string(),
            image_id: image.id,
            tenant: image.tenant.clone(),
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            prefix,
            passed: evaluation.passed,
            created_at: now,
        }))
    }

    /// Attaches the SBOM and scan report of the image's latest scan to it
    /// as referrers, in its own repository, so promotion copies them along.
    pub(crate) async fn attach_reports(&self, image: &ImageRecord) -> Result<(), GateError> {
        let Some(output) = &self.reports else {
            return Ok(());
        };
        let Some(latest) = self
            .db
            .scan_reports(&image.tenant, &image.digest)
            .await?
            .into_iter()
            .next()
        else {
            return Ok(());
        };
        let Some(manifest) = self
            .db
            .manifest(&image.repository, &Reference::Digest(image.digest.clone()))
            .await?
        else {
            return Ok(());
        };
        let attachments = attachments(output.store.as_ref(), &latest.prefix).await?;
        let subject = Subject {
            repository: &image.repository,
            digest: &image.digest,
            media_type: &manifest.media_type,
            size: manifest.content.len() as u64,
        };
        attach(
            self.db.as_ref(),
            &output.blobs,
            &subject,
            &latest.scan_id,
            attachments,
            Actor::system("promoter"),
        )
        .await?;
        Ok(())
    }
}

fn reason(failure: &serde_json::Value) -> ReportReason {
    let text = |name: &str| {
        failure
            .get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    ReportReason {
        rule: text("rule"),
        message: text("message"),
    }
}

fn excepted(item: &serde_json::Value) -> String {
    let text = |name: &str| {
        item.get(name)
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
    };
    format!("{} {}", text("id"), text("package"))
        .trim()
        .to_owned()
}
