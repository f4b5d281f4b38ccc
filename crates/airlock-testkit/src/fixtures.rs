//! Realistic package-database contents, shared by analyzer, scanner and
//! end-to-end tests. The expected packages are spelled out in each
//! function's doc so tests can assert on them.

use std::io::{Cursor, Write};

/// A Debian 12 `var/lib/dpkg/status`: installed `base-files` 12.4+deb12u5,
/// `libc6` 2.36-9+deb12u4 (source glibc), `libssl3` 3.0.11-1~deb12u2 (source
/// openssl), `zlib1g` 1:1.2.13.dfsg-1 (`Source: zlib (1:1.2.13.dfsg-1)`), and
/// `libgcc-s1`, which is deinstalled (config-files) and must not count.
pub fn dpkg_status() -> String {
    r#"Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 341
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Pre-Depends: awk
Breaks: booth (<< 1.0-283), dpkg (<= 1.15.0)
Conffiles:
 /etc/debian_version 8d0f3e3b2bd9a8d34d1a9d28a0f8f7c9
 /etc/host.conf 4eb63731c9f5e30903ac4fc07a7fe3d6
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 and the text of several common licenses in use on Debian systems.

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12986
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
Homepage: https://www.gnu.org/software/libc/libc.html

Package: libgcc-s1
Status: deinstall ok config-files
Priority: optional
Section: libs
Installed-Size: 140
Maintainer: Debian GCC Maintainers <debian-gcc@lists.debian.org>
Architecture: amd64
Source: gcc-12
Version: 12.2.0-14
Description: GCC support library

Package: libssl3
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 6166
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 3.0.11-1~deb12u2
Depends: libc6 (>= 2.34)
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL
 and TLS cryptographic protocols for secure communication over the
 Internet.
Homepage: https://www.openssl.org/

Package: zlib1g
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 168
Maintainer: Mark Brown <broonie@debian.org>
Architecture: amd64
Multi-Arch: same
Source: zlib (1:1.2.13.dfsg-1)
Version: 1:1.2.13.dfsg-1
Provides: libz1
Depends: libc6 (>= 2.14)
Breaks: libxml2 (<< 2.7.6.dfsg-2), texlive-binaries (<< 2009-12)
Description: compression library - runtime
 zlib is a library implementing the deflate compression method found
 in gzip and PKZIP.  This package includes the shared library.
Homepage: http://zlib.net/
"#
    .to_string()
}

/// A distroless `var/lib/dpkg/status.d/tzdata` (no `Status:` line):
/// `tzdata` 2024a-0+deb12u1.
pub fn dpkg_status_d_tzdata() -> String {
    r#"Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Installed-Size: 2850
Depends: debconf (>= 0.5) | debconf-2.0
Provides: tzdata-bookworm
Section: localization
Priority: required
Multi-Arch: foreign
Homepage: https://www.iana.org/time-zones
Description: time zone and daylight-saving time data
 This package contains data required for the implementation of
 standard local time for many representative locations around the
 globe.
"#
    .to_string()
}

/// An Alpine 3.19 `lib/apk/db/installed`: `musl` 1.2.4_git20230717-r4,
/// `busybox` 1.36.1-r15, `libcrypto3` 3.1.4-r5 (origin openssl, Apache-2.0).
pub fn apk_installed() -> String {
    r#"C:Q1Rj0nYvR9nT4ly5Oo2z7yQaVj2p4=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1705347347
c:2e3e0a4f0b2d1d0c2b6fa1ca8c4cb4f3b6b6c0a2
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1eoDmE8Jj2a4qp7Fe+wM+C9hIuK8=

C:Q1u4o2K0iX7aBBaA1vR1h3oGvYQyY=
P:busybox
V:1.36.1-r15
A:x86_64
S:507831
I:959488
T:Size optimized toolbox of many common UNIX utilities
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1700000000
D:so:libc.musl-x86_64.so.1

C:Q1zVkHq6rS1Vw9jFEnV7K2k3bVYo0=
P:libcrypto3
V:3.1.4-r5
A:x86_64
S:1766366
I:4206592
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1706900000
D:so:libc.musl-x86_64.so.1
"#
    .to_string()
}

/// One value of an rpm header tag.
#[derive(Debug, Clone)]
pub enum RpmValue {
    /// RPM_STRING_TYPE (6).
    String(String),
    /// RPM_INT32_TYPE (4), one value.
    Int32(u32),
    /// RPM_STRING_ARRAY_TYPE (8).
    StringArray(Vec<String>),
}

