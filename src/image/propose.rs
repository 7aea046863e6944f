//! Regex proposals derived from the shapes of a repository's tags, so users need not
//! write a version regex by hand (`dum tags IMAGE`, and images without configuration).
//!
//! A tag's *shape* is the tag with every run of ASCII digits replaced by `[0-9]+` and
//! everything else escaped, anchored: `v1.2.3-ls45` → `^v[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$`.
//! Because digit runs are maximal and everything else is literal, a shape's regex
//! matches exactly the tags with that shape.

use crate::image::version;
use serde::Serialize;
use std::collections::HashMap;

/// One proposed version regex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// Anchored regex matching every tag of one shape.
    pub regex: String,
    /// How many of the listed tags the regex matches.
    pub matches: usize,
    /// The newest matching tag by [`version::compare`].
    pub newest: String,
}

/// Ranked proposals for `tags`, at most `max` of them.
///
/// Shapes without a digit run (`latest`, `nightly`) are no versions and dropped, as are
/// shapes whose every tag looks like a hash (see [`shape_of`]). Shapes matching a single
/// tag are dropped unless no shape matches two. Ranking: most matches first, then most
/// digit runs (the more specific scheme), then the regex text for a stable order.
pub fn proposals(tags: &[String], max: usize) -> Vec<Proposal> {
    // Group by the raw shape so `matches` counts every tag the regex would match,
    // hash-like ones included; a group qualifies if one member is a real version.
    let mut groups: HashMap<String, (Vec<&str>, bool)> = HashMap::new();
    for tag in tags {
        let Some(shape) = raw_shape(tag) else {
            continue;
        };
        let group = groups.entry(shape).or_default();
        if !group.0.contains(&tag.as_str()) {
            group.0.push(tag);
            group.1 |= !is_hash_like(tag);
        }
    }
    let mut ranked: Vec<(usize, Proposal)> = groups
        .into_iter()
        .filter(|(_, (_, versionish))| *versionish)
        .filter_map(|(regex, (members, _))| {
            let newest = version::max(members.iter().copied())?.to_owned();
            let runs = regex.matches(DIGITS).count();
            Some((
                runs,
                Proposal {
                    regex,
                    matches: members.len(),
                    newest,
                },
            ))
        })
        .collect();
    if ranked.iter().any(|(_, p)| p.matches >= 2) {
        ranked.retain(|(_, p)| p.matches >= 2);
    }
    ranked.sort_by(|(ra, a), (rb, b)| {
        b.matches
            .cmp(&a.matches)
            .then(rb.cmp(ra))
            .then_with(|| a.regex.cmp(&b.regex))
    });
    ranked.into_iter().take(max).map(|(_, p)| p).collect()
}

/// The proposal for what runs `tag` of a repository with `tags` (`dum init`): the
/// shape of its own tag when that is a version (the scheme it already follows,
/// counted over `tags` and the tag itself), else the best-ranked of [`proposals`];
/// `None` when the repository has no version-like tag.
pub fn for_tag(tag: &str, tags: &[String]) -> Option<Proposal> {
    let Some(own) = shape_of(tag) else {
        return proposals(tags, 1).into_iter().next();
    };
    let mut members: Vec<&str> = tags
        .iter()
        .map(String::as_str)
        .filter(|t| raw_shape(t).as_deref() == Some(own.as_str()))
        .collect();
    if !members.contains(&tag) {
        members.push(tag);
    }
    let newest = version::max(members.iter().copied())?.to_owned();
    Some(Proposal {
        regex: own,
        matches: members.len(),
        newest,
    })
}

/// The regex for `tag`'s shape, if the tag looks like a version: it has a digit run
/// and is not hash-like (a git sha or digest: 7 to 64 lowercase hex characters with
/// at least one letter; all-digit tags such as `20240105` are kept as dates/builds).
///
/// `v1.2.3-ls45` → `^v[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$`.
pub fn shape_of(tag: &str) -> Option<String> {
    if is_hash_like(tag) {
        return None;
    }
    raw_shape(tag)
}

/// The regex replacing each digit run; counted to rank shapes by specificity.
const DIGITS: &str = "[0-9]+";

