//! When to retry a failed delivery, and when to stop and dead-letter it.
//!
//! Delays grow exponentially from `initial` by `factor`, capped at
//! `max_delay`, with **equal jitter**: the delay for a retry is uniformly
//! drawn from `[base / 2, base]`. Equal jitter rather than full jitter
//! (`[0, base]`) because a webhook receiver that is down needs real spacing
//! between attempts: full jitter lets individual delays collapse towards zero,
//! while equal jitter still spreads a burst of retries across half the window
//! and keeps the expected delay (`3/4 · base`) non-decreasing.
//!
//! The give-up decision does not depend on the jitter: a retry is scheduled
//! only while the sum of the *un-jittered* base delays up to and including it
//! stays within `give_up_after`. Jittered delays never exceed their base, so
//! the total time spent waiting is bounded by `give_up_after` whatever random
//! values the caller supplies, and whether a delivery is dead-lettered after
//! `n` retries is a fixed property of the schedule.
//!
//! Randomness comes from the caller as a number in `[0, 1]`, so this module is
//! a pure function and needs no random number generator.

use std::time::Duration;

/// Why a retry schedule was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RetryScheduleError {
    /// The initial delay was zero, which would retry in a tight loop.
    #[error("retry schedule initial delay must be positive")]
    ZeroInitialDelay,
    /// The growth factor was below 1, which would shrink delays.
    #[error("retry schedule factor must be at least 1")]
    FactorBelowOne,
    /// The maximum delay was below the initial delay.
    #[error("retry schedule max delay {max_delay:?} is below the initial delay {initial:?}")]
    MaxBelowInitial {
        initial: Duration,
        max_delay: Duration,
    },
}

/// Exponential back-off with equal jitter and a dead-letter deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    initial: Duration,
    factor: u32,
    max_delay: Duration,
    give_up_after: Duration,
}

impl Default for RetrySchedule {
    /// 5 s doubling up to 1 h, dead-lettered after 24 h (33 retries).
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(5),
            factor: 2,
            max_delay: Duration::from_secs(60 * 60),
            give_up_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl RetrySchedule {
    /// Builds a schedule; delays must start positive and never shrink.
    pub fn new(
        initial: Duration,
        factor: u32,
        max_delay: Duration,
        give_up_after: Duration,
    ) -> Result<Self, RetryScheduleError> {
        if initial.is_zero() {
            return Err(RetryScheduleError::ZeroInitialDelay);
        }
        if factor < 1 {
            return Err(RetryScheduleError::FactorBelowOne);
        }
        if max_delay < initial {
            return Err(RetryScheduleError::MaxBelowInitial { initial, max_delay });
        }
        Ok(Self {
            initial,
            factor,
            max_delay,
            give_up_after,
        })
    }

    /// The first delay before jitter.
    pub fn initial(&self) -> Duration {
        self.initial
    }

    /// The growth factor between consecutive base delays.
    pub fn factor(&self) -> u32 {
        self.factor
    }

    /// The cap on any single delay.
    pub fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The bound on the total waiting time before dead-lettering.
    pub fn give_up_after(&self) -> Duration {
        self.give_up_after
    }

    /// The un-jittered delay before retry number `attempt` (zero-based):
    /// `min(initial · factor^attempt, max_delay)`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        self.initial
            .saturating_mul(self.factor.saturating_pow(attempt))
            .min(self.max_delay)
    }

    /// The delay before retry number `attempt`, or `None` when the delivery
    /// should be dead-lettered instead.
    ///
    /// `attempt` counts retries already scheduled: 0 after the first failed
    /// delivery, 1 after the second, and so on. `jitter` is a uniform random
    /// number in `[0, 1]` from the caller; values outside are clamped and a
    /// non-finite value counts as 0. The result is in
    /// `[base_delay / 2, base_delay]`.
    pub fn next_delay(&self, attempt: u32, jitter: f64) -> Option<Duration> {
        if self.cumulative_base_nanos(attempt) > self.give_up_after.as_nanos() {
            return None;
        }
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let half = self.base_delay(attempt) / 2;
        let base = self.base_delay(attempt);
        Some((half + half.mul_f64(jitter)).min(base))
    }