/// Builds an rpm header blob as rpmdb stores it: `il` and `dl` (big-endian
/// u32), `il` index entries (tag, type, offset, count), then the data store.
/// A region tag (HEADERIMMUTABLE, 63) comes first, like real headers.
pub fn rpm_header_blob(tags: &[(u32, RpmValue)]) -> Vec<u8> {
    let mut index: Vec<[u32; 4]> = Vec::new();
    let mut data: Vec<u8> = Vec::new();
    // Region trailer: 16 bytes of BIN data, as rpm writes it.
    index.push([63, 7, 0, 16]);
    data.extend_from_slice(&[0u8; 16]);
    for (tag, value) in tags {
        match value {
            RpmValue::Int32(number) => {
                while !data.len().is_multiple_of(4) {
                    data.push(0);
                }
                index.push([*tag, 4, data.len() as u32, 1]);
                data.extend_from_slice(&number.to_be_bytes());
            }
            RpmValue::String(text) => {
                index.push([*tag, 6, data.len() as u32, 1]);
                data.extend_from_slice(text.as_bytes());
                data.push(0);
            }
            RpmValue::StringArray(items) => {
                index.push([*tag, 8, data.len() as u32, items.len() as u32]);
                for item in items {
                    data.extend_from_slice(item.as_bytes());
                    data.push(0);
                }
            }
        }
    }
    let mut blob = Vec::new();
    blob.extend_from_slice(&(index.len() as u32).to_be_bytes());
    blob.extend_from_slice(&(data.len() as u32).to_be_bytes());
    for entry in &index {
        for field in entry {
            blob.extend_from_slice(&field.to_be_bytes());
        }
    }
    blob.extend_from_slice(&data);
    blob
}

/// The header blob of one rpm package (with a description of a few KiB,
/// except for `gpg-pubkey`).
pub fn rpm_package_blob(
    name: &str,
    epoch: Option<u32>,
    version: &str,
    release: &str,
    arch: &str,
    license: &str,
    source_rpm: &str,
) -> Vec<u8> {
    let mut tags = vec![
        (1000, RpmValue::String(name.to_string())),
        (1001, RpmValue::String(version.to_string())),
        (1002, RpmValue::String(release.to_string())),
    ];
    if let Some(epoch) = epoch {
        tags.push((1003, RpmValue::Int32(epoch)));
    }
    if name != "gpg-pubkey" {
        // Real headers carry descriptions and file lists of several KiB, so
        // BerkeleyDB stores them off-page; gpg-pubkey stays small (inline).
        let description = format!("The {name} package. ").repeat(120);
        tags.push((1005, RpmValue::String(description)));
    }
    tags.push((1014, RpmValue::String(license.to_string())));
    tags.push((1022, RpmValue::String(arch.to_string())));
    tags.push((1044, RpmValue::String(source_rpm.to_string())));
    tags.push((
        1117,
        RpmValue::StringArray(vec!["bin".to_string(), "lib".to_string()]),
    ));
    rpm_header_blob(&tags)
}

/// One package of the rpm fixtures.
#[derive(Debug, Clone, Copy)]
pub struct RpmFixture {
    /// NAME.
    pub name: &'static str,
    /// EPOCH, when set.
    pub epoch: Option<u32>,
    /// VERSION.
    pub version: &'static str,
    /// RELEASE.
    pub release: &'static str,
    /// ARCH.
    pub arch: &'static str,
    /// LICENSE.
    pub license: &'static str,
    /// SOURCERPM.
    pub source_rpm: &'static str,
}

impl RpmFixture {
    /// The header blob.
    pub fn blob(&self) -> Vec<u8> {
        rpm_package_blob(
            self.name,
            self.epoch,
            self.version,
            self.release,
            self.arch,
            self.license,
            self.source_rpm,
        )
    }
}

const fn rpm(
    name: &'static str,
    epoch: Option<u32>,
    version: &'static str,
    release: &'static str,
    arch: &'static str,
    license: &'static str,
    source_rpm: &'static str,
) -> RpmFixture {
    RpmFixture {
        name,
        epoch,
        version,
        release,
        arch,
        license,
        source_rpm,
    }
}

/// The packages of [`rpmdb_sqlite`] and [`rpm_bdb_packages`]. `gpg-pubkey`
/// is a pseudo-package analyzers skip.
pub const RPM_PACKAGES: &[RpmFixture] = &[
    rpm(
        "bash",
        None,
        "5.1.8",
        "6.el9_1",
        "x86_64",
        "GPLv3+",
        "bash-5.1.8-6.el9_1.src.rpm",
    ),
    rpm(
        "openssl-libs",
        Some(1),
        "3.0.7",
        "25.el9_3",
        "x86_64",
        "ASL 2.0",
        "openssl-3.0.7-25.el9_3.src.rpm",
    ),
    rpm(
        "tzdata",
        None,
        "2023c",
        "1.el9",
        "noarch",
        "Public Domain",
        "tzdata-2023c-1.el9.src.rpm",
    ),
    rpm("gpg-pubkey", None, "fd431d51", "4ae0493b", "", "pubkey", ""),
];

