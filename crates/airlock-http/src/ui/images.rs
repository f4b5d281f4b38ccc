//! `GET /ui/images`: every image the signed-in user may see, filtered by
//! tenant, state, repository text, minimum severity, vulnerability id (or
//! alias), package and push date, sorted and paginated, with the whole
//! filter state in the URL (so a view can be bookmarked, shared and
//! reloaded) and exports of the same filtered list as CSV and JSON.
//!
//! The data comes from [`Accounts::search_images`], which limits the search
//! to the tenants the user may see; the page only renders what it returns.

use airlock_accounts::{Accounts, AccountsError, ImageItem, ImageSearch, Operator};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, UiSession, error_page, render};
use crate::AppState;

/// Rows per page.
const PAGE_SIZE: u64 = 50;

/// The filter state, as it appears in the URL.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ImagesQuery {
    /// Only this tenant; empty for every visible one.
    #[serde(default)]
    tenant: String,
    /// Only this state; empty for all.
    #[serde(default)]
    state: String,
    /// Repositories containing this text.
    #[serde(default)]
    q: String,
    /// Images with a finding at least this severe (`low` ... `critical`).
    #[serde(default)]
    severity: String,
    /// Images with this vulnerability (id or alias, exactly).
    #[serde(default)]
    cve: String,
    /// Images with a finding in this package (name, exactly).
    #[serde(default)]
    package: String,
    /// Pushed on or after this day (`YYYY-MM-DD`).
    #[serde(default)]
    from: String,
    /// Pushed before the end of this day (`YYYY-MM-DD`).
    #[serde(default)]
    to: String,
    /// The sort column, `-` first for descending (default `-pushed`).
    #[serde(default)]
    sort: String,
    /// The page, from 1.
    page: Option<u64>,
}

/// The columns the list sorts by: `(key, label)`.
const SORTS: &[(&str, &str)] = &[
    ("repository", "Repository"),
    ("severity", "Findings"),
    ("pushed", "Pushed"),
    ("updated", "Last change"),
];

/// The severities the filter offers, most severe first.
const SEVERITIES: &[&str] = &["critical", "high", "medium", "low"];

