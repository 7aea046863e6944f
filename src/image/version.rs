//! The version order dum uses to decide which tag is the newest.
//!
//! Registries list tags in no useful order, and image tags follow no single scheme
//! (`1.2.3`, `v1.2.3-ls45`, `2024.01.05`, `15.0.2-alpine`), so dum uses one documented,
//! scheme-agnostic total order:
//!
//! 1. Each tag is split into maximal runs of ASCII digits and runs of anything else
//!    (`v1.10.0-ls45` → `v`, `1`, `.`, `10`, `.`, `0`, `-ls`, `45`).
//! 2. The runs are compared pairwise from the left; the first difference decides:
//!    * two digit runs compare as numbers of any length (`10` > `9`, leading zeros
//!      ignored, runs of 30 digits are fine);
//!    * a digit run is greater than a text run;
//!    * a *pre-release* text run is smaller than any other text run;
//!    * two text runs of the same kind compare bytewise (`-ls` < `-r`).
//! 3. When one tag runs out of runs while all runs so far were equal, the longer tag is
//!    greater (`1.2` < `1.2.1`, `v1.2.3` < `v1.2.3-ls45`) — unless its next run is a
//!    pre-release run, which makes it smaller (`1.2.3-rc1` < `1.2.3`).
//! 4. When the tags are still equal (`01` against `1`), they compare bytewise, so two
//!    tags compare equal only if they are the same string.
//!
//! A text run is a *pre-release* run when it consists of an optional single `-`, `.` or
//! `_`, then one of the words `alpha`, `beta`, `dev`, `pre`, `preview`, `rc`, `snapshot`
//! (any case), then either the end of the run or a character that is not a letter:
//! `-rc`, `.beta.`, `-SNAPSHOT`, and `rc` as in `3.13.0rc2`, but not `-predator` or
//! `-devel`.
//!
//! Rule 2's "pre-release runs are smaller than other text runs" is what keeps the order
//! transitive: with plain bytewise comparison `1.2.3-ls1` > `1.2.3` > `1.2.3-rc1` but
//! `-ls` < `-rc` would make `1.2.3-ls1` < `1.2.3-rc1`, a cycle. Internally the end of a
//! tag behaves like one more run that sits above pre-release runs and below every other
//! run, which makes the comparison an ordinary lexicographic order and therefore total.
//!
//! Examples: `v1.10.0` > `v1.9.0`; `v1.2.3-ls100` > `v1.2.3-ls99`;
//! `v2.0.0-ls1` > `v1.9.9-ls300`; `2024.01.05` > `2023.12.31`;
//! `1.2.3` > `1.2.3-rc1` > `1.2.3-beta2`; `1.2` < `1.2.1`.

use std::cmp::Ordering;

/// Pre-release words, lowercase; matched case-insensitively at a run's start.
const PRE_RELEASE_WORDS: &[&str] = &["alpha", "beta", "dev", "pre", "preview", "rc", "snapshot"];