/// A real SQLite `rpmdb.sqlite` (as in RHEL 9 / Fedora) holding
/// [`RPM_PACKAGES`] in `Packages(hnum, blob)`, as bytes.
pub fn rpmdb_sqlite() -> Vec<u8> {
    let connection = rusqlite::Connection::open_in_memory().expect("open in-memory sqlite");
    connection
        .execute_batch(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL);
             CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL, UNIQUE(key, hnum, idx));",
        )
        .expect("create rpmdb tables");
    for package in RPM_PACKAGES {
        let blob = package.blob();
        connection
            .execute("INSERT INTO Packages (blob) VALUES (?1)", [blob])
            .expect("insert rpm header");
    }
    let data = connection.serialize("main").expect("serialize rpmdb");
    data.to_vec()
}

/// Python `*.dist-info/METADATA` for `Flask_SQLAlchemy` 3.1.1 (PEP 503 name
/// `flask-sqlalchemy`, `License-Expression: BSD-3-Clause`).
pub fn python_metadata() -> String {
    "Metadata-Version: 2.1\nName: Flask_SQLAlchemy\nVersion: 3.1.1\nSummary: Add SQLAlchemy support to your Flask application.\nMaintainer-email: Pallets <contact@palletsprojects.com>\nRequires-Python: >=3.8\nDescription-Content-Type: text/markdown\nLicense-Expression: BSD-3-Clause\nClassifier: Development Status :: 5 - Production/Stable\nRequires-Dist: flask>=2.2.5\nRequires-Dist: sqlalchemy>=2.0.16\n\nFlask-SQLAlchemy\n================\n\nLicense: this line is body text, not a header\n".to_string()
}

/// Python `*.egg-info/PKG-INFO` for `requests` 2.6.0 (`License: Apache 2.0`).
pub fn python_pkg_info() -> String {
    "Metadata-Version: 1.1\nName: requests\nVersion: 2.6.0\nSummary: Python HTTP for Humans.\nHome-page: http://python-requests.org\nAuthor: Kenneth Reitz\nLicense: Apache 2.0\nDescription: Requests: HTTP for Humans\n        =========================\nPlatform: UNKNOWN\n".to_string()
}

/// `node_modules/<name>/package.json`.
pub fn npm_package_json(name: &str, version: &str, license: &str) -> String {
    serde_json::json!({
        "name": name,
        "version": version,
        "description": "fixture",
        "main": "index.js",
        "license": license,
        "repository": {"type": "git", "url": "git+https://example.invalid/x.git"},
    })
    .to_string()
}

/// A lockfile v3 `package-lock.json`: `express` 4.18.2, `@types/node`
/// 20.10.5 (dev), nested `debug` 2.6.9 under express, plus the root and a
/// workspace link that must not count.
pub fn package_lock_v3() -> String {
    serde_json::json!({
        "name": "webapp",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": true,
        "packages": {
            "": {"name": "webapp", "version": "1.0.0", "dependencies": {"express": "^4.18.2"}},
            "node_modules/express": {"version": "4.18.2", "resolved": "https://registry.npmjs.org/express/-/express-4.18.2.tgz", "license": "MIT"},
            "node_modules/express/node_modules/debug": {"version": "2.6.9", "license": "MIT"},
            "node_modules/@types/node": {"version": "20.10.5", "dev": true, "license": "MIT"},
            "node_modules/shared-lib": {"resolved": "packages/shared-lib", "link": true},
            "packages/shared-lib": {"name": "shared-lib", "version": "0.0.1"}
        }
    })
    .to_string()
}

/// A lockfile v1 `package-lock.json`: `lodash` 4.17.20 with nested
/// `minimist` 0.0.8.
pub fn package_lock_v1() -> String {
    serde_json::json!({
        "name": "legacy",
        "version": "1.0.0",
        "lockfileVersion": 1,
        "requires": true,
        "dependencies": {
            "lodash": {"version": "4.17.20", "resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz", "integrity": "sha512-x",
                "dependencies": {"minimist": {"version": "0.0.8"}}}
        }
    })
    .to_string()
}

