//! The dashboard's use cases: the image list with its filters, "which of
//! our images have CVE-X", and streamed CSV/JSON exports of both.
//!
//! Who sees what is decided once, in [`Accounts::visible_tenants`]: admins
//! and auditors see every tenant, everyone else the tenants they hold a role
//! in (the rule of [`airlock_auth::tenant_visible`] and
//! [`ManageAction::ReadGate`]), and the local CLI everything. Naming a
//! tenant one cannot read is refused (and the refusal audited) rather than
//! answered with an empty list, so the client knows why.
//!
//! Exports never hold the result in memory: a task reads the store's row
//! stream and sends the encoded bytes in chunks through a small bounded
//! channel, so a slow client slows the query down instead of growing a
//! buffer, and a client that goes away stops it.

use std::sync::Arc;

use airlock_audit::RequestContext;
use airlock_auth::{ManageAction, Principal, TenantId, tenant_visible};
use airlock_store::{
    Database, FindingHit, FindingQuery, ImageQuery, ImageSort, ImageSortKey, ImageState,
    ImageSummary, StoreError, severity_from_name, severity_name,
};
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use crate::manage::parse_tenant;
use crate::{Accounts, AccountsError, Operator};

/// Rows per page unless asked otherwise.
const DEFAULT_PER_PAGE: u64 = 50;
/// Most rows per page.
const MAX_PER_PAGE: u64 = 500;
/// Bytes an export sends at a time.
const EXPORT_CHUNK: usize = 64 * 1024;
/// Chunks an export may have encoded ahead of the client.
const EXPORT_QUEUE: usize = 4;

/// The image list's filters, as the API receives them.
#[derive(Debug, Clone, Default)]
pub struct ImageSearch {
    /// Only this tenant (must be visible).
    pub tenant: Option<String>,
    /// A substring of the repository name.
    pub q: Option<String>,
    /// A state name (`promoted`, `rejected`, ...).
    pub state: Option<String>,
    /// `low`, `medium`, `high`, `critical` (or 0–4): images whose highest
    /// effective severity is at least this.
    pub min_severity: Option<String>,
    /// A vulnerability id or alias, exactly.
    pub vulnerability: Option<String>,
    /// A package name, exactly.
    pub package: Option<String>,
    /// RFC 3339: pushed at or after.
    pub pushed_after: Option<String>,
    /// RFC 3339: pushed before.
    pub pushed_before: Option<String>,
    /// `pushed` (default), `updated`, `repository` or `severity`.
    pub sort: Option<String>,
    /// `asc` or `desc` (default: `asc` for `repository`, else `desc`).
    pub order: Option<String>,
    /// 1, 2, ...
    pub page: Option<u64>,
    /// Rows per page (default 50, at most 500).
    pub per_page: Option<u64>,
}

/// The vulnerability search's filters, as the API receives them.
#[derive(Debug, Clone, Default)]
pub struct FindingSearch {
    /// Only this tenant (must be visible).
    pub tenant: Option<String>,
    /// A vulnerability id or alias, exactly.
    pub vulnerability: Option<String>,
    /// A package name, exactly.
    pub package: Option<String>,
    /// `low`, `medium`, `high`, `critical` (or 0–4).
    pub min_severity: Option<String>,
    /// Only findings with a fixed version.
    pub fixable: Option<bool>,
    /// Only this image's findings.
    pub image: Option<i64>,
    /// 1, 2, ...
    pub page: Option<u64>,
    /// Rows per page (default 50, at most 500).
    pub per_page: Option<u64>,
}

/// One page of results.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct SearchPage<T> {
    /// How many match in all.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u64,
    /// Rows per page.
    pub per_page: u64,
    /// The rows.
    pub items: Vec<T>,
}

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchExportFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON array, the same objects as the list's `items`.
    Json,
}

impl SearchExportFormat {
    /// The media type of the export.
    pub fn content_type(self) -> &'static str {
        match self {
            SearchExportFormat::Csv => "text/csv; charset=utf-8",
            SearchExportFormat::Json => "application/json",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            SearchExportFormat::Csv => "csv",
            SearchExportFormat::Json => "json",
        }
    }
}

