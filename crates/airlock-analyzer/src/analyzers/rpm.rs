//! RPM packages from the rpm database. RHEL 9 and Fedora keep it in SQLite
//! (`rpmdb.sqlite`, table `Packages(hnum, blob)`), opened from memory with
//! SQLite's deserialize (nothing is written to disk); RHEL 7/8 and CentOS use
//! a BerkeleyDB hash file (`var/lib/rpm/Packages`) whose values are the same
//! header blobs, read here by walking its pages. The header blob parser
//! (index entries + data store) is shared by both.
//!
//! Versions are `[epoch:]version-release`; the source rpm
//! (`openssl-3.0.7-25.el9_3.src.rpm`) gives source name and version.
//! `gpg-pubkey` pseudo-packages are skipped. The purl namespace and the
//! ecosystem are completed at merge from the image's OS.

use std::io::Cursor;

use super::{AnalyzeContext, Analyzer, AnalyzerOutput, package, purl};
use crate::{AnalyzeError, OS_ECOSYSTEM_PREFIX};

/// The rpm analyzer.
pub struct Rpm;

impl Rpm {
    /// Bump when the output changes.
    pub const VERSION: u32 = 1;
}

const SQLITE_PATHS: &[&str] = &[
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];
const BDB_PATHS: &[&str] = &["var/lib/rpm/Packages", "usr/lib/sysimage/rpm/Packages"];

impl Analyzer for Rpm {
    fn name(&self) -> &'static str {
        "rpm"
    }

    fn version(&self) -> u32 {
        Self::VERSION
    }

    fn wants(&self, path: &str, _mode: u32) -> bool {
        SQLITE_PATHS.contains(&path) || BDB_PATHS.contains(&path)
    }

    fn analyze(
        &self,
        path: &str,
        bytes: &[u8],
        _ctx: &AnalyzeContext<'_>,
    ) -> Result<AnalyzerOutput, AnalyzeError> {
        let blobs = if SQLITE_PATHS.contains(&path) {
            sqlite_blobs(bytes)?
        } else {
            bdb_hash_values(bytes)?
        };
        let mut output = AnalyzerOutput::default();
        for (index, blob) in blobs.iter().enumerate() {
            match parse_header(blob) {
                Ok(header) if header.name == "gpg-pubkey" => {}
                Ok(header) => output.packages.push(header.into_package()),
                Err(reason) => output
                    .warnings
                    .push(format!("header {} skipped: {reason}", index + 1)),
            }
        }
        Ok(output)
    }
}

/// Reads every header blob of an `rpmdb.sqlite` image held in memory.
fn sqlite_blobs(bytes: &[u8]) -> Result<Vec<Vec<u8>>, AnalyzeError> {
    let malformed = |e: rusqlite::Error| AnalyzeError::malformed("rpmdb.sqlite", e.to_string());
    if !bytes.starts_with(b"SQLite format 3\0") || bytes.len() < 100 {
        return Err(AnalyzeError::malformed(
            "rpmdb.sqlite",
            "not an SQLite database",
        ));
    }
    let mut image = bytes.to_vec();
    // rpm uses WAL mode; an in-memory database cannot, so mark it as a
    // rollback-journal database (file format bytes 18 and 19 = 1).
    image[18] = 1;
    image[19] = 1;
    let mut connection = rusqlite::Connection::open_in_memory().map_err(malformed)?;
    let size = image.len();
    connection
        .deserialize_read_exact("main", Cursor::new(image), size, true)
        .map_err(malformed)?;
    let mut statement = connection
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(malformed)?;
    let rows = statement
        .query_map([], |row| row.get::<_, Vec<u8>>(0))
        .map_err(malformed)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(malformed)
}

const BDB_HASH_MAGIC: u32 = 0x0006_1561;
const PAGE_HASH_UNSORTED: u8 = 2;
const PAGE_OVERFLOW: u8 = 7;
const PAGE_HASH: u8 = 13;
const ITEM_KEYDATA: u8 = 1;
const ITEM_OFFPAGE: u8 = 3;
const PAGE_HEADER: usize = 26;

