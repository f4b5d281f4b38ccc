//! Webhook target URLs, checked against server-side request forgery.
//!
//! A webhook URL is tenant input that makes airlock send requests from inside
//! its network, so by default only `https` URLs to public addresses pass.
//!
//! Two checks, because one is not enough:
//!
//! 1. [`check_url`] when the URL is saved and again before each delivery:
//!    scheme, no userinfo, and, when the host is an IP literal or a
//!    `localhost` name, that it is not internal.
//! 2. [`check_resolved`] after DNS resolution, on every address the client
//!    may connect to, so `internal.example` resolving to `10.0.0.5` (or a
//!    DNS-rebinding name) is refused too. The caller must connect to the
//!    checked addresses, not resolve again.
//!
//! **Numeric and short host forms.** The URL is parsed with the WHATWG URL
//! parser (the `url` crate, the parser `reqwest` itself uses). It reads the
//! legacy IPv4 notations the way the HTTP client will: `0x7f.1`,
//! `0177.0.0.1`, `127.1` and `2130706433` all become `127.0.0.1`, and
//! percent-encoded hosts are decoded first. The policy is therefore applied to
//! the address the client would actually connect to, never to the spelling,
//! and no notation can smuggle an internal address past the check. Hosts that
//! look numeric but are not valid IPv4 (e.g. `1.2.3.4.5`) are refused by the
//! parser. The validated URL is the parser's normalized serialization, which
//! is what the caller should hand to the client.
//!
//! **Refused ranges** (unless `allow_private`): IPv4 `0.0.0.0/8`,
//! `10.0.0.0/8`, `100.64.0.0/10` (CGNAT), `127.0.0.0/8`, `169.254.0.0/16`,
//! `172.16.0.0/12`, `192.0.0.0/24`, `192.168.0.0/16`, `198.18.0.0/15`,
//! `224.0.0.0/4` (multicast) and `240.0.0.0/4` (reserved, broadcast); IPv6
//! `::`, `::1`, `fc00::/7` (unique local), `fe80::/10` (link local),
//! `fec0::/10` (old site local), `ff00::/8` (multicast), every IPv4-mapped
//! (`::ffff:0:0/96`) and IPv4-compatible (`::/96`) address, and NAT64
//! (`64:ff9b::/96`) or 6to4 (`2002::/16`) addresses embedding a refused IPv4.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

/// What kinds of target the deployment accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Accept plain `http` URLs (for development only).
    pub allow_http: bool,
    /// Accept loopback, private and other internal addresses (for
    /// development or deliberately internal receivers).
    pub allow_private: bool,
}

/// Why a webhook target was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    /// The text is not a URL.
    #[error("webhook url is not a valid url: {0}")]
    Invalid(String),
    /// The scheme is neither `https` nor `http`.
    #[error("webhook url scheme `{0}` is not allowed, use https")]
    SchemeNotAllowed(String),
    /// The scheme is `http` and the policy requires `https`.
    #[error("webhook url must use https")]
    HttpNotAllowed,
    /// The URL carries a user name or password.
    #[error("webhook url must not contain credentials")]
    UserInfo,
    /// The URL has no host.
    #[error("webhook url has no host")]
    MissingHost,
    /// The host names the local machine.
    #[error("webhook host `{0}` is a local name")]
    LocalHostName(String),
    /// The host is, or resolved to, an internal address.
    #[error("webhook address {0} is not a public address")]
    PrivateAddress(IpAddr),
    /// Resolution produced no address to check.
    #[error("webhook host resolved to no address")]
    NoAddresses,
}

/// A URL that passed [`check_url`], in normalized form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedUrl(Url);

impl ValidatedUrl {
    /// The normalized URL to hand to the HTTP client.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The host as parsed: a domain name (lowercase) or an IP literal
    /// (IPv6 in brackets).
    pub fn host(&self) -> &str {
        // A ValidatedUrl always has a host.
        self.0.host_str().unwrap_or_default()
    }

    /// The host when it is an IP literal; `None` for names, which the
    /// caller resolves and passes to [`check_resolved`].
    pub fn ip(&self) -> Option<IpAddr> {
        match self.0.host()? {
            Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
            Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
            Host::Domain(_) => None,
        }
    }

