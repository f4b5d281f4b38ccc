//! Human-readable output for a terminal: a header per image (reference,
//! digest, platform, OS), one aligned table per ecosystem, then findings.
//!
//! Plain text without colour, so it reads the same piped into a file.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use airlock_scan_model::{Package, ScanReport, VulnerabilityData};

use crate::{ReportContext, ReportError};

/// Renders `reports` as aligned plain-text tables.
pub fn write(reports: &[ScanReport], _context: &ReportContext) -> Result<String, ReportError> {
    if reports.is_empty() {
        return Err(ReportError::Empty);
    }
    let mut out = String::new();
    for (index, report) in reports.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        write_report(&mut out, report);
    }
    Ok(out)
}

fn write_report(out: &mut String, report: &ScanReport) {
    let inventory = &report.inventory;
    let artifact = &inventory.artifact;
    let _ = writeln!(out, "{}", artifact.reference);
    let _ = writeln!(out, "  digest    {}", artifact.digest);
    if let Some(platform) = &artifact.platform {
        let variant = platform
            .variant
            .as_deref()
            .map(|v| format!("/{v}"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  platform  {}/{}{variant}",
            platform.os, platform.architecture
        );
    }
    match &inventory.os {
        Some(os) => {
            let _ = writeln!(
                out,
                "  os        {} {} ({})",
                os.family, os.version, os.ecosystem
            );
        }
        None => {
            let _ = writeln!(out, "  os        unknown");
        }
    }
    let _ = writeln!(out, "  layers    {}", inventory.layers.len());
    let _ = writeln!(out, "  packages  {}", inventory.packages.len());

    let mut by_ecosystem: BTreeMap<&str, Vec<&Package>> = BTreeMap::new();
    for package in &inventory.packages {
        by_ecosystem
            .entry(package.ecosystem.as_str())
            .or_default()
            .push(package);
    }
    for (ecosystem, packages) in by_ecosystem {
        let noun = if packages.len() == 1 {
            "package"
        } else {
            "packages"
        };
        let _ = writeln!(out, "\n{ecosystem} ({} {noun})", packages.len());
        let rows: Vec<[String; 5]> = packages
            .iter()
            .map(|package| {
                let source = match (&package.source_name, &package.source_version) {
                    (Some(name), Some(version)) => format!("{name} {version}"),
                    (Some(name), None) => name.clone(),
                    _ => String::new(),
                };
                [
                    package.name.clone(),
                    package.version.clone(),
                    package.ecosystem.clone(),
                    source,
                    format!("/{}", package.path),
                ]
            })
            .collect();
        write_table(
            out,
            ["NAME", "VERSION", "ECOSYSTEM", "SOURCE", "PATH"],
            &rows,
        );
    }

    out.push('\n');
    match report.vulnerability_data {
        VulnerabilityData::Skipped => {
            out.push_str("vulnerabilities: not checked (inventory only)\n")
        }
        VulnerabilityData::Missing => {
            out.push_str("vulnerabilities: no vulnerability data available\n")
        }
        VulnerabilityData::Present if report.findings.is_empty() => {
            out.push_str("vulnerabilities: none found\n")
        }
        VulnerabilityData::Present => {
            let _ = writeln!(out, "vulnerabilities: {}", report.findings.len());
            let rows: Vec<[String; 5]> = report
                .findings
                .iter()
                .map(|finding| {
                    [
                        finding.id.clone(),
                        format!("{:?}", finding.severity).to_lowercase(),
                        finding.package.name.clone(),
                        finding.package.version.clone(),
                        finding.fixed_versions.join(", "),
                    ]
                })
                .collect();
            write_table(
                out,
                ["ID", "SEVERITY", "PACKAGE", "VERSION", "FIXED IN"],
                &rows,
            );
        }
    }
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
}

fn write_table<const N: usize>(out: &mut String, header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(|title| title.chars().count());
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = header.iter().map(|title| title.to_string()).collect();
    write_row(out, &widths, &header);
    for row in rows {
        write_row(out, &widths, row);
    }
}

fn write_row(out: &mut String, widths: &[usize], cells: &[String]) {
    let mut line = String::from("  ");
    for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
        line.push_str(cell);
        if index + 1 < cells.len() {
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count() + 2));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}
