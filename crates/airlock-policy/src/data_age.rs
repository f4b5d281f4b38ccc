//! The `max_vulnerability_data_age` value: a whole number of seconds,
//! minutes, hours or days (`90m`, `7d`).

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];

/// A maximum age, kept in seconds; it prints in the largest unit that
/// divides it evenly, so `168h` reads back as `7d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DataAge {
    seconds: u64,
}

impl DataAge {
    /// An age of `seconds` seconds.
    pub const fn from_seconds(seconds: u64) -> DataAge {
        DataAge { seconds }
    }

    /// The age as a standard duration.
    pub fn as_duration(self) -> Duration {
        Duration::from_secs(self.seconds)
    }

    /// Parses `<whole number><s|m|h|d>`.
    pub fn parse(text: &str) -> Option<DataAge> {
        let unit = text.chars().last()?;
        let (_, factor) = UNITS.iter().find(|(name, _)| *name == unit)?;
        let number = &text[..text.len() - unit.len_utf8()];
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let seconds = number.parse::<u64>().ok()?.checked_mul(*factor)?;
        Some(DataAge { seconds })
    }
}

impl fmt::Display for DataAge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, factor) = UNITS
            .iter()
            .find(|(_, factor)| self.seconds.is_multiple_of(*factor) && self.seconds != 0)
            .copied()
            .unwrap_or(('s', 1));
        write!(f, "{}{unit}", self.seconds / factor)
    }
}

impl<'de> Deserialize<'de> for DataAge {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AgeVisitor;
        impl Visitor<'_> for AgeVisitor {
            type Value = DataAge;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 12h or 7d")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<DataAge, E> {
                DataAge::parse(text).ok_or_else(|| {
                    E::custom(format_args!(
                        "invalid duration \"{text}\"; use a whole number followed by s, m, h or d, e.g. 7d"
                    ))
                })
            }
        }
        deserializer.deserialize_str(AgeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::DataAge;

    #[test]
    fn parses_and_prints_canonically() {
        let cases: &[(&str, Option<u64>, &str)] = &[
            ("7d", Some(604_800), "7d"),
            ("168h", Some(604_800), "7d"),
            ("90m", Some(5_400), "90m"),
            ("3600s", Some(3_600), "1h"),
            ("59s", Some(59), "59s"),
            ("0s", Some(0), "0s"),
            ("7", None, ""),
            ("d", None, ""),
            ("7 d", None, ""),
            ("-7d", None, ""),
            ("7w", None, ""),
            ("1.5h", None, ""),
            ("99999999999999999999d", None, ""),
        ];
        for (text, seconds, canonical) in cases {
            let parsed = DataAge::parse(text);
            assert_eq!(parsed.map(|a| a.seconds), *seconds, "{text}");
            if let Some(age) = parsed {
                assert_eq!(age.to_string(), *canonical, "{text}");
            }
        }
    }
}
