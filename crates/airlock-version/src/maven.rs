//! Maven artifact versions, ordered like Maven's `ComparableVersion`
//! (maven-artifact 3.8.7, checked against it by `oracles/run.sh`), which is
//! also the order of the POM reference's "Version Order Specification".
//!
//! The version is lower-cased and split into items: numbers, strings and
//! nested lists. `.` separates items in the same list; `-`, every
//! digit/letter transition and a qualifier after `.` (`1.0.RC1` reads as
//! `1.0-RC1`) start a nested list; a list compares with "nothing" by its
//! first item that is not null (MNG-6964). Trailing "null" items (`0`,
//! the empty qualifier and its aliases `ga`/`final`/`release`, empty lists)
//! are trimmed, so `1 = 1.0 = 1.0.0 = 1-ga`. Known qualifiers order
//! `alpha < beta < milestone < rc = cr < snapshot < "" < sp`, with `a`, `b`,
//! `m` as shorthands when a digit follows; unknown qualifiers sort after
//! `sp`, alphabetically. Maven 3.9 moved unknown qualifiers before
//! `snapshot`; we keep the 3.8 order, which is the one the POM reference
//! specifies. Maven accepts any string; we reject only the empty
//! string and strings with whitespace, control or non-ASCII characters.

use std::cmp::Ordering;

use crate::{VersionError, VersionScheme, cmp_decimal};

/// Maven: `ComparableVersion` ordering.
#[derive(Debug, Clone, Copy, Default)]
pub struct Maven;

const NAME: &str = "maven";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Digits without leading zeros ("0" for zero).
    Int(String),
    /// A qualifier after alias expansion.
    Str(String),
    List(Vec<Item>),
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_VERSION_INDEX: &str = "5";

fn comparable_qualifier(q: &str) -> String {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => i.to_string(),
        None => format!("{}-{q}", QUALIFIERS.len()),
    }
}