/// The shape regex of any tag with a digit run, hash-like or not.
fn raw_shape(tag: &str) -> Option<String> {
    if !tag.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut regex = String::with_capacity(tag.len() * 2 + 2);
    regex.push('^');
    let mut rest = tag;
    while let Some(first) = rest.bytes().next() {
        let digits = first.is_ascii_digit();
        let len = rest
            .bytes()
            .position(|b| b.is_ascii_digit() != digits)
            .unwrap_or(rest.len());
        // Splitting at an ASCII digit boundary is always a char boundary.
        let (run, tail) = rest.split_at(len);
        if digits {
            regex.push_str(DIGITS);
        } else {
            escape_into(&mut regex, run);
        }
        rest = tail;
    }
    regex.push('$');
    Some(regex)
}

/// Escapes the characters that are special outside a character class. Unlike
/// `regex::escape` this leaves `-` alone, so shapes read like the tags they describe.
fn escape_into(regex: &mut String, text: &str) {
    for c in text.chars() {
        if r"\.+*?()|[]{}^$#".contains(c) {
            regex.push('\\');
        }
        regex.push(c);
    }
}

/// A git sha or digest rather than a version: 7–64 lowercase hex with a letter.
fn is_hash_like(tag: &str) -> bool {
    (7..=64).contains(&tag.len())
        && tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && tag.bytes().any(|b| (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use regex::Regex;

    const SHAPES: &[(&str, Option<&str>)] = &[
        ("v1.2.3-ls45", Some(r"^v[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$")),
        ("1.2.3", Some(r"^[0-9]+\.[0-9]+\.[0-9]+$")),
        ("2024.01.05", Some(r"^[0-9]+\.[0-9]+\.[0-9]+$")),
        ("20240105", Some(r"^[0-9]+$")),
        ("1234567", Some(r"^[0-9]+$")),
        ("15-alpine3.20", Some(r"^[0-9]+-alpine[0-9]+\.[0-9]+$")),
        (
            "version-1.0+build",
            Some(r"^version-[0-9]+\.[0-9]+\+build$"),
        ),
        ("a1", Some(r"^a[0-9]+$")),
        (
            "1.0_(x)[y]{z}*?|^$#\\",
            Some(r"^[0-9]+\.[0-9]+_\(x\)\[y\]\{z\}\*\?\|\^\$\#\\$"),
        ),
        ("latest", None),
        ("nightly", None),
        ("", None),
        ("1a2b3c4", None),
        ("abcdef0", None),
        ("abcdef", None),
        ("0123456789abcdef0123456789abcdef01234567", None),
        (
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            None,
        ),
        ("sha-1a2b3c4", Some(r"^sha-[0-9]+a[0-9]+b[0-9]+c[0-9]+$")),
        ("1A2B3C4", Some(r"^[0-9]+A[0-9]+B[0-9]+C[0-9]+$")),
    ];

    #[test]
    fn shapes_of_tags() {
        for &(tag, want) in SHAPES {
            let got = shape_of(tag);
            assert_eq!(got.as_deref(), want, "shape_of({tag:?})");
            if let Some(shape) = got {
                let re = Regex::new(&shape).unwrap_or_else(|e| panic!("{shape}: {e}"));
                assert!(re.is_match(tag), "{shape} must match {tag:?}");
            }
        }
    }

    struct Case {
        name: &'static str,
        tags: &'static [&'static str],
        max: usize,
        /// (regex, matches, newest)
        want: &'static [(&'static str, usize, &'static str)],
    }

    const PROPOSALS: &[Case] = &[
        Case {
            name: "linuxserver style",
            tags: &[
                "latest",
                "v1.2.3-ls99",
                "v1.2.3-ls100",
                "v1.2.4-ls1",
                "1.2.4",
                "1.2.3",
                "nightly",
                "v1.2.4-ls1",
            ],
            max: 5,
            want: &[
                (r"^v[0-9]+\.[0-9]+\.[0-9]+-ls[0-9]+$", 3, "v1.2.4-ls1"),
                (r"^[0-9]+\.[0-9]+\.[0-9]+$", 2, "1.2.4"),
            ],
        },
        Case {
            name: "ties broken by digit runs then regex",
            tags: &["1.2", "1.3", "1.2.3", "1.2.4", "a1", "b2", "x9"],
            max: 10,
            want: &[
                (r"^[0-9]+\.[0-9]+\.[0-9]+$", 2, "1.2.4"),
                (r"^[0-9]+\.[0-9]+$", 2, "1.3"),
            ],
        },
        Case {
            name: "singletons kept when nothing else remains",
            tags: &["latest", "a1", "1.0", "b2.0"],
            max: 2,
            want: &[
                (r"^[0-9]+\.[0-9]+$", 1, "1.0"),
                (r"^b[0-9]+\.[0-9]+$", 1, "b2.0"),
            ],
        },
        Case {
            name: "max limits",
            tags: &["1", "2", "1.0", "2.0", "1.0.0", "2.0.0"],
            max: 1,
            want: &[(r"^[0-9]+\.[0-9]+\.[0-9]+$", 2, "2.0.0")],
        },
        Case {
            name: "no versions",
            tags: &["latest", "stable", "abcdef01234", "0123abcd"],
            max: 5,
            want: &[],
        },
        Case {
            name: "hash-like tags counted when the shape is a version shape",
            tags: &["1234567", "20240105", "1234567a"],
            max: 5,
            want: &[(r"^[0-9]+$", 2, "20240105")],
        },
    ];

    #[test]
    fn proposals_are_ranked() {
        for case in PROPOSALS {
            let tags: Vec<String> = case.tags.iter().map(|t| (*t).to_owned()).collect();
            let got = proposals(&tags, case.max);
            let got: Vec<(&str, usize, &str)> = got
                .iter()
                .map(|p| (p.regex.as_str(), p.matches, p.newest.as_str()))
                .collect();
            assert_eq!(got, case.want, "{}", case.name);
        }
    }

    #[test]
    fn a_running_tag_picks_its_own_shape_else_the_best() {
        let tags: Vec<String> = [
            "latest", "1.0", "1.1", "v1.0.0", "v1.1.0", "v1.2.0", "stable",
        ]
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
        let cases: &[(&str, &[String], Option<(&str, usize, &str)>)] = &[
            ("1.0", &tags, Some((r"^[0-9]+\.[0-9]+$", 2, "1.1"))),
            (
                "latest",
                &tags,
                Some((r"^v[0-9]+\.[0-9]+\.[0-9]+$", 3, "v1.2.0")),
            ),
            (
                "stable",
                &tags,
                Some((r"^v[0-9]+\.[0-9]+\.[0-9]+$", 3, "v1.2.0")),
            ),
            // A tag the list no longer has still counts itself.
            ("2-alpine", &tags, Some((r"^[0-9]+-alpine$", 1, "2-alpine"))),
            ("latest", &[], None),
            ("latest", &tags[..1], None),
            // A hash-like tag is no version: the repository's scheme decides.
            (
                "abcdef0",
                &tags,
                Some((r"^v[0-9]+\.[0-9]+\.[0-9]+$", 3, "v1.2.0")),
            ),
        ];
        for (tag, tags, want) in cases {
            let got = for_tag(tag, tags);
            let got = got
                .as_ref()
                .map(|p| (p.regex.as_str(), p.matches, p.newest.as_str()));
            assert_eq!(got, *want, "{tag}");
        }
    }

    #[test]
    fn every_proposal_matches_exactly_its_counted_tags() {
        for case in PROPOSALS {
            let mut tags: Vec<String> = case.tags.iter().map(|t| (*t).to_owned()).collect();
            tags.sort();
            tags.dedup();
            for p in proposals(&tags, usize::MAX) {
                let re = Regex::new(&p.regex).unwrap_or_else(|e| panic!("{}: {e}", p.regex));
                let matching: Vec<&str> = tags
                    .iter()
                    .map(String::as_str)
                    .filter(|t| re.is_match(t))
                    .collect();
                assert_eq!(matching.len(), p.matches, "{}: {}", case.name, p.regex);
                assert_eq!(
                    version::max(matching.iter().copied()),
                    Some(p.newest.as_str()),
                    "{}: {}",
                    case.name,
                    p.regex
                );
            }
        }
    }
}