/// Reads every value of a BerkeleyDB hash database held in memory: walks
/// all hash pages, takes the value of each key/value pair, and follows
/// overflow page chains for values stored off-page (rpm's header blobs).
fn bdb_hash_values(bytes: &[u8]) -> Result<Vec<Vec<u8>>, AnalyzeError> {
    let malformed =
        |reason: &str| AnalyzeError::malformed("BerkeleyDB Packages", reason.to_string());
    if bytes.len() < 512 {
        return Err(malformed("shorter than a metadata page"));
    }
    let little = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) == BDB_HASH_MAGIC;
    let big = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) == BDB_HASH_MAGIC;
    if !little && !big {
        return Err(malformed("not a BerkeleyDB hash database"));
    }
    let u32_at = |data: &[u8], at: usize| -> Option<u32> {
        let raw: [u8; 4] = data.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(raw)
        } else {
            u32::from_be_bytes(raw)
        })
    };
    let u16_at = |data: &[u8], at: usize| -> Option<u16> {
        let raw: [u8; 2] = data.get(at..at + 2)?.try_into().ok()?;
        Some(if little {
            u16::from_le_bytes(raw)
        } else {
            u16::from_be_bytes(raw)
        })
    };
    let page_size = u32_at(bytes, 20).unwrap_or(0) as usize;
    if !(512..=65536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(malformed("invalid page size"));
    }
    let page_count = bytes.len() / page_size;
    let page = |number: usize| bytes.get(number * page_size..(number + 1) * page_size);

    let mut values = Vec::new();
    for number in 1..page_count {
        let Some(current) = page(number) else { break };
        let kind = current[25];
        if kind != PAGE_HASH && kind != PAGE_HASH_UNSORTED {
            continue;
        }
        let entries = usize::from(u16_at(current, 20).unwrap_or(0));
        // Entries alternate key, value; take the values.
        for pair in 0..entries / 2 {
            let Some(offset) = u16_at(current, PAGE_HEADER + (pair * 2 + 1) * 2) else {
                return Err(malformed("hash page index runs past the page"));
            };
            let offset = usize::from(offset);
            let Some(&item_type) = current.get(offset) else {
                return Err(malformed("hash item offset outside the page"));
            };
            if item_type == ITEM_KEYDATA {
                // Inline: the item runs to where the previous item starts.
                let index = pair * 2 + 1;
                let end = usize::from(u16_at(current, PAGE_HEADER + (index - 1) * 2).unwrap_or(0));
                let Some(value) = current.get(offset + 1..end) else {
                    return Err(malformed("inline hash item outside the page"));
                };
                values.push(value.to_vec());
                continue;
            }
            if item_type != ITEM_OFFPAGE {
                continue;
            }
            let (Some(mut next), Some(total)) =
                (u32_at(current, offset + 4), u32_at(current, offset + 8))
            else {
                return Err(malformed("truncated off-page item"));
            };
            let total = total as usize;
            if total > bytes.len() {
                return Err(malformed("off-page item longer than the file"));
            }
            let mut value = Vec::with_capacity(total);
            let mut hops = 0;
            while next != 0 && value.len() < total {
                hops += 1;
                let Some(overflow) = page(next as usize).filter(|_| hops <= page_count) else {
                    return Err(malformed("overflow chain leaves the file or loops"));
                };
                if overflow[25] != PAGE_OVERFLOW {
                    return Err(malformed("overflow chain reaches a non-overflow page"));
                }
                let length = usize::from(u16_at(overflow, 22).unwrap_or(0));
                let Some(chunk) = overflow.get(PAGE_HEADER..PAGE_HEADER + length) else {
                    return Err(malformed("overflow page length exceeds the page"));
                };
                value.extend_from_slice(chunk);
                next = u32_at(overflow, 16).unwrap_or(0);
            }
            value.truncate(total);
            values.push(value);
        }
    }
    Ok(values)
}

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_I18NSTRING: u32 = 9;

