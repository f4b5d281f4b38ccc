//! Matching an inventory against OSV records.
//!
//! For each package: look its records up once (by the key the feed uses),
//! keep the `affected` entries of the same release and name, evaluate
//! `versions` and ranges with the ecosystem's version ordering, then merge
//! the hits that are the same vulnerability under different ids (aliases)
//! into one finding. Problems (unparseable versions, ecosystems without an
//! ordering, GIT ranges, lookup failures) become warnings: nothing here can
//! fail, and nothing is silently treated as "not affected".

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

use airlock_scan_model::{Finding, FindingPackage, Inventory, Package};
use airlock_version::{VersionScheme, scheme_for_ecosystem};

use crate::ecosystem::{ecosystem_matches, feed_key, has_lookup_name};
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

    // The projects lockfiles describe are listed, never matched: a private
    // project may share a public package's name.
    for package in packages.iter().filter(|p| !p.application) {
        let (key, version) = feed_key(package);
        let records = cache
            .entry((package.ecosystem.clone(), key.clone()))
            .or_insert_with(|| {
                stats.lookups += 1;
                match source.advisories_for_matching(&package.ecosystem, &key) {
                    Ok(records) => records.into_iter().map(Rc::new).collect(),
                    Err(error) => {
                        warnings.insert(error.to_string());
                        Vec::new()
                    }
                }
            });
        let scheme = scheme_for_ecosystem(&package.ecosystem);
        let mut package_hits = Vec::new();
        let mut validity = InstalledValidity::default();
        for slot in records.iter_mut() {
            stats.records_examined += 1;
            let advisory: &Advisory = slot;
            let entries: Vec<usize> = advisory
                .affected
                .iter()
                .enumerate()
                .filter(|(_, a)| {
                    a.package.as_ref().is_some_and(|p| {
                        ecosystem_matches(&package.ecosystem, &p.ecosystem)
                            && has_lookup_name(&p.ecosystem, &p.name, &key)
                    })
                })
                .map(|(i, _)| i)
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
                validity: &mut validity,
            };
            let mut affected_entries = Vec::new();
            let mut fixed = Vec::new();
            for &entry in &entries {
                if let Some(entry_fixed) = context.evaluate_entry(&advisory.affected[entry]) {
                    affected_entries.push(entry);
                    fixed.extend(entry_fixed);
                }
            }
            if affected_entries.is_empty() {
                continue;
            }
            // Only now is what reporting reads worth loading.
            if slot.deferred.is_some() {
                let advisory = Rc::make_mut(slot);
                if let Err(error) = source.complete(&package.ecosystem, &key, advisory) {
                    warnings.insert(error.to_string());
                }
                advisory.deferred = None;
            }
            let advisory: &Advisory = slot;
            let affected_entries: Vec<&Affected> = affected_entries
                .iter()
                .map(|&entry| &advisory.affected[entry])
                .collect();
            let rated = rate(advisory, &affected_entries);
            package_hits.push(Hit {
                advisory: Rc::clone(slot),
                rated,
                fixed,
            });
        }
        if !package_hits.is_empty() {
            let finding_package = FindingPackage {
                ecosystem: package.ecosystem.clone(),
                name: package.name.clone(),
                version: package.version.clone(),
            };
            hits_by_package
                .entry(finding_package)
                .or_default()
                .extend(package_hits);
        }
    }

    // Free the records that matched nothing, and leave the hits as the only
    // owners of theirs, so that findings take their strings without copies.
    drop(cache);
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
    validity: &'a mut InstalledValidity,
}