impl std::str::FromStr for SearchExportFormat {
    type Err = AccountsError;

    fn from_str(s: &str) -> Result<SearchExportFormat, AccountsError> {
        match s {
            "csv" => Ok(SearchExportFormat::Csv),
            "json" => Ok(SearchExportFormat::Json),
            other => Err(AccountsError::Invalid(format!(
                "unknown export format {other:?}: use csv or json"
            ))),
        }
    }
}

/// An image as the list and the exports show it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct ImageItem {
    /// Stable id (the findings filter `image` takes it).
    pub id: i64,
    /// Its tenant.
    pub tenant: String,
    /// The `unscanned/` repository it was pushed to.
    pub repository: String,
    /// The manifest digest.
    pub digest: String,
    /// The manifest media type.
    pub media_type: String,
    /// Its state.
    pub state: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    /// Who pushed it first.
    pub pushed_by: Option<String>,
    /// When it was pushed first (RFC 3339).
    pub pushed_at: String,
    /// When its state last changed (RFC 3339).
    pub updated_at: String,
    /// When its findings were last written (RFC 3339).
    pub scanned_at: Option<String>,
    /// Highest effective severity; `null` without effective findings.
    pub max_severity: Option<String>,
    /// Effective critical findings.
    pub critical: u64,
    /// Effective high findings.
    pub high: u64,
    /// Effective medium findings.
    pub medium: u64,
    /// Effective low findings.
    pub low: u64,
    /// Effective findings of unknown severity.
    pub unknown: u64,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

impl From<ImageSummary> for ImageItem {
    fn from(image: ImageSummary) -> ImageItem {
        ImageItem {
            id: image.id,
            tenant: image.tenant.to_string(),
            repository: image.repository.to_string(),
            digest: image.digest.to_string(),
            media_type: image.media_type,
            state: image.state.to_string(),
            reason: image.reason,
            pushed_by: image.pushed_by,
            pushed_at: rfc3339(image.pushed_at),
            updated_at: rfc3339(image.updated_at),
            scanned_at: image.scanned_at.map(rfc3339),
            max_severity: image.max_severity.map(|s| severity_name(s).to_owned()),
            critical: image.counts.critical,
            high: image.counts.high,
            medium: image.counts.medium,
            low: image.counts.low,
            unknown: image.counts.unknown,
        }
    }
}

/// A finding with its image, as the vulnerability search and its exports
/// show it.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct FindingItem {
    /// The image id.
    pub image_id: i64,
    /// Its tenant.
    pub tenant: String,
    /// Its repository.
    pub repository: String,
    /// Its digest.
    pub digest: String,
    /// Its state.
    pub state: String,
    /// The OSV record id.
    pub vulnerability: String,
    /// Its aliases.
    pub aliases: Vec<String>,
    /// osv.dev ecosystem.
    pub ecosystem: String,
    /// Package name.
    pub package: String,
    /// Installed version.
    pub version: String,
    /// Versions that fix it.
    pub fixed_versions: Vec<String>,
    /// Matched severity name.
    pub severity: String,
    /// CVSS base score.
    pub cvss: Option<f64>,
    /// One-line summary.
    pub summary: Option<String>,
    /// The platform of an index it was found on.
    pub platform: Option<String>,
}

impl From<FindingHit> for FindingItem {
    fn from(hit: FindingHit) -> FindingItem {
        let finding = hit.finding;
        FindingItem {
            image_id: hit.image_id,
            tenant: hit.tenant.to_string(),
            repository: hit.repository.to_string(),
            digest: hit.digest.to_string(),
            state: hit.state.to_string(),
            vulnerability: finding.vulnerability,
            aliases: finding.aliases,
            ecosystem: finding.ecosystem,
            package: finding.package,
            version: finding.version,
            fixed_versions: finding.fixed_versions,
            severity: severity_name(finding.severity).to_owned(),
            cvss: finding.cvss,
            summary: finding.summary,
            platform: finding.platform,
        }
    }
}