fn string_item(value: &str, followed_by_digit: bool) -> Item {
    let value = match (followed_by_digit, value) {
        (true, "a") => "alpha",
        (true, "b") => "beta",
        (true, "m") => "milestone",
        _ => value,
    };
    let value = match value {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(value.to_owned())
}

fn int_item(digits: &str) -> Item {
    let trimmed = digits.trim_start_matches('0');
    Item::Int(if trimmed.is_empty() { "0" } else { trimmed }.to_owned())
}

fn parse_item(is_digit: bool, buf: &str) -> Item {
    if is_digit {
        int_item(buf)
    } else {
        string_item(buf, false)
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(v) => v == "0",
            Item::Str(s) => comparable_qualifier(s) == RELEASE_VERSION_INDEX,
            Item::List(l) => l.is_empty(),
        }
    }

    /// Java's `compareTo`, where `other == None` is Java's `null`.
    fn compare_to(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(v), None) => {
                if v == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => cmp_decimal(a, b),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(s), None) => comparable_qualifier(s).as_str().cmp(RELEASE_VERSION_INDEX),
            (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => {
                comparable_qualifier(a).cmp(&comparable_qualifier(b))
            }
            // MNG-6964: the whole list is compared with null, not only its head
            (Item::List(l), None) => l
                .iter()
                .map(|item| item.compare_to(None))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal),
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => cmp_lists(a, b),
        }
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    for i in 0..a.len().max(b.len()) {
        let ord = match (a.get(i), b.get(i)) {
            (Some(l), r) => l.compare_to(r),
            (None, Some(r)) => r.compare_to(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// `ComparableVersion.parseVersion`.
fn parse_items(version: &str) -> Vec<Item> {
    let version = version.to_ascii_lowercase();
    let bytes = version.as_bytes();
    // stack of open lists; each new list is the last item of its parent
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let mut is_digit = false;
    let mut start = 0usize;
    for (i, &c) in bytes.iter().enumerate() {
        let list = stack.last_mut().expect("stack is never empty");
        if c == b'.' || c == b'-' {
            if i == start {
                list.push(Item::Int("0".to_owned()));
            } else {
                list.push(parse_item(is_digit, &version[start..i]));
            }
            start = i + 1;
            if c == b'-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                // 1.0.0.RC1 < 1.0.0-RC2: a qualifier after `.` opens a list
                // as if it followed `-`
                if !list.is_empty() {
                    stack.push(Vec::new());
                }
                let list = stack.last_mut().expect("stack is never empty");
                list.push(string_item(&version[start..i], true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                list.push(parse_item(true, &version[start..i]));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if version.len() > start {
        if !is_digit && !stack.last().expect("stack is never empty").is_empty() {
            stack.push(Vec::new());
        }
        let item = parse_item(is_digit, &version[start..]);
        stack.last_mut().expect("stack is never empty").push(item);
    }
    while stack.len() > 1 {
        let mut child = stack.pop().expect("len > 1");
        normalize(&mut child);
        stack.last_mut().expect("len >= 1").push(Item::List(child));
    }
    let mut root = stack.pop().expect("root list");
    normalize(&mut root);
    root
}

fn parse(input: &str) -> Result<Vec<Item>, VersionError> {
    if input.is_empty() {
        return Err(VersionError::new(NAME, input, "version string is empty"));
    }
    if let Some(bad) = input.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(VersionError::new(
            NAME,
            input,
            format!("invalid character {bad:?}"),
        ));
    }
    Ok(parse_items(input))
}

impl VersionScheme for Maven {
    fn name(&self) -> &'static str {
        NAME
    }

    fn compare(&self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        let a = parse(a)?;
        let b = parse(b)?;
        Ok(cmp_lists(&a, &b))
    }

    fn validate(&self, v: &str) -> Result<(), VersionError> {
        parse(v).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{assert_invalid, check, check_sorted};
    use Ordering::{Equal, Less};

    /// ComparableVersionTest.VERSIONS_QUALIFIER.
    #[test]
    fn versions_qualifier() {
        check_sorted(
            &Maven,
            &[
                "1-alpha2snapshot",
                "1-alpha2",
                "1-alpha-123",
                "1-beta-2",
                "1-beta123",
                "1-m2",
                "1-m11",
                "1-rc",
                "1-cr2",
                "1-rc123",
                "1-SNAPSHOT",
                "1",
                "1-sp",
                "1-sp2",
                "1-sp123",
                "1-abc",
                "1-def",
                "1-pom-1",
                "1-1-snapshot",
                "1-1",
                "1-2",
                "1-123",
            ],
        );
    }

    /// ComparableVersionTest.VERSIONS_NUMBER as of Maven 3.8 (the stored
    /// 3.3-era copy listed `2-1 < 2.0.a < 2.0.0.a`; since the `.RC` = `-RC`
    /// change `2.0.a = 2.0.0.a < 2-1`, which maven-artifact 3.8.7 confirms).
    #[test]
    fn versions_number() {
        check_sorted(
            &Maven,
            &[
                "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c",
                "2.1-1", "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2",
                "11.m11", "11", "11.a", "11b", "11c", "11m",
            ],
        );
        check(&Maven, "2.0.a", "2.0.0.a", Equal);
        check(&Maven, "1.0.0.RC1", "1.0.0-RC2", Less);
    }

    /// ComparableVersionTest.testVersionsEqual, testLocaleIndependent and
    /// the leading-zero equality tests.
    #[test]
    fn versions_equal() {
        for (a, b) in [
            ("1", "1"),
            ("1", "1.0"),
            ("1", "1.0.0"),
            ("1.0", "1.0.0"),
            ("1", "1-0"),
            ("1", "1.0-0"),
            ("1.0", "1.0-0"),
            // no separator between number and character (Maven >= 3.6 rule:
            // a transition is a `-`, so `1a = 1-a`, not `1.a` as in 3.5)
            ("1a", "1-a"),
            ("1a", "1.0-a"),
            ("1a", "1.0.0-a"),
            ("1.0a", "1-a"),
            ("1.0.0a", "1-a"),
            ("1x", "1-x"),
            ("1x", "1.0-x"),
            ("1x", "1.0.0-x"),
            ("1.0x", "1-x"),
            ("1.0.0x", "1-x"),
            ("1ga", "1"),
            ("1release", "1"),
            ("1final", "1"),
            ("1cr", "1rc"),
            ("1a1", "1alpha1"),
            ("1b2", "1beta2"),
            ("1m3", "1milestone3"),
            ("1X", "1x"),
            ("1A", "1a"),
            ("1B", "1b"),
            ("1M", "1m"),
            ("1Ga", "1"),
            ("1GA", "1"),
            ("1RELEASE", "1"),
            ("1Final", "1"),
            ("1FinaL", "1"),
            ("1FINAL", "1"),
            ("1Cr", "1Rc"),
            ("1cR", "1rC"),
            ("1m3", "1Milestone3"),
            ("1m3", "1MileStone3"),
            ("1m3", "1MILESTONE3"),
            ("1-ga", "1"),
            (
                "1-abcdefghijklmnopqrstuvwxyz",
                "1-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            ),
            ("0000000000000000001", "1"),
            ("000000000000000000000000001", "1"),
            ("0000000000000000000", "0"),
            ("1.0000000000000000000", "1"),
        ] {
            check(&Maven, a, b, Equal);
        }
    }

    /// ComparableVersionTest.testVersionComparing.
    #[test]
    fn version_comparing() {
        for (a, b) in [
            ("1", "2"),
            ("1.5", "2"),
            ("1", "2.5"),
            ("1.0", "1.1"),
            ("1.1", "1.2"),
            ("1.0.0", "1.1"),
            ("1.0.1", "1.1"),
            ("1.1", "1.2.0"),
            ("1.0-alpha-1", "1.0"),
            ("1.0-alpha-1", "1.0-alpha-2"),
            ("1.0-alpha-1", "1.0-beta-1"),
            ("1.0-beta-1", "1.0-SNAPSHOT"),
            ("1.0-SNAPSHOT", "1.0"),
            ("1.0-alpha-1-SNAPSHOT", "1.0-alpha-1"),
            ("1.0", "1.0-1"),
            ("1.0-1", "1.0-2"),
            ("1.0.0", "1.0-1"),
            ("2.0-1", "2.0.1"),
            ("2.0.1-klm", "2.0.1-lmn"),
            ("2.0.1", "2.0.1-xyz"),
            ("2.0.1", "2.0.1-123"),
            ("2.0.1-xyz", "2.0.1-123"),
            ("1-SNAPSHOT", "1"),
            ("1.0-sp", "1.0-sp1"),
            ("99999999999999999999", "100000000000000000000"),
        ] {
            check(&Maven, a, b, Less);
        }
    }

    /// ComparableVersionTest.testMng5568 and testMng6572.
    #[test]
    fn mng_5568_and_6572() {
        check(&Maven, "6.1.0rc3", "6.1.0", Less);
        check(&Maven, "6.1.0rc3", "6.1H.5-beta", Less);
        check(&Maven, "6.1.0", "6.1H.5-beta", Less);
        check_sorted(
            &Maven,
            &[
                "20190126.230843",
                "1234567890.12345",
                "123456789012345.1H.5-beta",
                "12345678901234567890.1H.5-beta",
            ],
        );
    }

    /// Found by the maven-artifact 3.8.7 oracle: a sub-list must be compared
    /// with "nothing" item by item (MNG-6964), and a qualifier after `.`
    /// opens a sub-list like `-` does.
    #[test]
    fn regression_list_versus_nothing_uses_every_item() {
        check(&Maven, "1-0.x-sp-cr", "01", Ordering::Greater);
        check(&Maven, "1.0", "1-0.x-b2", Less);
        check(&Maven, "1-0.1RC1", "1-00", Ordering::Greater);
        check(&Maven, "1.x", "1-x", Equal);
        check(&Maven, "1-0.x", "1-0.1", Less);
    }

    #[test]
    fn invalid_versions() {
        for bad in ["", "1.0 beta", "1.0\t", "1.0é"] {
            assert_invalid(&Maven, bad);
        }
    }
}