/// A yarn v1 `yarn.lock`: `@babel/code-frame` 7.12.13 and `js-tokens` 4.0.0.
pub fn yarn_lock_v1() -> String {
    r#"# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.
# yarn lockfile v1


"@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
  version "7.12.13"
  resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#dcfc826beef65e75c50e21d3837d7d95798dd658"
  integrity sha512-HV1Cm0Q3ZrpCR93tkWOYiuYIgLxZXZFVG2VgK+MBWjUqZTundupbfx2aXarXuw5Ko5aMcjtJgbSs4vUGBS5v6g==
  dependencies:
    "@babel/highlight" "^7.12.13"

js-tokens@^4.0.0:
  version "4.0.0"
  resolved "https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#19203fb59991df98e3a287050d4647cdeaf32499"
"#
    .to_string()
}

/// A yarn berry `yarn.lock`: `lodash` 4.17.21, the workspace itself skipped.
pub fn yarn_lock_berry() -> String {
    r#"# This file is generated by running "yarn install" inside your project.

__metadata:
  version: 6
  cacheKey: 8

"lodash@npm:^4.17.21":
  version: 4.17.21
  resolution: "lodash@npm:4.17.21"
  checksum: eb835a2e51d381e561e508ce932ea50a8e5a68f4ebdd771ea240d3048244a8d13658acbd502cd4829768c56f2e16bdd4340b9ea141297d472517b83868e677f7
  languageName: node
  linkType: hard

"webapp@workspace:.":
  version: 0.0.0-use.local
  resolution: "webapp@workspace:."
  dependencies:
    lodash: ^4.17.21
  languageName: unknown
  linkType: soft
"#
    .to_string()
}

/// A pnpm v6 `pnpm-lock.yaml`: `/ms@2.1.3` and `/@types/node@20.10.5`, and
/// a peer-suffixed `/react-dom@18.2.0(react@18.2.0)`.
pub fn pnpm_lock() -> String {
    r#"lockfileVersion: '6.0'

settings:
  autoInstallPeers: true

dependencies:
  ms:
    specifier: ^2.1.3
    version: 2.1.3

packages:

  /@types/node@20.10.5:
    resolution: {integrity: sha512-nNPsNE65wjMxEKI93yOP+NPGGBJz/PoN3kZsVLee0XMiJolxSekEVD8ntwSGcXQZhz4OxKB1ZavGc8t2X6B8NWA==}
    dependencies:
      undici-types: 5.26.5
    dev: false

  /ms@2.1.3:
    resolution: {integrity: sha512-6FlzubTLZG3J2a/NVCAleEhjzq5oxgHyaCU9yYXvcLsvoVaHJq/s5xXI6/XXP6tz7R9xAOtHnSO/tXtF3WRTlA==}
    dev: false

  /react-dom@18.2.0(react@18.2.0):
    resolution: {integrity: sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g==}
    dev: false
"#
    .to_string()
}

/// A `Cargo.lock` (v3): registry packages `serde` 1.0.193 and `itoa` 1.0.10,
/// a git dependency and the local workspace member `myapp` (both skipped).
pub fn cargo_lock() -> String {
    r#"# This file is automatically @generated by Cargo.
# It is not intended for manual editing.
version = 3

[[package]]
name = "itoa"
version = "1.0.10"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "b1a46d1a171d865aa5f83f92695765caa047a9b4cbae2cbf37dbd613a793fd4c"

[[package]]
name = "myapp"
version = "0.1.0"
dependencies = [
 "itoa",
 "serde",
]

[[package]]
name = "private-git"
version = "0.3.0"
source = "git+https://example.invalid/private-git?rev=abc#abcdef"

[[package]]
name = "serde"
version = "1.0.193"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "25dd9975e68d0cb5aa1120c288333fc98731bd1dd12f561e468ea4728c042b89"
"#
    .to_string()
}