/// A row an export writes: its JSON form is its `Serialize`, its CSV form
/// these columns (lists joined by spaces, absent values empty).
pub trait ExportRow: Serialize {
    /// The header row.
    const COLUMNS: &'static [&'static str];

    /// The row, one value per column.
    fn csv_record(&self) -> Vec<String>;
}

fn text(value: Option<&str>) -> String {
    value.unwrap_or_default().to_owned()
}

impl ExportRow for ImageItem {
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "tenant",
        "repository",
        "digest",
        "media_type",
        "state",
        "reason",
        "pushed_by",
        "pushed_at",
        "updated_at",
        "scanned_at",
        "max_severity",
        "critical",
        "high",
        "medium",
        "low",
        "unknown",
    ];

    fn csv_record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.tenant.clone(),
            self.repository.clone(),
            self.digest.clone(),
            self.media_type.clone(),
            self.state.clone(),
            text(self.reason.as_deref()),
            text(self.pushed_by.as_deref()),
            self.pushed_at.clone(),
            self.updated_at.clone(),
            text(self.scanned_at.as_deref()),
            text(self.max_severity.as_deref()),
            self.critical.to_string(),
            self.high.to_string(),
            self.medium.to_string(),
            self.low.to_string(),
            self.unknown.to_string(),
        ]
    }
}

impl ExportRow for FindingItem {
    const COLUMNS: &'static [&'static str] = &[
        "image_id",
        "tenant",
        "repository",
        "digest",
        "state",
        "vulnerability",
        "aliases",
        "ecosystem",
        "package",
        "version",
        "fixed_versions",
        "severity",
        "cvss",
        "summary",
        "platform",
    ];

    fn csv_record(&self) -> Vec<String> {
        vec![
            self.image_id.to_string(),
            self.tenant.clone(),
            self.repository.clone(),
            self.digest.clone(),
            self.state.clone(),
            self.vulnerability.clone(),
            self.aliases.join(" "),
            self.ecosystem.clone(),
            self.package.clone(),
            self.version.clone(),
            self.fixed_versions.join(" "),
            self.severity.clone(),
            self.cvss.map(|c| c.to_string()).unwrap_or_default(),
            text(self.summary.as_deref()),
            text(self.platform.as_deref()),
        ]
    }
}

fn invalid(message: String) -> AccountsError {
    AccountsError::Invalid(message)
}

fn parse_severity(value: Option<&str>) -> Result<Option<u8>, AccountsError> {
    value
        .map(|s| {
            severity_from_name(s)
                .or_else(|| s.parse::<u8>().ok().filter(|n| *n <= 4))
                .ok_or_else(|| {
                    invalid(format!(
                        "unknown severity {s:?}: use unknown, low, medium, high or critical"
                    ))
                })
        })
        .transpose()
}

fn parse_time(name: &str, value: Option<&str>) -> Result<Option<OffsetDateTime>, AccountsError> {
    value
        .map(|s| {
            OffsetDateTime::parse(s, &Rfc3339)
                .map_err(|e| invalid(format!("{name} {s:?} is not an RFC 3339 time: {e}")))
        })
        .transpose()
}

fn parse_state(value: Option<&str>) -> Result<Option<ImageState>, AccountsError> {
    value
        .map(|s| {
            s.parse().map_err(|_| {
                let names: Vec<&str> = ImageState::ALL.iter().map(|s| s.as_str()).collect();
                invalid(format!(
                    "unknown image state {s:?}: use one of {}",
                    names.join(", ")
                ))
            })
        })
        .transpose()
}

fn parse_sort(sort: Option<&str>, order: Option<&str>) -> Result<ImageSort, AccountsError> {
    let key = match sort.unwrap_or("pushed") {
        "pushed" => ImageSortKey::Pushed,
        "updated" => ImageSortKey::Updated,
        "repository" => ImageSortKey::Repository,
        "severity" => ImageSortKey::Severity,
        other => {
            return Err(invalid(format!(
                "unknown sort {other:?}: use pushed, updated, repository or severity"
            )));
        }
    };
    let descending = match order {
        None => key != ImageSortKey::Repository,
        Some("desc") => true,
        Some("asc") => false,
        Some(other) => return Err(invalid(format!("unknown order {other:?}: use asc or desc"))),
    };
    Ok(ImageSort { key, descending })
}

