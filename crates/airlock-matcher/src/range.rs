//! OSV range evaluation.
//!
//! Follows the algorithm in the OSV schema: sort the events with the
//! ecosystem's version ordering (`introduced: "0"` first), walk them, and let
//! the last event at or below the installed version decide. That makes
//! several introduced/fixed pairs in one range work: versions between a fix
//! and the next introduction are not affected. `limit` events bound the
//! whole range from above.

use std::cmp::Ordering;

use airlock_version::VersionScheme;

use crate::osv::Event;

/// Whether `version` is inside the range described by `events`.
///
/// Returns the fix versions above the installed one when it is affected
/// (`Some`, possibly empty when nothing is fixed), `None` when it is not, and
/// an error naming the unparseable event version.
pub fn evaluate(
    scheme: &dyn VersionScheme,
    version: &str,
    events: &[Event],
) -> Result<Option<Vec<String>>, String> {
    // The walk below, without sorting: the state after the walk is the
    // effect of the last event, in sorted order, that fires (an introduction
    // at or below the installed version, a fix at or below it, a last
    // affected version below it). So compare the installed version with each
    // event once, and order only the events that fire (usually one or two).
    // Version parsing dominates matching time; this parses each event once
    // instead of four to six times. Any comparison that fails takes the
    // walk, which reports it exactly as before.
    let mut order: Vec<Option<Ordering>> = Vec::with_capacity(events.len());
    for event in events {
        if is_zero(event) {
            order.push(None);
            continue;
        }
        match scheme.compare(version, event.version()) {
            Ok(ordering) => order.push(Some(ordering)),
            Err(_) => return evaluate_by_walk(scheme, version, events),
        }
    }
    let fires = |index: usize| match (&events[index], order[index]) {
        (Event::Introduced(_), None) => true,
        (Event::Introduced(_) | Event::Fixed(_), Some(ordering)) => ordering.is_ge(),
        (Event::LastAffected(_), Some(ordering)) => ordering.is_gt(),
        _ => false,
    };
    let mut decider: Option<usize> = None;
    for index in (0..events.len()).filter(|&i| fires(i)) {
        decider = Some(match decider {
            // `index` comes later in feed order, so it wins ties (the walk's
            // sort is stable).
            Some(previous) if sort_order(scheme, &events[index], &events[previous]).is_lt() => {
                previous
            }
            _ => index,
        });
    }
    if !decider.is_some_and(|i| matches!(events[i], Event::Introduced(_))) {
        return Ok(None);
    }
    let mut below_a_limit = true;
    for (event, ordering) in events.iter().zip(&order) {
        if let Event::Limit(limit) = event {
            below_a_limit = false;
            if limit == "*" || ordering.is_some_and(Ordering::is_lt) {
                below_a_limit = true;
                break;
            }
        }
    }
    if !below_a_limit {
        return Ok(None);
    }
    Ok(Some(
        events
            .iter()
            .zip(&order)
            .filter_map(|(event, ordering)| match event {
                Event::Fixed(v) if ordering.is_some_and(Ordering::is_lt) => Some(v.clone()),
                _ => None,
            })
            .collect(),
    ))
}

/// The order of the walk: by version (`introduced: "0"` first), then
/// introductions before the events that end them.
fn sort_order(scheme: &dyn VersionScheme, a: &Event, b: &Event) -> Ordering {
    let by_version = match (is_zero(a), is_zero(b)) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => scheme
            .compare(a.version(), b.version())
            .unwrap_or(Ordering::Equal),
    };
    by_version.then(tie_rank(a).cmp(&tie_rank(b)))
}

/// The OSV schema's algorithm as written: validate, sort, walk.
fn evaluate_by_walk(
    scheme: &dyn VersionScheme,
    version: &str,
    events: &[Event],
) -> Result<Option<Vec<String>>, String> {
    for event in events {
        if is_zero(event) {
            continue;
        }
        if let Err(error) = scheme.validate(event.version()) {
            return Err(format!("event version {:?}: {error}", event.version()));
        }
    }
    let compare = |a: &str, b: &str| -> Result<Ordering, String> {
        scheme.compare(a, b).map_err(|e| e.to_string())
    };

    let mut walk: Vec<&Event> = events
        .iter()
        .filter(|e| !matches!(e, Event::Limit(_)))
        .collect();
    walk.sort_by(|a, b| sort_order(scheme, a, b));

    let mut affected = false;
    for event in walk {
        match event {
            Event::Introduced(_) => {
                if is_zero(event) || compare(version, event.version())?.is_ge() {
                    affected = true;
                }
            }
            Event::Fixed(fixed) => {
                if compare(version, fixed)?.is_ge() {
                    affected = false;
                }
            }
            Event::LastAffected(last) => {
                if compare(version, last)?.is_gt() {
                    affected = false;
                }
            }
            Event::Limit(_) => {}
        }
    }
    if !affected {
        return Ok(None);
    }

    let mut below_a_limit = true;
    for event in events {
        if let Event::Limit(limit) = event {
            below_a_limit = false;
            if limit == "*" || compare(version, limit)?.is_lt() {
                below_a_limit = true;
                break;
            }
        }
    }
    if !below_a_limit {
        return Ok(None);
    }

    let mut fixed = Vec::new();
    for event in events {
        if let Event::Fixed(v) = event
            && compare(version, v)?.is_lt()
        {
            fixed.push(v.clone());
        }
    }
    Ok(Some(fixed))
}

