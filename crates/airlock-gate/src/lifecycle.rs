//! The lifecycle of a pushed manifest as a pure function:
//! `(state, event) → (state, effects)`. Nothing here touches storage; the
//! service turns effects into one transaction each.
//!
//! ```text
//! received -> queued -> scanning -> passed -> promoted
//!                |          |  \
//!                |          |   -> failed -> rejected
//!                |          +-> scan error -> queued (retry, bounded) | rejected (scan_error)
//!                |          +-> rejected (stale data, invalid policy, unsupported media type)
//!                +--------------> covered (a child of an index: the index is gated)
//!
//! rejected | covered --(pushed again)--> queued
//! promoted --(pushed again with a new tag)--> promoted (the tag is copied)
//! promoted --(fails re-evaluation past the policy's demote_after)--> rejected
//! rejected --(passes re-evaluation: an exception or a policy changed)--> passed -> promoted
//! ```

use airlock_store::ImageState;

/// What happened to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The push was recorded; queue a scan.
    Queue,
    /// A worker took the scan job.
    Start,
    /// The scan finished and the policy decided.
    Decided {
        /// Whether the policy passed.
        passed: bool,
    },
    /// The scan failed; `retry` says whether attempts remain.
    ScanFailed {
        /// Whether to try again.
        retry: bool,
    },
    /// The gate refuses the image before any verdict (fail closed).
    Refuse,
    /// The manifest is a child of an index that is gated instead.
    Cover,
    /// Copy a passed image to `scanned/`.
    Promote,
    /// Close a failed image.
    Reject,
    /// The same digest was pushed again to a closed image: decide again
    /// (after a rejection: exceptions or policies may have changed).
    Repush,
    /// The same digest was pushed again under a new tag after promotion:
    /// copy the new tag.
    Retag,
    /// A promoted image failed its policy on re-evaluation for longer than
    /// the policy's `demote_after`: it has left `scanned/`.
    Demote,
    /// A rejected image, re-evaluated from its stored scan after an
    /// exception or a policy changed, passed: it is decided again.
    Reconsider,
}

/// What the service must do besides changing the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Enqueue a scan job.
    EnqueueScan,
    /// Put the scan job back with a delay.
    RetryScan,
    /// End the current job.
    FinishJob,
    /// Copy references into `scanned/` (in the same transaction).
    CopyToScanned,
    /// Publish an event of this type.
    Emit(&'static str),
}

/// A transition the lifecycle does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event {event:?} is not allowed in state {state}")]
pub struct IllegalTransition {
    /// The state.
    pub state: ImageState,
    /// The event.
    pub event: Event,
}