/// (page, per page, offset) from the requested values.
fn paging(page: Option<u64>, per_page: Option<u64>) -> Result<(u64, u64, usize), AccountsError> {
    let page = page.unwrap_or(1);
    if page == 0 {
        return Err(invalid("page counts from 1".into()));
    }
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(invalid(format!("per_page must be 1 to {MAX_PER_PAGE}")));
    }
    let offset = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    Ok((page, per_page, offset))
}

fn non_empty(value: Option<&String>) -> Option<String> {
    value.filter(|v| !v.is_empty()).cloned()
}

impl Accounts {
    /// The tenants `operator` may search: `None` for all (admins, auditors,
    /// the CLI); with `requested`, that one tenant if readable, else
    /// `Forbidden` (audited).
    pub async fn visible_tenants(
        &self,
        operator: &Operator,
        requested: Option<&str>,
    ) -> Result<Option<Vec<TenantId>>, AccountsError> {
        if let Some(tenant) = requested {
            let tenant_id = parse_tenant(tenant)?;
            self.allow(
                operator,
                ManageAction::ReadGate(tenant_id.clone()),
                &format!("tenant:{tenant}"),
                &RequestContext::default(),
            )
            .await?;
            return Ok(Some(vec![tenant_id]));
        }
        let Operator::Principal(principal) = operator else {
            return Ok(None);
        };
        Ok(match principal {
            Principal::User { roles, .. } if roles.is_admin() || roles.is_auditor() => None,
            Principal::User { roles, .. } | Principal::Robot { roles, .. } => Some(
                roles
                    .tenants
                    .keys()
                    .filter(|t| tenant_visible(principal, t))
                    .cloned()
                    .collect(),
            ),
            Principal::System(_) => Some(Vec::new()),
        })
    }

    async fn image_query(
        &self,
        operator: &Operator,
        filter: &ImageSearch,
    ) -> Result<ImageQuery, AccountsError> {
        let sort = parse_sort(filter.sort.as_deref(), filter.order.as_deref())?;
        let state = parse_state(filter.state.as_deref())?;
        let min_severity = parse_severity(filter.min_severity.as_deref())?;
        let pushed_after = parse_time("pushed_after", filter.pushed_after.as_deref())?;
        let pushed_before = parse_time("pushed_before", filter.pushed_before.as_deref())?;
        let tenants = self
            .visible_tenants(operator, filter.tenant.as_deref())
            .await?;
        Ok(ImageQuery {
            tenants,
            repository_contains: non_empty(filter.q.as_ref()),
            state,
            min_severity,
            vulnerability: non_empty(filter.vulnerability.as_ref()),
            package: non_empty(filter.package.as_ref()),
            pushed_after,
            pushed_before,
            sort,
            offset: 0,
            limit: usize::MAX,
        })
    }

    async fn finding_query(
        &self,
        operator: &Operator,
        filter: &FindingSearch,
    ) -> Result<FindingQuery, AccountsError> {
        let min_severity = parse_severity(filter.min_severity.as_deref())?;
        let tenants = self
            .visible_tenants(operator, filter.tenant.as_deref())
            .await?;
        Ok(FindingQuery {
            tenants,
            vulnerability: non_empty(filter.vulnerability.as_ref()),
            package: non_empty(filter.package.as_ref()),
            min_severity,
            fixable_only: filter.fixable.unwrap_or(false),
            image_id: filter.image,
            offset: 0,
            limit: usize::MAX,
        })
    }

    /// One page of the images `operator` may see that match `filter`.
    pub async fn search_images(
        &self,
        operator: &Operator,
        filter: &ImageSearch,
    ) -> Result<SearchPage<ImageItem>, AccountsError> {
        let (page, per_page, offset) = paging(filter.page, filter.per_page)?;
        let query = ImageQuery {
            offset,
            limit: usize::try_from(per_page).unwrap_or(usize::MAX),
            ..self.image_query(operator, filter).await?
        };
        let (images, total) = self.store.search_images(&query).await?;
        Ok(SearchPage {
            total,
            page,
            per_page,
            items: images.into_iter().map(ImageItem::from).collect(),
        })
    }

