//! The two zones every repository lives in: `unscanned/<tenant>/...`, where
//! teams push, and `scanned/<tenant>/...`, written only by the promoter after
//! a scan passes. Parsing a repository name into a [`ZonedRepo`] is the one
//! place that decides which zone and tenant a request touches.

use crate::TenantId;

/// Which side of the quarantine gate a repository is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Zone {
    Unscanned,
    Scanned,
}

impl Zone {
    pub const ALL: [Zone; 2] = [Zone::Unscanned, Zone::Scanned];

    pub fn as_str(&self) -> &'static str {
        match self {
            Zone::Unscanned => "unscanned",
            Zone::Scanned => "scanned",
        }
    }

    fn from_segment(s: &str) -> Option<Zone> {
        Zone::ALL.into_iter().find(|z| z.as_str() == s)
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A repository name split into zone, tenant and the rest of the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZonedRepo {
    pub zone: Zone,
    pub tenant: TenantId,
    /// The rest after `<zone>/<tenant>/`, never empty.
    pub name: String,
}

/// Why a repository name does not belong to a zone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    #[error(
        "repository {0:?} is outside the zones: push to unscanned/<tenant>/<name>; pull promoted images from scanned/<tenant>/<name>"
    )]
    OutsideZones(String),
    #[error(
        "repository {repository:?} names an invalid tenant {tenant:?}: tenants match [a-z0-9]+(-[a-z0-9]+)*"
    )]
    InvalidTenant { repository: String, tenant: String },
}

impl ZonedRepo {
    /// Parses a repository name (already a syntactically valid OCI name like "unscanned/acme/app").
    pub fn parse(repository: &str) -> Result<ZonedRepo, ZoneError> {
        let outside = || ZoneError::OutsideZones(repository.to_owned());
        let mut parts = repository.splitn(3, '/');
        let zone = parts
            .next()
            .and_then(Zone::from_segment)
            .ok_or_else(outside)?;
        let tenant = parts.next().ok_or_else(outside)?;
        let name = parts.next().filter(|n| !n.is_empty()).ok_or_else(outside)?;
        let tenant = tenant.parse().map_err(|_| ZoneError::InvalidTenant {
            repository: repository.to_owned(),
            tenant: tenant.to_owned(),
        })?;
        Ok(ZonedRepo {
            zone,
            tenant,
            name: name.to_owned(),
        })
    }

    /// "scanned/<t>/<name>" for an unscanned repo and vice versa.
    pub fn in_zone(&self, zone: Zone) -> ZonedRepo {
        ZonedRepo {
            zone,
            tenant: self.tenant.clone(),
            name: self.name.clone(),
        }
    }

    /// `"<zone>/<tenant>/<name>"`.
    pub fn repository(&self) -> String {
        format!("{}/{}/{}", self.zone.as_str(), self.tenant, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zoned_repositories() {
        let cases: &[(&str, Zone, &str, &str)] = &[
            ("unscanned/acme/app", Zone::Unscanned, "acme", "app"),
            ("scanned/acme/app", Zone::Scanned, "acme", "app"),
            (
                "unscanned/team-1/group/sub/app",
                Zone::Unscanned,
                "team-1",
                "group/sub/app",
            ),
            ("scanned/a/b", Zone::Scanned, "a", "b"),
        ];
        for (input, zone, tenant, name) in cases {
            let repo = ZonedRepo::parse(input).unwrap();
            assert_eq!(repo.zone, *zone, "{input}");
            assert_eq!(repo.tenant.as_str(), *tenant, "{input}");
            assert_eq!(repo.name, *name, "{input}");
            assert_eq!(repo.repository(), *input);
        }
    }

    #[test]
    fn rejects_names_outside_the_zones() {
        let cases = [
            "library/x",
            "unscanned/t",
            "unscanned/t/",
            "scanned",
            "scanned/",
            "",
            "quarantine/acme/app",
            "Scanned/acme/app",
            "scannedx/acme/app",
        ];
        for input in cases {
            assert_eq!(
                ZonedRepo::parse(input),
                Err(ZoneError::OutsideZones(input.to_owned())),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_invalid_tenants() {
        let cases: &[(&str, &str)] = &[
            ("unscanned/a--b/app", "a--b"),
            ("unscanned/-a/app", "-a"),
            ("scanned/a-/app", "a-"),
            ("scanned/a_b/app", "a_b"),
            ("scanned//app", ""),
        ];
        for (input, tenant) in cases {
            assert_eq!(
                ZonedRepo::parse(input),
                Err(ZoneError::InvalidTenant {
                    repository: (*input).to_owned(),
                    tenant: (*tenant).to_owned()
                }),
                "{input}"
            );
        }
    }

    #[test]
    fn in_zone_swaps_only_the_zone() {
        let repo = ZonedRepo::parse("unscanned/acme/group/app").unwrap();
        assert_eq!(
            repo.in_zone(Zone::Scanned).repository(),
            "scanned/acme/group/app"
        );
        assert_eq!(repo.in_zone(Zone::Unscanned), repo);
    }
}
