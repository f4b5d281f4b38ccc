//! Name resolution that refuses non-public addresses at connect time.
//!
//! Checking a webhook URL when it is created is not enough: its host name
//! can resolve to a public address then and to `169.254.169.254` or
//! `127.0.0.1` later (DNS rebinding). The HTTP client therefore resolves
//! every host name through [`GuardedResolver`], which refuses the whole
//! answer when any address in it is not allowed by the [`TargetPolicy`]:
//! the client connects only to addresses that were checked.

use std::net::{IpAddr, SocketAddr};

use airlock_webhook::{TargetError, TargetPolicy, check_resolved};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A resolver (the system's, through tokio) that applies a target policy
/// to the addresses it returns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver {
    policy: TargetPolicy,
}

impl GuardedResolver {
    pub(crate) fn new(policy: TargetPolicy) -> GuardedResolver {
        GuardedResolver { policy }
    }
}

/// The resolved addresses of a host were refused.
#[derive(Debug, thiserror::Error)]
#[error("refused to connect to {host}: {reason}")]
pub(crate) struct ResolutionRefused {
    host: String,
    reason: TargetError,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // The port is replaced by the client with the URL's port.
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let ips: Vec<IpAddr> = addrs.iter().map(SocketAddr::ip).collect();
            check_resolved(&ips, policy)
                .map_err(|reason| Box::new(ResolutionRefused { host, reason }))?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn resolve(host: &str, policy: TargetPolicy) -> Result<Vec<IpAddr>, String> {
        GuardedResolver::new(policy)
            .resolve(host.parse().unwrap())
            .await
            .map(|addrs| addrs.map(|a| a.ip()).collect())
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn refuses_a_name_that_resolves_to_loopback() {
        let error = resolve("localhost", TargetPolicy::default())
            .await
            .unwrap_err();
        assert!(
            error.starts_with("refused to connect to localhost: webhook address"),
            "{error}"
        );
        assert!(error.ends_with("is not a public address"), "{error}");
    }

    #[tokio::test]
    async fn allows_loopback_when_private_addresses_are_allowed() {
        let policy = TargetPolicy {
            allow_http: false,
            allow_private: true,
        };
        let addrs = resolve("localhost", policy).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(IpAddr::is_loopback), "{addrs:?}");
    }
}
