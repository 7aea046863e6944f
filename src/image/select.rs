//! Choosing which of a repository's tags are versions, and in which order to probe them.

use crate::image::version;
use regex::Regex;
use serde::Serialize;
use std::cmp::Ordering;

/// Tags matching `regex`, newest first (by [`version::compare`]), deduplicated.
pub fn version_tags<'a>(tags: &'a [String], regex: &Regex) -> Vec<&'a str> {
    let mut matching: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| regex.is_match(t))
        .collect();
    matching.sort_unstable_by(|a, b| version::compare(b, a));
    // compare() is Equal only for identical strings, so duplicates are adjacent.
    matching.dedup();
    matching
}

/// The newest `limit` of a stream of version tags, in bounded memory: tags are offered
/// one by one as a tag list streams in, at most about twice `limit` are held, and a tag
/// not newer than the oldest of the best `limit` so far is dropped after one comparison.
/// A check needs only the newest version and a few below it to resolve the base tag,
/// so a repository's thousands of versions are never all kept or all sorted.
#[derive(Debug)]
pub struct Newest {
    limit: usize,
    held: Vec<String>,
    /// The oldest of the newest `limit` seen so far, once that many were seen.
    floor: Option<String>,
}

impl Newest {
    /// Keeps the newest `limit` (at least one).
    pub fn new(limit: usize) -> Newest {
        Newest {
            limit: limit.max(1),
            held: Vec::new(),
            floor: None,
        }
    }

    /// Offers one version tag.
    pub fn offer(&mut self, tag: &str) {
        if self
            .floor
            .as_deref()
            .is_some_and(|floor| version::compare(tag, floor).is_le())
        {
            return;
        }
        self.held.push(tag.to_string());
        if self.held.len() >= 2 * self.limit {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        let k = self.limit;
        self.held
            .select_nth_unstable_by(k - 1, |a, b| version::compare(b, a));
        self.held.truncate(k);
        self.floor = self
            .held
            .iter()
            .min_by(|a, b| version::compare(a, b))
            .cloned();
    }

    /// The newest tags offered, newest first, deduplicated, at most `limit`. The newest
    /// is always right; a tag offered twice (a registry repeating itself across pages)
    /// may leave fewer than `limit` below it.
    pub fn into_sorted(mut self) -> Vec<String> {
        self.held.sort_unstable_by(|a, b| version::compare(b, a));
        self.held.dedup();
        self.held.truncate(self.limit);
        self.held
    }
}

/// Candidates to HEAD when resolving a base tag: `ordered` (newest first) split into
/// batches; the first batch is `first` long, later ones `rest` long, and at most `limit`
/// candidates in total so resolution never costs one request per tag.
///
/// A base tag almost always points at the newest version or one just below it, so a
/// short first batch usually settles it in one round trip. Batch sizes of 0 are
/// treated as 1.
pub fn resolution_batches<'a>(
    ordered: &[&'a str],
    first: usize,
    rest: usize,
    limit: usize,
) -> Vec<Vec<&'a str>> {
    let candidates = &ordered[..ordered.len().min(limit)];
    let (head, tail) = candidates.split_at(candidates.len().min(first.max(1)));
    let mut batches = Vec::new();
    if !head.is_empty() {
        batches.push(head.to_vec());
    }
    batches.extend(tail.chunks(rest.max(1)).map(<[&str]>::to_vec));
    batches
}

/// The version of a candidate tag relative to the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The candidate is newer: an update.
    Newer,
    /// The candidate is the current tag.
    Same,
    /// The candidate is older: moving to it would be a downgrade, never done.
    Older,
}

