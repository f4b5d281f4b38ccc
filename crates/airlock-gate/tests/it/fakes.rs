//! The gate's two seams, faked: a scan runner that answers from a table and
//! counts its calls, and a matcher that knows a few advisories by package
//! name.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use airlock_gate::{Matched, ScanFailure, ScanRequest, ScanRunner, VulnerabilityMatcher};
use airlock_oci::Digest;
use airlock_scan_model::{
    Artifact, Finding, FindingPackage, Inventory, Package, Platform, SCHEMA_VERSION, ScanReport,
    Severity, VulnerabilityData,
};

/// The package every image has unless told otherwise.
pub const CLEAN_PACKAGE: &str = "clean-lib";
/// The package [`FakeMatcher`] knows `CVE-2024-0001` for.
pub const VULNERABLE_PACKAGE: &str = "vulnerable-lib";
pub const CVE: &str = "CVE-2024-0001";
pub const GHSA: &str = "GHSA-xxxx-yyyy-zzzz";

/// An inventory-only report listing `packages`, for one platform (`os/arch`)
/// or none.
pub fn report(packages: &[&str], platform: Option<&str>) -> ScanReport {
    ScanReport {
        schema_version: SCHEMA_VERSION,
        inventory: Inventory {
            artifact: Artifact {
                reference: "fake".into(),
                digest: "sha256:fake".into(),
                media_type: airlock_oci::media_type::OCI_MANIFEST.into(),
                platform: platform.map(|p| {
                    let (os, architecture) = p.split_once('/').expect("os/arch");
                    Platform {
                        os: os.into(),
                        architecture: architecture.into(),
                        variant: None,
                    }
                }),
            },
            os: None,
            layers: Vec::new(),
            packages: packages
                .iter()
                .map(|name| Package {
                    ecosystem: "npm".into(),
                    name: (*name).into(),
                    version: "1.0.0".into(),
                    source_name: None,
                    source_version: None,
                    purl: format!("pkg:npm/{name}@1.0.0"),
                    licenses: Vec::new(),
                    layer: "sha256:layer".into(),
                    path: format!("node_modules/{name}/package.json"),
                    application: true,
                })
                .collect(),
        },
        findings: Vec::new(),
        vulnerability_data: VulnerabilityData::Skipped,
        warnings: Vec::new(),
    }
}

/// Answers scans from a table by digest; anything not in it is a clean
/// single-platform image. Counts calls per digest.
#[derive(Debug, Default)]
pub struct FakeRunner {
    answers: Mutex<BTreeMap<String, Result<Vec<ScanReport>, ScanFailure>>>,
    calls: Mutex<BTreeMap<String, usize>>,
    requests: Mutex<Vec<ScanRequest>>,
}

impl FakeRunner {
    /// Answer scans of `digest` with these reports.
    pub fn reports(&self, digest: &Digest, reports: Vec<ScanReport>) {
        self.answers
            .lock()
            .unwrap()
            .insert(digest.to_string(), Ok(reports));
    }

    /// Answer scans of `digest` with one report listing `packages`.
    pub fn packages(&self, digest: &Digest, packages: &[&str]) {
        self.reports(digest, vec![report(packages, Some("linux/amd64"))]);
    }

    /// Fail every scan of `digest`.
    pub fn fail(&self, digest: &Digest, failure: ScanFailure) {
        self.answers
            .lock()
            .unwrap()
            .insert(digest.to_string(), Err(failure));
    }

    /// How often `digest` was scanned.
    pub fn calls(&self, digest: &Digest) -> usize {
        self.calls
            .lock()
            .unwrap()
            .get(&digest.to_string())
            .copied()
            .unwrap_or(0)
    }

    /// Scans of any digest.
    pub fn total_calls(&self) -> usize {
        self.calls.lock().unwrap().values().sum()
    }

    /// The requests received, in order.
    pub fn requests(&self) -> Vec<ScanRequest> {
        self.requests.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl ScanRunner for FakeRunner {
    async fn scan(&self, request: &ScanRequest) -> Result<Vec<ScanReport>, ScanFailure> {
        let key = request.digest.to_string();
        *self.calls.lock().unwrap().entry(key.clone()).or_default() += 1;
        self.requests.lock().unwrap().push(request.clone());
        // Give concurrent workers a chance to interleave.
        tokio::task::yield_now().await;
        self.answers
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .unwrap_or_else(|| Ok(vec![report(&[CLEAN_PACKAGE], Some("linux/amd64"))]))
    }
}

/// One advisory: a package name, its id and aliases, its severity.
#[derive(Debug, Clone)]
pub struct Advisory {
    pub package: String,
    pub id: String,
    pub aliases: Vec<String>,
    pub severity: Severity,
}

/// Matches by package name against a list of advisories, with data of a
/// settable age (`None`: no data at all).
#[derive(Debug)]
pub struct FakeMatcher {
    advisories: Mutex<Vec<Advisory>>,
    data_age: Mutex<Option<Duration>>,
}

impl Default for FakeMatcher {
    fn default() -> Self {
        FakeMatcher {
            advisories: Mutex::new(vec![Advisory {
                package: VULNERABLE_PACKAGE.into(),
                id: CVE.into(),
                aliases: vec![GHSA.into()],
                severity: Severity::Critical,
            }]),
            data_age: Mutex::new(Some(Duration::from_secs(3600))),
        }
    }
}

impl FakeMatcher {
    /// Publishes a new advisory (new vulnerability data).
    pub fn add(&self, advisory: Advisory) {
        self.advisories.lock().unwrap().push(advisory);
    }

    /// Sets the age of the data; `None` removes it.
    pub fn set_data_age(&self, age: Option<Duration>) {
        *self.data_age.lock().unwrap() = age;
    }
}

#[async_trait::async_trait]
impl VulnerabilityMatcher for FakeMatcher {
    async fn match_reports(&self, mut reports: Vec<ScanReport>) -> Result<Matched, String> {
        let advisories = self.advisories.lock().unwrap().clone();
        let data_age = *self.data_age.lock().unwrap();
        for report in &mut reports {
            if data_age.is_none() {
                report.vulnerability_data = VulnerabilityData::Missing;
                report.findings.clear();
                continue;
            }
            report.vulnerability_data = VulnerabilityData::Present;
            report.findings = report
                .inventory
                .packages
                .iter()
                .flat_map(|package| {
                    advisories
                        .iter()
                        .filter(|a| a.package == package.name)
                        .map(|a| Finding {
                            id: a.id.clone(),
                            aliases: a.aliases.clone(),
                            package: FindingPackage {
                                ecosystem: package.ecosystem.clone(),
                                name: package.name.clone(),
                                version: package.version.clone(),
                            },
                            fixed_versions: vec!["1.0.1".into()],
                            severity: a.severity,
                            cvss_score: None,
                            cvss_vector: None,
                            summary: None,
                            references: Vec::new(),
                            published: None,
                            modified: None,
                        })
                })
                .collect();
        }
        Ok(Matched { reports, data_age })
    }
}
