//! `GET /ui/images/{tenant}/{digest}`: one image's state timeline, the
//! verdict and its reasons in plain words, its findings (filterable by
//! severity and fixable, each with a link to request an exception), the
//! counts per severity, the tags it was given in `scanned/` over time, its
//! layers and packages, and links to the five report files of its latest
//! scan.
//!
//! Everything shown comes from the `Accounts` service as the signed-in
//! user ([`image_status`](airlock_accounts::Accounts::image_status), the
//! finding search, [`image_contents`](airlock_accounts::Accounts::image_contents)),
//! so a user who may not read the tenant's gate gets the 403 page.

use airlock_accounts::{FindingSearch, HistoryView, ImageStatusView, ImageView, PlatformContents};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::images::{Choice, short_digest, when};
use super::{Chrome, UiSession, error_page, render};
use crate::AppState;

/// The report files every decided scan leaves, in the order shown.
const REPORTS: &[(&str, &str)] = &[
    ("report.html", "Scan report (HTML)"),
    ("report.json", "Scan report (JSON)"),
    ("report.sarif", "SARIF"),
    ("sbom.cdx.json", "SBOM, CycloneDX"),
    ("sbom.spdx.json", "SBOM, SPDX"),
];

/// Severities from the worst, as the counts name them.
const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "unknown"];

/// Findings shown at most; the vulnerability search and the reports have
/// them all.
const FINDINGS_SHOWN: u64 = 500;

#[derive(Deserialize)]
pub(crate) struct DetailQuery {
    repository: Option<String>,
    /// Findings at least this severe.
    #[serde(default)]
    severity: String,
    /// `on`: only findings with a fixed version.
    #[serde(default)]
    fixable: String,
}

/// A promotion or a tag copied to `scanned/`.
pub(crate) struct TagStep {
    pub(crate) at: String,
    pub(crate) target: String,
    pub(crate) tags: String,
}

/// One step of the timeline.
pub(crate) struct Step {
    pub(crate) at: String,
    pub(crate) state: String,
    pub(crate) text: String,
}

/// One reason of the verdict.
pub(crate) struct Reason {
    pub(crate) rule: String,
    pub(crate) message: String,
    pub(crate) findings: Vec<String>,
}

/// One finding.
pub(crate) struct FindingRow {
    pub(crate) id: String,
    pub(crate) severity: String,
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) fixed: String,
    /// The exceptions page with its request form filled in for this finding.
    pub(crate) exception_href: String,
}

/// A count per severity.
pub(crate) struct Count {
    pub(crate) severity: &'static str,
    pub(crate) count: u64,
}

/// A report link.
pub(crate) struct ReportLink {
    pub(crate) label: &'static str,
    pub(crate) name: &'static str,
    pub(crate) href: String,
}