/// One element of a tag's run sequence, already classified by its rank in the order.
#[derive(Debug, Clone, Copy)]
enum Run<'a> {
    /// A text run that marks a pre-release; ranks below [`Run::End`].
    PreRelease(&'a str),
    /// The position after a tag's last run.
    End,
    /// Any other text run.
    Text(&'a str),
    /// A run of ASCII digits, leading zeros stripped (may be empty for `0`/`000`).
    Number(&'a str),
}

impl Run<'_> {
    fn rank(&self) -> u8 {
        match self {
            Run::PreRelease(_) => 0,
            Run::End => 1,
            Run::Text(_) => 2,
            Run::Number(_) => 3,
        }
    }

    fn cmp(&self, other: &Run<'_>) -> Ordering {
        match (self, other) {
            (Run::PreRelease(a), Run::PreRelease(b)) | (Run::Text(a), Run::Text(b)) => {
                a.as_bytes().cmp(b.as_bytes())
            }
            // Leading zeros are stripped, so the longer run is the larger number.
            (Run::Number(a), Run::Number(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// Iterates over a tag's runs, yielding [`Run::End`] forever once the tag is exhausted.
struct Runs<'a> {
    rest: &'a str,
}

impl<'a> Runs<'a> {
    fn next_run(&mut self) -> Run<'a> {
        let bytes = self.rest.as_bytes();
        let Some(first) = bytes.first() else {
            return Run::End;
        };
        let digits = first.is_ascii_digit();
        let len = bytes
            .iter()
            .position(|b| b.is_ascii_digit() != digits)
            .unwrap_or(bytes.len());
        // Runs split only at ASCII digit boundaries, so `len` is a char boundary.
        let (run, rest) = self.rest.split_at(len);
        self.rest = rest;
        if digits {
            Run::Number(run.trim_start_matches('0'))
        } else if is_pre_release(run) {
            Run::PreRelease(run)
        } else {
            Run::Text(run)
        }
    }
}

/// Whether a text run marks a pre-release (see the module documentation).
fn is_pre_release(run: &str) -> bool {
    let word = run.strip_prefix(['-', '.', '_']).unwrap_or(run).as_bytes();
    PRE_RELEASE_WORDS.iter().any(|w| {
        word.len() >= w.len()
            && word[..w.len()].eq_ignore_ascii_case(w.as_bytes())
            && word.get(w.len()).is_none_or(|c| !c.is_ascii_alphabetic())
    })
}

/// Compares two tags in dum's version order (see the module documentation).
///
/// The order is total and consistent with string equality: `compare(a, b) == Equal`
/// exactly when `a == b`.
pub fn compare(a: &str, b: &str) -> Ordering {
    let (mut ra, mut rb) = (Runs { rest: a }, Runs { rest: b });
    loop {
        let (x, y) = (ra.next_run(), rb.next_run());
        if let (Run::End, Run::End) = (x, y) {
            return a.as_bytes().cmp(b.as_bytes());
        }
        match x.cmp(&y) {
            Ordering::Equal => {}
            decided => return decided,
        }
    }
}

/// The newest of `tags` by [`compare`], or `None` when there are none.
pub fn max<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    tags.into_iter().max_by(|a, b| compare(a, b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// (smaller, larger) pairs that must hold.
    const LESS: &[(&str, &str)] = &[
        ("v1.9.0", "v1.10.0"),
        ("9.0.3", "15.0.2"),
        ("v1.2.3-ls99", "v1.2.3-ls100"),
        ("v1.9.9-ls300", "v2.0.0-ls1"),
        ("2023.12.31", "2024.01.05"),
        ("1.2.3-rc1", "1.2.3"),
        ("1.2.3-beta2", "1.2.3-rc1"),
        ("1.2.3-alpha", "1.2.3-beta"),
        ("1.2.3-alpha.1", "1.2.3-alpha.2"),
        ("1.2", "1.2.1"),
        ("1.2.3", "1.2.3-ls45"),
        ("v1.2.3", "v1.2.3-ls45"),
        ("1.2.3-rc1", "1.2.3-ls1"),
        ("1.2-rc1", "1.2.0"),
        ("1.2.3-SNAPSHOT", "1.2.3"),
        ("1.2.3.dev4", "1.2.3"),
        ("1.2.3_pre", "1.2.3"),
        ("1.2.3-preview2", "1.2.3"),
        ("3.13.0rc2", "3.13.0"),
        ("3.13.0rc2-slim", "3.13.0-slim"),
        ("1.0.0", "1.0.0-predator"),
        ("1.0.0", "1.0.0-devel"),
        ("1.0.0", "1.0.0-alpine"),
        ("latest", "1"),
        ("v1", "1"),
        ("01", "1"),
        ("0", "00"),
        ("0", "1"),
        ("", "0"),
        ("", "a"),
        ("1.2.3-rc", "1.2.3-rc1"),
        (
            "123456789012345678901234567890",
            "123456789012345678901234567891",
        ),
        (
            "99999999999999999999999999999",
            "100000000000000000000000000000",
        ),
        ("0099", "100"),
    ];

    #[test]
    fn pairs_compare_as_expected() {
        for &(lo, hi) in LESS {
            assert_eq!(compare(lo, hi), Ordering::Less, "{lo:?} < {hi:?}");
            assert_eq!(compare(hi, lo), Ordering::Greater, "{hi:?} > {lo:?}");
        }
    }

    const PRE_RELEASE: &[(&str, bool)] = &[
        ("-rc", true),
        ("rc", true),
        (".beta.", true),
        ("-SNAPSHOT", true),
        ("_Alpha", true),
        ("-preview", true),
        ("-pre", true),
        ("-dev", true),
        ("-rc_", true),
        ("-predator", false),
        ("-devel", false),
        ("-ls", false),
        ("--rc", false),
        ("-", false),
        ("", false),
        ("v", false),
        ("-r", false),
        ("é-rc", false),
    ];

    #[test]
    fn pre_release_runs_are_recognised() {
        for &(run, want) in PRE_RELEASE {
            assert_eq!(is_pre_release(run), want, "is_pre_release({run:?})");
        }
    }

    /// Tricky tags for the total-order property test.
    const TRICKY: &[&str] = &[
        "",
        "0",
        "00",
        "1",
        "01",
        "001",
        "1.2",
        "1.2.0",
        "1.2.1",
        "1.2.3",
        "1.2.3-rc",
        "1.2.3-rc1",
        "1.2.3-RC1",
        "1.2.3-rc.1",
        "1.2.3-beta2",
        "1.2.3-alpha",
        "1.2.3-ls1",
        "1.2.3-ls100",
        "1.2.3-ls99",
        "1.2.3.4",
        "1.2.3a",
        "1.2.3-",
        "1.2-rc1",
        "1.2.3rc1",
        "1.2.3-predator",
        "1.2.3-SNAPSHOT",
        "v1.2.3",
        "v1.2.3-ls45",
        "v1",
        "v",
        "latest",
        "rc",
        "-rc",
        "rc1",
        "2024.01.05",
        "2023.12.31",
        "123456789012345678901234567890",
        "0123456789012345678901234567890",
        "a1b2",
        "a-1",
        "é1",
        "1é",
        "1_2",
        "1--2",
    ];

    #[test]
    fn order_is_total_antisymmetric_and_transitive() {
        for a in TRICKY {
            for b in TRICKY {
                let ab = compare(a, b);
                assert_eq!(ab, compare(b, a).reverse(), "antisymmetry {a:?} {b:?}");
                assert_eq!(ab == Ordering::Equal, a == b, "equality {a:?} {b:?}");
                for c in TRICKY {
                    let bc = compare(b, c);
                    if ab != Ordering::Greater && bc != Ordering::Greater {
                        assert_ne!(
                            compare(a, c),
                            Ordering::Greater,
                            "transitivity {a:?} <= {b:?} <= {c:?}"
                        );
                    }
                }
            }
        }
        let mut sorted: Vec<&str> = TRICKY.to_vec();
        sorted.sort_by(|a, b| compare(a, b));
        for w in sorted.windows(2) {
            assert_eq!(compare(w[0], w[1]), Ordering::Less, "sorted {w:?}");
        }
    }

    const MAX: &[(&[&str], Option<&str>)] = &[
        (&[], None),
        (&["1"], Some("1")),
        (&["1.2.3-rc1", "1.2.3", "1.2.2"], Some("1.2.3")),
        (&["v1.9.0", "v1.10.0", "v1.2.0"], Some("v1.10.0")),
        (&["latest", "nightly"], Some("nightly")),
    ];

    #[test]
    fn max_picks_the_newest() {
        for &(tags, want) in MAX {
            assert_eq!(max(tags.iter().copied()), want, "max({tags:?})");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Tags shaped like real ones (digits, separators, pre-release words, leading zeros)
    /// plus arbitrary text, so both the interesting and the hostile cases are covered.
    fn tag() -> impl Strategy<Value = String> {
        prop_oneof![
            "v?0?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}([-._]?(rc|RC|alpha|beta|dev|pre|preview|snapshot|ls|r|predator|devel)[0-9]{0,2})?",
            "[0-9a-z._-]{0,10}",
            ".{0,8}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn consistent_with_equality(a in tag(), b in tag()) {
            prop_assert_eq!(compare(&a, &b) == Ordering::Equal, a == b);
            prop_assert_eq!(compare(&a, &a), Ordering::Equal);
        }

        #[test]
        fn antisymmetric(a in tag(), b in tag()) {
            prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        }

        #[test]
        fn transitive(a in tag(), b in tag(), c in tag()) {
            let mut v = [a, b, c];
            v.sort_by(|x, y| compare(x, y));
            prop_assert_ne!(compare(&v[0], &v[1]), Ordering::Greater);
            prop_assert_ne!(compare(&v[1], &v[2]), Ordering::Greater);
            prop_assert_ne!(compare(&v[0], &v[2]), Ordering::Greater, "{:?}", v);
        }

        #[test]
        fn total_order_sorts_identically_from_any_permutation(mut tags in proptest::collection::vec(tag(), 0..12)) {
            let mut sorted = tags.clone();
            sorted.sort_by(|x, y| compare(x, y));
            tags.reverse();
            tags.sort_by(|x, y| compare(x, y));
            prop_assert_eq!(&tags, &sorted);
            for pair in sorted.windows(2) {
                prop_assert_ne!(compare(&pair[0], &pair[1]), Ordering::Greater, "{:?}", pair);
            }
        }
    }
}