    /// One page of the findings `operator` may see that match `filter`,
    /// newest image first, most severe first.
    pub async fn search_findings(
        &self,
        operator: &Operator,
        filter: &FindingSearch,
    ) -> Result<SearchPage<FindingItem>, AccountsError> {
        let (page, per_page, offset) = paging(filter.page, filter.per_page)?;
        let query = FindingQuery {
            offset,
            limit: usize::try_from(per_page).unwrap_or(usize::MAX),
            ..self.finding_query(operator, filter).await?
        };
        let (hits, total) = self.store.search_findings(&query).await?;
        Ok(SearchPage {
            total,
            page,
            per_page,
            items: hits.into_iter().map(FindingItem::from).collect(),
        })
    }

    /// Records a bulk export of scan data in the audit log: who took what,
    /// with which filters.
    async fn audit_export(
        &self,
        operator: &Operator,
        request: &RequestContext,
        what: &str,
        filters: serde_json::Value,
    ) -> Result<(), AccountsError> {
        let event = Self::event(
            operator,
            &format!("{what}.export"),
            what.to_owned(),
            request,
        )
        .details(filters);
        self.store.append_audit(&[event]).await?;
        Ok(())
    }

    /// Every image `operator` may see that matches `filter` (paging
    /// ignored), encoded as `format` while it is read. The export is
    /// audited with its filters.
    pub async fn export_images(
        &self,
        operator: &Operator,
        request: &RequestContext,
        filter: &ImageSearch,
        format: SearchExportFormat,
    ) -> Result<impl Stream<Item = Result<Bytes, AccountsError>> + Send + 'static, AccountsError>
    {
        let query = self.image_query(operator, filter).await?;
        let filters = serde_json::json!({
            "format": format.extension(),
            "tenant": filter.tenant,
            "q": filter.q,
            "state": filter.state,
            "min_severity": filter.min_severity,
            "vulnerability": filter.vulnerability,
            "package": filter.package,
            "pushed_after": filter.pushed_after,
            "pushed_before": filter.pushed_before,
        });
        self.audit_export(operator, request, "images", filters)
            .await?;
        Ok(export(self.store.clone(), format, move |store| {
            store
                .stream_images(&query)
                .map(|row| row.map(ImageItem::from))
                .boxed()
        }))
    }

    /// Every finding `operator` may see that matches `filter` (paging
    /// ignored), encoded as `format` while it is read. The export is
    /// audited with its filters.
    pub async fn export_findings(
        &self,
        operator: &Operator,
        request: &RequestContext,
        filter: &FindingSearch,
        format: SearchExportFormat,
    ) -> Result<impl Stream<Item = Result<Bytes, AccountsError>> + Send + 'static, AccountsError>
    {
        let query = self.finding_query(operator, filter).await?;
        let filters = serde_json::json!({
            "format": format.extension(),
            "tenant": filter.tenant,
            "vulnerability": filter.vulnerability,
            "package": filter.package,
            "min_severity": filter.min_severity,
            "fixable": filter.fixable,
            "image": filter.image,
        });
        self.audit_export(operator, request, "vulnerabilities", filters)
            .await?;
        Ok(export(self.store.clone(), format, move |store| {
            store
                .stream_findings(&query)
                .map(|row| row.map(FindingItem::from))
                .boxed()
        }))
    }
}

/// Runs `rows` over `store` in a task that encodes them and sends chunks
/// through a bounded channel; the returned stream is the receiving end.
fn export<T, F>(
    store: Arc<dyn Database>,
    format: SearchExportFormat,
    rows: F,
) -> impl Stream<Item = Result<Bytes, AccountsError>> + Send + 'static
where
    T: ExportRow + Send + 'static,
    F: for<'a> FnOnce(&'a dyn Database) -> BoxStream<'a, Result<T, StoreError>> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(EXPORT_QUEUE);
    tokio::spawn(async move {
        let rows = rows(store.as_ref());
        if let Err(error) = encode(rows, format, &sender).await {
            // The client is told by a broken body; nothing else can be sent.
            tracing::warn!(%error, "export failed");
            let _ = sender.send(Err(error)).await;
        }
    });
    futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    })
}