/// A minimal 64-bit little-endian x86-64 ELF executable with the given
/// sections (plus the null section and `.shstrtab`).
pub fn elf_with_sections(sections: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    let mut shstrtab = vec![0u8];
    let mut headers: Vec<(u32, u32, u64, u64)> = Vec::new(); // name, type, offset, size
    for (name, data) in sections {
        while !out.len().is_multiple_of(16) {
            out.push(0);
        }
        headers.push((
            shstrtab.len() as u32,
            1,
            out.len() as u64,
            data.len() as u64,
        ));
        shstrtab.extend_from_slice(name.as_bytes());
        shstrtab.push(0);
        out.extend_from_slice(data);
    }
    let shstrtab_name = shstrtab.len() as u32;
    shstrtab.extend_from_slice(b".shstrtab\0");
    headers.push((shstrtab_name, 3, out.len() as u64, shstrtab.len() as u64));
    out.extend_from_slice(&shstrtab);
    while !out.len().is_multiple_of(8) {
        out.push(0);
    }
    let shoff = out.len() as u64;
    out.extend_from_slice(&[0u8; 64]); // null section
    for (name, kind, offset, size) in &headers {
        out.extend_from_slice(&name.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // flags
        out.extend_from_slice(&0u64.to_le_bytes()); // addr
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // link
        out.extend_from_slice(&0u32.to_le_bytes()); // info
        out.extend_from_slice(&1u64.to_le_bytes()); // addralign
        out.extend_from_slice(&0u64.to_le_bytes()); // entsize
    }
    let shnum = (headers.len() + 1) as u16;
    let header = &mut out[..64];
    header[..4].copy_from_slice(b"\x7fELF");
    header[4] = 2; // 64-bit
    header[5] = 1; // little endian
    header[6] = 1; // version
    header[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    header[18..20].copy_from_slice(&0x3eu16.to_le_bytes()); // x86-64
    header[20..24].copy_from_slice(&1u32.to_le_bytes());
    header[40..48].copy_from_slice(&shoff.to_le_bytes());
    header[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    header[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
    header[58..60].copy_from_slice(&64u16.to_le_bytes()); // shentsize
    header[60..62].copy_from_slice(&shnum.to_le_bytes());
    header[62..64].copy_from_slice(&(shnum - 1).to_le_bytes()); // shstrndx
    out
}

fn uvarint(mut value: usize, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// The `.go.buildinfo` section of a Go ≥ 1.18 binary (inline strings).
pub fn go_buildinfo_section(go_version: &str, modinfo: &str) -> Vec<u8> {
    const INFO_START: [u8; 16] = [
        0x30, 0x77, 0xaf, 0x0c, 0x92, 0x74, 0x08, 0x02, 0x41, 0xe1, 0xc1, 0x07, 0xe6, 0xd6, 0x18,
        0xe6,
    ];
    const INFO_END: [u8; 16] = [
        0xf9, 0x32, 0x43, 0x31, 0x86, 0x18, 0x20, 0x72, 0x00, 0x82, 0x42, 0x10, 0x41, 0x16, 0xd8,
        0xf2,
    ];
    let mut section = b"\xff Go buildinf:".to_vec();
    section.push(8); // pointer size
    section.push(2); // flags: inline strings, little endian
    section.resize(32, 0);
    uvarint(go_version.len(), &mut section);
    section.extend_from_slice(go_version.as_bytes());
    let mut info = INFO_START.to_vec();
    info.extend_from_slice(modinfo.as_bytes());
    info.extend_from_slice(&INFO_END);
    uvarint(info.len(), &mut section);
    section.extend_from_slice(&info);
    section
}

/// A Go binary built with go1.21.5: main module `github.com/acme/tool`
/// v1.4.0, deps `github.com/spf13/cobra` v1.8.0 and
/// `golang.org/x/net` v0.17.0 replaced by `golang.org/x/net` v0.19.0.
pub fn go_binary() -> Vec<u8> {
    let modinfo = "path\tgithub.com/acme/tool/cmd/tool\nmod\tgithub.com/acme/tool\tv1.4.0\th1:abc=\ndep\tgithub.com/spf13/cobra\tv1.8.0\th1:7aJaZx1B85qltLMc546zn58BxxfZdR/W22ej9CFoEf0=\ndep\tgolang.org/x/net\tv0.17.0\n=>\tgolang.org/x/net\tv0.19.0\th1:zTwKpTd2XuCqf8huc7Fo2iSy+4RHPd10s4KzeTnVr1c=\nbuild\t-compiler=gc\nbuild\tCGO_ENABLED=0\nbuild\tGOARCH=amd64\nbuild\tGOOS=linux\n";
    elf_with_sections(&[
        (".text", b"\x90\x90\x90\x90"),
        (".go.buildinfo", &go_buildinfo_section("go1.21.5", modinfo)),
    ])
}

/// A cargo-auditable binary: `.dep-v0` holds zlib-compressed JSON with the
/// root `myapp` (local, skipped), `serde` 1.0.193 and `rustls` 0.21.0.
pub fn cargo_auditable_binary() -> Vec<u8> {
    let json = serde_json::json!({"packages": [
        {"name": "myapp", "version": "0.1.0", "source": "local", "kind": "runtime", "dependencies": [1, 2], "root": true},
        {"name": "serde", "version": "1.0.193", "source": "crates.io"},
        {"name": "rustls", "version": "0.21.0", "source": "crates.io"}
    ]});
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(json.to_string().as_bytes())
        .expect("zlib in memory");
    let compressed = encoder.finish().expect("zlib in memory");
    elf_with_sections(&[(".text", b"\x90\x90"), (".dep-v0", &compressed)])
}

/// A zip archive with the given entries.
pub fn zip_archive(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        let options = if name.ends_with(".jar") {
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored)
        } else {
            zip::write::SimpleFileOptions::default()
        };
        writer.start_file(*name, options).expect("start zip entry");
        writer.write_all(data).expect("write zip entry");
    }
    writer.finish().expect("finish zip").into_inner()
}

/// A library jar with `pom.properties` for `com.fasterxml.jackson.core:jackson-databind` 2.15.2.
pub fn jar_with_pom() -> Vec<u8> {
    zip_archive(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nBundle-SymbolicName: com.fasterxml.jackson.core.jackson-databind\r\nBundle-Version: 2.15.2\r\n\r\n"),
        (
            "META-INF/maven/com.fasterxml.jackson.core/jackson-databind/pom.properties",
            b"#Generated by Maven\n#Tue May 30 15:05:31 PDT 2023\nartifactId=jackson-databind\ngroupId=com.fasterxml.jackson.core\nversion=2.15.2\n",
        ),
        ("com/fasterxml/jackson/databind/ObjectMapper.class", b"\xca\xfe\xba\xbe"),
    ])
}

/// A Spring Boot fat jar: its own pom.properties (`com.acme:shop` 1.0.0),
/// nested `BOOT-INF/lib/jackson-databind-2.15.2.jar` ([`jar_with_pom`]) and
/// `BOOT-INF/lib/log4j-core-2.14.1.jar` whose MANIFEST.MF is all it has
/// (`Implementation-Vendor-Id: org.apache.logging.log4j`,
/// `Implementation-Title: log4j-core`, 2.14.1).
pub fn spring_boot_jar() -> Vec<u8> {
    let log4j = zip_archive(&[(
        "META-INF/MANIFEST.MF",
        b"Manifest-Version: 1.0\r\nImplementation-Title: log4j-core\r\nImplementation-Version: 2.14.1\r\nImplementation-Vendor-Id: org.apache.logging.log4j\r\n\r\n",
    )]);
    let jackson = jar_with_pom();
    zip_archive(&[
        ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\nMain-Class: org.springframework.boot.loader.JarLauncher\r\n\r\n"),
        ("META-INF/maven/com.acme/shop/pom.properties", b"artifactId=shop\ngroupId=com.acme\nversion=1.0.0\n"),
        ("BOOT-INF/lib/jackson-databind-2.15.2.jar", &jackson),
        ("BOOT-INF/lib/log4j-core-2.14.1.jar", &log4j),
    ])
}

/// `specifications/rake-13.0.6.gemspec` as RubyGems writes it (MIT).
pub fn gemspec() -> String {
    r#"# -*- encoding: utf-8 -*-
# stub: rake 13.0.6 ruby lib

Gem::Specification.new do |s|
  s.name = "rake".freeze
  s.version = "13.0.6"

  s.required_rubygems_version = Gem::Requirement.new(">= 1.3.2".freeze) if s.respond_to? :required_rubygems_version=
  s.metadata = { "bug_tracker_uri" => "https://github.com/ruby/rake/issues" } if s.respond_to? :metadata=
  s.require_paths = ["lib".freeze]
  s.authors = ["Hiroshi SHIBATA".freeze, "Eric Hodel".freeze, "Jim Weirich".freeze]
  s.bindir = "exe".freeze
  s.date = "2021-07-09"
  s.licenses = ["MIT".freeze]
  s.rubygems_version = "3.4.10".freeze
  s.summary = "Rake is a Make-like program implemented in Ruby".freeze
end
"#
    .to_string()
}

/// A `composer.lock`: `monolog/monolog` 3.5.0 (MIT) in `packages` and
/// `phpunit/phpunit` v10.5.5 (BSD-3-Clause) in `packages-dev`.
pub fn composer_lock() -> String {
    serde_json::json!({
        "_readme": ["This file locks the dependencies of your project to a known state"],
        "content-hash": "f0e8b1b3",
        "packages": [{"name": "monolog/monolog", "version": "3.5.0", "type": "library", "license": ["MIT"]}],
        "packages-dev": [{"name": "phpunit/phpunit", "version": "v10.5.5", "license": ["BSD-3-Clause"]}],
        "minimum-stability": "stable"
    })
    .to_string()
}

/// `vendor/composer/installed.json` in Composer 2 format: `guzzlehttp/guzzle` 7.8.1.
pub fn composer_installed_v2() -> String {
    serde_json::json!({
        "packages": [{"name": "guzzlehttp/guzzle", "version": "7.8.1", "version_normalized": "7.8.1.0", "license": ["MIT"]}],
        "dev": true,
        "dev-package-names": []
    })
    .to_string()
}

/// An `app.deps.json`: packages `Newtonsoft.Json` 13.0.1 and
/// `System.Text.Json` 8.0.0; the project itself is skipped.
pub fn deps_json() -> String {
    serde_json::json!({
        "runtimeTarget": {"name": ".NETCoreApp,Version=v8.0", "signature": ""},
        "targets": {".NETCoreApp,Version=v8.0": {"app/1.0.0": {"dependencies": {"Newtonsoft.Json": "13.0.1"}}}},
        "libraries": {
            "app/1.0.0": {"type": "project", "serviceable": false, "sha512": ""},
            "Newtonsoft.Json/13.0.1": {"type": "package", "serviceable": true, "sha512": "sha512-ppPFpBcvxdsfUonNcvITKqLl3bqxWbDCZIzDWHzjpdAHRFfZe0Dw9HmA0+za13IdyrgJwpkDTDA9fHaxOrt20A==", "path": "newtonsoft.json/13.0.1", "hashPath": "newtonsoft.json.13.0.1.nupkg.sha512"},
            "System.Text.Json/8.0.0": {"type": "package", "serviceable": true, "sha512": "sha512-x"}
        }
    })
    .to_string()
}

/// A BerkeleyDB hash `var/lib/rpm/Packages` (RHEL 7/8 layout, little
/// endian, 4 KiB pages) holding [`RPM_PACKAGES`]: a metadata page, one hash
/// page of (header number → off-page item) pairs, and overflow page chains
/// carrying the header blobs. Built by hand after BerkeleyDB's page format
/// (db_page.h), since no BerkeleyDB writer is available to tests.
pub fn rpm_bdb_packages() -> Vec<u8> {
    const PAGE: usize = 4096;
    const HEADER: usize = 26;
    let blobs: Vec<Vec<u8>> = RPM_PACKAGES.iter().map(RpmFixture::blob).collect();
    let mut pages: Vec<Vec<u8>> = vec![vec![0u8; PAGE], vec![0u8; PAGE]];
    let mut items: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (index, blob) in blobs.iter().enumerate() {
        let first = pages.len() as u32;
        let chunks: Vec<&[u8]> = blob.chunks(PAGE - HEADER).collect();
        for (chunk_index, chunk) in chunks.iter().enumerate() {
            let number = pages.len() as u32;
            let mut page = vec![0u8; PAGE];
            page[8..12].copy_from_slice(&number.to_le_bytes());
            if chunk_index > 0 {
                page[12..16].copy_from_slice(&(number - 1).to_le_bytes());
            }
            if chunk_index + 1 < chunks.len() {
                page[16..20].copy_from_slice(&(number + 1).to_le_bytes());
            }
            page[22..24].copy_from_slice(&(chunk.len() as u16).to_le_bytes());
            page[25] = 7; // P_OVERFLOW
            page[HEADER..HEADER + chunk.len()].copy_from_slice(chunk);
            pages.push(page);
        }
        let mut key = vec![1u8]; // H_KEYDATA
        key.extend_from_slice(&(index as u32 + 1).to_le_bytes());
        let mut value = vec![3u8, 0, 0, 0]; // H_OFFPAGE
        value.extend_from_slice(&first.to_le_bytes());
        value.extend_from_slice(&(blob.len() as u32).to_le_bytes());
        items.push((key, value));
    }
    // The hash page: index array after the header, items packed from the end.
    let hash = &mut pages[1];
    hash[8..12].copy_from_slice(&1u32.to_le_bytes());
    hash[20..22].copy_from_slice(&((items.len() * 2) as u16).to_le_bytes());
    hash[25] = 13; // P_HASH
    let mut end = PAGE;
    let mut slot = HEADER;
    for (key, value) in &items {
        for item in [key, value] {
            end -= item.len();
            hash[end..end + item.len()].copy_from_slice(item);
            hash[slot..slot + 2].copy_from_slice(&(end as u16).to_le_bytes());
            slot += 2;
        }
    }
    let hash_offset = end as u16;
    hash[22..24].copy_from_slice(&hash_offset.to_le_bytes());
    let last_page = (pages.len() - 1) as u32;
    let meta = &mut pages[0];
    meta[12..16].copy_from_slice(&0x0006_1561u32.to_le_bytes()); // hash magic
    meta[16..20].copy_from_slice(&9u32.to_le_bytes()); // version
    meta[20..24].copy_from_slice(&(PAGE as u32).to_le_bytes());
    meta[25] = 8; // P_HASHMETA
    meta[32..36].copy_from_slice(&last_page.to_le_bytes());
    pages.concat()
}

/// [`RPM_PACKAGES`] as `db_load -T -t hash` input (key and value lines, every
/// byte escaped as `\XX`): how `fixtures/rpm-bdb-Packages` was produced
/// with BerkeleyDB 5.3's own writer (`db5.3_load -T -t hash Packages < input`).
/// Keys are the header instance numbers as 4 little-endian bytes, like rpm's.
pub fn rpm_bdb_load_input() -> String {
    let escape = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|b| format!("\\{b:02x}"))
            .collect::<String>()
    };
    RPM_PACKAGES
        .iter()
        .enumerate()
        .map(|(index, package)| {
            format!(
                "{}\n{}\n",
                escape(&(index as u32 + 1).to_le_bytes()),
                escape(&package.blob())
            )
        })
        .collect()
}

