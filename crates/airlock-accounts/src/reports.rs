//! Downloading scan reports (DESIGN §6): the five files every decided scan
//! left in the object store, to the owning tenant's members, auditors and
//! admins only. Every download and every refusal is audited.

use std::sync::Arc;

use airlock_audit::{AuditEvent, Outcome, RequestContext};
use airlock_auth::ManageAction;
use airlock_report::image::report_file;
use airlock_store::{ReportStore, ScanReportRecord};
use bytes::Bytes;

use crate::gate_admin::parse_digest;
use crate::manage::parse_tenant;
use crate::{Accounts, AccountsError, Operator};

/// A report file, ready to serve.
#[derive(Debug, Clone)]
pub struct ReportDownload {
    /// The file name (`report.html`, ...).
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// The scan it belongs to.
    pub scan_id: String,
    /// The repository the scanned image was pushed to.
    pub repository: String,
    /// Its bytes.
    pub content: Bytes,
}

/// Which report to download.
#[derive(Debug, Clone, Copy)]
pub struct ReportQuery<'a> {
    /// The tenant.
    pub tenant: &'a str,
    /// The image digest.
    pub digest: &'a str,
    /// The file name.
    pub name: &'a str,
    /// A scan id; `None` for the digest's latest scan.
    pub scan: Option<&'a str>,
}

impl Accounts {
    /// Installs the object store reports are read from.
    pub fn set_report_store(&self, store: Arc<dyn ReportStore>) {
        let _ = self.reports.set(store);
    }

    /// One report file of a tenant's digest, of the given scan or of its
    /// latest one.
    pub async fn report(
        &self,
        operator: &Operator,
        query: ReportQuery<'_>,
        request: &RequestContext,
    ) -> Result<ReportDownload, AccountsError> {
        let tenant = parse_tenant(query.tenant)?;
        let target = format!("reports:{}/{}/{}", query.tenant, query.digest, query.name);
        self.allow(
            operator,
            ManageAction::ReadReports(tenant.clone()),
            &target,
            request,
        )
        .await?;
        let found = self.find_report(query, &tenant).await;
        let outcome = match &found {
            Ok(download) => AuditEvent::new(operator.actor(), "report.read", &target).details(
                serde_json::json!({
                    "scan_id": download.scan_id,
                    "repository": download.repository,
                }),
            ),
            Err(error) => AuditEvent::new(operator.actor(), "report.read", &target)
                .outcome(Outcome::Failure)
                .reason(error.to_string()),
        };
        self.store
            .append_audit(&[outcome.tenant(tenant.as_str()).request(request.clone())])
            .await?;
        found
    }

    async fn find_report(
        &self,
        query: ReportQuery<'_>,
        tenant: &airlock_auth::TenantId,
    ) -> Result<ReportDownload, AccountsError> {
        let file = report_file(query.name).ok_or_else(|| {
            let names: Vec<&str> = airlock_report::image::REPORT_FILES
                .iter()
                .map(|f| f.name)
                .collect();
            AccountsError::NotFound(format!(
                "report {:?} (reports are {})",
                query.name,
                names.join(", ")
            ))
        })?;
        let digest = parse_digest(query.digest)?;
        let scans = self.store.scan_reports(tenant, &digest).await?;
        let scan: ScanReportRecord = match query.scan {
            Some(id) => scans.into_iter().find(|s| s.scan_id == id),
            None => scans.into_iter().next(),
        }
        .ok_or_else(|| {
            AccountsError::NotFound(format!(
                "reports of {} in tenant {}{}",
                query.digest,
                query.tenant,
                query
                    .scan
                    .map(|s| format!(" for scan {s}"))
                    .unwrap_or_default()
            ))
        })?;
        let store = self
            .reports
            .get()
            .ok_or_else(|| AccountsError::Internal("no report store is configured".into()))?;
        let content = store
            .get(&format!("{}{}", scan.prefix, file.name))
            .await?
            .ok_or_else(|| {
                AccountsError::Internal(format!(
                    "report {}{} is recorded but missing from the object store",
                    scan.prefix, file.name
                ))
            })?;
        Ok(ReportDownload {
            name: file.name,
            content_type: file.content_type,
            scan_id: scan.scan_id,
            repository: scan.repository.to_string(),
            content,
        })
    }
}