/// Whether one package's installed version parses, under its ecosystem's
/// ordering (`ECOSYSTEM` ranges) and under SemVer (`SEMVER` ranges): checked
/// once per package rather than once per range.
#[derive(Default)]
struct InstalledValidity {
    by_kind: [Option<Result<(), String>>; 2],
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
            let slot = &mut self.validity.by_kind[usize::from(range.kind == RangeKind::Semver)];
            if let Err(error) = slot
                .get_or_insert_with(|| scheme.validate(version).map_err(|error| error.to_string()))
            {
                let error = error.clone();
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
    mut hits: Vec<Hit>,
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
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..hits.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    drop(owner);

    let mut findings = Vec::new();
    for mut group in groups.into_values() {
        group.sort_by(|&a, &b| hits[a].advisory.id.cmp(&hits[b].advisory.id));
        let has_cve = |&i: &usize| {
            let advisory = &hits[i].advisory;
            advisory.id.starts_with("CVE-")
                || advisory.aliases.iter().any(|a| a.starts_with("CVE-"))
        };
        let primary = group.iter().copied().find(has_cve).unwrap_or(group[0]);
        let mut aliases = BTreeSet::new();
        for &i in &group {
            aliases.insert(hits[i].advisory.id.clone());
            aliases.extend(hits[i].advisory.aliases.iter().cloned());
        }
        aliases.remove(&hits[primary].advisory.id);

        let mut fixed: Vec<String> = group
            .iter()
            .flat_map(|&i| hits[i].fixed.iter().cloned())
            .collect();
        fixed.sort_by(|a, b| {
            scheme
                .and_then(|s| s.compare(a, b).ok())
                .unwrap_or_else(|| a.cmp(b))
        });
        fixed.dedup();

        let rated = group
            .iter()
            .map(|&i| &hits[i].rated)
            .max_by(|a, b| {
                a.severity.cmp(&b.severity).then(
                    a.cvss_score
                        .unwrap_or(-1.0)
                        .total_cmp(&b.cvss_score.unwrap_or(-1.0)),
                )
            })
            .cloned()
            .unwrap_or_else(|| hits[primary].rated.clone());

        // The primary's references first, then the others', without repeats.
        let mut references = Vec::new();
        if group.len() > 1 {
            for &i in std::iter::once(&primary).chain(&group) {
                references.extend(hits[i].advisory.references.iter().cloned());
            }
        }
        let summary_elsewhere = || group.iter().find_map(|&i| hits[i].advisory.summary.clone());
        let fallback_summary = if hits[primary].advisory.summary.is_none() {
            summary_elsewhere()
        } else {
            None
        };

        // The primary record is usually owned by this hit alone (the lookup
        // cache is gone): move its strings into the finding instead of
        // copying them.
        let mut taken;
        let primary: &mut Advisory = match Rc::get_mut(&mut hits[primary].advisory) {
            Some(advisory) => advisory,
            None => {
                taken = (*hits[primary].advisory).clone();
                &mut taken
            }
        };
        if group.len() == 1 {
            references = std::mem::take(&mut primary.references);
        }
        dedup_in_order(&mut references);
        findings.push(Finding {
            id: std::mem::take(&mut primary.id),
            aliases: aliases.into_iter().collect(),
            package: package.clone(),
            fixed_versions: fixed,
            severity: rated.severity,
            cvss_score: rated.cvss_score,
            cvss_vector: rated.cvss_vector,
            summary: primary.summary.take().or(fallback_summary),
            references,
            published: primary.published.take(),
            modified: primary.modified.take(),
        });
    }
    findings
}

/// Removes repeated strings, keeping the first of each in place.
fn dedup_in_order(items: &mut Vec<String>) {
    if items.len() <= 16 {
        // Short lists (the usual case): comparing beats hashing.
        let mut kept = 0;
        for i in 0..items.len() {
            if !items[..kept].contains(&items[i]) {
                items.swap(kept, i);
                kept += 1;
            }
        }
        items.truncate(kept);
    } else {
        let mut seen = HashSet::with_capacity(items.len());
        items.retain(|item| seen.insert(item.clone()));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::MemorySource;

    /// Serves records without what only reporting reads, and counts how
    /// many it is asked to complete.
    struct DeferringSource {
        full: MemorySource,
        completed: Cell<usize>,
    }

    impl AdvisorySource for DeferringSource {
        fn advisories(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>, SourceError> {
            self.full.advisories(ecosystem, name)
        }

        fn advisories_for_matching(
            &self,
            ecosystem: &str,
            name: &str,
        ) -> Result<Vec<Advisory>, SourceError> {
            let mut records = self.full.advisories(ecosystem, name)?;
            for record in &mut records {
                record.summary = None;
                record.severity.clear();
                record.references.clear();
                record.deferred = Some(record.id.clone().into_bytes().into_boxed_slice());
            }
            Ok(records)
        }

        fn complete(
            &self,
            ecosystem: &str,
            name: &str,
            advisory: &mut Advisory,
        ) -> Result<(), SourceError> {
            self.completed.set(self.completed.get() + 1);
            let full = self.full.advisories(ecosystem, name)?;
            let original = full.iter().find(|a| a.id == advisory.id).expect("known id");
            advisory.summary = original.summary.clone();
            advisory.severity = original.severity.clone();
            advisory.references = original.references.clone();
            Ok(())
        }
    }

    use crate::source::SourceError;

    fn record(id: &str, fixed: &str) -> Advisory {
        Advisory::from_json(
            format!(
                r#"{{"id":"{id}","modified":"2024-01-01T00:00:00Z","summary":"about {id}",
                "aliases":["CVE-{id}"],"references":[{{"url":"https://a/{id}"}},{{"url":"https://a/{id}"}}],
                "severity":[{{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}],
                "affected":[{{"package":{{"ecosystem":"PyPI","name":"Django"}},
                "ranges":[{{"type":"ECOSYSTEM","events":[{{"introduced":"0"}},{{"fixed":"{fixed}"}}]}}]}}]}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn deferred_records_are_completed_only_when_they_match() {
        let records = vec![record("A", "2.0"), record("B", "1.0"), record("C", "3.0")];
        let full = MemorySource::new(records.clone());
        let deferring = DeferringSource {
            full: MemorySource::new(records),
            completed: Cell::new(0),
        };
        let package = Package {
            ecosystem: "PyPI".into(),
            name: "django".into(),
            version: "1.5".into(),
            source_name: None,
            source_version: None,
            purl: String::new(),
            licenses: Vec::new(),
            layer: String::new(),
            path: String::new(),
            application: false,
        };
        let packages = [package.clone(), package];
        let expected = match_packages(&packages, &full);
        let outcome = match_packages(&packages, &deferring);
        assert_eq!(outcome, expected);
        assert_eq!(outcome.findings.len(), 2, "A and C match, B is fixed");
        assert_eq!(outcome.findings[0].references, vec!["https://a/A"]);
        assert_eq!(outcome.findings[0].summary.as_deref(), Some("about A"));
        // Each matching record once, although two packages matched it.
        assert_eq!(deferring.completed.get(), 2);
    }
}