fn trimmed(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

/// A `YYYY-MM-DD` day as the RFC 3339 start of that day (UTC).
fn day_start(day: &str) -> Option<String> {
    let date = time::Date::parse(
        day,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?;
    Some(format!("{date}T00:00:00Z"))
}

/// The RFC 3339 start of the day after `day`.
fn day_end(day: &str) -> Option<String> {
    let date = time::Date::parse(
        day,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()?
    .next_day()?;
    Some(format!("{date}T00:00:00Z"))
}

impl ImagesQuery {
    fn tenant(&self) -> Option<&str> {
        trimmed(&self.tenant)
    }

    fn state(&self) -> Option<&str> {
        trimmed(&self.state)
    }

    /// The sort column and whether it is descending; unknown columns fall
    /// back to the newest pushes first.
    fn sort(&self) -> (&'static str, bool) {
        let (descending, key) = match self.sort.strip_prefix('-') {
            Some(key) => (true, key),
            None => (false, self.sort.as_str()),
        };
        SORTS
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(("pushed", true), |(k, _)| (k, descending))
    }

    fn page(&self) -> u64 {
        self.page.unwrap_or(1).max(1)
    }

    /// The search this listing asks for.
    fn search(&self) -> ImageSearch {
        let (sort, descending) = self.sort();
        ImageSearch {
            tenant: self.tenant().map(str::to_owned),
            q: trimmed(&self.q).map(str::to_owned),
            state: self.state().map(str::to_owned),
            min_severity: trimmed(&self.severity).map(str::to_owned),
            vulnerability: trimmed(&self.cve).map(str::to_owned),
            package: trimmed(&self.package).map(str::to_owned),
            pushed_after: trimmed(&self.from).and_then(day_start),
            pushed_before: trimmed(&self.to).and_then(day_end),
            sort: Some(sort.to_owned()),
            order: Some(if descending { "desc" } else { "asc" }.to_owned()),
            page: Some(self.page()),
            per_page: Some(PAGE_SIZE),
        }
    }

    /// The filters as `(name, value)` pairs of this page's URL.
    fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("tenant", &self.tenant),
            ("state", &self.state),
            ("q", &self.q),
            ("severity", &self.severity),
            ("cve", &self.cve),
            ("package", &self.package),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter_map(|(name, value)| trimmed(value).map(|v| (name, v.to_owned())))
        .collect()
    }

    /// This listing's URL with another sort and page.
    fn href(&self, sort: &str, page: u64) -> String {
        let mut pairs = self.pairs();
        if sort != "-pushed" {
            pairs.push(("sort", sort.to_owned()));
        }
        if page > 1 {
            pairs.push(("page", page.to_string()));
        }
        let query = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        if query.is_empty() {
            "/ui/images".to_owned()
        } else {
            format!("/ui/images?{query}")
        }
    }

    /// The API export of this filtered list (every page) in `format`.
    fn export_href(&self, format: &str) -> String {
        let search = self.search();
        let pairs: Vec<(&str, String)> = [
            ("format", Some(format.to_owned())),
            ("tenant", search.tenant),
            ("q", search.q),
            ("state", search.state),
            ("min_severity", search.min_severity),
            ("vulnerability", search.vulnerability),
            ("package", search.package),
            ("pushed_after", search.pushed_after),
            ("pushed_before", search.pushed_before),
            ("sort", search.sort),
            ("order", search.order),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect();
        format!(
            "/api/v1/images/export?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }
}

/// One page of images, and what the filters can choose from.
pub(crate) struct ImagePage {
    /// The images of this page, in order.
    pub(crate) images: Vec<ImageItem>,
    /// How many images match in all.
    pub(crate) total: u64,
    /// The tenants the user may see.
    pub(crate) tenants: Vec<String>,
}

/// The images `operator` may see that match `query`.
pub(crate) async fn find_images(
    accounts: &Accounts,
    operator: &Operator,
    query: &ImagesQuery,
) -> Result<ImagePage, AccountsError> {
    let tenants: Vec<String> = accounts
        .tenants(operator)
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let found = accounts.search_images(operator, &query.search()).await?;
    Ok(ImagePage {
        images: found.items,
        total: found.total,
        tenants,
    })
}

/// An option of a filter's `<select>`.
pub(crate) struct Choice {
    pub(crate) value: String,
    pub(crate) label: String,
    pub(crate) selected: bool,
}

/// A sortable column header.
pub(crate) struct Column {
    pub(crate) label: &'static str,
    pub(crate) href: String,
    /// `ascending`, `descending` or `none`.
    pub(crate) aria_sort: &'static str,
}

/// Effective findings of one severity.
pub(crate) struct Count {
    pub(crate) name: &'static str,
    /// `C`, `H`, `M` or `L`.
    pub(crate) short: &'static str,
    pub(crate) count: u64,
}

/// One row of the list.
pub(crate) struct Row {
    pub(crate) tenant: String,
    pub(crate) repository: String,
    pub(crate) digest: String,
    pub(crate) short_digest: String,
    pub(crate) state: String,
    pub(crate) reason: String,
    pub(crate) pushed: String,
    pub(crate) pushed_by: String,
    pub(crate) updated: String,
    pub(crate) scanned: String,
    /// Effective findings per severity, most severe first.
    pub(crate) counts: Vec<Count>,
    pub(crate) href: String,
}

#[derive(Template)]
#[template(path = "images.html")]
struct ImagesPage {
    chrome: Chrome,
    tenants: Vec<Choice>,
    states: Vec<Choice>,
    severities: Vec<Choice>,
    text: String,
    cve: String,
    package: String,
    from: String,
    to: String,
    sort: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    total: u64,
    first: u64,
    last: u64,
    export_csv: String,
    export_json: String,
    previous: Option<String>,
    next: Option<String>,
}

/// `sha256:0123456789ab` of a digest: the algorithm and 12 hex digits.
pub(crate) fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algorithm, hex)) => format!("{algorithm}:{}", &hex[..hex.len().min(12)]),
        None => digest.to_owned(),
    }
}

/// A time as the dashboard shows it, in UTC to the minute.
pub(crate) fn when(at: time::OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// An RFC 3339 time from the search as the dashboard shows it.
fn when_text(at: &str) -> String {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(when)
        .unwrap_or_else(|_| at.to_owned())
}

/// The detail page of an image.
pub(crate) fn detail_href(tenant: &str, digest: &str, repository: &str) -> String {
    let query = serde_urlencoded::to_string([("repository", repository)]).unwrap_or_default();
    format!("/ui/images/{tenant}/{digest}?{query}")
}

/// `GET /ui/images`.
pub(crate) async fn list(
    State(state): State<AppState>,
    session: UiSession,
    Query(query): Query<ImagesQuery>,
) -> Response {
    let chrome = Chrome::of(&session, "/ui/images");
    let page = match find_images(&state.accounts, &session.operator, &query).await {
        Ok(page) => page,
        Err(error) => return error_page(&chrome, &error),
    };
    let (sort, descending) = query.sort();
    let current_sort = if descending {
        format!("-{sort}")
    } else {
        sort.to_owned()
    };
    let columns = SORTS
        .iter()
        .map(|(key, label)| {
            let (aria_sort, target) = match (*key == sort, descending) {
                (true, false) => ("ascending", format!("-{key}")),
                (true, true) => ("descending", (*key).to_owned()),
                (false, _) => ("none", (*key).to_owned()),
            };
            Column {
                label,
                href: query.href(&target, 1),
                aria_sort,
            }
        })
        .collect();
    let mut tenants = vec![Choice {
        value: String::new(),
        label: "All tenants".into(),
        selected: query.tenant().is_none(),
    }];
    tenants.extend(page.tenants.iter().map(|t| Choice {
        value: t.clone(),
        label: t.clone(),
        selected: query.tenant() == Some(t.as_str()),
    }));
    let mut severities = vec![Choice {
        value: String::new(),
        label: "Any".into(),
        selected: trimmed(&query.severity).is_none(),
    }];
    severities.extend(SEVERITIES.iter().map(|s| Choice {
        value: (*s).to_owned(),
        label: format!("{s} or worse"),
        selected: trimmed(&query.severity) == Some(*s),
    }));
    let mut states = vec![Choice {
        value: String::new(),
        label: "Any state".into(),
        selected: query.state().is_none(),
    }];
    states.extend(airlock_store::ImageState::ALL.iter().map(|s| Choice {
        value: s.as_str().to_owned(),
        label: s.as_str().to_owned(),
        selected: query.state() == Some(s.as_str()),
    }));
    let number = query.page();
    let first = ((number - 1) * PAGE_SIZE + 1).min(page.total);
    let last = ((number - 1) * PAGE_SIZE + page.images.len() as u64).min(page.total);
    let rows = page
        .images
        .iter()
        .map(|image| Row {
            tenant: image.tenant.clone(),
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            short_digest: short_digest(&image.digest),
            state: image.state.clone(),
            reason: image.reason.clone().unwrap_or_default(),
            pushed: when_text(&image.pushed_at),
            pushed_by: image.pushed_by.clone().unwrap_or_default(),
            updated: when_text(&image.updated_at),
            scanned: image
                .scanned_at
                .as_deref()
                .map(when_text)
                .unwrap_or_default(),
            counts: [
                ("critical", "C", image.critical),
                ("high", "H", image.high),
                ("medium", "M", image.medium),
                ("low", "L", image.low),
            ]
            .into_iter()
            .map(|(name, short, count)| Count { name, short, count })
            .collect(),
            href: detail_href(&image.tenant, &image.digest, &image.repository),
        })
        .collect();
    render(
        StatusCode::OK,
        &ImagesPage {
            chrome,
            tenants,
            states,
            severities,
            text: query.q.trim().to_owned(),
            cve: query.cve.trim().to_owned(),
            package: query.package.trim().to_owned(),
            from: query.from.trim().to_owned(),
            to: query.to.trim().to_owned(),
            export_csv: query.export_href("csv"),
            export_json: query.export_href("json"),
            sort: current_sort.clone(),
            columns,
            rows,
            total: page.total,
            first,
            last,
            previous: (number > 1).then(|| query.href(&current_sort, number - 1)),
            next: (last < page.total).then(|| query.href(&current_sort, number + 1)),
        },
    )
}