/// Where `candidate` stands relative to `current` in [`version::compare`] order.
///
/// `Same` only for identical tags, as the order is consistent with string equality.
pub fn direction(current: &str, candidate: &str) -> Direction {
    match version::compare(candidate, current) {
        Ordering::Greater => Direction::Newer,
        Ordering::Equal => Direction::Same,
        Ordering::Less => Direction::Older,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// (tags, regex, expected newest-first result)
    const VERSION_TAGS: &[(&[&str], &str, &[&str])] = &[
        (&[], r"^\d+$", &[]),
        (
            &["latest", "1.9.0", "1.10.0", "1.2.0", "nightly", "1.10.0"],
            r"^\d+\.\d+\.\d+$",
            &["1.10.0", "1.9.0", "1.2.0"],
        ),
        (
            &["v1.2.3-ls99", "v1.2.3-ls100", "v1.2.4-ls1", "v1.2.3"],
            r"^v[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$",
            &["v1.2.4-ls1", "v1.2.3-ls100", "v1.2.3-ls99"],
        ),
        (
            &["1.2.3-rc1", "1.2.3", "1.2.3-beta2"],
            r".",
            &["1.2.3", "1.2.3-rc1", "1.2.3-beta2"],
        ),
        (&["latest"], r"^\d", &[]),
    ];

    #[test]
    fn version_tags_filters_sorts_and_dedups() {
        for &(tags, re, want) in VERSION_TAGS {
            let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
            let re = Regex::new(re).unwrap();
            assert_eq!(version_tags(&tags, &re), want, "{tags:?} with {re}");
        }
    }

    /// (number of candidates, first, rest, limit, expected batch sizes)
    const BATCHES: &[(usize, usize, usize, usize, &[usize])] = &[
        (0, 2, 4, 64, &[]),
        (1, 2, 4, 64, &[1]),
        (2, 2, 4, 64, &[2]),
        (3, 2, 4, 64, &[2, 1]),
        (10, 2, 4, 64, &[2, 4, 4]),
        (11, 2, 4, 64, &[2, 4, 4, 1]),
        (100, 2, 4, 10, &[2, 4, 4]),
        (100, 2, 4, 0, &[]),
        (5, 0, 0, 64, &[1, 1, 1, 1, 1]),
        (5, 10, 4, 64, &[5]),
    ];

    #[test]
    fn resolution_batches_are_bounded_and_ordered() {
        for &(n, first, rest, limit, sizes) in BATCHES {
            let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
            let ordered: Vec<&str> = names.iter().map(String::as_str).collect();
            let batches = resolution_batches(&ordered, first, rest, limit);
            let got: Vec<usize> = batches.iter().map(Vec::len).collect();
            assert_eq!(got, sizes, "n={n} first={first} rest={rest} limit={limit}");
            let flat: Vec<&str> = batches.concat();
            assert_eq!(flat, ordered[..flat.len()], "order kept for n={n}");
        }
    }

    const DIRECTIONS: &[(&str, &str, Direction)] = &[
        ("1.2.3", "1.2.4", Direction::Newer),
        ("1.2.3", "1.2.3", Direction::Same),
        ("1.2.3", "1.2.3-rc1", Direction::Older),
        ("1.2.3-rc1", "1.2.3", Direction::Newer),
        ("v1.2.3-ls99", "v1.2.3-ls100", Direction::Newer),
        ("v1.10.0", "v1.9.0", Direction::Older),
    ];

    #[test]
    fn direction_is_relative_to_current() {
        for &(current, candidate, want) in DIRECTIONS {
            assert_eq!(
                direction(current, candidate),
                want,
                "{current} -> {candidate}"
            );
        }
        assert_eq!(
            serde_json::to_string(&Direction::Newer).unwrap(),
            "\"newer\""
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    const REGEXES: &[&str] = &[
        r"^[0-9]+\.[0-9]+\.[0-9]+$",
        r"^v?[0-9]+(\.[0-9]+)*$",
        r"^[0-9.]+-alpine$",
        r"rc",
        r"^$",
        r".*",
    ];

    fn tag() -> impl Strategy<Value = String> {
        prop_oneof![
            "v?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-(alpine|rc[0-9]|ls[0-9]))?",
            "[0-9a-z.-]{0,8}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn selection_matches_the_regex_and_is_sorted_newest_first(
            tags in proptest::collection::vec(tag(), 0..20),
            which in 0..REGEXES.len(),
        ) {
            let regex = Regex::new(REGEXES[which]).unwrap();
            let picked = version_tags(&tags, &regex);
            for t in &picked {
                prop_assert!(regex.is_match(t), "{t:?} fails {}", REGEXES[which]);
                prop_assert!(tags.iter().any(|x| x == t));
            }
            for pair in picked.windows(2) {
                prop_assert_eq!(version::compare(pair[0], pair[1]), Ordering::Greater, "{:?}", pair);
            }
            let expected = tags.iter().filter(|t| regex.is_match(t)).collect::<std::collections::HashSet<_>>().len();
            prop_assert_eq!(picked.len(), expected);
        }

        #[test]
        fn the_newest_few_are_the_head_of_the_full_order(
            tags in proptest::collection::vec(tag(), 0..200),
            limit in 0usize..8,
        ) {
            let all = version_tags(&tags, &Regex::new(".*").unwrap());
            // Unique tags: exactly the head of the full order.
            let mut newest = Newest::new(limit);
            for t in &all {
                newest.offer(t);
            }
            let want: Vec<&str> = all.iter().copied().take(limit.max(1)).collect();
            prop_assert_eq!(newest.into_sorted(), want);
            // Repeated tags, in the registry's order: still the right newest.
            let mut repeated = Newest::new(limit);
            for t in tags.iter().chain(&tags) {
                repeated.offer(t);
            }
            let got = repeated.into_sorted();
            prop_assert_eq!(got.first().map(String::as_str), all.first().copied());
            prop_assert!(got.len() <= limit.max(1));
        }
    }
}