fn is_zero(event: &Event) -> bool {
    matches!(event, Event::Introduced(v) if v == "0")
}

/// At equal versions, an introduction comes before the event that ends it.
fn tie_rank(event: &Event) -> u8 {
    match event {
        Event::Introduced(_) => 0,
        Event::LastAffected(_) => 1,
        Event::Fixed(_) => 2,
        Event::Limit(_) => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_scheme::Dotted;

    fn intro(v: &str) -> Event {
        Event::Introduced(v.into())
    }
    fn fixed(v: &str) -> Event {
        Event::Fixed(v.into())
    }
    fn last(v: &str) -> Event {
        Event::LastAffected(v.into())
    }
    fn limit(v: &str) -> Event {
        Event::Limit(v.into())
    }

    fn is_affected(version: &str, events: &[Event]) -> bool {
        evaluate(&Dotted, version, events).unwrap().is_some()
    }

    #[test]
    fn range_table() {
        type Case = (&'static str, Vec<Event>, &'static [(&'static str, bool)]);
        let cases: Vec<Case> = vec![
            (
                "introduced 0 + fixed",
                vec![intro("0"), fixed("1.2")],
                &[("0.1", true), ("1.1.9", true), ("1.2", false), ("2", false)],
            ),
            (
                "introduced + last_affected",
                vec![intro("1.0"), last("1.4")],
                &[
                    ("0.9", false),
                    ("1.0", true),
                    ("1.4", true),
                    ("1.4.1", false),
                ],
            ),
            (
                "two pairs, events out of order",
                vec![intro("2.0"), fixed("2.3"), intro("1.0"), fixed("1.5")],
                &[
                    ("0.5", false),
                    ("1.0", true),
                    ("1.4", true),
                    ("1.5", false),
                    ("1.9", false),
                    ("2.0", true),
                    ("2.2", true),
                    ("2.3", false),
                ],
            ),
            (
                "introduced without end",
                vec![intro("3.0")],
                &[("2.9", false), ("3.0", true), ("99", true)],
            ),
            (
                "limit bounds the range",
                vec![intro("1.0"), limit("2.0")],
                &[("0.9", false), ("1.0", true), ("1.9", true), ("2.0", false)],
            ),
            (
                "introduced and fixed at the same version",
                vec![intro("1.0"), fixed("1.0")],
                &[("1.0", false)],
            ),
        ];
        for (name, events, expectations) in cases {
            for (version, expected) in expectations {
                assert_eq!(
                    is_affected(version, &events),
                    *expected,
                    "{name}: {version}"
                );
            }
        }
    }

    #[test]
    fn fixed_versions_are_those_above_the_installed_one() {
        let events = vec![intro("1.0"), fixed("1.5"), intro("2.0"), fixed("2.3")];
        assert_eq!(
            evaluate(&Dotted, "2.1", &events).unwrap(),
            Some(vec!["2.3".to_string()])
        );
    }

    #[test]
    fn shortcut_agrees_with_the_walk_on_generated_ranges() {
        // A small deterministic generator (xorshift): ranges of up to five
        // events over versions 0..6 with one or two components, including
        // "0", "*" limits and unparseable versions.
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let version = |next: &mut dyn FnMut(u64) -> u64| match next(10) {
            0 => "0".to_string(),
            1 => "x".to_string(),
            2 | 3 => format!("{}.{}", next(6), next(3)),
            _ => next(6).to_string(),
        };
        for _ in 0..20_000 {
            let events: Vec<Event> = (0..1 + next(5))
                .map(|_| {
                    let v = version(&mut next);
                    match next(4) {
                        0 => intro(&v),
                        1 => fixed(&v),
                        2 => last(&v),
                        _ if next(3) == 0 => limit("*"),
                        _ => limit(&v),
                    }
                })
                .collect();
            let installed = version(&mut next);
            assert_eq!(
                evaluate(&Dotted, &installed, &events),
                evaluate_by_walk(&Dotted, &installed, &events),
                "{installed} {events:?}"
            );
        }
    }

    #[test]
    fn unparseable_event_version_is_an_error() {
        let events = vec![intro("0"), fixed("not-a-version")];
        let error = evaluate(&Dotted, "1.0", &events).unwrap_err();
        assert!(error.contains("not-a-version"), "{error}");
    }
}