/// The fields of an rpm header the inventory needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Header {
    name: String,
    version: String,
    release: String,
    epoch: Option<u32>,
    license: String,
    arch: String,
    source_rpm: String,
}

impl Header {
    fn into_package(self) -> airlock_scan_model::Package {
        let version_release = format!("{}-{}", self.version, self.release);
        let full_version = match self.epoch {
            Some(epoch) => format!("{epoch}:{version_release}"),
            None => version_release.clone(),
        };
        let epoch = self.epoch.map(|e| e.to_string()).unwrap_or_default();
        let mut pkg = package(
            &format!("{OS_ECOSYSTEM_PREFIX}Red Hat"),
            &self.name,
            &full_version,
            purl(
                "rpm",
                Some("redhat"),
                &self.name,
                &version_release,
                &[("arch", &self.arch), ("epoch", &epoch)],
            ),
        );
        if let Some((name, version)) = split_source_rpm(&self.source_rpm) {
            pkg.source_name = Some(name.to_string());
            pkg.source_version = Some(version.to_string());
        }
        if !self.license.is_empty() {
            pkg.licenses = vec![self.license];
        }
        pkg
    }
}

/// `foo-1.2-3.el9.src.rpm` → (`foo`, `1.2-3.el9`).
fn split_source_rpm(source_rpm: &str) -> Option<(&str, &str)> {
    let base = source_rpm
        .strip_suffix(".src.rpm")
        .or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, _release) = base.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some((name, &base[name.len() + 1..]))
}

