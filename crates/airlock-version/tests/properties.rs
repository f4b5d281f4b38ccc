//! Property tests: every scheme's comparison is a total order on the
//! versions it accepts (reflexive, antisymmetric, transitive, and consistent
//! with its own equality), over generated versions that stress each grammar.

use std::cmp::Ordering;

use airlock_version::{ALL, VersionScheme};
use proptest::prelude::*;

fn scheme(name: &str) -> &'static dyn VersionScheme {
    *ALL.iter()
        .find(|s| s.name() == name)
        .expect("scheme is in the table")
}

fn cmp(s: &dyn VersionScheme, a: &str, b: &str) -> Ordering {
    s.compare(a, b)
        .unwrap_or_else(|e| panic!("generated versions must parse: {e}"))
}

fn check_order(s: &dyn VersionScheme, a: &str, b: &str, c: &str) -> Result<(), TestCaseError> {
    for v in [a, b, c] {
        prop_assert!(
            s.validate(v).is_ok(),
            "{} rejects generated {v:?}",
            s.name()
        );
        prop_assert_eq!(cmp(s, v, v), Ordering::Equal, "reflexive on {:?}", v);
    }
    let ab = cmp(s, a, b);
    let bc = cmp(s, b, c);
    let ac = cmp(s, a, c);
    prop_assert_eq!(
        cmp(s, b, a),
        ab.reverse(),
        "antisymmetric on {:?} {:?}",
        a,
        b
    );
    if s.name() == "maven" {
        // Maven's own ComparableVersion is not transitive on mixed qualifier
        // forms, and airlock orders exactly like it (see
        // `maven_is_as_intransitive_as_maven_itself` below): reflexivity
        // and antisymmetry are checked, transitivity cannot be.
        return Ok(());
    }
    if ab != Ordering::Greater && bc != Ordering::Greater {
        prop_assert_ne!(
            ac,
            Ordering::Greater,
            "transitive on {:?} <= {:?} <= {:?}",
            a,
            b,
            c
        );
    }
    if ab != Ordering::Less && bc != Ordering::Less {
        prop_assert_ne!(
            ac,
            Ordering::Less,
            "transitive on {:?} >= {:?} >= {:?}",
            a,
            b,
            c
        );
    }
    if ab == Ordering::Equal {
        prop_assert_eq!(ac, bc, "equal {:?} and {:?} order {:?} alike", a, b, c);
    }
    Ok(())
}

/// Small alphabets so that equal and near-equal versions are common.
const DPKG: &str = "([0-9]:)?[0-9][0-9a-cA.+~]{0,6}(-[0-9a-c.+~]{1,4})?";
const APK: &str = "[0-9]{1,2}(\\.(0|00|1|01|10)){0,3}[a-c]?(_(alpha|beta|pre|rc|cvs|svn|git|hg|p)[0-9]{0,2}){0,2}(~[0-9a-f]{1,3})?(-r[0-9]{1,2})?";
const RPM: &str = "([0-9]{1,2}:)?[0-9a-cA._+~^]{1,7}(-[0-9a-c._+~^]{1,4})?";
const PEP440: &str = "v?([0-2]!)?[0-9]{1,2}(\\.(0|1|00|10)){0,3}((a|b|c|rc|alpha|beta|pre|preview)[0-9]?)?((\\.post|-|\\.r|rev)[0-9])?(\\.dev[0-9]?)?(\\+[a-c0-9]{1,2}([._-][a-c0-9]{1,2}){0,2})?";
const SEMVER: &str = "v?(0|1|10)\\.(0|1|2)\\.(0|1)(-(0|1|10|a|b|a-b|alpha)(\\.(0|1|10|a|b)){0,2})?(\\+[a-z0-9]{1,3})?";
const GO: &str = "v(0|1|10)(\\.(0|1|2)(\\.(0|1)(-(0|1|10|a|b|a-b|20191109021931-daa7c04131f5)(\\.(0|1|a)){0,2})?(\\+incompatible)?)?)?";
/// Transitivity is not checked for Maven yet (see `check_order`).
const MAVEN: &str = "[0-9]{1,2}([.-]?([0-9]{1,2}|a|b|m|alpha|beta|milestone|rc|cr|snapshot|ga|final|release|sp|abc|x)){0,5}";
const RUBYGEMS: &str =
    "[0-9]{1,2}(\\.([0-9]{1,2}|[a-c]{1,2}|pre|rc)){0,4}(-[0-9a-c]{1,2}(\\.[0-9a-c]{1,2})?)?";
const NUGET: &str = "[0-9]{1,2}(\\.(0|00|1|01)){0,3}(-(0|1|10|a|A|b|beta|Beta|a-b|-1)(\\.(0|1|a|B|-2|2147483648)){0,2})?(\\+[a-z0-9]{1,3})?";
const PACKAGIST: &str = "v?[0-9]{1,2}(\\.(0|1|10)){0,3}([-._]?(alpha|beta|RC|rc|patch|pl|p|a|b|stable)([.-]?[0-9]){0,2})?([.-]?dev)?";

macro_rules! order_properties {
    ($test:ident, $scheme:literal, $pattern:expr) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            #[test]
            fn $test(a in $pattern, b in $pattern, c in $pattern) {
                check_order(scheme($scheme), &a, &b, &c)?;
            }
        }
    };
}

order_properties!(dpkg_is_a_total_order, "dpkg", DPKG);
order_properties!(apk_is_a_total_order, "apk", APK);
order_properties!(rpm_is_a_total_order, "rpm", RPM);
order_properties!(pep440_is_a_total_order, "pep440", PEP440);
order_properties!(semver_is_a_total_order, "semver", SEMVER);
order_properties!(go_is_a_total_order, "go", GO);
order_properties!(maven_is_reflexive_and_antisymmetric, "maven", MAVEN);
order_properties!(rubygems_is_a_total_order, "rubygems", RUBYGEMS);
order_properties!(nuget_is_a_total_order, "nuget", NUGET);
order_properties!(packagist_is_a_total_order, "packagist", PACKAGIST);

proptest! {
    /// No scheme panics on arbitrary input; it parses or returns an error.
    #[test]
    fn arbitrary_input_never_panics(a in "\\PC{0,12}", b in "[0-9a-z.~^_+:-]{0,12}") {
        for s in ALL {
            let _ = s.compare(&a, &b);
            let _ = s.validate(&a);
        }
    }
}

/// The three cycles the transitivity property found for Maven, with the
/// answers of Maven 3.8.7's `ComparableVersion` itself (Debian's
/// maven-artifact-3.x.jar through `oracles/Maven.java`, run on
/// 2026-11-27): the order is Maven's, cycles included, so a range written
/// for Maven means the same to airlock.
#[test]
fn maven_is_as_intransitive_as_maven_itself() {
    let maven = scheme("maven");
    let oracle = [
        ("6.alpha", "6", Ordering::Less),
        ("6", "6.sp.0", Ordering::Less),
        ("6.alpha", "6.sp.0", Ordering::Greater),
        ("0ga-alpha", "0a", Ordering::Greater),
        ("0a", "0", Ordering::Greater),
        ("0", "0ga-alpha", Ordering::Greater),
        ("9.sp-0", "9alpha-0", Ordering::Less),
        ("9alpha-0", "9", Ordering::Less),
        ("9", "9.sp-0", Ordering::Less),
    ];
    for (a, b, want) in oracle {
        assert_eq!(cmp(maven, a, b), want, "{a} vs {b}");
    }
}