    /// The port, explicit or the scheme's default.
    pub fn port(&self) -> u16 {
        self.0.port_or_known_default().unwrap_or(443)
    }

    /// Whether the URL uses `https`.
    pub fn is_https(&self) -> bool {
        self.0.scheme() == "https"
    }
}

impl fmt::Display for ValidatedUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a webhook URL before saving it and before each delivery.
pub fn check_url(url: &str, policy: TargetPolicy) -> Result<ValidatedUrl, TargetError> {
    let parsed = Url::parse(url).map_err(|error| TargetError::Invalid(error.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => return Err(TargetError::HttpNotAllowed),
        other => return Err(TargetError::SchemeNotAllowed(other.to_owned())),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::UserInfo);
    }
    match parsed.host().ok_or(TargetError::MissingHost)? {
        Host::Domain(name) => {
            if name.is_empty() {
                return Err(TargetError::MissingHost);
            }
            if !policy.allow_private && is_local_name(name) {
                return Err(TargetError::LocalHostName(name.to_owned()));
            }
        }
        Host::Ipv4(v4) => check_address(IpAddr::V4(v4), policy)?,
        Host::Ipv6(v6) => check_address(IpAddr::V6(v6), policy)?,
    }
    Ok(ValidatedUrl(parsed))
}

/// Checks the addresses a host name resolved to; every one must be public,
/// since the client may connect to any of them.
pub fn check_resolved(addrs: &[IpAddr], policy: TargetPolicy) -> Result<(), TargetError> {
    if addrs.is_empty() {
        return Err(TargetError::NoAddresses);
    }
    addrs
        .iter()
        .try_for_each(|addr| check_address(*addr, policy))
}

fn check_address(addr: IpAddr, policy: TargetPolicy) -> Result<(), TargetError> {
    if policy.allow_private || is_public(addr) {
        Ok(())
    } else {
        Err(TargetError::PrivateAddress(addr))
    }
}

