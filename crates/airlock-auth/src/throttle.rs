//! Failed-login rate limiting, in memory and per key. The caller throttles
//! by client address and by account name (keys like `"addr:1.2.3.4"` and
//! `"user:alice"`) so neither a single client nor a distributed guesser can
//! try passwords quickly. Time is passed in so tests control it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Above this many keys, stale keys are pruned on the next failure.
const PRUNE_ABOVE_KEYS: usize = 10_000;

/// The recent failures of one key, oldest first; never more than `max_failures`.
type Failures = VecDeque<Instant>;

/// A sliding-window limit on failed logins per key.
#[derive(Debug)]
pub struct LoginThrottle {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

impl Default for LoginThrottle {
    /// 10 failures per 5 minutes.
    fn default() -> Self {
        LoginThrottle::new(10, Duration::from_secs(5 * 60))
    }
}

impl LoginThrottle {
    /// At most `max_failures` failures per key within `window`; then refused until the oldest failure leaves the window.
    /// A `max_failures` of 0 is treated as 1.
    pub fn new(max_failures: u32, window: Duration) -> LoginThrottle {
        LoginThrottle {
            max_failures: max_failures.max(1),
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Failures>> {
        // The map holds no invariant a panic could break halfway.
        self.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn limit(&self) -> usize {
        usize::try_from(self.max_failures).unwrap_or(usize::MAX)
    }

    /// Drops failures that have left the window.
    fn forget_old(&self, failures: &mut Failures, now: Instant) {
        while failures
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            failures.pop_front();
        }
    }

    /// Err(retry_after) if the key is currently locked out.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.lock();
        let Some(failures) = map.get_mut(key) else {
            return Ok(());
        };
        self.forget_old(failures, now);
        if failures.len() < self.limit() {
            if failures.is_empty() {
                map.remove(key);
            }
            return Ok(());
        }
        let oldest = failures.front().copied().unwrap_or(now);
        Err((oldest + self.window).saturating_duration_since(now))
    }

    /// Records a failed attempt for `key` at `now`.
    pub fn record_failure(&self, key: &str, now: Instant) {
        let mut map = self.lock();
        if map.len() >= PRUNE_ABOVE_KEYS && !map.contains_key(key) {
            map.retain(|_, failures| {
                failures
                    .back()
                    .is_some_and(|t| now.saturating_duration_since(*t) < self.window)
            });
        }
        let failures = map.entry(key.to_owned()).or_default();
        self.forget_old(failures, now);
        failures.push_back(now);
        while failures.len() > self.limit() {
            failures.pop_front();
        }
    }

    /// A success clears the key's failures.
    pub fn record_success(&self, key: &str) {
        self.lock().remove(key);
    }

    /// How many keys are tracked (for metrics and tests).
    pub fn tracked_keys(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn locks_after_max_failures_until_the_oldest_leaves_the_window() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(
                throttle.check("user:alice", t0 + MINUTE * i / 10),
                Ok(()),
                "{i}"
            );
            throttle.record_failure("user:alice", t0 + MINUTE * i / 10);
        }
        // Step: (at, expected).
        let cases: &[(Duration, Result<(), Duration>)] = &[
            (MINUTE, Err(MINUTE * 4)),
            (MINUTE * 4, Err(MINUTE)),
            (
                MINUTE * 5 - Duration::from_secs(1),
                Err(Duration::from_secs(1)),
            ),
            (MINUTE * 5, Ok(())),
        ];
        for (at, want) in cases {
            assert_eq!(throttle.check("user:alice", t0 + *at), *want, "at {at:?}");
        }
    }

    #[test]
    fn nine_failures_do_not_lock() {
        let throttle = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..9 {
            throttle.record_failure("addr:1.2.3.4", t0);
        }
        assert_eq!(throttle.check("addr:1.2.3.4", t0), Ok(()));
        throttle.record_failure("addr:1.2.3.4", t0);
        assert!(throttle.check("addr:1.2.3.4", t0).is_err());
    }

    #[test]
    fn success_resets_and_keys_are_independent() {
        let throttle = LoginThrottle::new(3, MINUTE);
        let t0 = Instant::now();
        for _ in 0..3 {
            throttle.record_failure("user:alice", t0);
        }
        assert!(throttle.check("user:alice", t0).is_err());
        assert_eq!(throttle.check("user:bob", t0), Ok(()));
        assert_eq!(throttle.check("addr:1.2.3.4", t0), Ok(()));
        throttle.record_success("user:alice");
        assert_eq!(throttle.check("user:alice", t0), Ok(()));
        assert_eq!(throttle.tracked_keys(), 0);
    }

    #[test]
    fn failures_while_locked_extend_the_lockout() {
        let throttle = LoginThrottle::new(2, MINUTE);
        let t0 = Instant::now();
        let secs = Duration::from_secs;
        throttle.record_failure("k", t0);
        throttle.record_failure("k", t0 + secs(10));
        assert_eq!(throttle.check("k", t0 + secs(20)), Err(secs(40)));
        // Only the newest `max_failures` count: the lockout now ends 60 s
        // after the failure at 10 s.
        throttle.record_failure("k", t0 + secs(30));
        assert_eq!(throttle.check("k", t0 + secs(20)), Err(secs(50)));
        assert_eq!(throttle.check("k", t0 + secs(70)), Ok(()));
    }

    #[test]
    fn prunes_stale_keys_when_the_map_grows() {
        let throttle = LoginThrottle::new(3, MINUTE);
        let t0 = Instant::now();
        for i in 0..PRUNE_ABOVE_KEYS {
            throttle.record_failure(&format!("addr:{i}"), t0);
        }
        throttle.record_failure("addr:fresh-but-early", t0 + MINUTE / 2);
        assert_eq!(throttle.tracked_keys(), PRUNE_ABOVE_KEYS + 1);
        throttle.record_failure("addr:late", t0 + MINUTE * 2);
        assert_eq!(throttle.tracked_keys(), 1);
    }
}