/// Parses a header blob: big-endian `il`, `dl`, `il` × (tag, type, offset,
/// count), then `dl` bytes of data. Every offset is bounds-checked.
fn parse_header(blob: &[u8]) -> Result<Header, String> {
    let be32 = |at: usize| -> Option<u32> {
        let raw: [u8; 4] = blob.get(at..at + 4)?.try_into().ok()?;
        Some(u32::from_be_bytes(raw))
    };
    let (Some(index_count), Some(data_len)) = (be32(0), be32(4)) else {
        return Err("shorter than its preamble".to_string());
    };
    let index_count = index_count as usize;
    let data_start = index_count
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .ok_or("index count overflows")?;
    let data = blob
        .get(data_start..data_start.saturating_add(data_len as usize))
        .ok_or("index or data store runs past the blob")?;
    let string_at = |offset: usize| -> Option<String> {
        let rest = data.get(offset..)?;
        let end = rest.iter().position(|b| *b == 0)?;
        Some(String::from_utf8_lossy(&rest[..end]).into_owned())
    };
    let mut header = Header::default();
    for entry in 0..index_count {
        let base = 8 + entry * 16;
        let (Some(tag), Some(kind), Some(offset)) = (be32(base), be32(base + 4), be32(base + 8))
        else {
            return Err("truncated index entry".to_string());
        };
        let offset = offset as usize;
        let string = || {
            if kind == TYPE_STRING || kind == TYPE_I18NSTRING {
                string_at(offset)
            } else {
                None
            }
        };
        match tag {
            TAG_NAME => header.name = string().ok_or("NAME is not a string")?,
            TAG_VERSION => header.version = string().ok_or("VERSION is not a string")?,
            TAG_RELEASE => header.release = string().ok_or("RELEASE is not a string")?,
            TAG_LICENSE => header.license = string().unwrap_or_default(),
            TAG_ARCH => header.arch = string().unwrap_or_default(),
            TAG_SOURCERPM => header.source_rpm = string().unwrap_or_default(),
            TAG_EPOCH if kind == TYPE_INT32 => {
                let raw: [u8; 4] = data
                    .get(offset..offset + 4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or("EPOCH runs past the data store")?;
                header.epoch = Some(u32::from_be_bytes(raw));
            }
            _ => {}
        }
    }
    if header.name.is_empty() || header.version.is_empty() {
        return Err("no NAME or VERSION".to_string());
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_testkit::fixtures;

    const CTX: AnalyzeContext<'static> = AnalyzeContext {
        layer_digest: "sha256:x",
        max_file_bytes: 1 << 20,
    };

    #[test]
    fn sqlite_rpmdb_is_read_from_memory() {
        let output = Rpm
            .analyze("var/lib/rpm/rpmdb.sqlite", &fixtures::rpmdb_sqlite(), &CTX)
            .unwrap();
        let names: Vec<&str> = output.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            ["bash", "openssl-libs", "tzdata"],
            "gpg-pubkey is skipped"
        );
        let openssl = &output.packages[1];
        assert_eq!(openssl.version, "1:3.0.7-25.el9_3");
        assert_eq!(openssl.source_name.as_deref(), Some("openssl"));
        assert_eq!(openssl.source_version.as_deref(), Some("3.0.7-25.el9_3"));
        assert_eq!(openssl.licenses, ["ASL 2.0"]);
        assert_eq!(openssl.ecosystem, "os:Red Hat");
        assert_eq!(
            openssl.purl,
            "pkg:rpm/redhat/openssl-libs@3.0.7-25.el9_3?arch=x86_64&epoch=1"
        );
        assert_eq!(output.packages[0].version, "5.1.8-6.el9_1");
    }

    #[test]
    fn berkeleydb_hash_packages_file_is_read() {
        let output = Rpm
            .analyze("var/lib/rpm/Packages", &fixtures::rpm_bdb_packages(), &CTX)
            .unwrap();
        let names: Vec<&str> = output.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["bash", "openssl-libs", "tzdata"]);
        assert_eq!(output.packages[1].version, "1:3.0.7-25.el9_3");
    }

    #[test]
    fn berkeleydb_file_written_by_berkeleydb_is_read() {
        // Written by db5.3_load: off-page values for real packages and an
        // inline value for the small gpg-pubkey header.
        let output = Rpm
            .analyze(
                "var/lib/rpm/Packages",
                fixtures::rpm_bdb_packages_real(),
                &CTX,
            )
            .unwrap();
        let mut names: Vec<&str> = output.packages.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        assert_eq!(names, ["bash", "openssl-libs", "tzdata"]);
        assert!(output.warnings.is_empty(), "{:?}", output.warnings);
        let values = bdb_hash_values(fixtures::rpm_bdb_packages_real()).unwrap();
        assert_eq!(
            values.len(),
            4,
            "three off-page values and the inline gpg-pubkey"
        );
        assert!(
            values
                .iter()
                .any(|v| parse_header(v).is_ok_and(|h| h.name == "gpg-pubkey"))
        );
    }

    #[test]
    fn corrupt_databases_are_errors() {
        assert!(
            Rpm.analyze(
                "var/lib/rpm/rpmdb.sqlite",
                b"SQLite format 3\0garbage",
                &CTX
            )
            .is_err()
        );
        assert!(
            Rpm.analyze("var/lib/rpm/Packages", &[0u8; 4096], &CTX)
                .is_err()
        );
        let mut sqlite = fixtures::rpmdb_sqlite();
        sqlite.truncate(200);
        assert!(
            Rpm.analyze("var/lib/rpm/rpmdb.sqlite", &sqlite, &CTX)
                .is_err()
        );
    }

    #[test]
    fn header_parser_rejects_lying_offsets() {
        let mut blob =
            fixtures::rpm_package_blob("a", None, "1", "1", "x86_64", "MIT", "a-1-1.src.rpm");
        // Point the first real entry (NAME) far past the data store.
        blob[8 + 16 + 8..8 + 16 + 12].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_header(&blob).is_err());
        assert!(parse_header(&[0xff; 8]).is_err());
        assert!(parse_header(&[]).is_err());
    }

    #[test]
    fn source_rpms_split_into_name_and_version() {
        assert_eq!(
            split_source_rpm("openssl-3.0.7-25.el9_3.src.rpm"),
            Some(("openssl", "3.0.7-25.el9_3"))
        );
        assert_eq!(
            split_source_rpm("python3.11-3.11.5-1.el9.src.rpm"),
            Some(("python3.11", "3.11.5-1.el9"))
        );
        assert_eq!(split_source_rpm("junk"), None);
    }
}