fn is_local_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether an address is outside every refused range (see the module docs).
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn in_v4_range(addr: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(addr) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

const REFUSED_V4: [([u8; 4], u32); 11] = [
    ([0, 0, 0, 0], 8),      // "this network", unspecified
    ([10, 0, 0, 0], 8),     // private
    ([100, 64, 0, 0], 10),  // carrier-grade NAT
    ([127, 0, 0, 0], 8),    // loopback
    ([169, 254, 0, 0], 16), // link local (cloud metadata)
    ([172, 16, 0, 0], 12),  // private
    ([192, 0, 0, 0], 24),   // IETF protocol assignments
    ([192, 168, 0, 0], 16), // private
    ([198, 18, 0, 0], 15),  // benchmarking
    ([224, 0, 0, 0], 4),    // multicast
    ([240, 0, 0, 0], 4),    // reserved and broadcast
];

fn is_public_v4(addr: Ipv4Addr) -> bool {
    !REFUSED_V4
        .iter()
        .any(|(network, prefix)| in_v4_range(addr, *network, *prefix))
}

/// Refused IPv6 networks as (network, prefix length).
const REFUSED_V6: [(u128, u32); 6] = [
    // IPv4-compatible (::/96, includes :: and ::1): deprecated, reaches IPv4.
    (0, 96),
    // IPv4-mapped (::ffff:0:0/96): refused outright, whatever it embeds.
    (0xffff_0000_0000, 96),
    // Unique local (fc00::/7).
    (0xfc00 << 112, 7),
    // Link local (fe80::/10).
    (0xfe80 << 112, 10),
    // Site local, deprecated (fec0::/10).
    (0xfec0 << 112, 10),
    // Multicast (ff00::/8).
    (0xff00 << 112, 8),
];

fn in_v6_range(addr: Ipv6Addr, network: u128, prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(addr) & mask == network & mask
}

fn is_public_v6(addr: Ipv6Addr) -> bool {
    if REFUSED_V6
        .iter()
        .any(|(network, prefix)| in_v6_range(addr, *network, *prefix))
    {
        return false;
    }
    let bits = u128::from(addr);
    // NAT64 (64:ff9b::/96) embeds the IPv4 target in the low 32 bits.
    if in_v6_range(addr, 0x0064_ff9b << 96, 96) {
        return is_public_v4(Ipv4Addr::from((bits & 0xffff_ffff) as u32));
    }
    // 6to4 (2002::/16) embeds the IPv4 relay in the 32 bits after the prefix.
    if in_v6_range(addr, 0x2002 << 112, 16) {
        return is_public_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy {
        allow_http: false,
        allow_private: false,
    };
    const HTTP: TargetPolicy = TargetPolicy {
        allow_http: true,
        allow_private: false,
    };
    const OPEN: TargetPolicy = TargetPolicy {
        allow_http: true,
        allow_private: true,
    };

    fn private(addr: &str) -> Result<ValidatedUrl, TargetError> {
        Err(TargetError::PrivateAddress(addr.parse().unwrap()))
    }

    #[test]
    fn public_https_urls_pass_normalized() {
        let cases = [
            (
                "https://hooks.example.com/airlock",
                "https://hooks.example.com/airlock",
            ),
            (
                "https://HOOKS.Example.com:8443/a?b=c",
                "https://hooks.example.com:8443/a?b=c",
            ),
            ("https://93.184.215.14/", "https://93.184.215.14/"),
            ("https://[2606:4700::1111]/x", "https://[2606:4700::1111]/x"),
            ("https://172.32.0.1/", "https://172.32.0.1/"),
            ("https://100.128.0.1/", "https://100.128.0.1/"),
            ("https://[64:ff9b::808:808]/", "https://[64:ff9b::808:808]/"),
            ("https://@hooks.example.com/", "https://hooks.example.com/"),
        ];
        for (input, normalized) in cases {
            let validated = check_url(input, STRICT).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(validated.as_str(), normalized, "{input}");
        }
    }

    #[test]
    fn scheme_and_userinfo_rules() {
        let cases: [(&str, TargetPolicy, Result<(), TargetError>); 8] = [
            (
                "http://hooks.example.com/",
                STRICT,
                Err(TargetError::HttpNotAllowed),
            ),
            ("http://hooks.example.com/", HTTP, Ok(())),
            (
                "ftp://hooks.example.com/",
                OPEN,
                Err(TargetError::SchemeNotAllowed("ftp".into())),
            ),
            (
                "file:///etc/passwd",
                OPEN,
                Err(TargetError::SchemeNotAllowed("file".into())),
            ),
            (
                "gopher://127.0.0.1:6379/",
                OPEN,
                Err(TargetError::SchemeNotAllowed("gopher".into())),
            ),
            (
                "https://user:pw@hooks.example.com/",
                STRICT,
                Err(TargetError::UserInfo),
            ),
            (
                "https://user@hooks.example.com/",
                STRICT,
                Err(TargetError::UserInfo),
            ),
            (
                "https://:pw@hooks.example.com/",
                STRICT,
                Err(TargetError::UserInfo),
            ),
        ];
        for (input, policy, expected) in cases {
            assert_eq!(check_url(input, policy).map(|_| ()), expected, "{input}");
        }
    }

    #[test]
    fn unparsable_urls_are_refused() {
        for input in [
            "",
            "hooks.example.com",
            "https://",
            "https://1.2.3.4.5/",
            "https://[::1/",
        ] {
            assert!(
                matches!(check_url(input, OPEN), Err(TargetError::Invalid(_))),
                "{input}"
            );
        }
    }

    #[test]
    fn internal_ip_literals_are_refused() {
        let cases = [
            ("https://0.0.0.0/", "0.0.0.0"),
            ("https://10.1.2.3/", "10.1.2.3"),
            ("https://100.64.0.1/", "100.64.0.1"),
            ("https://100.127.255.255/", "100.127.255.255"),
            ("https://127.0.0.1/", "127.0.0.1"),
            ("https://127.255.255.254/", "127.255.255.254"),
            (
                "https://169.254.169.254/latest/meta-data",
                "169.254.169.254",
            ),
            ("https://172.16.0.1/", "172.16.0.1"),
            ("https://172.31.255.255/", "172.31.255.255"),
            ("https://192.0.0.1/", "192.0.0.1"),
            ("https://192.168.1.1/", "192.168.1.1"),
            ("https://198.18.0.1/", "198.18.0.1"),
            ("https://224.0.0.1/", "224.0.0.1"),
            ("https://255.255.255.255/", "255.255.255.255"),
            ("https://[::]/", "::"),
            ("https://[::1]/", "::1"),
            ("https://[fc00::1]/", "fc00::1"),
            ("https://[fd12:3456::1]/", "fd12:3456::1"),
            ("https://[fe80::1]/", "fe80::1"),
            ("https://[fec0::1]/", "fec0::1"),
            ("https://[ff02::1]/", "ff02::1"),
            ("https://[::ffff:8.8.8.8]/", "::ffff:8.8.8.8"),
            ("https://[::127.0.0.1]/", "::127.0.0.1"),
            ("https://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1"),
            ("https://[2002:7f00:1::]/", "2002:7f00:1::"),
            ("https://[2002:c0a8:101::1]/", "2002:c0a8:101::1"),
        ];
        for (input, addr) in cases {
            assert_eq!(check_url(input, STRICT), private(addr), "{input}");
            assert!(check_url(input, OPEN).is_ok(), "{input} with allow_private");
        }
    }

    #[test]
    fn legacy_ipv4_notations_cannot_bypass_the_check() {
        let cases = [
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://2130706433/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://0/", "0.0.0.0"),
            ("http://10.1/", "10.0.0.1"),
            ("http://0xa9.0xfe.0xa9.0xfe/", "169.254.169.254"),
            ("http://%31%32%37.0.0.1/", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
            ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
            ("http://[::ffff:7f00:1]/", "::ffff:127.0.0.1"),
            ("http://[0:0:0:0:0:ffff:127.0.0.1]/", "::ffff:127.0.0.1"),
        ];
        for (input, addr) in cases {
            assert_eq!(check_url(input, HTTP), private(addr), "{input}");
        }
    }

    #[test]
    fn local_names_are_refused() {
        for input in [
            "https://localhost/",
            "https://LOCALHOST:8080/",
            "https://localhost./",
            "https://api.localhost/",
            "https://a.b.localhost./",
        ] {
            assert!(
                matches!(check_url(input, STRICT), Err(TargetError::LocalHostName(_))),
                "{input}"
            );
            assert!(check_url(input, OPEN).is_ok(), "{input} with allow_private");
        }
        assert!(check_url("https://notlocalhost/", STRICT).is_ok());
        assert!(check_url("https://localhost.example.com/", STRICT).is_ok());
    }

    #[test]
    fn resolved_addresses_must_all_be_public() {
        let public: IpAddr = "93.184.215.14".parse().unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "fd00:ec2::254".parse().unwrap();
        assert_eq!(check_resolved(&[public], STRICT), Ok(()));
        assert_eq!(
            check_resolved(&[loopback], STRICT),
            Err(TargetError::PrivateAddress(loopback))
        );
        assert_eq!(
            check_resolved(&[public, metadata], STRICT),
            Err(TargetError::PrivateAddress(metadata))
        );
        assert_eq!(check_resolved(&[], STRICT), Err(TargetError::NoAddresses));
        assert_eq!(check_resolved(&[loopback, metadata], OPEN), Ok(()));
    }

    #[test]
    fn validated_url_exposes_host_ip_and_port() {
        let named = check_url("https://hooks.example.com/x", STRICT).unwrap();
        assert_eq!(
            (named.host(), named.ip(), named.port()),
            ("hooks.example.com", None, 443)
        );
        assert!(named.is_https());
        let literal = check_url("http://93.184.215.14:8080/", HTTP).unwrap();
        assert_eq!(literal.ip(), Some("93.184.215.14".parse().unwrap()));
        assert_eq!(literal.port(), 8080);
        assert!(!literal.is_https());
        assert_eq!(literal.to_string(), "http://93.184.215.14:8080/");
    }
}
