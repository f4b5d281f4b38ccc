//! `GET /ui/images/{tenant}/{digest}`: one image's state timeline, the
//! verdict and its reasons in plain words, the top findings, the counts per
//! severity and links to the five report files of its latest scan.
//!
//! Everything shown comes from
//! [`Accounts::image_status`](airlock_accounts::Accounts::image_status), so
//! a user who may not read the tenant's gate gets the 403 page.

use airlock_accounts::{HistoryView, ImageStatusView, ImageView};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;

use super::images::{short_digest, when};
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

#[derive(Deserialize)]
pub(crate) struct DetailQuery {
    repository: Option<String>,
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

fn findings_of(verdict: Option<&Value>, image: &ImageView) -> Vec<FindingRow> {
    verdict
        .and_then(|v| v.get("top_findings"))
        .and_then(Value::as_array)
        .map(|findings| {
            findings
                .iter()
                .map(|f| FindingRow {
                    exception_href: format!(
                        "/ui/exceptions?{}#request",
                        serde_urlencoded::to_string([
                            ("tenant", image.tenant.as_str()),
                            ("vulnerability", &text(f, "id")),
                            ("repository", &image.repository),
                            ("digest", &image.digest),
                        ])
                        .unwrap_or_default()
                    ),
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
        findings: findings_of(status.verdict.as_ref(), image),
        counts: counts_of(status.verdict.as_ref()),
        reports,
        chrome,
    };
    render(StatusCode::OK, &page)
}
