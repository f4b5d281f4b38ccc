//! Background work and who does it.
//!
//! The embedded `airlock serve` does everything in one process. At scale,
//! `airlock serve --no-workers` replicas only answer requests, and any
//! number of `airlock worker` processes share the rest. Scan workers need
//! no coordination (the job queue leases each job to one worker). Work that
//! must happen once cluster-wide runs under a named lease in the database
//! ([`LeaseStore`]): the process holding it does the work and renews it;
//! when that process dies, the lease expires and another takes over.
//!
//! | lease | work | every |
//! |---|---|---|
//! | `gate-maintenance` | reconcile stuck images, expired exceptions, rejected-image retention | 30 s |
//! | `upload-expiry` | drop idle upload sessions | 5 min |
//! | `gc` | garbage-collect unreferenced blobs (`--gc-interval`) | 24 h |
//! | `vulndb-refresh` | refresh the vulnerability database from the mirror, then re-evaluate (`--vulndb-refresh`) | off |
//! | `webhook-dispatcher` | deliver the outbox to webhooks | continuous |
//! | `audit-syslog` | forward the audit log to syslog | continuous |

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use airlock_store::Database;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// This process's name in leases: `<host>-<pid>`, unique among live
/// processes of one host, and recognisable in `leases` and job rows.
pub fn process_name() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

/// This host's name, as the first part of [`process_name`].
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "airlock".into())
}

/// Whether `process` (named `<host>-<pid>` by [`process_name`]) ran on
/// `host` and is no longer running. Processes of other hosts are never
/// judged: their leases expire on their own.
pub fn process_is_gone(host: &str, process: &str) -> bool {
    let Some((process_host, pid)) = process.rsplit_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    process_host == host
        && pid != std::process::id()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Takes or renews the lease; a lease still held by a dead process of this
/// host (a restart after a crash) is taken over at once instead of after
/// its expiry.
async fn take(
    database: &dyn Database,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<bool, airlock_store::StoreError> {
    let now = time::OffsetDateTime::now_utc();
    if database.acquire_lease(name, holder, ttl, now).await? {
        return Ok(true);
    }
    match database.lease_holder(name).await? {
        Some((current, _)) if process_is_gone(&host_name(), &current) => {
            tracing::info!(lease = name, previous = %current, "taking over the lease of a process that is gone");
            database.release_lease(name, &current).await?;
            database.acquire_lease(name, holder, ttl, now).await
        }
        _ => Ok(false),
    }
}

/// How long a cluster lease lasts without renewal, for work of period
/// `every`: three periods, at least 15 s, so one slow round does not hand
/// the work to another process.
fn lease_ttl(every: Duration) -> Duration {
    (every * 3).max(Duration::from_secs(15))
}

/// Runs `round` every `every` while this process holds the lease `name`.
/// The lease is renewed before each round and released on `stop`.
pub fn periodic<F, Fut>(
    database: Arc<dyn Database>,
    name: &'static str,
    every: Duration,
    stop: CancellationToken,
    round: F,
) -> JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let holder = process_name();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = stop.cancelled() => break,
            }
            match take(database.as_ref(), name, &holder, lease_ttl(every)).await {
                Ok(true) => round().await,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lease = name, error = %e, "could not take a cluster lease")
                }
            }
        }
        release(database.as_ref(), name, &holder).await;
    })
}

/// Runs the long-lived `work` while this process holds the lease `name`:
/// tries to take it every few seconds; once held, starts `work` with a
/// token that is cancelled when the lease is lost or on `stop`, and renews
/// the lease meanwhile.
pub fn exclusive<F, Fut>(
    database: Arc<dyn Database>,
    name: &'static str,
    stop: CancellationToken,
    work: F,
) -> JoinHandle<()>
where
    F: Fn(CancellationToken) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    const RENEW: Duration = Duration::from_secs(5);
    let holder = process_name();
    let ttl = lease_ttl(RENEW);
    tokio::spawn(async move {
        loop {
            let held = match take(database.as_ref(), name, &holder, ttl).await {
                Ok(held) => held,
                Err(e) => {
                    tracing::warn!(lease = name, error = %e, "could not take a cluster lease");
                    false
                }
            };
            if held {
                tracing::info!(lease = name, holder = %holder, "took the cluster lease");
                let token = stop.child_token();
                let running = tokio::spawn(work(token.clone()));
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(RENEW) => {}
                        () = stop.cancelled() => break,
                    }
                    let renewed = database
                        .acquire_lease(name, &holder, ttl, time::OffsetDateTime::now_utc())
                        .await;
                    if !matches!(renewed, Ok(true)) {
                        tracing::warn!(lease = name, "lost the cluster lease; stopping its work");
                        break;
                    }
                }
                token.cancel();
                let _ = running.await;
            }
            if stop.is_cancelled() {
                break;
            }
            tokio::select! {
                () = tokio::time::sleep(RENEW) => {}
                () = stop.cancelled() => break,
            }
        }
        release(database.as_ref(), name, &holder).await;
    })
}

async fn release(database: &dyn Database, name: &str, holder: &str) {
    if let Err(e) = database.release_lease(name, holder).await {
        tracing::warn!(lease = name, error = %e, "could not release a cluster lease");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dead_processes_of_this_host_are_gone() {
        let me = std::process::id();
        // pid 0 has no /proc entry; our own pid is alive.
        assert!(process_is_gone("box", "box-0"));
        assert!(process_is_gone("my-box", "my-box-0"));
        assert!(!process_is_gone("box", &format!("box-{me}")));
        assert!(!process_is_gone("box", "other-0"));
        assert!(!process_is_gone("box", "box-notapid"));
        assert!(!process_is_gone("box", "w1"));
    }

    #[test]
    fn leases_outlive_a_slow_round() {
        assert_eq!(lease_ttl(Duration::from_secs(30)), Duration::from_secs(90));
        assert_eq!(lease_ttl(Duration::from_secs(1)), Duration::from_secs(15));
    }
}