/// Why an export stopped early.
enum Stop {
    /// The client went away.
    Gone,
    /// Reading or encoding failed.
    Failed(AccountsError),
}

impl From<AccountsError> for Stop {
    fn from(error: AccountsError) -> Stop {
        Stop::Failed(error)
    }
}

async fn send(
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, AccountsError>>,
    chunk: Vec<u8>,
) -> Result<(), Stop> {
    sender
        .send(Ok(Bytes::from(chunk)))
        .await
        .map_err(|_| Stop::Gone)
}

fn encoding_failed(e: impl std::fmt::Display) -> AccountsError {
    AccountsError::Internal(format!("encode export: {e}"))
}

async fn encode<T: ExportRow>(
    rows: BoxStream<'_, Result<T, StoreError>>,
    format: SearchExportFormat,
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, AccountsError>>,
) -> Result<(), AccountsError> {
    let result = match format {
        SearchExportFormat::Csv => encode_csv(rows, sender).await,
        SearchExportFormat::Json => encode_json(rows, sender).await,
    };
    match result {
        Ok(()) | Err(Stop::Gone) => Ok(()),
        Err(Stop::Failed(error)) => Err(error),
    }
}

async fn encode_csv<T: ExportRow>(
    mut rows: BoxStream<'_, Result<T, StoreError>>,
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, AccountsError>>,
) -> Result<(), Stop> {
    let new_writer = || csv::Writer::from_writer(Vec::with_capacity(EXPORT_CHUNK + 8192));
    let finish = |writer: csv::Writer<Vec<u8>>| writer.into_inner().map_err(encoding_failed);
    let mut writer = new_writer();
    writer.write_record(T::COLUMNS).map_err(encoding_failed)?;
    while let Some(row) = rows.next().await {
        let row = row.map_err(AccountsError::from)?;
        writer
            .write_record(row.csv_record())
            .map_err(encoding_failed)?;
        if writer.get_ref().len() >= EXPORT_CHUNK {
            let full = std::mem::replace(&mut writer, new_writer());
            send(sender, finish(full)?).await?;
        }
    }
    send(sender, finish(writer)?).await
}