/// The lifecycle.
pub fn next(
    state: ImageState,
    event: Event,
) -> Result<(ImageState, Vec<Effect>), IllegalTransition> {
    use Effect::*;
    use ImageState as S;
    let result = match (state, event) {
        (S::Received, Event::Queue) => (
            S::Queued,
            vec![
                EnqueueScan,
                Emit("airlock.image.pushed"),
                Emit("airlock.scan.queued"),
            ],
        ),
        (S::Queued, Event::Start) => (S::Scanning, vec![Emit("airlock.scan.started")]),
        (S::Scanning, Event::Decided { passed: true }) => {
            (S::Passed, vec![FinishJob, Emit("airlock.scan.completed")])
        }
        (S::Scanning, Event::Decided { passed: false }) => {
            (S::Failed, vec![FinishJob, Emit("airlock.scan.completed")])
        }
        (S::Scanning, Event::ScanFailed { retry: true }) => {
            (S::Queued, vec![RetryScan, Emit("airlock.scan.failed")])
        }
        (S::Scanning, Event::ScanFailed { retry: false }) => (
            S::Rejected,
            vec![
                FinishJob,
                Emit("airlock.scan.failed"),
                Emit("airlock.image.rejected"),
            ],
        ),
        (S::Scanning, Event::Refuse) => {
            (S::Rejected, vec![FinishJob, Emit("airlock.image.rejected")])
        }
        (S::Queued | S::Scanning, Event::Cover) => (S::Covered, vec![FinishJob]),
        (S::Passed, Event::Promote) => (
            S::Promoted,
            vec![CopyToScanned, Emit("airlock.image.promoted")],
        ),
        (S::Failed, Event::Reject) => (S::Rejected, vec![Emit("airlock.image.rejected")]),
        (S::Rejected | S::Covered, Event::Repush) => (
            S::Queued,
            vec![
                EnqueueScan,
                Emit("airlock.image.pushed"),
                Emit("airlock.scan.queued"),
            ],
        ),
        (S::Promoted, Event::Retag) => (S::Promoted, vec![CopyToScanned]),
        (S::Promoted, Event::Demote) => (S::Rejected, vec![Emit("airlock.image.demoted")]),
        (S::Rejected, Event::Reconsider) => (S::Passed, vec![]),
        (state, event) => return Err(IllegalTransition { state, event }),
    };
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENTS: [Event; 14] = [
        Event::Queue,
        Event::Start,
        Event::Decided { passed: true },
        Event::Decided { passed: false },
        Event::ScanFailed { retry: true },
        Event::ScanFailed { retry: false },
        Event::Refuse,
        Event::Cover,
        Event::Promote,
        Event::Reject,
        Event::Repush,
        Event::Retag,
        Event::Demote,
        Event::Reconsider,
    ];

    /// Every (state, event) pair, with the expected next state (None = illegal).
    #[test]
    fn every_state_and_event() {
        use ImageState as S;
        let expected = |state: S, event: Event| -> Option<S> {
            Some(match (state, event) {
                (S::Received, Event::Queue) => S::Queued,
                (S::Queued, Event::Start) => S::Scanning,
                (S::Scanning, Event::Decided { passed: true }) => S::Passed,
                (S::Scanning, Event::Decided { passed: false }) => S::Failed,
                (S::Scanning, Event::ScanFailed { retry: true }) => S::Queued,
                (S::Scanning, Event::ScanFailed { retry: false }) => S::Rejected,
                (S::Scanning, Event::Refuse) => S::Rejected,
                (S::Queued | S::Scanning, Event::Cover) => S::Covered,
                (S::Passed, Event::Promote) => S::Promoted,
                (S::Failed, Event::Reject) => S::Rejected,
                (S::Rejected | S::Covered, Event::Repush) => S::Queued,
                (S::Promoted, Event::Retag) => S::Promoted,
                (S::Promoted, Event::Demote) => S::Rejected,
                (S::Rejected, Event::Reconsider) => S::Passed,
                _ => return None,
            })
        };
        let mut legal = 0;
        for state in ImageState::ALL {
            for event in EVENTS {
                let got = next(state, event).ok().map(|(s, _)| s);
                assert_eq!(got, expected(state, event), "{state} on {event:?}");
                legal += usize::from(got.is_some());
            }
        }
        assert_eq!(legal, 16);
    }

    #[test]
    fn terminal_states_accept_only_a_new_push() {
        for state in ImageState::ALL.into_iter().filter(|s| s.is_terminal()) {
            for event in EVENTS {
                if next(state, event).is_ok() {
                    assert!(
                        matches!(
                            event,
                            Event::Repush | Event::Retag | Event::Demote | Event::Reconsider
                        ),
                        "{state} accepted {event:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn only_a_pass_leads_to_scanned() {
        // Promotion is reachable only through Passed, and Passed only
        // through a verdict that passed (a scan's, or a re-evaluation of a
        // rejected image's stored scan): no scan, no promotion.
        for state in ImageState::ALL {
            for event in EVENTS {
                if let Ok((to, effects)) = next(state, event) {
                    if effects.contains(&Effect::CopyToScanned) {
                        assert!(
                            matches!(
                                (state, event),
                                (ImageState::Passed, Event::Promote)
                                    | (ImageState::Promoted, Event::Retag)
                            ),
                            "{state} on {event:?} copies to scanned/"
                        );
                    }
                    if to == ImageState::Passed {
                        assert!(
                            matches!(event, Event::Decided { passed: true } | Event::Reconsider),
                            "{state} on {event:?} passes"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_terminal_state_is_reachable_from_received() {
        let mut seen = std::collections::BTreeSet::new();
        let mut frontier = vec![ImageState::Received];
        while let Some(state) = frontier.pop() {
            if !seen.insert(state) {
                continue;
            }
            for event in EVENTS {
                if let Ok((to, _)) = next(state, event) {
                    frontier.push(to);
                }
            }
        }
        assert_eq!(seen.len(), ImageState::ALL.len());
    }
}
