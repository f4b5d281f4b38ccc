//! `/ui/audit`: the audit log for auditors and admins. Newest first,
//! filtered by actor, action, tenant, outcome and dates, with the filters
//! in the URL so a view can be shared; the status of the hash chain; and
//! `/ui/audit/export`, the same search as CSV or JSON Lines, streamed.
//!
//! Everyone else gets the service's refusal (403), which the service
//! audits. The export is here rather than a link to `GET /api/v1/audit`
//! because that one filters by time, tenant and action only; both are
//! [`Accounts::export_audit`](airlock_accounts::Accounts::export_audit),
//! read a page at a time.

use airlock_accounts::{AccountsError, AuditChainStatus};
use airlock_audit::{AuditRecord, ExportFormat, Outcome};
use airlock_store::{AuditCursor, AuditFilter, AuditSearch};
use askama::Template;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::{Date, Duration, Time};

use super::images::Choice;
use super::{Chrome, UiSession, error_page, render, show_time};
use crate::AppState;

/// Records per page.
const PAGE_SIZE: usize = 50;

/// The filter state, as it appears in the URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct AuditQuery {
    /// Who acted (a user, robot or system name), exactly.
    #[serde(default)]
    actor: String,
    /// An action, or a prefix of dotted actions (`user` for `user.*`).
    #[serde(default)]
    action: String,
    /// A tenant, exactly.
    #[serde(default)]
    tenant: String,
    /// `success`, `failure` or `denied`.
    #[serde(default)]
    outcome: String,
    /// From this day on (`YYYY-MM-DD`, UTC).
    #[serde(default)]
    from: String,
    /// Up to this day, included.
    #[serde(default)]
    to: String,
    /// Only records older than this seq (the next page).
    before: Option<u64>,
    /// `csv` or `jsonl` (the export).
    #[serde(default)]
    format: String,
}

