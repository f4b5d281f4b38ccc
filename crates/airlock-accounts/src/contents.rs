//! What an image is made of, for its page: the layers and packages of each
//! platform, read from the inventory the gate stored with the image's scan
//! (the SBOM is computed once per digest and kept; DESIGN §3).

use airlock_audit::RequestContext;
use airlock_auth::ManageAction;
use airlock_scan_model::ScanReport;
use serde::Serialize;
use utoipa::ToSchema;

use crate::gate_admin::parse_digest;
use crate::manage::parse_tenant;
use crate::{Accounts, AccountsError, Operator};

/// One platform of an image: its layers and packages.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct PlatformContents {
    /// `os/architecture[/variant]`, when the image config says.
    pub platform: Option<String>,
    /// The manifest scanned for this platform.
    pub manifest: String,
    /// The detected operating system (`debian 12`), if any.
    pub os: Option<String>,
    /// Layers in application order.
    pub layers: Vec<LayerRow>,
    /// Every package found, sorted by ecosystem and name.
    pub packages: Vec<PackageRow>,
}

/// A layer.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct LayerRow {
    /// The layer blob's digest.
    pub digest: String,
    /// Its compressed size in bytes.
    pub size: u64,
    /// The build step that made it, when the config records it.
    pub created_by: Option<String>,
}

/// A package.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ToSchema)]
pub struct PackageRow {
    /// osv.dev ecosystem (`Debian:12`, `PyPI`).
    pub ecosystem: String,
    /// Its name.
    pub name: String,
    /// The installed version.
    pub version: String,
    /// Declared licences.
    pub licenses: Vec<String>,
    /// The layer that introduced it.
    pub layer: String,
    /// Where it was read from in the image.
    pub path: String,
}

impl Accounts {
    /// The layers and packages of an image of `tenant` (its members,
    /// auditors, admins), one entry per platform; empty when it was not
    /// scanned (yet).
    pub async fn image_contents(
        &self,
        operator: &Operator,
        tenant: &str,
        digest: &str,
    ) -> Result<Vec<PlatformContents>, AccountsError> {
        let tenant_id = parse_tenant(tenant)?;
        self.allow(
            operator,
            ManageAction::ReadGate(tenant_id.clone()),
            &format!("tenant:{tenant}"),
            &RequestContext::default(),
        )
        .await?;
        let digest = parse_digest(digest)?;
        // Inventories are kept per digest: show one only for an image of
        // this tenant.
        if self
            .store
            .images_by_digest(&tenant_id, &digest)
            .await?
            .is_empty()
        {
            return Err(AccountsError::NotFound(format!(
                "image {digest} in tenant {tenant}"
            )));
        }
        let Some(stored) = self.store.inventory(&digest).await? else {
            return Ok(Vec::new());
        };
        let reports: Vec<ScanReport> = serde_json::from_value(stored).map_err(|e| {
            AccountsError::Internal(format!(
                "the stored inventory of {digest} is unreadable: {e}"
            ))
        })?;
        Ok(reports.into_iter().map(contents_of).collect())
    }
}

fn contents_of(report: ScanReport) -> PlatformContents {
    let inventory = report.inventory;
    let platform = inventory.artifact.platform.map(|p| match p.variant {
        Some(variant) => format!("{}/{}/{variant}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    });
    let mut packages: Vec<PackageRow> = inventory
        .packages
        .into_iter()
        .map(|p| PackageRow {
            ecosystem: p.ecosystem,
            name: p.name,
            version: p.version,
            licenses: p.licenses,
            layer: p.layer,
            path: p.path,
        })
        .collect();
    packages.sort_by(|a, b| {
        (&a.ecosystem, &a.name, &a.version).cmp(&(&b.ecosystem, &b.name, &b.version))
    });
    PlatformContents {
        platform,
        manifest: inventory.artifact.digest,
        os: inventory
            .os
            .map(|os| format!("{} {}", os.family, os.version)),
        layers: inventory
            .layers
            .into_iter()
            .map(|l| LayerRow {
                digest: l.digest,
                size: l.size,
                created_by: l.created_by,
            })
            .collect(),
        packages,
    }
}