/// A BerkeleyDB hash `Packages` file written by BerkeleyDB 5.3 itself
/// (committed, see [`rpm_bdb_load_input`]), holding [`RPM_PACKAGES`].
pub fn rpm_bdb_packages_real() -> &'static [u8] {
    include_bytes!("../fixtures/rpm-bdb-Packages")
}

/// A Debian 12 base layer: `usr/lib/os-release` with the usual
/// `etc/os-release` symlink, `var/lib/dpkg/status` ([`dpkg_status`]) and a
/// distroless-style `status.d/tzdata` ([`dpkg_status_d_tzdata`]).
pub fn debian_layer() -> crate::LayerBuilder {
    crate::LayerBuilder::new()
        .dir("etc")
        .file(
            "usr/lib/os-release",
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n",
        )
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("etc/debian_version", "12.4\n")
        .file("var/lib/dpkg/status", dpkg_status())
        .file("var/lib/dpkg/status.d/tzdata", dpkg_status_d_tzdata())
        .file("var/lib/dpkg/status.d/tzdata.md5sums", "d41d8cd98f00b204e9800998ecf8427e  usr/share/zoneinfo/UTC\n")
}

/// An Alpine 3.19 base layer: `etc/os-release`, `etc/alpine-release` and
/// `lib/apk/db/installed` ([`apk_installed`]).
pub fn alpine_layer() -> crate::LayerBuilder {
    crate::LayerBuilder::new()
        .file(
            "etc/os-release",
            "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
        )
        .file("etc/alpine-release", "3.19.1\n")
        .file("lib/apk/db/installed", apk_installed())
}