fn trimmed(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

fn day(name: &str, text: &str) -> Result<Option<Date>, AccountsError> {
    let Some(text) = trimmed(text) else {
        return Ok(None);
    };
    Date::parse(
        &text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(Some)
    .map_err(|_| AccountsError::Invalid(format!("{name} must be a date like 2026-05-01")))
}

impl AuditQuery {
    /// The search the filters describe.
    fn search(&self) -> Result<AuditSearch, AccountsError> {
        let outcome = trimmed(&self.outcome)
            .map(|o| {
                o.parse::<Outcome>()
                    .map_err(|e| AccountsError::Invalid(e.to_string()))
            })
            .transpose()?;
        let since = day("from", &self.from)?.map(|d| d.with_time(Time::MIDNIGHT).assume_utc());
        let until = day("to", &self.to)?
            .map(|d| d.with_time(Time::MIDNIGHT).assume_utc() + Duration::days(1));
        Ok(AuditSearch {
            filter: AuditFilter {
                since,
                until,
                tenant: trimmed(&self.tenant),
                action: trimmed(&self.action),
            },
            actor: trimmed(&self.actor),
            outcome,
        })
    }

    /// The filters as URL pairs.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("actor", &self.actor),
            ("action", &self.action),
            ("tenant", &self.tenant),
            ("outcome", &self.outcome),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(name, value)| trimmed(value).map(|v| (name, v)))
        .collect()
    }

    fn href(&self, path: &str, extra: Option<(&'static str, String)>) -> String {
        let mut pairs = self.pairs();
        pairs.extend(extra);
        if pairs.is_empty() {
            return path.to_owned();
        }
        format!(
            "{path}?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }

    fn export_href(&self, format: ExportFormat) -> String {
        let mut pairs = vec![("format", format.as_str().to_owned())];
        pairs.extend(self.pairs());
        format!(
            "/ui/audit/export?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }
}

/// One record as listed.
struct Row {
    seq: u64,
    time: String,
    actor: String,
    actor_kind: &'static str,
    action: String,
    target: String,
    tenant: String,
    outcome: &'static str,
    reason: String,
}

impl From<AuditRecord> for Row {
    fn from(r: AuditRecord) -> Row {
        Row {
            seq: r.seq,
            time: show_time(r.time),
            actor: r.event.actor.name,
            actor_kind: r.event.actor.kind.as_str(),
            action: r.event.action,
            target: r.event.target,
            tenant: r.event.tenant.unwrap_or_default(),
            outcome: r.event.outcome.as_str(),
            reason: r.event.reason.unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    actor: String,
    action: String,
    tenant: String,
    outcomes: Vec<Choice>,
    from: String,
    to: String,
    error: Option<String>,
    chain: AuditChainStatus,
    rows: Vec<Row>,
    newest: Option<String>,
    older: Option<String>,
    export_csv: String,
    export_jsonl: String,
}

/// `GET /ui/audit`.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<AuditQuery>,
) -> Response {
    let chrome = Chrome::of(&session, "/ui/audit");
    let (search, error) = match query.search() {
        Ok(search) => (Some(search), None),
        Err(error) => (None, Some(error)),
    };
    let before = query.before.unwrap_or(u64::MAX);
    let mut rows = Vec::new();
    if let Some(search) = &search {
        rows = match state
            .accounts
            .search_audit(
                &session.operator,
                &session.request,
                search,
                AuditCursor::Before(before),
                PAGE_SIZE + 1,
            )
            .await
        {
            Ok(records) => records,
            Err(error) => return error_page(&chrome, &error),
        };
    }
    let has_older = rows.len() > PAGE_SIZE;
    rows.truncate(PAGE_SIZE);
    let chain = match state
        .accounts
        .verify_audit_chain(&session.operator, &session.request)
        .await
    {
        Ok(chain) => chain,
        Err(error) => return error_page(&chrome, &error),
    };
    let older = rows
        .last()
        .filter(|_| has_older)
        .map(|last| query.href("/ui/audit", Some(("before", last.seq.to_string()))));
    let newest = query.before.map(|_| query.href("/ui/audit", None));
    let mut outcomes = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: query.outcome.trim().is_empty(),
    }];
    outcomes.extend(Outcome::ALL.iter().map(|o| Choice {
        value: o.as_str().to_owned(),
        label: o.as_str().to_owned(),
        selected: query.outcome.trim() == o.as_str(),
    }));
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &AuditPage {
            chrome,
            actor: query.actor.trim().to_owned(),
            action: query.action.trim().to_owned(),
            tenant: query.tenant.trim().to_owned(),
            outcomes,
            from: query.from.trim().to_owned(),
            to: query.to.trim().to_owned(),
            error: error.map(|e| super::form_error(&e)),
            chain,
            rows: rows.into_iter().map(Row::from).collect(),
            newest,
            older,
            export_csv: query.export_href(ExportFormat::Csv),
            export_jsonl: query.export_href(ExportFormat::Jsonl),
        },
    )
}

/// `GET /ui/audit/export?format=csv|jsonl&<filters>`: the filtered log,
/// oldest first, streamed as a download.
pub(crate) async fn export(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<AuditQuery>,
) -> Response {
    let chrome = Chrome::of(&session, "/ui/audit");
    let format = match query.format.trim() {
        "" | "csv" => ExportFormat::Csv,
        "jsonl" => ExportFormat::Jsonl,
        other => {
            let error = AccountsError::Invalid(format!(
                "unknown export format {other:?}: use csv or jsonl"
            ));
            return error_page(&chrome, &error);
        }
    };
    let search = match query.search() {
        Ok(search) => search,
        Err(error) => return error_page(&chrome, &error),
    };
    let stream = match state
        .accounts
        .export_audit(&session.operator, &session.request, search, format)
        .await
    {
        Ok(stream) => stream,
        Err(error) => return error_page(&chrome, &error),
    };
    let (content_type, file) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "audit.csv"),
        ExportFormat::Jsonl => ("application/x-ndjson", "audit.jsonl"),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
