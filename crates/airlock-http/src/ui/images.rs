//! `GET /ui/images`: every image the signed-in user may see, filtered by
//! tenant, state and a repository text search, sorted and paginated, with
//! the whole filter state in the URL (so a view can be bookmarked, shared
//! and reloaded).
//!
//! The data comes from [`find_images`] alone; the page only renders what
//! it returns, so a richer search (vulnerabilities, packages, counts per
//! severity) replaces that one function.

use airlock_accounts::{Accounts, AccountsError, ImageFilter, ImageView, Operator};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, UiSession, error_page, render};
use crate::AppState;

/// Rows per page.
const PAGE_SIZE: usize = 50;
/// The most images read per tenant for one listing.
const PER_TENANT_LIMIT: usize = 1000;

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
    /// The sort column, `-` first for descending (default `-pushed`).
    #[serde(default)]
    sort: String,
    /// The page, from 1.
    page: Option<usize>,
}

/// The columns the list sorts by: `(key, label)`.
const SORTS: &[(&str, &str)] = &[
    ("tenant", "Tenant"),
    ("repository", "Repository"),
    ("state", "State"),
    ("pushed", "Pushed"),
    ("updated", "Last change"),
];

impl ImagesQuery {
    fn tenant(&self) -> Option<&str> {
        Some(self.tenant.trim()).filter(|t| !t.is_empty())
    }

    fn state(&self) -> Option<&str> {
        Some(self.state.trim()).filter(|s| !s.is_empty())
    }

    fn text(&self) -> Option<String> {
        Some(self.q.trim().to_lowercase()).filter(|q| !q.is_empty())
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

    fn page(&self) -> usize {
        self.page.unwrap_or(1).max(1)
    }

    /// This listing's URL with another sort and page.
    fn href(&self, sort: &str, page: usize) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if let Some(tenant) = self.tenant() {
            pairs.push(("tenant", tenant.to_owned()));
        }
        if let Some(state) = self.state() {
            pairs.push(("state", state.to_owned()));
        }
        if !self.q.trim().is_empty() {
            pairs.push(("q", self.q.trim().to_owned()));
        }
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
}

/// One page of images, and what the filters can choose from.
pub(crate) struct ImagePage {
    /// The images of this page, in order.
    pub(crate) images: Vec<ImageView>,
    /// How many images match in all.
    pub(crate) total: usize,
    /// The tenants the user may see.
    pub(crate) tenants: Vec<String>,
}

/// The images `operator` may see that match `query`: per visible tenant
/// through [`Accounts::images`] (which authorizes each), then the text
/// search, the sort and the page.
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
    let wanted: Vec<&str> = match query.tenant() {
        Some(tenant) => vec![tenant],
        None => tenants.iter().map(String::as_str).collect(),
    };
    let filter = ImageFilter {
        state: query.state().map(str::to_owned),
        limit: Some(PER_TENANT_LIMIT),
        ..ImageFilter::default()
    };
    let mut images = Vec::new();
    for tenant in &wanted {
        match accounts.images(operator, tenant, &filter).await {
            Ok(found) => images.extend(found),
            // A tenant the user sees but may not read the gate of is left
            // out of "all tenants"; asked for by name, it is refused.
            Err(AccountsError::Forbidden(_)) if query.tenant().is_none() => {}
            Err(error) => return Err(error),
        }
    }
    if let Some(text) = query.text() {
        images.retain(|image| image.repository.to_lowercase().contains(&text));
    }
    let (sort, descending) = query.sort();
    images.sort_by(|a, b| {
        let order = match sort {
            "tenant" => a.tenant.cmp(&b.tenant),
            "repository" => a.repository.cmp(&b.repository),
            "state" => a.state.cmp(&b.state),
            "updated" => a.updated_at.cmp(&b.updated_at),
            _ => a.created_at.cmp(&b.created_at),
        }
        .then_with(|| a.digest.cmp(&b.digest));
        if descending { order.reverse() } else { order }
    });
    let total = images.len();
    let images = images
        .into_iter()
        .skip((query.page() - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    Ok(ImagePage {
        images,
        total,
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

/// One row of the list.
pub(crate) struct Row {
    pub(crate) tenant: String,
    pub(crate) repository: String,
    pub(crate) digest: String,
    pub(crate) short_digest: String,
    pub(crate) state: String,
    pub(crate) reason: String,
    pub(crate) pushed: String,
    pub(crate) updated: String,
    pub(crate) href: String,
}

#[derive(Template)]
#[template(path = "images.html")]
struct ImagesPage {
    chrome: Chrome,
    tenants: Vec<Choice>,
    states: Vec<Choice>,
    text: String,
    sort: String,
    columns: Vec<Column>,
    rows: Vec<Row>,
    total: usize,
    first: usize,
    last: usize,
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

/// The detail page of an image.
pub(crate) fn detail_href(image: &ImageView) -> String {
    let query =
        serde_urlencoded::to_string([("repository", &image.repository)]).unwrap_or_default();
    format!("/ui/images/{}/{}?{query}", image.tenant, image.digest)
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
    let last = ((number - 1) * PAGE_SIZE + page.images.len()).min(page.total);
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
            pushed: when(image.created_at),
            updated: when(image.updated_at),
            href: detail_href(image),
        })
        .collect();
    render(
        StatusCode::OK,
        &ImagesPage {
            chrome,
            tenants,
            states,
            text: query.q.trim().to_owned(),
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