    /// Sum of `base_delay(0..=attempt)` in nanoseconds, computed in closed
    /// form once the base delay stops growing so that huge attempt numbers
    /// cost no more than small ones.
    fn cumulative_base_nanos(&self, attempt: u32) -> u128 {
        let mut total: u128 = 0;
        let mut previous: Option<Duration> = None;
        for index in 0..=attempt {
            let base = self.base_delay(index);
            if previous == Some(base) {
                // Constant from here on (capped, saturated or factor 1).
                let remaining = u128::from(attempt - index) + 1;
                return total.saturating_add(base.as_nanos().saturating_mul(remaining));
            }
            total = total.saturating_add(base.as_nanos());
            previous = Some(base);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const fn secs(value: u64) -> Duration {
        Duration::from_secs(value)
    }

    #[test]
    fn default_schedule_doubles_from_five_seconds_up_to_an_hour() {
        let schedule = RetrySchedule::default();
        let expected = [
            (0, 5),
            (1, 10),
            (2, 20),
            (3, 40),
            (9, 2560),
            (10, 3600),
            (31, 3600),
        ];
        for (attempt, base) in expected {
            assert_eq!(
                schedule.base_delay(attempt),
                secs(base),
                "attempt {attempt}"
            );
            assert_eq!(
                schedule.next_delay(attempt, 1.0),
                Some(secs(base)),
                "attempt {attempt}"
            );
            assert_eq!(
                schedule.next_delay(attempt, 0.0),
                Some(secs(base) / 2),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn default_schedule_dead_letters_after_twenty_four_hours() {
        // 5 + 10 + ... + 2560 = 5115 s, then 22 hourly retries: 84315 s.
        let schedule = RetrySchedule::default();
        assert!(schedule.next_delay(31, 0.5).is_some());
        assert_eq!(schedule.next_delay(32, 0.5), None);
        assert_eq!(schedule.next_delay(u32::MAX, 0.5), None);
        let total: Duration = (0..=31).map(|attempt| schedule.base_delay(attempt)).sum();
        assert_eq!(total, secs(84_315));
    }

    #[test]
    fn out_of_range_jitter_is_clamped() {
        let schedule = RetrySchedule::default();
        let cases = [
            (-1.0, 5_000),
            (0.5, 7_500),
            (2.0, 10_000),
            (f64::NAN, 5_000),
            (f64::INFINITY, 5_000),
        ];
        for (jitter, millis) in cases {
            assert_eq!(
                schedule.next_delay(1, jitter),
                Some(Duration::from_millis(millis)),
                "jitter {jitter}"
            );
        }
    }

    #[test]
    fn invalid_schedules_are_refused() {
        let day = secs(86_400);
        assert_eq!(
            RetrySchedule::new(Duration::ZERO, 2, secs(60), day),
            Err(RetryScheduleError::ZeroInitialDelay)
        );
        assert_eq!(
            RetrySchedule::new(secs(5), 0, secs(60), day),
            Err(RetryScheduleError::FactorBelowOne)
        );
        assert_eq!(
            RetrySchedule::new(secs(5), 2, secs(1), day),
            Err(RetryScheduleError::MaxBelowInitial {
                initial: secs(5),
                max_delay: secs(1)
            })
        );
        assert_eq!(
            RetrySchedule::new(secs(5), 2, secs(3600), day),
            Ok(RetrySchedule::default())
        );
    }

    #[test]
    fn a_constant_schedule_gives_up_after_the_deadline() {
        let schedule = RetrySchedule::new(secs(10), 1, secs(10), secs(100)).unwrap();
        assert_eq!(schedule.next_delay(9, 1.0), Some(secs(10)));
        assert_eq!(schedule.next_delay(10, 1.0), None);
    }

    fn schedules() -> impl Strategy<Value = RetrySchedule> {
        (1u64..120, 1u32..5, 1u64..100, 0u64..200_000).prop_map(
            |(initial, factor, cap_multiple, give_up)| {
                RetrySchedule::new(
                    secs(initial),
                    factor,
                    secs(initial * cap_multiple),
                    secs(give_up),
                )
                .unwrap()
            },
        )
    }

    proptest! {
        #[test]
        fn delays_are_bounded_and_total_stays_within_the_deadline(
            schedule in schedules(),
            jitters in proptest::collection::vec(0.0f64..=1.0, 1..200),
        ) {
            let mut total = Duration::ZERO;
            let mut dead_lettered = false;
            for (attempt, jitter) in (0u32..).zip(jitters) {
                match schedule.next_delay(attempt, jitter) {
                    Some(delay) => {
                        prop_assert!(!dead_lettered, "a retry after dead-lettering");
                        prop_assert!(delay <= schedule.max_delay());
                        prop_assert!(delay <= schedule.base_delay(attempt));
                        prop_assert!(delay >= schedule.base_delay(attempt) / 2);
                        total += delay;
                    }
                    None => dead_lettered = true,
                }
            }
            prop_assert!(total <= schedule.give_up_after());
        }

        #[test]
        fn expected_delays_never_decrease(schedule in schedules(), attempt in 0u32..1000) {
            let expected = |attempt| schedule.base_delay(attempt).mul_f64(0.75);
            prop_assert!(expected(attempt) <= expected(attempt + 1));
        }

        #[test]
        fn dead_lettering_is_final(schedule in schedules(), attempt in 0u32..10_000, later in 0u32..10_000) {
            if schedule.next_delay(attempt, 0.5).is_none() {
                prop_assert_eq!(schedule.next_delay(attempt.saturating_add(later), 0.5), None);
            }
        }
    }
}
