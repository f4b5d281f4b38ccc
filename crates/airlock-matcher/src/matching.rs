//! Matching an inventory against OSV records.
//!
//! For each package: look its records up once (by the key the feed uses),
//! keep the `affected` entries of the same release and name, evaluate
//! `versions` and ranges with the ecosystem's version ordering, then merge
//! the hits that are the same vulnerability under different ids (aliases)
//! into one finding. Problems (unparseable versions, ecosystems without an
//! ordering, GIT ranges, lookup failures) become warnings: nothing here can
//! fail, and nothing is silently treated as "not affected".

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use airlock_scan_model::{Finding, FindingPackage, Inventory, Package};
use airlock_version::{VersionScheme, scheme_for_ecosystem};

use crate::ecosystem::{ecosystem_matches, feed_key, lookup_name};
use crate::osv::{Advisory, Affected, RangeKind};
use crate::range;
use crate::severity::{Rated, rate};
use crate::source::AdvisorySource;

/// Counters describing one matching run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchStats {
    /// Packages in the inventory.
    pub packages: usize,
    /// Distinct lookups sent to the source.
    pub lookups: usize,
    /// Records examined (after lookup, before filtering).
    pub records_examined: usize,
    /// Withdrawn records that were skipped.
    pub withdrawn_skipped: usize,
    /// GIT ranges that were ignored.
    pub git_ranges_ignored: usize,
    /// Findings produced (after alias de-duplication).
    pub findings: usize,
}

/// The result of matching: findings plus everything that could not be decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchOutcome {
    /// Findings sorted by severity (most severe first), id, package.
    pub findings: Vec<Finding>,
    /// Sorted, de-duplicated warnings.
    pub warnings: Vec<String>,
    /// Counters.
    pub stats: MatchStats,
}

/// Matches every package of `inventory` against `source`.
pub fn match_inventory(inventory: &Inventory, source: &dyn AdvisorySource) -> MatchOutcome {
    match_packages(&inventory.packages, source)
}

/// One record that matched one package.
struct Hit {
    advisory: Rc<Advisory>,
    rated: Rated,
    fixed: Vec<String>,
}

/// Matches `packages` against `source` (see [`match_inventory`]).
pub fn match_packages(packages: &[Package], source: &dyn AdvisorySource) -> MatchOutcome {
    let mut stats = MatchStats {
        packages: packages.len(),
        ..MatchStats::default()
    };
    let mut warnings = BTreeSet::new();
    let mut cache: HashMap<(String, String), Vec<Rc<Advisory>>> = HashMap::new();
    let mut hits_by_package: BTreeMap<FindingPackage, Vec<Hit>> = BTreeMap::new();

    for package in packages {
        let (key, version) = feed_key(package);
        let cache_key = (package.ecosystem.clone(), key.clone());
        if !cache.contains_key(&cache_key) {
            stats.lookups += 1;
            let records = match source.advisories(&package.ecosystem, &key) {
                Ok(records) => records,
                Err(error) => {
                    warnings.insert(error.to_string());
                    Vec::new()
                }
            };
            cache.insert(
                cache_key.clone(),
                records.into_iter().map(Rc::new).collect(),
            );
        }
        let records = &cache[&cache_key];
        let scheme = scheme_for_ecosystem(&package.ecosystem);
        let finding_package = FindingPackage {
            ecosystem: package.ecosystem.clone(),
            name: package.name.clone(),
            version: package.version.clone(),
        };
        for advisory in records {
            stats.records_examined += 1;
            let entries: Vec<&Affected> = advisory
                .affected
                .iter()
                .filter(|a| {
                    a.package.as_ref().is_some_and(|p| {
                        ecosystem_matches(&package.ecosystem, &p.ecosystem)
                            && lookup_name(&p.ecosystem, &p.name) == key
                    })
                })
                .collect();
            if entries.is_empty() {
                continue;
            }
            if advisory.is_withdrawn() {
                stats.withdrawn_skipped += 1;
                continue;
            }
            let mut context = EntryContext {
                package,
                version: &version,
                scheme,
                advisory,
                warnings: &mut warnings,
                git_ranges: &mut stats.git_ranges_ignored,
            };
            let mut affected_entries = Vec::new();
            let mut fixed = Vec::new();
            for entry in &entries {
                if let Some(entry_fixed) = context.evaluate_entry(entry) {
                    affected_entries.push(*entry);
                    fixed.extend(entry_fixed);
                }
            }
            if affected_entries.is_empty() {
                continue;
            }
            let rated = rate(advisory, &affected_entries);
            hits_by_package
                .entry(finding_package.clone())
                .or_default()
                .push(Hit {
                    advisory: Rc::clone(advisory),
                    rated,
                    fixed,
                });
        }
    }

    let mut findings = Vec::new();
    for (package, hits) in hits_by_package {
        let scheme = scheme_for_ecosystem(&package.ecosystem);
        findings.extend(merge_aliases(&package, hits, scheme));
    }
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| a.package.cmp(&b.package))
    });
    stats.findings = findings.len();
    if stats.git_ranges_ignored > 0 {
        warnings.insert(format!(
            "ignored {} GIT range(s): commit ranges cannot be matched against installed versions",
            stats.git_ranges_ignored
        ));
    }
    MatchOutcome {
        findings,
        warnings: warnings.into_iter().collect(),
        stats,
    }
}

