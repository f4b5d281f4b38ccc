//! `GET /ui/vulnerabilities`: "which of our images have CVE-X?". Findings
//! across the tenants the user may see, searched by vulnerability id or
//! alias, package and severity (optionally only fixable ones), with the
//! affected image and the fixed versions, paged, with the filter state in
//! the URL and the same list exportable as CSV or JSON.

use airlock_accounts::FindingSearch;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::images::{Choice, detail_href, short_digest};
use super::{Chrome, UiSession, error_page, render};
use crate::AppState;

/// Rows per page.
const PAGE_SIZE: u64 = 100;

/// The filter state, as it appears in the URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct VulnerabilitiesQuery {
    /// A vulnerability id or alias, exactly.
    #[serde(default)]
    cve: String,
    /// A package name, exactly.
    #[serde(default)]
    package: String,
    /// At least this severity (`low` ... `critical`).
    #[serde(default)]
    severity: String,
    /// `on`: only findings with a fixed version.
    #[serde(default)]
    fixable: String,
    /// Only this tenant.
    #[serde(default)]
    tenant: String,
    /// The page, from 1.
    page: Option<u64>,
}

fn trimmed(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

impl VulnerabilitiesQuery {
    fn page(&self) -> u64 {
        self.page.unwrap_or(1).max(1)
    }

    fn fixable(&self) -> bool {
        !self.fixable.trim().is_empty()
    }

    fn search(&self) -> FindingSearch {
        FindingSearch {
            tenant: trimmed(&self.tenant),
            vulnerability: trimmed(&self.cve),
            package: trimmed(&self.package),
            min_severity: trimmed(&self.severity),
            fixable: self.fixable().then_some(true),
            image: None,
            page: Some(self.page()),
            per_page: Some(PAGE_SIZE),
        }
    }

    /// The filters as URL pairs, with `extra` appended.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("cve", &self.cve),
            ("package", &self.package),
            ("severity", &self.severity),
            ("tenant", &self.tenant),
        ]
        .into_iter()
        .filter_map(|(name, value)| trimmed(value).map(|v| (name, v)))
        .chain(self.fixable().then(|| ("fixable", "on".to_owned())))
        .collect()
    }

    fn href(&self, page: u64) -> String {
        let mut pairs = self.pairs();
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        format!(
            "/ui/vulnerabilities?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }

    /// The API export of the whole filtered list in `format`.
    fn export_href(&self, format: &str) -> String {
        let search = self.search();
        let pairs: Vec<(&str, String)> = [
            ("format", Some(format.to_owned())),
            ("tenant", search.tenant),
            ("vulnerability", search.vulnerability),
            ("package", search.package),
            ("min_severity", search.min_severity),
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
}

/// One affected image.
pub(crate) struct Row {
    pub(crate) vulnerability: String,
    pub(crate) aliases: String,
    pub(crate) severity: String,
    pub(crate) cvss: String,
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) fixed: String,
    pub(crate) tenant: String,
    pub(crate) repository: String,
    pub(crate) short_digest: String,
    pub(crate) state: String,
    pub(crate) href: String,
}

#[derive(Template)]
#[template(path = "vulnerabilities.html")]
struct VulnerabilitiesPage {
    chrome: Chrome,
    cve: String,
    package: String,
    severities: Vec<Choice>,
    fixable: bool,
    tenant: String,
    searched: bool,
    rows: Vec<Row>,
    total: u64,
    previous: Option<String>,
    next: Option<String>,
    export_csv: String,
    export_json: String,
}

/// `GET /ui/vulnerabilities`.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<VulnerabilitiesQuery>,
) -> Response {
    let chrome = Chrome::of(&session, "/ui/vulnerabilities");
    let searched = !query.pairs().is_empty();
    let (rows, total) = if searched {
        match state
            .accounts
            .search_findings(&session.operator, &query.search())
            .await
        {
            Ok(found) => (found.items, found.total),
            Err(error) => return error_page(&chrome, &error),
        }
    } else {
        (Vec::new(), 0)
    };
    let rows: Vec<Row> = rows
        .into_iter()
        .map(|f| Row {
            href: detail_href(&f.tenant, &f.digest, &f.repository),
            short_digest: short_digest(&f.digest),
            vulnerability: f.vulnerability,
            aliases: f.aliases.join(", "),
            severity: f.severity,
            cvss: f.cvss.map(|c| format!("{c:.1}")).unwrap_or_default(),
            package: f.package,
            version: f.version,
            fixed: f.fixed_versions.join(", "),
            tenant: f.tenant,
            repository: f.repository,
            state: f.state,
        })
        .collect();
    let mut severities = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: query.severity.trim().is_empty(),
    }];
    severities.extend(
        ["critical", "high", "medium", "low"]
            .iter()
            .map(|s| Choice {
                value: (*s).to_owned(),
                label: format!("{s} or worse"),
                selected: query.severity.trim() == *s,
            }),
    );
    let number = query.page();
    let shown = (number - 1) * PAGE_SIZE + rows.len() as u64;
    render(
        StatusCode::OK,
        &VulnerabilitiesPage {
            chrome,
            cve: query.cve.trim().to_owned(),
            package: query.package.trim().to_owned(),
            severities,
            fixable: query.fixable(),
            tenant: query.tenant.trim().to_owned(),
            searched,
            rows,
            total,
            previous: (number > 1).then(|| query.href(number - 1)),
            next: (shown < total).then(|| query.href(number + 1)),
            export_csv: query.export_href("csv"),
            export_json: query.export_href("json"),
        },
    )
}