/// A Rocky Linux 9 base layer: `etc/os-release`, `etc/redhat-release` and
/// `var/lib/rpm/rpmdb.sqlite` ([`rpmdb_sqlite`]).
pub fn rocky_layer() -> crate::LayerBuilder {
    crate::LayerBuilder::new()
        .file(
            "etc/os-release",
            "NAME=\"Rocky Linux\"\nVERSION=\"9.3 (Blue Onyx)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"9.3\"\n",
        )
        .file("etc/redhat-release", "Rocky Linux release 9.3 (Blue Onyx)\n")
        .file("var/lib/rpm/rpmdb.sqlite", rpmdb_sqlite())
}

/// An application layer with one of every language format: Python
/// (dist-info and egg-info), npm (installed package and all three
/// lockfiles), Cargo.lock, a Go binary and a cargo-auditable binary (mode
/// 0755), a plain jar and a Spring Boot jar, a gemspec, composer.lock and
/// installed.json, and a deps.json.
pub fn application_layer() -> crate::LayerBuilder {
    crate::LayerBuilder::new()
        .file(
            "usr/local/lib/python3.11/site-packages/Flask_SQLAlchemy-3.1.1.dist-info/METADATA",
            python_metadata(),
        )
        .file(
            "usr/lib/python3/dist-packages/requests-2.6.0.egg-info/PKG-INFO",
            python_pkg_info(),
        )
        .file(
            "srv/web/node_modules/@babel/core/package.json",
            npm_package_json("@babel/core", "7.23.6", "MIT"),
        )
        .file("srv/web/package-lock.json", package_lock_v3())
        .file("srv/legacy/yarn.lock", yarn_lock_v1())
        .file("srv/pnpm/pnpm-lock.yaml", pnpm_lock())
        .file("src/rust/Cargo.lock", cargo_lock())
        .file_with_mode("usr/local/bin/tool", go_binary(), 0o755)
        .file_with_mode("usr/local/bin/myapp", cargo_auditable_binary(), 0o755)
        .file("opt/lib/jackson-databind-2.15.2.jar", jar_with_pom())
        .file("opt/shop/shop.jar", spring_boot_jar())
        .file(
            "usr/local/bundle/specifications/rake-13.0.6.gemspec",
            gemspec(),
        )
        .file("var/www/composer.lock", composer_lock())
        .file(
            "var/www/vendor/composer/installed.json",
            composer_installed_v2(),
        )
        .file("app/app.deps.json", deps_json())
}