struct EntryContext<'a> {
    package: &'a Package,
    version: &'a str,
    scheme: Option<&'static dyn VersionScheme>,
    advisory: &'a Advisory,
    warnings: &'a mut BTreeSet<String>,
    git_ranges: &'a mut usize,
}

impl EntryContext<'_> {
    fn warn(&mut self, problem: impl std::fmt::Display) {
        self.warnings.insert(format!(
            "{} {} {} vs {}: {problem}",
            self.package.ecosystem, self.package.name, self.package.version, self.advisory.id
        ));
    }

    /// `Some(fixed versions)` when the entry affects the installed version.
    ///
    /// `versions` lists are compared verbatim, as osv.dev and osv-scanner do:
    /// feeds write them in the ecosystem's canonical spelling, and parsing
    /// every listed version (hundreds for some PyPI records) would dominate
    /// matching time.
    fn evaluate_entry(&mut self, entry: &Affected) -> Option<Vec<String>> {
        let mut affected = entry.versions.contains(self.version);
        let mut fixed = Vec::new();
        for range in &entry.ranges {
            let scheme = match range.kind {
                RangeKind::Git => {
                    *self.git_ranges += 1;
                    continue;
                }
                RangeKind::Semver => Some(semver_scheme()),
                RangeKind::Ecosystem => self.scheme,
            };
            let Some(scheme) = scheme else {
                self.warn(format_args!(
                    "no version ordering for ecosystem {:?}, range not evaluated",
                    self.package.ecosystem
                ));
                continue;
            };
            let version = if range.kind == RangeKind::Semver {
                self.version.strip_prefix('v').unwrap_or(self.version)
            } else {
                self.version
            };
            if let Err(error) = scheme.validate(version) {
                self.warn(format_args!("unparseable installed version: {error}"));
                continue;
            }
            match range::evaluate(scheme, version, &range.events) {
                Ok(Some(range_fixed)) => {
                    affected = true;
                    fixed.extend(range_fixed);
                }
                Ok(None) => {}
                Err(problem) => self.warn(format_args!("range not evaluated: {problem}")),
            }
        }
        affected.then_some(fixed)
    }
}

/// The ordering for `SEMVER` ranges: SemVer 2.0 whatever the ecosystem, as
/// the OSV schema says (Go versions reach here without their `v`).
fn semver_scheme() -> &'static dyn VersionScheme {
    &airlock_version::SemVer
}

/// Merges hits connected by shared ids or aliases into one finding each.
fn merge_aliases(
    package: &FindingPackage,
    hits: Vec<Hit>,
    scheme: Option<&'static dyn VersionScheme>,
) -> Vec<Finding> {
    // Union-find over hits: two hits join when one's id or alias is the other's.
    let mut parent: Vec<usize> = (0..hits.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, hit) in hits.iter().enumerate() {
        let names = std::iter::once(&hit.advisory.id).chain(hit.advisory.aliases.iter());
        for name in names {
            match owner.get(name.as_str()) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    owner.insert(name, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<&Hit>> = BTreeMap::new();
    for (i, hit) in hits.iter().enumerate() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(hit);
    }

    let mut findings = Vec::new();
    for mut group in groups.into_values() {
        group.sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
        let has_cve = |hit: &&&Hit| {
            hit.advisory.id.starts_with("CVE-")
                || hit.advisory.aliases.iter().any(|a| a.starts_with("CVE-"))
        };
        let primary = group.iter().find(has_cve).unwrap_or(&group[0]);
        let mut aliases = BTreeSet::new();
        for hit in &group {
            aliases.insert(hit.advisory.id.clone());
            aliases.extend(hit.advisory.aliases.iter().cloned());
        }
        aliases.remove(&primary.advisory.id);

        let mut fixed: Vec<String> = group.iter().flat_map(|h| h.fixed.iter().cloned()).collect();
        fixed.sort_by(|a, b| {
            scheme
                .and_then(|s| s.compare(a, b).ok())
                .unwrap_or_else(|| a.cmp(b))
        });
        fixed.dedup();

        let rated = group
            .iter()
            .map(|h| &h.rated)
            .max_by(|a, b| {
                a.severity.cmp(&b.severity).then(
                    a.cvss_score
                        .unwrap_or(-1.0)
                        .total_cmp(&b.cvss_score.unwrap_or(-1.0)),
                )
            })
            .cloned()
            .unwrap_or_else(|| primary.rated.clone());

        let mut references = Vec::new();
        for url in std::iter::once(*primary)
            .chain(group.iter().copied())
            .flat_map(|h| h.advisory.references.iter())
        {
            if !references.contains(url) {
                references.push(url.clone());
            }
        }
        let summary = primary
            .advisory
            .summary
            .clone()
            .or_else(|| group.iter().find_map(|h| h.advisory.summary.clone()));

        findings.push(Finding {
            id: primary.advisory.id.clone(),
            aliases: aliases.into_iter().collect(),
            package: package.clone(),
            fixed_versions: fixed,
            severity: rated.severity,
            cvss_score: rated.cvss_score,
            cvss_vector: rated.cvss_vector,
            summary,
            references,
            published: primary.advisory.published.clone(),
            modified: primary.advisory.modified.clone(),
        });
    }
    findings
}