async fn encode_json<T: ExportRow>(
    mut rows: BoxStream<'_, Result<T, StoreError>>,
    sender: &tokio::sync::mpsc::Sender<Result<Bytes, AccountsError>>,
) -> Result<(), Stop> {
    let mut buffer = Vec::with_capacity(EXPORT_CHUNK + 1024);
    buffer.push(b'[');
    let mut first = true;
    while let Some(row) = rows.next().await {
        let row = row.map_err(AccountsError::from)?;
        buffer.extend_from_slice(if first { b"\n" } else { b",\n" });
        first = false;
        serde_json::to_writer(&mut buffer, &row).map_err(encoding_failed)?;
        if buffer.len() >= EXPORT_CHUNK {
            send(sender, std::mem::take(&mut buffer)).await?;
        }
    }
    buffer.extend_from_slice(b"\n]\n");
    send(sender, buffer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters() {
        assert_eq!(parse_severity(Some("HIGH")).unwrap(), Some(3));
        assert_eq!(parse_severity(Some("4")).unwrap(), Some(4));
        assert!(parse_severity(Some("5")).is_err());
        assert!(parse_severity(Some("severe")).is_err());
        assert_eq!(parse_sort(None, None).unwrap(), ImageSort::default());
        assert_eq!(
            parse_sort(Some("repository"), None).unwrap(),
            ImageSort {
                key: ImageSortKey::Repository,
                descending: false
            }
        );
        assert!(parse_sort(Some("size"), None).is_err());
        assert!(parse_sort(None, Some("up")).is_err());
        assert_eq!(paging(None, None).unwrap(), (1, 50, 0));
        assert_eq!(paging(Some(3), Some(20)).unwrap(), (3, 20, 40));
        assert!(paging(Some(0), None).is_err());
        assert!(paging(None, Some(501)).is_err());
        assert!(parse_time("pushed_after", Some("yesterday")).is_err());
        assert!(parse_state(Some("done")).is_err());
    }

    #[test]
    fn csv_columns_match_records() {
        let image = ImageItem {
            id: 1,
            tenant: "t".into(),
            repository: "unscanned/t/a".into(),
            digest: "sha256:00".into(),
            media_type: "m".into(),
            state: "promoted".into(),
            reason: None,
            pushed_by: Some("a, \"b\"".into()),
            pushed_at: "x".into(),
            updated_at: "y".into(),
            scanned_at: None,
            max_severity: Some("high".into()),
            critical: 0,
            high: 1,
            medium: 0,
            low: 0,
            unknown: 0,
        };
        assert_eq!(image.csv_record().len(), ImageItem::COLUMNS.len());
        let finding = FindingItem {
            image_id: 1,
            tenant: "t".into(),
            repository: "r".into(),
            digest: "d".into(),
            state: "s".into(),
            vulnerability: "GHSA-1".into(),
            aliases: vec!["CVE-1".into(), "CVE-2".into()],
            ecosystem: "npm".into(),
            package: "p".into(),
            version: "1".into(),
            fixed_versions: vec![],
            severity: "low".into(),
            cvss: Some(3.1),
            summary: None,
            platform: None,
        };
        let record = finding.csv_record();
        assert_eq!(record.len(), FindingItem::COLUMNS.len());
        assert_eq!(record[6], "CVE-1 CVE-2");
    }

    #[tokio::test]
    async fn exports_quote_and_stream_in_chunks() {
        let rows = || -> Vec<Result<ImageItem, StoreError>> {
            (0..5000)
                .map(|id| {
                    Ok(ImageItem {
                        id,
                        tenant: "t".into(),
                        repository: "unscanned/t/a".into(),
                        digest: "sha256:00".into(),
                        media_type: "m".into(),
                        state: "promoted".into(),
                        reason: Some("has, a \"comma\"".into()),
                        pushed_by: None,
                        pushed_at: "x".into(),
                        updated_at: "y".into(),
                        scanned_at: None,
                        max_severity: None,
                        critical: 0,
                        high: 0,
                        medium: 0,
                        low: 0,
                        unknown: 0,
                    })
                })
                .collect()
        };
        let (sender, mut receiver) = tokio::sync::mpsc::channel(1000);
        encode(
            futures::stream::iter(rows()).boxed(),
            SearchExportFormat::Csv,
            &sender,
        )
        .await
        .unwrap();
        drop(sender);
        let mut chunks = 0;
        let mut csv_bytes = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            chunks += 1;
            csv_bytes.extend_from_slice(&chunk.unwrap());
        }
        assert!(chunks > 1, "sent in chunks");
        let mut reader = csv::Reader::from_reader(csv_bytes.as_slice());
        assert_eq!(
            reader.headers().unwrap().iter().collect::<Vec<_>>(),
            ImageItem::COLUMNS
        );
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 5000);
        assert_eq!(&records[7][6], "has, a \"comma\"");

        let (sender, mut receiver) = tokio::sync::mpsc::channel(1000);
        encode(
            futures::stream::iter(rows()).boxed(),
            SearchExportFormat::Json,
            &sender,
        )
        .await
        .unwrap();
        drop(sender);
        let mut json_bytes = Vec::new();
        while let Some(chunk) = receiver.recv().await {
            json_bytes.extend_from_slice(&chunk.unwrap());
        }
        let items: Vec<serde_json::Value> = serde_json::from_slice(&json_bytes).unwrap();
        assert_eq!(items.len(), 5000);
        assert_eq!(items[7]["reason"], "has, a \"comma\"");

        let (sender, _) = tokio::sync::mpsc::channel(1);
        let empty: Vec<Result<ImageItem, StoreError>> = Vec::new();
        encode(
            futures::stream::iter(empty).boxed(),
            SearchExportFormat::Json,
            &sender,
        )
        .await
        .expect("a client that went away is not an error");
    }
}