#[derive(Template)]
#[template(path = "image_detail.html")]
struct DetailPage {
    chrome: Chrome,
    tenant: String,
    repository: String,
    digest: String,
    short_digest: String,
    state: String,
    verdict: String,
    summary: String,
    pushed_by: String,
    pushed: String,
    updated: String,
    policy: String,
    steps: Vec<Step>,
    reasons: Vec<Reason>,
    findings: Vec<FindingRow>,
    counts: Vec<Count>,
    reports: Vec<ReportLink>,
    severities: Vec<Choice>,
    fixable: bool,
    filtered: bool,
    findings_total: u64,
    tag_history: Vec<TagStep>,
    platforms: Vec<PlatformContents>,
    export_csv: String,
    export_json: String,
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// What a step of the history means, in plain words.
fn describe(step: &HistoryView, repository: &str) -> String {
    let detail = &step.detail;
    match step.to.as_str() {
        "received" => match text(detail, "pusher") {
            pusher if pusher.is_empty() => format!("Pushed to {repository}."),
            pusher => format!("Pushed to {repository} by {pusher}."),
        },
        "queued" => "Queued for scanning.".into(),
        "scanning" => "Scan started.".into(),
        "passed" if detail.get("reevaluated").is_some() => {
            "Re-evaluated from its scan: the policy passes now (an exception or a policy changed)."
                .into()
        }
        "passed" => "Scanned: the policy passed.".into(),
        "failed" => "Scanned: the policy failed.".into(),
        "promoted" => match text(detail, "target") {
            target if target.is_empty() => "Promoted to the scanned zone.".into(),
            target => format!("Promoted to {target}."),
        },
        "rejected" => match text(detail, "reason").as_str() {
            "" | "policy" => "Rejected: the policy failed.".into(),
            "scan_error" => "Rejected: the image could not be scanned.".into(),
            "invalid_policy" => "Rejected: the policy in force is invalid.".into(),
            other => format!("Rejected ({other})."),
        },
        "covered" => "Covered by the index it belongs to; the index is gated.".into(),
        other => format!("Now {other}."),
    }
}

/// The verdict in one word, and a sentence.
fn verdict_of(status: &ImageStatusView) -> (String, String) {
    let passed = status
        .verdict
        .as_ref()
        .and_then(|v| v.get("passed"))
        .and_then(Value::as_bool);
    match (status.image.state.as_str(), passed) {
        ("rejected", _) => (
            "rejected".into(),
            "This image was rejected and will not be promoted.".into(),
        ),
        ("promoted", _) => (
            "promoted".into(),
            "This image passed the policy and was promoted.".into(),
        ),
        (_, Some(true)) => ("passed".into(), "The policy passed.".into()),
        (_, Some(false)) => ("failed".into(), "The policy failed.".into()),
        (state, None) => (
            "pending".into(),
            format!("No verdict yet: the image is {state}."),
        ),
    }
}

fn reasons_of(status: &ImageStatusView) -> Vec<Reason> {
    status
        .reasons
        .iter()
        .map(|reason| Reason {
            rule: text(reason, "rule"),
            message: text(reason, "message"),
            findings: reason
                .get("findings")
                .and_then(Value::as_array)
                .map(|findings| {
                    findings
                        .iter()
                        .map(|f| {
                            let mut line = format!(
                                "{} in {} {}",
                                text(f, "id"),
                                text(f, "package"),
                                text(f, "version")
                            );
                            let severity = text(f, "severity");
                            if !severity.is_empty() {
                                line.push_str(&format!(" ({severity})"));
                            }
                            let fixed = list(f.get("fixed_versions"));
                            if !fixed.is_empty() {
                                line.push_str(&format!(", fixed in {fixed}"));
                            }
                            line
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

fn list(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The API export of the image's findings as filtered on the page.
fn findings_export(search: &FindingSearch, format: &str) -> String {
    let pairs: Vec<(&str, String)> = [
        ("format", Some(format.to_owned())),
        ("tenant", search.tenant.clone()),
        ("image", search.image.map(|i| i.to_string())),
        ("min_severity", search.min_severity.clone()),
        ("fixable", search.fixable.map(|f| f.to_string())),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect();
    format!(
        "/api/v1/vulnerabilities/export?{}",
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    )
}

/// The exceptions page with its request form filled in for `vulnerability`
/// in this image.
fn exception_href(image: &ImageView, vulnerability: &str) -> String {
    format!(
        "/ui/exceptions?{}#request",
        serde_urlencoded::to_string([
            ("tenant", image.tenant.as_str()),
            ("vulnerability", vulnerability),
            ("repository", &image.repository),
            ("digest", &image.digest),
        ])
        .unwrap_or_default()
    )
}

/// The promotions and the tags copied to `scanned/` after, oldest first.
fn tag_history(status: &ImageStatusView) -> Vec<TagStep> {
    status
        .history
        .iter()
        .filter(|step| step.to == "promoted")
        .map(|step| {
            let tags = match step.detail.get("tags").and_then(Value::as_array) {
                Some(tags) => tags
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                None => text(&step.detail, "tag"),
            };
            let target = match text(&step.detail, "target") {
                target if target.is_empty() => {
                    status
                        .image
                        .repository
                        .replacen("unscanned/", "scanned/", 1)
                }
                target => target,
            };
            TagStep {
                at: when(step.at),
                target,
                tags: if tags.is_empty() {
                    "(by digest only)".to_owned()
                } else {
                    tags
                },
            }
        })
        .collect()
}

fn findings_of(verdict: Option<&Value>, image: &ImageView) -> Vec<FindingRow> {
    verdict
        .and_then(|v| v.get("top_findings"))
        .and_then(Value::as_array)
        .map(|findings| {
            findings
                .iter()
                .map(|f| FindingRow {
                    exception_href: exception_href(image, &text(f, "id")),
                    id: text(f, "id"),
                    severity: text(f, "severity").to_lowercase(),
                    package: text(f, "package"),
                    version: text(f, "installed_version"),
                    fixed: list(f.get("fixed_versions")),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn counts_of(verdict: Option<&Value>) -> Vec<Count> {
    let counts = verdict.and_then(|v| v.get("counts"));
    SEVERITIES
        .iter()
        .map(|severity| Count {
            severity,
            count: counts
                .and_then(|c| c.get(*severity))
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
        .collect()
}

/// `GET /ui/images/{tenant}/{digest}`.
pub(crate) async fn show(
    State(state): State<AppState>,
    session: UiSession,
    Path((tenant, digest)): Path<(String, String)>,
    Query(query): Query<DetailQuery>,
) -> Response {
    let chrome = Chrome::of(&session, "/ui/images");
    let status = match state
        .accounts
        .image_status(
            &session.operator,
            &tenant,
            &digest,
            query.repository.as_deref(),
        )
        .await
    {
        Ok(status) => status,
        Err(error) => return error_page(&chrome, &error),
    };
    let image = &status.image;
    let (verdict, summary) = verdict_of(&status);
    let pushed_by = status
        .history
        .iter()
        .map(|step| text(&step.detail, "pusher"))
        .find(|pusher| !pusher.is_empty())
        .unwrap_or_default();
    let policy = image
        .policy
        .as_ref()
        .map(|p| match (&p.tenant, p.version) {
            (None, 0) => "the built-in default policy".to_owned(),
            (None, version) => format!("the global policy, version {version}"),
            (Some(t), version) => format!("the policy of {t}, version {version}"),
        })
        .unwrap_or_default();
    let reports = if status.verdict.is_some() {
        REPORTS
            .iter()
            .map(|(name, label)| ReportLink {
                label,
                name,
                href: format!(
                    "/api/v1/tenants/{}/images/{}/reports/{name}",
                    image.tenant, image.digest
                ),
            })
            .collect()
    } else {
        Vec::new()
    };
    let fixable = !query.fixable.trim().is_empty();
    let severity = query.severity.trim().to_owned();
    let filtered = fixable || !severity.is_empty();
    let search = FindingSearch {
        tenant: Some(image.tenant.clone()),
        image: Some(status.id),
        min_severity: Some(severity.clone()).filter(|s| !s.is_empty()),
        fixable: fixable.then_some(true),
        per_page: Some(FINDINGS_SHOWN),
        ..FindingSearch::default()
    };
    let (findings, findings_total) = match state
        .accounts
        .search_findings(&session.operator, &search)
        .await
    {
        Ok(found) if found.total > 0 || filtered => {
            let rows = found
                .items
                .into_iter()
                .map(|f| FindingRow {
                    exception_href: exception_href(image, &f.vulnerability),
                    id: f.vulnerability,
                    severity: f.severity,
                    package: f.package,
                    version: f.version,
                    fixed: f.fixed_versions.join(", "),
                })
                .collect();
            (rows, found.total)
        }
        // Not in the findings index (decided before it existed): the
        // verdict's top findings.
        Ok(_) => {
            let rows = findings_of(status.verdict.as_ref(), image);
            let total = rows.len() as u64;
            (rows, total)
        }
        Err(error) => return error_page(&chrome, &error),
    };
    let mut severities = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: severity.is_empty(),
    }];
    severities.extend(
        ["critical", "high", "medium", "low"]
            .iter()
            .map(|s| Choice {
                value: (*s).to_owned(),
                label: format!("{s} or worse"),
                selected: severity == *s,
            }),
    );
    let platforms = match state
        .accounts
        .image_contents(&session.operator, &image.tenant, &image.digest)
        .await
    {
        Ok(platforms) => platforms,
        Err(error) => return error_page(&chrome, &error),
    };
    let page = DetailPage {
        tenant: image.tenant.clone(),
        repository: image.repository.clone(),
        digest: image.digest.clone(),
        short_digest: short_digest(&image.digest),
        state: image.state.clone(),
        verdict,
        summary,
        pushed_by,
        pushed: when(image.created_at),
        updated: when(image.updated_at),
        policy,
        steps: status
            .history
            .iter()
            .map(|step| Step {
                at: when(step.at),
                state: step.to.clone(),
                text: describe(step, &image.repository),
            })
            .collect(),
        reasons: reasons_of(&status),
        findings,
        severities,
        fixable,
        filtered,
        findings_total,
        tag_history: tag_history(&status),
        platforms,
        export_csv: findings_export(&search, "csv"),
        export_json: findings_export(&search, "json"),
        counts: counts_of(status.verdict.as_ref()),
        reports,
        chrome,
    };
    render(StatusCode::OK, &page)
}
